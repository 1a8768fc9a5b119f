//! Governance commands (maturity level 6): users, tokens and grants; protected aliases and promotion
//! requests with four-eyes review; Rego policy; the audit chain; lineage; model cards. Each talks to a
//! server's native API (`--server`), except the offline ones (`admin init`, `policy test|eval`,
//! `audit verify --data-dir`).

pub mod access;
pub mod audit;
pub mod card;
pub mod lineage;
pub mod policy;
pub mod promote;

use anyhow::{Context, Result};
use cairn_client::Client;
use reqwest::Method;
use serde_json::Value;

use crate::client::client;

/// Calls the native API, turning its errors into one readable line.
pub(crate) async fn call(
    c: &Client,
    method: Method,
    path: &str,
    query: &[(&str, String)],
    body: Option<&Value>,
) -> Result<Value> {
    c.json(method, path, query, body)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

pub(crate) fn api(server: Option<&str>) -> Client {
    client(server)
}

pub(crate) fn print_json(v: &Value) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).context("printing JSON")?
    );
    Ok(())
}

/// A JSON field as display text.
pub(crate) fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

//! `cairn lineage NODE`: where something came from (up) or what it fed (down), as of a time.

use anyhow::Result;
use clap::Args;
use reqwest::Method;
use serde_json::Value;

use super::{api, call, print_json, s};

#[derive(Debug, Args)]
pub struct LineageArgs {
    /// `deployment:NAME`, `model_version:MODEL/VERSION` (or `MODEL/VERSION`), `run:ID` or
    /// `dataset:DIGEST`.
    node: String,
    /// up (provenance), down (impact) or both.
    #[arg(long, default_value = "up")]
    direction: String,
    /// As of this time (RFC 3339 or epoch ms): what a deployment served then.
    #[arg(long)]
    at: Option<String>,
    #[arg(long, env = "CAIRN_SERVER")]
    server: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn lineage(a: LineageArgs) -> Result<()> {
    let node = if a.node.contains(':') {
        a.node.clone()
    } else {
        format!("model_version:{}", a.node)
    };
    let mut q = vec![("node", node), ("direction", a.direction)];
    if let Some(at) = a.at {
        q.push(("at", at));
    }
    let v = call(&api(a.server.as_deref()), Method::GET, "/lineage", &q, None).await?;
    if a.json {
        return print_json(&v);
    }
    let nodes: std::collections::HashMap<String, &Value> = v["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| (s(&n["id"]), n))
        .collect();
    println!(
        "{}{}",
        s(&v["root"]),
        v["at"]
            .as_str()
            .map_or(String::new(), |t| format!(" at {t}"))
    );
    for e in v["edges"].as_array().into_iter().flatten() {
        let label = |id: &str| {
            nodes
                .get(id)
                .map_or(id.to_owned(), |n| format!("{} ({})", s(&n["label"]), id))
        };
        let when = match (e["valid_from"].as_str(), e["valid_to"].as_str()) {
            (Some(f), Some(t)) => format!("  [{f} .. {t})"),
            (Some(f), None) => format!("  [{f} ..)"),
            _ => String::new(),
        };
        println!(
            "  {} --{}--> {}{when}",
            label(&s(&e["from"])),
            s(&e["kind"]),
            label(&s(&e["to"]))
        );
    }
    Ok(())
}

//! Governance on SQL: users, tokens and grants (`people.rs`), protections, promotion requests, policies
//! and cards (`promotions.rs`), and the audit chain's reads (`audit.rs`). Every write is one transaction
//! under the control plane's write lock that appends its change-log entry — and with it the audit entry.

mod audit;
mod people;
mod promotions;

use std::sync::Arc;

use cairn_domain::Change;
use cairn_domain::change_log::{NewChange, Topic};
use cairn_store::{StoreError, StoreResult};
use serde_json::Value;

use crate::registry::{RegistryDb, Tx};

/// Governance records on a SQL engine.
#[derive(Clone)]
pub struct SqlGovernance {
    db: Arc<dyn RegistryDb>,
}

impl SqlGovernance {
    pub fn new(db: Arc<dyn RegistryDb>) -> Self {
        Self { db }
    }
}

/// Appends a governance change (and so its audit entry) in `tx`.
async fn log(
    tx: &mut dyn Tx,
    subject: &str,
    kind: &str,
    detail: Value,
    change: &Change,
) -> StoreResult<()> {
    crate::change_log::append(
        tx,
        NewChange {
            topic: Topic::Governance,
            subject,
            kind,
            topic_seq: 0,
            actor: &change.actor,
            timestamp_ms: change.at_ms,
            detail: Some(detail),
        },
    )
    .await
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt {what}: {e}"))
}

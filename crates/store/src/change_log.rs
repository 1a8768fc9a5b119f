//! The change-log contract: reading the control plane's one log, and being woken when it grows.

use async_trait::async_trait;
use cairn_domain::change_log::{ChangeEntry, Topic};

use crate::StoreResult;

#[async_trait]
pub trait ChangeLogStore: Send + Sync + 'static {
    /// Entries after `after_seq`, oldest first, at most `limit`.
    async fn changes(&self, after_seq: i64, limit: usize) -> StoreResult<Vec<ChangeEntry>>;
    /// Entries of one subject (a model's or a deployment's name) after `after_seq`, oldest first.
    async fn subject_changes(
        &self,
        topic: Topic,
        subject: &str,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<ChangeEntry>>;
    /// The sequence of the newest entry (0 when empty).
    async fn head(&self) -> StoreResult<i64>;
    /// Changes each time this process commits a control-plane write, so in-process followers wake at
    /// once; writes by other processes sharing the database are seen by polling [`Self::head`].
    fn commits(&self) -> tokio::sync::watch::Receiver<u64>;
}

//! The monitoring store contract: monitors (with their change-log entries), their snapshots and the
//! alerts a snapshot fires (written together, so an alert never exists without the snapshot that fired
//! it), and delayed labels ("feedback") joined to logged predictions at evaluation.

use async_trait::async_trait;
use cairn_domain::Change;
use cairn_domain::monitor::{Alert, Monitor, MonitorSpec, NewAlert, NewSnapshot, Snapshot};

use crate::StoreResult;

/// One delayed label: for a logged request's row, or for every logged row whose `key_column` input
/// equals `key`.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub request_id: Option<String>,
    pub row: i64,
    pub key_column: Option<String>,
    pub key: Option<String>,
    /// The label as JSON (a number or a string).
    pub label: serde_json::Value,
    pub received_ms: i64,
}

/// How much a monitor has done: its snapshots (and the newest's time) and the alerts it fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorActivity {
    pub monitor: String,
    pub snapshots: usize,
    pub last_snapshot_ms: Option<i64>,
    pub alerts: usize,
}

#[async_trait]
pub trait MonitorStore: Send + Sync + 'static {
    /// Creates the monitor (`AlreadyExists` when the name is taken) or, with `replace`, replaces its spec
    /// and profile; appends `created`/`updated` (topic `monitor`) in the same transaction.
    async fn put_monitor(
        &self,
        name: &str,
        spec: &MonitorSpec,
        profile: &serde_json::Value,
        replace: bool,
        change: &Change,
    ) -> StoreResult<Monitor>;
    /// `NotFound` when there is none.
    async fn get_monitor(&self, name: &str) -> StoreResult<Monitor>;
    /// By name.
    async fn list_monitors(&self) -> StoreResult<Vec<Monitor>>;
    /// Deletes the monitor with its snapshots and alerts; appends `deleted`.
    async fn delete_monitor(&self, name: &str, change: &Change) -> StoreResult<()>;
    /// Stores the snapshot and the alerts it fired, each on the change log (topic `monitor` kind
    /// `snapshot`, topic `alert` kind `alert_fired`), in one transaction. A scheduled slot is stored once:
    /// `AlreadyExists` when another evaluation of the same slot got there first.
    async fn record_snapshot(
        &self,
        snapshot: &NewSnapshot,
        alerts: &[NewAlert],
        change: &Change,
    ) -> StoreResult<(Snapshot, Vec<Alert>)>;
    /// Newest first, at most `limit`, older than `before_id` when given.
    async fn list_snapshots(
        &self,
        monitor: &str,
        limit: usize,
        before_id: Option<i64>,
    ) -> StoreResult<Vec<Snapshot>>;
    async fn get_snapshot(&self, monitor: &str, id: i64) -> StoreResult<Snapshot>;
    /// Each monitor's newest snapshot (what `/metrics` exports).
    async fn latest_snapshots(&self) -> StoreResult<Vec<Snapshot>>;
    /// Every monitor's activity (monitors without snapshots are absent).
    async fn monitor_activity(&self) -> StoreResult<Vec<MonitorActivity>>;
    /// Newest first; of one monitor when named.
    async fn list_alerts(&self, monitor: Option<&str>, limit: usize) -> StoreResult<Vec<Alert>>;
    /// Stores labels for a deployment's logged predictions (a later label for the same request row
    /// replaces the earlier one).
    async fn add_labels(&self, deployment: &str, labels: &[Label]) -> StoreResult<()>;
    /// The deployment's labels received at or after `since_ms` (labels always arrive after the
    /// predictions they label, so this covers every label of a window starting then).
    async fn labels_since(&self, deployment: &str, since_ms: i64) -> StoreResult<Vec<Label>>;
}

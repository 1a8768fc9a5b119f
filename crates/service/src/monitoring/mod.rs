//! Monitoring use cases (maturity level 5): monitors over a deployment's logged predictions, their
//! evaluations into snapshots, alert rules, delayed labels, and the Prometheus gauges of the latest
//! snapshots. The statistics live in `cairn-monitoring` and run on blocking threads, never on the async
//! runtime; logged predictions and references are files in the artifact store.

mod evaluate;
mod gauges;
mod labels;
mod live;
mod predictions;
mod reference;
mod schedule;
mod window;

use std::sync::Arc;

use cairn_domain::Change;
use cairn_domain::monitor::{Alert, Monitor, MonitorSpec, Snapshot};
use cairn_domain::registry::ANONYMOUS;
use cairn_domain::time::now_millis;
use cairn_store::MonitorStore;

use crate::{Artifacts, Deployments, Registry, ServiceError, ServiceResult, Tracking};

pub use labels::{LabelRequest, MAX_LABELS};
pub use predictions::MAX_PREDICTION_BATCH_BYTES;
pub use reference::{MAX_REFERENCE_BYTES, StoredReference};
pub use schedule::next_slot;

/// The most snapshots or alerts one list returns.
pub const MAX_LIST: usize = 1000;

/// Where alerts go once stored: the server delivers them (webhooks, the log) off the request path.
pub trait AlertSink: Send + Sync + 'static {
    fn deliver(&self, monitor: &Monitor, alerts: Vec<Alert>);
}

/// Monitors and their snapshots, alerts and labels.
#[derive(Clone)]
pub struct Monitors {
    store: Arc<dyn MonitorStore>,
    deployments: Deployments,
    registry: Registry,
    tracking: Tracking,
    artifacts: Artifacts,
    /// The scheme of locations in `artifacts` (`mlflow-artifacts:`), to read `runs:/` references.
    artifact_scheme: &'static str,
    sink: Arc<dyn AlertSink>,
}

/// Secrets are never read back, so a replaced rule that names the same webhook without a secret keeps
/// the one it had (to drop a secret, delete the rule first).
fn keep_secrets(spec: &mut MonitorSpec, old: &MonitorSpec) {
    for rule in &mut spec.rules {
        let Some(hook) = rule.webhook.as_mut().filter(|h| h.secret.is_none()) else {
            continue;
        };
        hook.secret = old
            .rules
            .iter()
            .find(|r| r.name == rule.name)
            .and_then(|r| r.webhook.as_ref())
            .filter(|w| w.url == hook.url)
            .and_then(|w| w.secret.clone());
    }
}

fn change(actor: &str) -> Change {
    Change {
        actor: if actor.is_empty() { ANONYMOUS } else { actor }.to_owned(),
        at_ms: now_millis(),
    }
}

impl Monitors {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn MonitorStore>,
        deployments: Deployments,
        registry: Registry,
        tracking: Tracking,
        artifacts: Artifacts,
        artifact_scheme: &'static str,
        sink: Arc<dyn AlertSink>,
    ) -> Self {
        Self {
            store,
            deployments,
            registry,
            tracking,
            artifacts,
            artifact_scheme,
            sink,
        }
    }

    /// Creates (or with `replace`, replaces) a monitor: checks the deployment exists, reads the
    /// reference and stores its profile, computed once here.
    pub async fn put(
        &self,
        name: &str,
        mut spec: MonitorSpec,
        replace: bool,
        actor: &str,
    ) -> ServiceResult<Monitor> {
        cairn_domain::monitor::validate_name("monitor", name)?;
        spec.validate()?;
        if let Some(cron) = &spec.schedule {
            schedule::parse(cron)?;
        }
        self.deployments.get(&spec.deployment).await?;
        if replace && let Ok(old) = self.store.get_monitor(name).await {
            keep_secrets(&mut spec, &old.spec);
        }
        let (path, table) = self.resolve_reference(&spec.reference.uri).await?;
        spec.reference.path = path;
        let profile = tokio::task::spawn_blocking(move || evaluate::profile(&table))
            .await
            .map_err(|e| ServiceError::Internal(format!("profiling the reference: {e}")))??;
        Ok(self
            .store
            .put_monitor(name, &spec, &profile, replace, &change(actor))
            .await?)
    }

    pub async fn get(&self, name: &str) -> ServiceResult<Monitor> {
        Ok(self.store.get_monitor(name).await?)
    }

    pub async fn list(&self) -> ServiceResult<Vec<Monitor>> {
        Ok(self.store.list_monitors().await?)
    }

    pub async fn delete(&self, name: &str, actor: &str) -> ServiceResult<()> {
        Ok(self.store.delete_monitor(name, &change(actor)).await?)
    }

    /// Newest first.
    pub async fn snapshots(
        &self,
        name: &str,
        limit: Option<usize>,
        before_id: Option<i64>,
    ) -> ServiceResult<Vec<Snapshot>> {
        self.store.get_monitor(name).await?;
        let limit = check_limit(limit)?;
        Ok(self.store.list_snapshots(name, limit, before_id).await?)
    }

    pub async fn snapshot(&self, name: &str, id: i64) -> ServiceResult<Snapshot> {
        Ok(self.store.get_snapshot(name, id).await?)
    }

    /// Newest first; of one monitor when named.
    pub async fn alerts(
        &self,
        monitor: Option<&str>,
        limit: Option<usize>,
    ) -> ServiceResult<Vec<Alert>> {
        if let Some(m) = monitor {
            self.store.get_monitor(m).await?;
        }
        Ok(self.store.list_alerts(monitor, check_limit(limit)?).await?)
    }

    /// The Prometheus exposition of every monitor's latest snapshot (`cairn_monitor_*`).
    pub async fn gauges(&self) -> ServiceResult<String> {
        let monitors = self.store.list_monitors().await?;
        let latest = self.store.latest_snapshots().await?;
        let alerts = self.store.list_alerts(None, MAX_LIST).await?;
        Ok(gauges::render(&monitors, &latest, &alerts))
    }
}

fn check_limit(limit: Option<usize>) -> ServiceResult<usize> {
    let limit = limit.unwrap_or(100);
    if (1..=MAX_LIST).contains(&limit) {
        Ok(limit)
    } else {
        Err(ServiceError::InvalidArgument(format!(
            "'max_results' must be between 1 and {MAX_LIST}, got {limit}."
        )))
    }
}

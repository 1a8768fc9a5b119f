//! The control loops `cairn server` runs in-process, following the change log without HTTP: the
//! deployment controller, which rolls out alias moves (the one place a roll-out is recorded), and the
//! control plane and model files the embedded serving reads.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cairn_contract::StateDto;
use cairn_domain::rollout::Traffic;
use cairn_mlflow::ARTIFACT_SCHEME;
use cairn_service::{Artifacts, ChangeLog, Deployments, Registry, TrafficCounts};
use cairn_serving::predictions::PredictionSink;
use cairn_serving::source::ModelFiles;
use cairn_serving::{ControlPlane, Scope, Wanted};

/// The longest one wait on the change log lasts before the controller reconciles anyway.
const IDLE: Duration = Duration::from_secs(30);
/// How often canaries of roll-out policies are checked for a decision (durations elapse without
/// change-log entries).
const ROLLOUT_TICK: Duration = Duration::from_secs(1);
/// The pause after a failed step (the database unreachable, say).
const BACKOFF: Duration = Duration::from_secs(1);

/// The embedded serving's live traffic counters, as the roll-out controller reads them.
pub(crate) struct ServedTraffic;

impl TrafficCounts for ServedTraffic {
    fn traffic(&self, deployment: &str, version: i64) -> Traffic {
        cairn_serving::traffic::traffic(deployment, version)
    }
}

/// Reconciles every deployment at start and after each change of the log: an alias a deployment
/// follows that moved to a servable version is rolled out and recorded. Then, and every
/// [`ROLLOUT_TICK`], advances the roll-out policies' canaries (started, promoted, rolled back), on the
/// embedded serving's traffic and, when feedback has arrived, the monitors' scores of each version.
/// Runs forever.
pub(crate) async fn run_deployment_controller(
    deployments: Deployments,
    log: ChangeLog,
    monitors: cairn_service::Monitors,
) {
    let mut cursor = 0;
    let mut first = true;
    let mut last_reconcile = std::time::Instant::now();
    loop {
        let wait = if first { Duration::ZERO } else { ROLLOUT_TICK };
        let changed = match log.changes(cursor, 1, wait).await {
            Ok((_, head)) => {
                let changed = head != cursor;
                cursor = head;
                changed
            }
            Err(e) => {
                tracing::warn!(error = %e, "following the change log");
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        };
        if first || changed || last_reconcile.elapsed() >= IDLE {
            first = false;
            last_reconcile = std::time::Instant::now();
            if let Err(e) = deployments.reconcile_all().await {
                tracing::warn!(error = %e, "reconciling deployments");
            }
        }
        if let Err(e) = deployments
            .advance_rollouts(&ServedTraffic, &monitors)
            .await
        {
            tracing::warn!(error = %e, "advancing roll-outs");
        }
    }
}

/// The server's own control plane, as the embedded serving sees it.
pub(crate) struct InProcess {
    pub deployments: Deployments,
    pub log: ChangeLog,
}

#[async_trait]
impl ControlPlane for InProcess {
    async fn deployments(&self, scope: &Scope) -> anyhow::Result<Option<Vec<Wanted>>> {
        let wanted = |d: cairn_domain::deployment::Deployment| {
            let state = StateDto::from(&d.state);
            Wanted {
                serving: state.serving,
                log_sample: state.log_sample,
                name: d.name,
            }
        };
        Ok(match scope {
            Scope::All => Some(
                self.deployments
                    .list()
                    .await?
                    .into_iter()
                    .map(wanted)
                    .collect(),
            ),
            Scope::One(name) => match self.deployments.get(name).await {
                Ok(d) => Some(vec![wanted(d)]),
                Err(cairn_service::ServiceError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
        })
    }

    async fn wait(&self, after: i64, timeout: Duration) -> anyhow::Result<i64> {
        Ok(self.log.changes(after, 1, timeout).await?.1)
    }
}

/// Registered versions' files, read from the server's own registry and artifact store.
pub(crate) struct StoredModels {
    pub registry: Registry,
    pub artifacts: Artifacts,
}

/// The largest model file loaded into memory for serving.
const MAX_MODEL_BYTES: u64 = 4 << 30;

#[async_trait]
impl ModelFiles for StoredModels {
    async fn location(&self, name: &str, version: &str) -> anyhow::Result<String> {
        let location = self.registry.get_download_uri(name, version).await?;
        match location.strip_prefix(ARTIFACT_SCHEME) {
            Some(path) => Ok(path.trim_matches('/').to_owned()),
            None => anyhow::bail!(
                "version {version} of {name} is stored at {location}; deployments serve models stored \
                 through the server ({ARTIFACT_SCHEME})"
            ),
        }
    }

    async fn read(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        Ok(self.artifacts.read(path, MAX_MODEL_BYTES).await?)
    }
}

/// The embedded serving's logged predictions, stored through the monitoring use cases in-process.
pub(crate) struct StoredPredictions(pub cairn_service::Monitors);

#[async_trait]
impl PredictionSink for StoredPredictions {
    async fn write(&self, deployment: &str, file: &str, parquet: Vec<u8>) -> anyhow::Result<()> {
        Ok(self
            .0
            .store_predictions(deployment, file, parquet.into())
            .await?)
    }
}

/// The embedded serving's control plane.
pub(crate) fn in_process(deployments: Deployments, log: ChangeLog) -> Arc<dyn ControlPlane> {
    Arc::new(InProcess { deployments, log })
}

/// How often the monitor scheduler looks for due slots.
const SCHEDULER_TICK: Duration = Duration::from_secs(1);

/// Evaluates scheduled monitors at each cron slot. Every server runs this; the store keeps one snapshot
/// per (monitor, slot), so a slot another server already evaluated is skipped. Runs forever.
pub(crate) async fn run_monitor_scheduler(monitors: cairn_service::Monitors) {
    // Slots before a monitor's last snapshot (or its creation) are never evaluated.
    let mut last: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    loop {
        tokio::time::sleep(SCHEDULER_TICK).await;
        let list = match monitors.list().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "listing monitors");
                continue;
            }
        };
        let now = cairn_domain::time::now_millis();
        for m in list {
            let Some(cron) = m.spec.schedule.as_deref() else {
                continue;
            };
            let after = *last
                .entry(m.name.clone())
                .or_insert(m.updated_ms.max(now - 1000));
            let Some(slot) = cairn_service::next_slot(cron, after, now) else {
                continue;
            };
            last.insert(m.name.clone(), slot);
            match monitors.run(&m.name, Some(slot), "scheduler").await {
                Ok((s, alerts)) => tracing::info!(
                    monitor = %m.name, snapshot = s.id, alerts = alerts.len(), "monitor evaluated"
                ),
                Err(cairn_service::ServiceError::AlreadyExists(_)) => {}
                Err(e) => {
                    tracing::warn!(monitor = %m.name, error = %e, "monitor evaluation failed")
                }
            }
        }
    }
}

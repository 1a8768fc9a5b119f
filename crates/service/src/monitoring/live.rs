//! The monitored performance of each model version a deployment served over a window — the
//! feedback labels joined to its logged predictions, scored as the deployment's monitor scores them
//! — for the roll-out policy to weigh a canary against its primary.

use std::collections::BTreeMap;

use cairn_domain::monitor::Window;
use cairn_domain::rollout::LiveScore;
use cairn_domain::time::now_millis;
use cairn_monitoring::Table;

use super::Monitors;
use super::evaluate::{cell_text, column, performance, take, timestamps_ms};
use crate::rollouts::LivePerformance;
use crate::{ServiceError, ServiceResult};

impl Monitors {
    /// Each version's accuracy (a classifier) or mean absolute error (a regressor) over what
    /// `deployment` answered since `since_ms`, with how many rows had a label; empty when no monitor
    /// watches the deployment.
    pub async fn version_scores(
        &self,
        deployment: &str,
        since_ms: i64,
    ) -> ServiceResult<BTreeMap<i64, LiveScore>> {
        let Some(monitor) = self
            .list()
            .await?
            .into_iter()
            .find(|m| m.spec.deployment == deployment)
        else {
            return Ok(BTreeMap::new());
        };
        let now = now_millis();
        let window = Window::Duration {
            ms: (now - since_ms).max(1),
        };
        let raw = self.window_files(deployment, &window, now).await?;
        let labels = self.store.labels_since(deployment, since_ms).await?;
        if raw.files.is_empty() || labels.is_empty() {
            return Ok(BTreeMap::new());
        }
        tokio::task::spawn_blocking(move || {
            let tables = raw
                .files
                .iter()
                .filter_map(|f| {
                    Table::from_parquet_bytes_with_timestamps(bytes::Bytes::copy_from_slice(f)).ok()
                })
                .collect();
            let all = Table::concat(tables);
            let (Some(stamps), Some(versions)) = (
                column(&all, "timestamp").map(timestamps_ms),
                column(&all, "model_version"),
            ) else {
                return BTreeMap::new();
            };
            let mut rows: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
            for (i, t) in stamps.iter().enumerate() {
                if *t > since_ms as f64
                    && let Some(v) = cell_text(versions, i).and_then(|v| v.parse().ok())
                {
                    rows.entry(v).or_default().push(i);
                }
            }
            rows.into_iter()
                .filter_map(|(version, keep)| {
                    let (report, labelled) = performance(&monitor, &take(&all, &keep), &labels);
                    let (metric, value) = ["accuracy", "mae"]
                        .into_iter()
                        .find_map(|m| report[m].as_f64().map(|v| (m, v)))?;
                    Some((
                        version,
                        LiveScore {
                            metric: metric.to_owned(),
                            value,
                            labelled: labelled as u64,
                        },
                    ))
                })
                .collect()
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("scoring versions: {e}")))
    }
}

#[async_trait::async_trait]
impl LivePerformance for Monitors {
    async fn scores(&self, deployment: &str, since_ms: i64) -> BTreeMap<i64, LiveScore> {
        match self.version_scores(deployment, since_ms).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(deployment, error = %e, "scoring a canary's versions from feedback");
                BTreeMap::new()
            }
        }
    }
}

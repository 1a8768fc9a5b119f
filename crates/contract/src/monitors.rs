//! Monitoring, as `/api/cairn/v1/monitors`, `/api/cairn/v1/monitor-references`, `/api/cairn/v1/alerts`
//! and `/api/cairn/v1/deployments/{name}/feedback` serve it.

use std::collections::BTreeMap;

use cairn_domain::DomainError;
use cairn_domain::monitor::{
    Alert, AlertRule, DriftSettings, Monitor, MonitorSpec, Reference, Snapshot, Webhook, Window,
    format_duration, parse_duration,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An alert rule: `when` holds for `for` consecutive snapshots → an alert; then none for `cooldown`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertRuleDto {
    #[schema(example = "drift")]
    pub name: String,
    /// `<value> <op> <number>` on a snapshot value: `dataset.share >= 0.3`, `column.f3.score > 0.2`,
    /// `accuracy < 0.85`, `missing_share > 0.05`.
    #[schema(example = "dataset.share >= 0.3")]
    pub when: String,
    /// Consecutive windows the condition must hold (default 1).
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_windows: Option<u32>,
    /// No new alert of this rule within this long of the last (`15m`, `1h`; default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "1h")]
    pub cooldown: Option<String>,
    /// A URL each alert is POSTed to as JSON (retried with backoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// Signs deliveries: `X-Cairn-Signature: sha256=<hex HMAC-SHA256 of the body>`. Write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// Read-only: whether deliveries are signed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub signed: bool,
}

impl AlertRuleDto {
    fn into_rule(self) -> Result<AlertRule, DomainError> {
        let webhook = match (self.webhook, self.webhook_secret) {
            (Some(url), secret) => Some(Webhook { url, secret }),
            (None, Some(_)) => {
                return Err(DomainError::invalid(format!(
                    "alert rule '{}': 'webhook_secret' without a 'webhook'",
                    self.name
                )));
            }
            (None, None) => None,
        };
        Ok(AlertRule {
            name: self.name,
            when: self.when,
            for_windows: self.for_windows.unwrap_or(1),
            cooldown_ms: self
                .cooldown
                .as_deref()
                .map(parse_duration)
                .transpose()?
                .unwrap_or(0),
            webhook,
        })
    }
}

impl From<&AlertRule> for AlertRuleDto {
    fn from(r: &AlertRule) -> Self {
        AlertRuleDto {
            name: r.name.clone(),
            when: r.when.clone(),
            for_windows: Some(r.for_windows),
            cooldown: (r.cooldown_ms > 0).then(|| format_duration(r.cooldown_ms)),
            webhook: r.webhook.as_ref().map(|w| w.url.clone()),
            webhook_secret: None,
            signed: r.webhook.as_ref().is_some_and(|w| w.secret.is_some()),
        }
    }
}

/// `POST /monitors` (with `name`) or `PUT /monitors/{name}`: what a monitor watches and how.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct MonitorBody {
    /// Only for `POST /monitors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub deployment: String,
    /// `runs:/<run_id>/<path>` (a run's CSV or Parquet artifact) or `upload:<file>` (what
    /// `POST /monitor-references` answered).
    #[schema(example = "runs:/0a1b2c/reference.parquet")]
    pub reference: String,
    /// The window: the last this-long of logged predictions (`1h`, `30m`, `1d`); default `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Or the last this-many logged rows (instead of `window`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// A cron expression: evaluated at each slot by the server (else only on `…/run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "*/5 * * * *")]
    pub schedule: Option<String>,
    /// One drift test for every column (`ks`, `wasserstein`, `psi`, `jensenshannon`, `chisquare`, `z`,
    /// …); default Evidently's automatic choice per column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The columns tested; default every reference column the serving logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// Dataset drift when at least this share of columns drift (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_share: Option<f64>,
    /// `bonferroni` or `bh`: a dataset verdict with multiple-testing control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<String>,
    /// The logged output compared with labels (default `prediction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<String>,
    #[serde(default)]
    pub rules: Vec<AlertRuleDto>,
}

impl MonitorBody {
    pub fn into_spec(self) -> Result<MonitorSpec, DomainError> {
        let window = match (self.window.as_deref(), self.rows) {
            (Some(_), Some(_)) => {
                return Err(DomainError::invalid(
                    "give 'window' (a duration) or 'rows', not both",
                ));
            }
            (_, Some(rows)) => Window::Rows { rows },
            (w, None) => Window::Duration {
                ms: parse_duration(w.unwrap_or("1h"))?,
            },
        };
        Ok(MonitorSpec {
            deployment: self.deployment,
            reference: Reference {
                uri: self.reference,
                path: String::new(),
            },
            window,
            schedule: self.schedule,
            drift: DriftSettings {
                method: self.method,
                threshold: self.threshold,
                columns: self.columns,
                drift_share: self.drift_share,
                correction: self.correction,
            },
            prediction: self.prediction,
            rules: self
                .rules
                .into_iter()
                .map(AlertRuleDto::into_rule)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// A stored monitor.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MonitorDto {
    pub name: String,
    pub deployment: String,
    pub reference: String,
    /// `1h`, or absent for a rows window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_share: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<String>,
    pub prediction: String,
    pub rules: Vec<AlertRuleDto>,
    /// The reference's profile (types, quantiles, histograms, category frequencies), computed once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub profile: Option<serde_json::Value>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl MonitorDto {
    /// Without the profile (lists).
    pub fn summary(m: &Monitor) -> Self {
        let (window, rows) = match m.spec.window {
            Window::Duration { ms } => (Some(format_duration(ms)), None),
            Window::Rows { rows } => (None, Some(rows)),
        };
        MonitorDto {
            name: m.name.clone(),
            deployment: m.spec.deployment.clone(),
            reference: m.spec.reference.uri.clone(),
            window,
            rows,
            schedule: m.spec.schedule.clone(),
            method: m.spec.drift.method.clone(),
            threshold: m.spec.drift.threshold,
            columns: m.spec.drift.columns.clone(),
            drift_share: m.spec.drift.drift_share,
            correction: m.spec.drift.correction.clone(),
            prediction: m.spec.prediction_column().to_owned(),
            rules: m.spec.rules.iter().map(Into::into).collect(),
            profile: None,
            created_ms: m.created_ms,
            updated_ms: m.updated_ms,
        }
    }

    pub fn full(m: &Monitor) -> Self {
        MonitorDto {
            profile: Some(m.profile.clone()),
            ..Self::summary(m)
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MonitorResponse {
    pub monitor: MonitorDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MonitorsResponse {
    pub monitors: Vec<MonitorDto>,
}

/// One evaluation: its flat `values` (what rules, gauges and timelines read) and, when asked for, the
/// whole report (drift per column, quality, performance, histograms).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SnapshotDto {
    pub id: i64,
    pub monitor: String,
    pub taken_ms: i64,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// The schedule's slot, when the server evaluated it on schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_ms: Option<i64>,
    pub rows: i64,
    pub values: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
}

impl SnapshotDto {
    pub fn new(s: Snapshot, with_report: bool) -> Self {
        SnapshotDto {
            id: s.id,
            monitor: s.monitor,
            taken_ms: s.taken_ms,
            window_start_ms: s.window_start_ms,
            window_end_ms: s.window_end_ms,
            slot_ms: s.slot_ms,
            rows: s.rows,
            values: s.values,
            report: with_report.then_some(s.report),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SnapshotResponse {
    pub snapshot: SnapshotDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SnapshotsResponse {
    pub snapshots: Vec<SnapshotDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertDto {
    pub id: i64,
    pub monitor: String,
    pub rule: String,
    pub condition: String,
    pub value: f64,
    pub snapshot_id: i64,
    pub fired_ms: i64,
}

impl From<Alert> for AlertDto {
    fn from(a: Alert) -> Self {
        AlertDto {
            id: a.id,
            monitor: a.monitor,
            rule: a.rule,
            condition: a.condition,
            value: a.value,
            snapshot_id: a.snapshot_id,
            fired_ms: a.fired_ms,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertsResponse {
    pub alerts: Vec<AlertDto>,
}

/// What `POST /monitors/{name}/run` stored: the snapshot (with its report) and the alerts it fired.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunMonitorResponse {
    pub snapshot: SnapshotDto,
    pub alerts: Vec<AlertDto>,
}

/// `POST /monitor-references`: the stored reference, to name in a monitor.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReferenceResponse {
    #[schema(example = "upload:3f2a….parquet")]
    pub reference: String,
    pub rows: usize,
    pub columns: Vec<String>,
}

/// One delayed label: for a logged request (and its row), or for the rows whose `key_column` input
/// equals `key`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LabelDto {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The row within the request (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub key: Option<serde_json::Value>,
    /// A number, a string or a boolean.
    #[schema(value_type = Object)]
    pub label: serde_json::Value,
}

/// `POST /deployments/{name}/feedback`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedbackBody {
    /// The input column `key`s are values of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_column: Option<String>,
    pub labels: Vec<LabelDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedbackResponse {
    pub accepted: usize,
}

/// A stored batch of logged predictions: its path under the artifact root.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PredictionBatchResponse {
    #[schema(example = "monitoring/churn/date=2026-12-07/1765100000000-5f2c.parquet")]
    pub path: String,
}

//! Monitors, snapshots, alerts and delayed labels on SQL, written once for both engines on the control
//! plane's transactions: specs, profiles, snapshot values and reports are JSON documents beside the
//! columns they are looked up by; every monitor change, snapshot and alert appends its change-log entry
//! in the same transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use cairn_domain::change_log::{NewChange, Topic};
use cairn_domain::monitor::{Alert, Monitor, MonitorSpec, NewAlert, NewSnapshot, Snapshot};
use cairn_domain::{Change, Missing, Taken};
use cairn_store::{Label, MonitorActivity, MonitorStore, StoreError, StoreResult};
use serde_json::{Value, json};

use crate::change_log::append;
use crate::registry::{RegistryDb, Row, Tx, Val};

/// Monitoring on a SQL engine.
#[derive(Clone)]
pub struct SqlMonitors {
    db: Arc<dyn RegistryDb>,
}

impl SqlMonitors {
    pub fn new(db: Arc<dyn RegistryDb>) -> Self {
        Self { db }
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt {what}: {e}"))
}

fn internal(e: serde_json::Error) -> StoreError {
    StoreError::Internal(e.to_string())
}

const MONITOR_COLUMNS: &str = "name, spec_json, profile_json, paused, created_ms, updated_ms";

fn monitor_row(r: &Row) -> StoreResult<Monitor> {
    Ok(Monitor {
        name: r.text(0)?,
        spec: serde_json::from_str(&r.text(1)?).map_err(|e| corrupt("monitor spec", e))?,
        profile: serde_json::from_str(&r.text(2)?).map_err(|e| corrupt("monitor profile", e))?,
        paused: r.int(3)? != 0,
        created_ms: r.int(4)?,
        updated_ms: r.int(5)?,
    })
}

const SNAPSHOT_COLUMNS: &str = "id, monitor, taken_ms, window_start_ms, window_end_ms, slot_ms, \
     rows_count, values_json, report_json";

fn snapshot_row(r: &Row) -> StoreResult<Snapshot> {
    Ok(Snapshot {
        id: r.int(0)?,
        monitor: r.text(1)?,
        taken_ms: r.int(2)?,
        window_start_ms: r.int(3)?,
        window_end_ms: r.int(4)?,
        slot_ms: r.opt_int(5)?,
        rows: r.int(6)?,
        values: serde_json::from_str(&r.text(7)?).map_err(|e| corrupt("snapshot values", e))?,
        report: serde_json::from_str(&r.text(8)?).map_err(|e| corrupt("snapshot report", e))?,
    })
}

const ALERT_COLUMNS: &str = "id, monitor, rule, condition, value_json, snapshot_id, fired_ms";

fn alert_row(r: &Row) -> StoreResult<Alert> {
    Ok(Alert {
        id: r.int(0)?,
        monitor: r.text(1)?,
        rule: r.text(2)?,
        condition: r.text(3)?,
        value: serde_json::from_str(&r.text(4)?).map_err(|e| corrupt("alert value", e))?,
        snapshot_id: r.int(5)?,
        fired_ms: r.int(6)?,
    })
}

async fn fetch_monitor(tx: &mut dyn Tx, name: &str) -> StoreResult<Option<Monitor>> {
    tx.query(
        &format!("SELECT {MONITOR_COLUMNS} FROM monitors WHERE name = $1"),
        vec![name.into()],
    )
    .await?
    .first()
    .map(monitor_row)
    .transpose()
}

/// The first column of the first row an `INSERT … RETURNING id` gave, if it inserted one.
async fn returned_id(tx: &mut dyn Tx, sql: &str, args: Vec<Val>) -> StoreResult<Option<i64>> {
    tx.query(sql, args)
        .await?
        .first()
        .map(|r| r.int(0))
        .transpose()
}

fn limit(n: usize) -> Val {
    i64::try_from(n).unwrap_or(i64::MAX).into()
}

async fn monitor_change(
    tx: &mut dyn Tx,
    name: &str,
    kind: &str,
    change: &Change,
    detail: Option<Value>,
) -> StoreResult<()> {
    append(
        tx,
        NewChange {
            topic: Topic::Monitor,
            subject: name,
            kind,
            topic_seq: 0,
            actor: &change.actor,
            timestamp_ms: change.at_ms,
            detail,
        },
    )
    .await
    .map(|_| ())
}

#[async_trait]
impl MonitorStore for SqlMonitors {
    async fn put_monitor(
        &self,
        name: &str,
        spec: &MonitorSpec,
        profile: &Value,
        replace: bool,
        change: &Change,
    ) -> StoreResult<Monitor> {
        let spec_json = serde_json::to_string(spec).map_err(internal)?;
        let profile_json = serde_json::to_string(profile).map_err(internal)?;
        write!(self, |tx| {
            let existing = fetch_monitor(tx, name).await?;
            let kind = match (&existing, replace) {
                (Some(_), false) => {
                    return Err(StoreError::AlreadyExists(Taken::Monitor(name.to_owned())));
                }
                (Some(_), true) => {
                    tx.execute(
                        "UPDATE monitors SET spec_json = $2, profile_json = $3, updated_ms = $4 \
                         WHERE name = $1",
                        vec![
                            name.into(),
                            spec_json.clone().into(),
                            profile_json.clone().into(),
                            change.at_ms.into(),
                        ],
                    )
                    .await?;
                    "updated"
                }
                (None, _) => {
                    tx.execute(
                        "INSERT INTO monitors (name, spec_json, profile_json, paused, created_ms, \
                         updated_ms) VALUES ($1, $2, $3, 0, $4, $4)",
                        vec![
                            name.into(),
                            spec_json.clone().into(),
                            profile_json.clone().into(),
                            change.at_ms.into(),
                        ],
                    )
                    .await?;
                    "created"
                }
            };
            let detail = json!({
                "deployment": spec.deployment,
                "reference": spec.reference.uri,
                "rules": spec.rules.iter().map(|r| &r.name).collect::<Vec<_>>(),
            });
            monitor_change(tx, name, kind, change, Some(detail)).await?;
            fetch_monitor(tx, name)
                .await?
                .ok_or_else(|| StoreError::Internal("monitor vanished in its transaction".into()))
        })
    }

    async fn get_monitor(&self, name: &str) -> StoreResult<Monitor> {
        read!(self, |tx| {
            fetch_monitor(tx, name)
                .await?
                .ok_or_else(|| StoreError::NotFound(Missing::Monitor(name.to_owned())))
        })
    }

    async fn list_monitors(&self) -> StoreResult<Vec<Monitor>> {
        read!(self, |tx| {
            tx.query(
                &format!("SELECT {MONITOR_COLUMNS} FROM monitors ORDER BY name"),
                vec![],
            )
            .await?
            .iter()
            .map(monitor_row)
            .collect()
        })
    }

    async fn delete_monitor(&self, name: &str, change: &Change) -> StoreResult<()> {
        write!(self, |tx| {
            let gone = tx
                .execute("DELETE FROM monitors WHERE name = $1", vec![name.into()])
                .await?;
            if gone == 0 {
                return Err(StoreError::NotFound(Missing::Monitor(name.to_owned())));
            }
            for table in ["monitor_snapshots", "monitor_alerts"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE monitor = $1"),
                    vec![name.into()],
                )
                .await?;
            }
            monitor_change(tx, name, "deleted", change, None).await
        })
    }

    async fn record_snapshot(
        &self,
        snapshot: &NewSnapshot,
        alerts: &[NewAlert],
        change: &Change,
    ) -> StoreResult<(Snapshot, Vec<Alert>)> {
        let values_json = serde_json::to_string(&snapshot.values).map_err(internal)?;
        let report_json = serde_json::to_string(&snapshot.report).map_err(internal)?;
        write!(self, |tx| {
            if fetch_monitor(tx, &snapshot.monitor).await?.is_none() {
                return Err(StoreError::NotFound(Missing::Monitor(
                    snapshot.monitor.clone(),
                )));
            }
            // Nothing returned: another server stored this slot first.
            let id = returned_id(
                tx,
                "INSERT INTO monitor_snapshots (monitor, taken_ms, window_start_ms, window_end_ms, \
                 slot_ms, rows_count, values_json, report_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (monitor, slot_ms) DO NOTHING RETURNING id",
                vec![
                    (&snapshot.monitor).into(),
                    snapshot.taken_ms.into(),
                    snapshot.window_start_ms.into(),
                    snapshot.window_end_ms.into(),
                    snapshot.slot_ms.into(),
                    snapshot.rows.into(),
                    values_json.clone().into(),
                    report_json.clone().into(),
                ],
            )
            .await?
            .ok_or_else(|| {
                StoreError::AlreadyExists(Taken::Key(format!(
                    "monitor '{}' slot {:?} was already evaluated",
                    snapshot.monitor, snapshot.slot_ms
                )))
            })?;
            let summary: BTreeMap<&str, f64> = ["dataset.share", "dataset.drifted", "rows"]
                .into_iter()
                .filter_map(|k| snapshot.values.get(k).map(|v| (k, *v)))
                .collect();
            append(
                tx,
                NewChange {
                    topic: Topic::Monitor,
                    subject: &snapshot.monitor,
                    kind: "snapshot",
                    topic_seq: id,
                    actor: &change.actor,
                    timestamp_ms: change.at_ms,
                    detail: Some(
                        json!({"snapshot_id": id, "slot_ms": snapshot.slot_ms, "values": summary}),
                    ),
                },
            )
            .await?;
            let mut fired = Vec::with_capacity(alerts.len());
            for alert in alerts {
                let value_json = serde_json::to_string(&alert.value).map_err(internal)?;
                let alert_id = returned_id(
                    tx,
                    "INSERT INTO monitor_alerts (monitor, rule, condition, value_json, snapshot_id, \
                     fired_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    vec![
                        (&snapshot.monitor).into(),
                        (&alert.rule).into(),
                        (&alert.condition).into(),
                        value_json.into(),
                        id.into(),
                        change.at_ms.into(),
                    ],
                )
                .await?
                .ok_or_else(|| StoreError::Internal("alert insert returned no id".into()))?;
                append(
                    tx,
                    NewChange {
                        topic: Topic::Alert,
                        subject: &snapshot.monitor,
                        kind: "alert_fired",
                        topic_seq: alert_id,
                        actor: &change.actor,
                        timestamp_ms: change.at_ms,
                        detail: Some(json!({
                            "alert_id": alert_id,
                            "rule": alert.rule,
                            "condition": alert.condition,
                            "value": alert.value,
                            "snapshot_id": id,
                        })),
                    },
                )
                .await?;
                fired.push(Alert {
                    id: alert_id,
                    monitor: snapshot.monitor.clone(),
                    rule: alert.rule.clone(),
                    condition: alert.condition.clone(),
                    value: alert.value,
                    snapshot_id: id,
                    fired_ms: change.at_ms,
                });
            }
            Ok((
                Snapshot {
                    id,
                    monitor: snapshot.monitor.clone(),
                    taken_ms: snapshot.taken_ms,
                    window_start_ms: snapshot.window_start_ms,
                    window_end_ms: snapshot.window_end_ms,
                    slot_ms: snapshot.slot_ms,
                    rows: snapshot.rows,
                    values: snapshot.values.clone(),
                    report: snapshot.report.clone(),
                },
                fired,
            ))
        })
    }

    async fn list_snapshots(
        &self,
        monitor: &str,
        n: usize,
        before_id: Option<i64>,
    ) -> StoreResult<Vec<Snapshot>> {
        read!(self, |tx| {
            tx.query(
                &format!(
                    "SELECT {SNAPSHOT_COLUMNS} FROM monitor_snapshots WHERE monitor = $1 AND id < $2 \
                     ORDER BY id DESC LIMIT $3"
                ),
                vec![
                    monitor.into(),
                    before_id.unwrap_or(i64::MAX).into(),
                    limit(n),
                ],
            )
            .await?
            .iter()
            .map(snapshot_row)
            .collect()
        })
    }

    async fn get_snapshot(&self, monitor: &str, id: i64) -> StoreResult<Snapshot> {
        read!(self, |tx| {
            tx.query(
                &format!(
                    "SELECT {SNAPSHOT_COLUMNS} FROM monitor_snapshots WHERE monitor = $1 AND id = $2"
                ),
                vec![monitor.into(), id.into()],
            )
            .await?
            .first()
            .map(snapshot_row)
            .transpose()?
            .ok_or_else(|| {
                StoreError::NotFound(Missing::Snapshot {
                    monitor: monitor.to_owned(),
                    id,
                })
            })
        })
    }

    async fn latest_snapshots(&self) -> StoreResult<Vec<Snapshot>> {
        read!(self, |tx| {
            tx.query(
                &format!(
                    "SELECT {SNAPSHOT_COLUMNS} FROM monitor_snapshots WHERE id IN \
                     (SELECT MAX(id) FROM monitor_snapshots GROUP BY monitor) ORDER BY monitor"
                ),
                vec![],
            )
            .await?
            .iter()
            .map(snapshot_row)
            .collect()
        })
    }

    async fn monitor_activity(&self) -> StoreResult<Vec<MonitorActivity>> {
        read!(self, |tx| {
            let alerts: BTreeMap<String, i64> = tx
                .query(
                    "SELECT monitor, COUNT(*) FROM monitor_alerts GROUP BY monitor",
                    vec![],
                )
                .await?
                .iter()
                .map(|r| Ok((r.text(0)?, r.int(1)?)))
                .collect::<StoreResult<_>>()?;
            tx.query(
                "SELECT monitor, COUNT(*), MAX(taken_ms) FROM monitor_snapshots GROUP BY monitor",
                vec![],
            )
            .await?
            .iter()
            .map(|r| {
                let monitor = r.text(0)?;
                Ok(MonitorActivity {
                    snapshots: r.int(1)? as usize,
                    last_snapshot_ms: r.opt_int(2)?,
                    alerts: alerts.get(&monitor).copied().unwrap_or(0) as usize,
                    monitor,
                })
            })
            .collect()
        })
    }

    async fn list_alerts(&self, monitor: Option<&str>, n: usize) -> StoreResult<Vec<Alert>> {
        let (filter, mut args): (&str, Vec<Val>) = match monitor {
            Some(m) => ("WHERE monitor = $1", vec![m.into()]),
            None => ("", vec![]),
        };
        args.push(limit(n));
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM monitor_alerts {filter} ORDER BY id DESC LIMIT ${}",
            args.len()
        );
        read!(self, |tx| {
            tx.query(&sql, args).await?.iter().map(alert_row).collect()
        })
    }

    async fn add_labels(&self, deployment: &str, labels: &[Label]) -> StoreResult<()> {
        write!(self, |tx| {
            for l in labels {
                let ident = match (&l.request_id, &l.key_column, &l.key) {
                    (Some(id), _, _) => format!("r:{}:{id}", l.row),
                    (None, Some(col), Some(key)) => format!("k:{col}={key}"),
                    _ => {
                        return Err(StoreError::Internal(
                            "a label needs a request id or a key".into(),
                        ));
                    }
                };
                tx.execute(
                    "INSERT INTO prediction_labels (deployment, ident, request_id, row_index, \
                     key_column, key_value, label_json, received_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (deployment, ident) DO UPDATE \
                     SET label_json = excluded.label_json, received_ms = excluded.received_ms",
                    vec![
                        deployment.into(),
                        ident.into(),
                        (&l.request_id).into(),
                        l.row.into(),
                        (&l.key_column).into(),
                        (&l.key).into(),
                        serde_json::to_string(&l.label).map_err(internal)?.into(),
                        l.received_ms.into(),
                    ],
                )
                .await?;
            }
            Ok(())
        })
    }

    async fn labels_since(&self, deployment: &str, since_ms: i64) -> StoreResult<Vec<Label>> {
        read!(self, |tx| {
            tx.query(
                "SELECT request_id, row_index, key_column, key_value, label_json, received_ms \
                 FROM prediction_labels WHERE deployment = $1 AND received_ms >= $2",
                vec![deployment.into(), since_ms.into()],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(Label {
                    request_id: r.opt_text(0)?,
                    row: r.int(1)?,
                    key_column: r.opt_text(2)?,
                    key: r.opt_text(3)?,
                    label: serde_json::from_str(&r.text(4)?).map_err(|e| corrupt("label", e))?,
                    received_ms: r.int(5)?,
                })
            })
            .collect()
        })
    }
}

//! Triggers, their firings and the triggered-run queue on SQL, on the control plane's transactions
//! (one writer at a time on both engines, so a firing's checks and its inserts cannot interleave with
//! another server's): a firing is unique per (pipeline, trigger, slot); a claim is one `UPDATE`.

use std::sync::Arc;

use async_trait::async_trait;
use cairn_domain::Missing;
use cairn_domain::change_log::{NewChange, Topic};
use cairn_domain::pipeline::{PipelineRun, PipelineRunStatus};
use cairn_domain::trigger::{Concurrency, Fire, FireOutcome, Trigger, TriggerSpec, parse_triggers};
use cairn_store::{Fired, Lease, NewFire, StoreError, StoreResult, TriggerStore};
use serde_json::{Value, json};

use crate::change_log::append;
use crate::pipelines::{
    ExecutionDoc, RUN_COLUMNS, corrupt, fetch_run, inserted_seq, run_row, to_text,
};
use crate::registry::{RegistryDb, Row, Tx, Val};

/// Triggers on a SQL engine.
#[derive(Clone)]
pub struct SqlTriggers {
    db: Arc<dyn RegistryDb>,
}

impl SqlTriggers {
    pub fn new(db: Arc<dyn RegistryDb>) -> Self {
        Self { db }
    }
}

const TRIGGER_COLUMNS: &str =
    "pipeline, name, spec_json, paused, state_json, created_ms, updated_ms";

fn trigger_row(r: &Row) -> StoreResult<Trigger> {
    let name = r.text(1)?;
    let spec: Value = serde_json::from_str(&r.text(2)?).map_err(|e| corrupt("trigger", e))?;
    Ok(Trigger {
        pipeline: r.text(0)?,
        spec: TriggerSpec::from_json(&name, &spec).map_err(|e| corrupt("trigger", e))?,
        name,
        paused: r.int(3)? != 0,
        state: serde_json::from_str(&r.text(4)?).map_err(|e| corrupt("trigger state", e))?,
        created_ms: r.int(5)?,
        updated_ms: r.int(6)?,
    })
}

const FIRE_COLUMNS: &str =
    "seq, pipeline, trigger, slot, outcome, reason, run_id, cause_json, actor, fired_ms";

fn fire_row(r: &Row) -> StoreResult<Fire> {
    let outcome = r.text(4)?;
    Ok(Fire {
        seq: r.int(0)?,
        pipeline: r.text(1)?,
        trigger: r.text(2)?,
        slot: r.text(3)?,
        outcome: FireOutcome::parse(&outcome).ok_or_else(|| corrupt("fire outcome", &outcome))?,
        reason: r.opt_text(5)?,
        run_id: r.opt_text(6)?,
        cause: serde_json::from_str(&r.text(7)?).map_err(|e| corrupt("fire cause", e))?,
        actor: r.text(8)?,
        fired_ms: r.int(9)?,
    })
}

/// The first column of the first row, as an integer (none without a row, or when NULL).
async fn scalar(tx: &mut dyn Tx, sql: &str, args: Vec<Val>) -> StoreResult<Option<i64>> {
    Ok(tx
        .query(sql, args)
        .await?
        .first()
        .map(|r| r.opt_int(0))
        .transpose()?
        .flatten())
}

async fn fetch_trigger(tx: &mut dyn Tx, pipeline: &str, name: &str) -> StoreResult<Trigger> {
    tx.query(
        &format!("SELECT {TRIGGER_COLUMNS} FROM triggers WHERE pipeline = $1 AND name = $2"),
        vec![pipeline.into(), name.into()],
    )
    .await?
    .first()
    .map(trigger_row)
    .transpose()?
    .ok_or_else(|| {
        StoreError::NotFound(Missing::Trigger {
            pipeline: pipeline.to_owned(),
            name: name.to_owned(),
        })
    })
}

/// Makes a pipeline's triggers those of `triggers` (its registered `triggers:` object): new ones
/// added, changed ones replaced (their scheduler state reset), absent ones removed; a trigger that
/// stays keeps being paused or not.
pub(crate) async fn replace_triggers(
    tx: &mut dyn Tx,
    pipeline: &str,
    triggers: &Value,
    timestamp_ms: i64,
) -> StoreResult<()> {
    let wanted = parse_triggers(triggers).map_err(|e| StoreError::InvalidData(e.to_string()))?;
    let existing: Vec<Trigger> = tx
        .query(
            &format!("SELECT {TRIGGER_COLUMNS} FROM triggers WHERE pipeline = $1"),
            vec![pipeline.into()],
        )
        .await?
        .iter()
        .map(trigger_row)
        .collect::<StoreResult<_>>()?;
    for old in &existing {
        if !wanted.iter().any(|(n, _)| n == &old.name) {
            tx.execute(
                "DELETE FROM triggers WHERE pipeline = $1 AND name = $2",
                vec![pipeline.into(), (&old.name).into()],
            )
            .await?;
        }
    }
    for (name, spec) in &wanted {
        let text = spec.to_json().to_string();
        match existing.iter().find(|t| &t.name == name) {
            Some(old) if &old.spec == spec => {}
            Some(_) => {
                tx.execute(
                    "UPDATE triggers SET spec_json = $3, state_json = '{}', updated_ms = $4 \
                     WHERE pipeline = $1 AND name = $2",
                    vec![
                        pipeline.into(),
                        name.into(),
                        text.into(),
                        timestamp_ms.into(),
                    ],
                )
                .await?;
            }
            None => {
                tx.execute(
                    "INSERT INTO triggers (pipeline, name, spec_json, paused, state_json, \
                     created_ms, updated_ms) VALUES ($1, $2, $3, 0, '{}', $4, $4)",
                    vec![
                        pipeline.into(),
                        name.into(),
                        text.into(),
                        timestamp_ms.into(),
                    ],
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Why a firing queues no run, if it does not.
async fn skip_reason(
    tx: &mut dyn Tx,
    new: &NewFire,
    active: usize,
    timestamp_ms: i64,
) -> StoreResult<Option<String>> {
    if new.cooldown_ms > 0 {
        let last = scalar(
            tx,
            "SELECT MAX(fired_ms) FROM trigger_fires WHERE pipeline = $1 AND trigger = $2 \
             AND outcome = 'started'",
            vec![(&new.pipeline).into(), (&new.trigger).into()],
        )
        .await?;
        if let Some(last) = last
            && timestamp_ms < last + new.cooldown_ms
        {
            return Ok(Some(format!(
                "within the cooldown: the last run started {} s ago",
                (timestamp_ms - last) / 1000
            )));
        }
    }
    if new.concurrency == Concurrency::Skip && active >= new.max_active_runs as usize {
        return Ok(Some(format!(
            "{active} run(s) of the pipeline are active (max_active_runs {}, concurrency skip)",
            new.max_active_runs
        )));
    }
    Ok(None)
}

/// Ends a run as cancelled, with its change-log entry.
async fn cancel(tx: &mut dyn Tx, run: &PipelineRun, actor: &str, ts: i64) -> StoreResult<()> {
    let seq = scalar(
        tx,
        "UPDATE pipeline_runs SET status = 'cancelled', ended_ms = $2, lease_until_ms = NULL \
         WHERE run_id = $1 RETURNING seq",
        vec![(&run.run_id).into(), ts.into()],
    )
    .await?
    .unwrap_or(0);
    append(
        tx,
        NewChange {
            topic: Topic::Pipeline,
            subject: &run.pipeline,
            kind: "run_finished",
            topic_seq: seq,
            actor,
            timestamp_ms: ts,
            detail: Some(json!({ "run_id": run.run_id, "status": "cancelled" })),
        },
    )
    .await
}

async fn active_runs(tx: &mut dyn Tx, pipeline: &str) -> StoreResult<Vec<PipelineRun>> {
    tx.query(
        &format!(
            "SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE pipeline = $1 \
             AND status IN ('queued', 'running') ORDER BY seq"
        ),
        vec![pipeline.into()],
    )
    .await?
    .iter()
    .map(run_row)
    .collect()
}

#[async_trait]
impl TriggerStore for SqlTriggers {
    async fn list_triggers(&self, pipeline: Option<&str>) -> StoreResult<Vec<Trigger>> {
        read!(self, |tx| {
            let rows = match pipeline {
                Some(p) => {
                    tx.query(
                        &format!(
                            "SELECT {TRIGGER_COLUMNS} FROM triggers WHERE pipeline = $1 \
                             ORDER BY pipeline, name"
                        ),
                        vec![p.into()],
                    )
                    .await?
                }
                None => {
                    tx.query(
                        &format!("SELECT {TRIGGER_COLUMNS} FROM triggers ORDER BY pipeline, name"),
                        vec![],
                    )
                    .await?
                }
            };
            rows.iter().map(trigger_row).collect()
        })
    }

    async fn get_trigger(&self, pipeline: &str, name: &str) -> StoreResult<Trigger> {
        read!(self, |tx| { fetch_trigger(tx, pipeline, name).await })
    }

    async fn set_trigger_paused(
        &self,
        pipeline: &str,
        name: &str,
        paused: bool,
        actor: &str,
        timestamp_ms: i64,
    ) -> StoreResult<Trigger> {
        write!(self, |tx| {
            let mut t = fetch_trigger(tx, pipeline, name).await?;
            if t.paused == paused {
                return Ok(t);
            }
            tx.execute(
                "UPDATE triggers SET paused = $3, updated_ms = $4 WHERE pipeline = $1 AND name = $2",
                vec![
                    pipeline.into(),
                    name.into(),
                    i64::from(paused).into(),
                    timestamp_ms.into(),
                ],
            )
            .await?;
            append(
                tx,
                NewChange {
                    topic: Topic::Pipeline,
                    subject: pipeline,
                    kind: if paused {
                        "trigger_paused"
                    } else {
                        "trigger_resumed"
                    },
                    topic_seq: 0,
                    actor,
                    timestamp_ms,
                    detail: Some(json!({ "trigger": name })),
                },
            )
            .await?;
            t.paused = paused;
            t.updated_ms = timestamp_ms;
            Ok(t)
        })
    }

    async fn set_trigger_state(
        &self,
        pipeline: &str,
        name: &str,
        state: &Value,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            tx.execute(
                "UPDATE triggers SET state_json = $3 WHERE pipeline = $1 AND name = $2",
                vec![pipeline.into(), name.into(), to_text(state).into()],
            )
            .await?;
            Ok(())
        })
    }

    async fn fire(&self, new: &NewFire, actor: &str, timestamp_ms: i64) -> StoreResult<Fired> {
        write!(self, |tx| {
            fetch_trigger(tx, &new.pipeline, &new.trigger).await?;
            let before = tx
                .query(
                    &format!(
                        "SELECT {FIRE_COLUMNS} FROM trigger_fires \
                         WHERE pipeline = $1 AND trigger = $2 AND slot = $3"
                    ),
                    vec![
                        (&new.pipeline).into(),
                        (&new.trigger).into(),
                        (&new.slot).into(),
                    ],
                )
                .await?;
            if let Some(r) = before.first() {
                return Ok(Fired {
                    fire: fire_row(r)?,
                    new: false,
                });
            }
            let active = active_runs(tx, &new.pipeline).await?;
            let reason = skip_reason(tx, new, active.len(), timestamp_ms).await?;
            // The queued run's entry follows the firing's, as one caused the other.
            let mut queued: Option<(i64, Option<i64>)> = None;
            let run_id = if reason.is_none() {
                if new.concurrency == Concurrency::CancelPrevious {
                    for run in &active {
                        if run.status == PipelineRunStatus::Queued {
                            cancel(tx, run, actor, timestamp_ms).await?;
                        } else {
                            tx.execute(
                                "UPDATE pipeline_runs SET cancel_requested = 1 WHERE run_id = $1",
                                vec![(&run.run_id).into()],
                            )
                            .await?;
                        }
                    }
                }
                let version = scalar(
                    tx,
                    "SELECT MAX(version) FROM pipeline_versions WHERE name = $1",
                    vec![(&new.pipeline).into()],
                )
                .await?;
                let execution = serde_json::to_string(&ExecutionDoc {
                    trigger: new.trigger.clone(),
                    params: new.params.clone(),
                })
                .map_err(|e| corrupt("execution", e))?;
                let seq = inserted_seq(
                    tx,
                    "INSERT INTO pipeline_runs (run_id, pipeline, experiment_id, pipeline_version, \
                     executor, cause_json, dag_json, status, actor, started_ms, execution_json, \
                     max_active) VALUES ($1, $2, '', $3, 'server', $4, '[]', 'queued', $5, $6, $7, $8) \
                     ON CONFLICT (run_id) DO NOTHING RETURNING seq",
                    vec![
                        (&new.run_id).into(),
                        (&new.pipeline).into(),
                        version.into(),
                        to_text(&new.cause).into(),
                        actor.into(),
                        timestamp_ms.into(),
                        execution.into(),
                        i64::from(new.max_active_runs).into(),
                    ],
                )
                .await?
                .ok_or_else(|| {
                    StoreError::AlreadyExists(cairn_domain::Taken::PipelineRun(new.run_id.clone()))
                })?;
                queued = Some((seq, version));
                Some(new.run_id.clone())
            } else {
                None
            };
            let outcome = if run_id.is_some() {
                FireOutcome::Started
            } else {
                FireOutcome::Skipped
            };
            let seq = inserted_seq(
                tx,
                "INSERT INTO trigger_fires (pipeline, trigger, slot, outcome, reason, run_id, \
                 cause_json, actor, fired_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 RETURNING seq",
                vec![
                    (&new.pipeline).into(),
                    (&new.trigger).into(),
                    (&new.slot).into(),
                    outcome.as_str().into(),
                    reason.clone().into(),
                    run_id.clone().into(),
                    to_text(&new.cause).into(),
                    actor.into(),
                    timestamp_ms.into(),
                ],
            )
            .await?
            .ok_or_else(|| StoreError::Internal("fire insert returned no seq".into()))?;
            append(
                tx,
                NewChange {
                    topic: Topic::Pipeline,
                    subject: &new.pipeline,
                    kind: "triggered",
                    topic_seq: seq,
                    actor,
                    timestamp_ms,
                    detail: Some(json!({
                        "trigger": new.trigger,
                        "slot": new.slot,
                        "outcome": outcome.as_str(),
                        "reason": reason,
                        "run_id": run_id,
                    })),
                },
            )
            .await?;
            if let Some((run_seq, version)) = queued {
                append(
                    tx,
                    NewChange {
                        topic: Topic::Pipeline,
                        subject: &new.pipeline,
                        kind: "run_queued",
                        topic_seq: run_seq,
                        actor,
                        timestamp_ms,
                        detail: Some(json!({
                            "run_id": new.run_id,
                            "version": version,
                            "cause": new.cause,
                        })),
                    },
                )
                .await?;
            }
            Ok(Fired {
                fire: Fire {
                    seq,
                    pipeline: new.pipeline.clone(),
                    trigger: new.trigger.clone(),
                    slot: new.slot.clone(),
                    outcome,
                    reason,
                    run_id,
                    cause: new.cause.clone(),
                    actor: actor.to_owned(),
                    fired_ms: timestamp_ms,
                },
                new: true,
            })
        })
    }

    async fn list_fires(
        &self,
        pipeline: &str,
        trigger: &str,
        limit: usize,
    ) -> StoreResult<Vec<Fire>> {
        read!(self, |tx| {
            tx.query(
                &format!(
                    "SELECT {FIRE_COLUMNS} FROM trigger_fires WHERE pipeline = $1 AND trigger = $2 \
                     ORDER BY seq DESC LIMIT $3"
                ),
                vec![
                    pipeline.into(),
                    trigger.into(),
                    i64::try_from(limit).unwrap_or(i64::MAX).into(),
                ],
            )
            .await?
            .iter()
            .map(fire_row)
            .collect()
        })
    }

    async fn claim_run(
        &self,
        server: &str,
        lease_until_ms: i64,
        timestamp_ms: i64,
    ) -> StoreResult<Option<PipelineRun>> {
        // Most looks find nothing: a read says so without taking the one-writer lock.
        let any = read!(self, |tx| {
            scalar(
                tx,
                "SELECT seq FROM pipeline_runs WHERE execution_json IS NOT NULL \
                 AND (status = 'queued' OR (status = 'running' AND lease_until_ms < $1)) LIMIT 1",
                vec![timestamp_ms.into()],
            )
            .await
        })?;
        if any.is_none() {
            return Ok(None);
        }
        write!(self, |tx| {
            let candidates: Vec<PipelineRun> = tx
                .query(
                    &format!(
                        "SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE execution_json IS NOT NULL \
                         AND (status = 'queued' OR (status = 'running' AND lease_until_ms < $1)) \
                         ORDER BY seq LIMIT 100"
                    ),
                    vec![timestamp_ms.into()],
                )
                .await?
                .iter()
                .map(run_row)
                .collect::<StoreResult<_>>()?;
            for run in candidates {
                let exec = run.execution.as_ref().expect("selected with an execution");
                if exec.cancel_requested {
                    cancel(tx, &run, "executor", timestamp_ms).await?;
                    continue;
                }
                if run.status == PipelineRunStatus::Queued {
                    let running = scalar(
                        tx,
                        "SELECT COUNT(*) FROM pipeline_runs WHERE pipeline = $1 \
                         AND status = 'running' AND execution_json IS NOT NULL",
                        vec![(&run.pipeline).into()],
                    )
                    .await?
                    .unwrap_or(0);
                    let max = scalar(
                        tx,
                        "SELECT max_active FROM pipeline_runs WHERE run_id = $1",
                        vec![(&run.run_id).into()],
                    )
                    .await?
                    .unwrap_or(1);
                    if running >= max {
                        continue;
                    }
                }
                let seq = scalar(
                    tx,
                    "UPDATE pipeline_runs SET status = 'running', claimed_by = $2, \
                     lease_until_ms = $3, attempts = attempts + 1 WHERE run_id = $1 RETURNING seq",
                    vec![(&run.run_id).into(), server.into(), lease_until_ms.into()],
                )
                .await?
                .unwrap_or(0);
                let (_, claimed) = fetch_run(tx, &run.run_id)
                    .await?
                    .ok_or_else(|| StoreError::Internal("claimed run vanished".into()))?;
                let attempts = claimed.execution.as_ref().map_or(1, |e| e.attempts);
                append(
                    tx,
                    NewChange {
                        topic: Topic::Pipeline,
                        subject: &run.pipeline,
                        kind: "run_claimed",
                        topic_seq: seq,
                        actor: server,
                        timestamp_ms,
                        detail: Some(json!({
                            "run_id": run.run_id,
                            "server": server,
                            "attempt": attempts,
                            "requeued_from": exec.claimed_by,
                        })),
                    },
                )
                .await?;
                return Ok(Some(claimed));
            }
            Ok(None)
        })
    }

    async fn renew_lease(
        &self,
        run_id: &str,
        server: &str,
        lease_until_ms: i64,
    ) -> StoreResult<Lease> {
        write!(self, |tx| {
            let rows = tx
                .query(
                    "UPDATE pipeline_runs SET lease_until_ms = $3 WHERE run_id = $1 \
                     AND claimed_by = $2 AND status = 'running' RETURNING cancel_requested",
                    vec![run_id.into(), server.into(), lease_until_ms.into()],
                )
                .await?;
            Ok(match rows.first() {
                None => Lease::Lost,
                Some(r) => Lease::Held {
                    cancel_requested: r.int(0)? != 0,
                },
            })
        })
    }
}

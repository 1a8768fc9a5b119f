//! Registered pipelines and pipeline runs on SQL, written once for both engines on the control plane's
//! transactions ([`RegistryDb`]): a snapshot's file list and a run's report are JSON documents; every
//! write appends its change-log entry (topic `pipeline`, subject the pipeline's name) in the same
//! transaction.

use std::sync::Arc;

use async_trait::async_trait;
use cairn_domain::change_log::{NewChange, Topic};
use cairn_domain::pipeline::{Execution, PipelineRun, PipelineRunStatus, PipelineVersion};
use cairn_domain::{Clash, Missing, Taken};
use cairn_store::{
    NewPipelineRun, NewPipelineVersion, PipelineRunEnd, PipelineStore, StoreError, StoreResult,
};
use serde_json::{Value, json};

use crate::change_log::append;
use crate::registry::{RegistryDb, Row, Tx};

/// Pipelines on a SQL engine.
#[derive(Clone)]
pub struct SqlPipelines {
    db: Arc<dyn RegistryDb>,
}

impl SqlPipelines {
    pub fn new(db: Arc<dyn RegistryDb>) -> Self {
        Self { db }
    }
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt {what}: {e}"))
}

fn parse_json(what: &str, text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

const VERSION_COLUMNS: &str =
    "seq, name, version, file, files_json, digest, triggers_json, actor, registered_ms";

fn version_row(r: &Row) -> StoreResult<PipelineVersion> {
    Ok(PipelineVersion {
        name: r.text(1)?,
        version: r.int(2)?,
        file: r.text(3)?,
        files: serde_json::from_str(&r.text(4)?).map_err(|e| corrupt("snapshot files", e))?,
        digest: r.text(5)?,
        triggers: parse_json("triggers", &r.text(6)?)?,
        actor: r.text(7)?,
        registered_ms: r.int(8)?,
    })
}

pub(crate) const RUN_COLUMNS: &str = "seq, run_id, pipeline, experiment_id, pipeline_version, \
     executor, cause_json, dag_json, status, exit_code, report_json, actor, started_ms, ended_ms, \
     execution_json, claimed_by, lease_until_ms, attempts, cancel_requested";

/// What `execution_json` holds of a triggered run.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct ExecutionDoc {
    pub trigger: String,
    pub params: std::collections::BTreeMap<String, String>,
}

pub(crate) fn run_row(r: &Row) -> StoreResult<PipelineRun> {
    let execution = match r.opt_text(14)? {
        None => None,
        Some(t) => {
            let doc: ExecutionDoc =
                serde_json::from_str(&t).map_err(|e| corrupt("pipeline run execution", e))?;
            Some(Execution {
                trigger: doc.trigger,
                params: doc.params,
                claimed_by: r.opt_text(15)?,
                lease_until_ms: r.opt_int(16)?,
                attempts: r.int(17)?,
                cancel_requested: r.int(18)? != 0,
            })
        }
    };
    let status = r.text(8)?;
    Ok(PipelineRun {
        run_id: r.text(1)?,
        pipeline: r.text(2)?,
        experiment_id: r.text(3)?,
        pipeline_version: r.opt_int(4)?,
        executor: r.text(5)?,
        cause: parse_json("pipeline run cause", &r.text(6)?)?,
        dag: parse_json("pipeline run dag", &r.text(7)?)?,
        status: PipelineRunStatus::parse(&status)
            .ok_or_else(|| corrupt("pipeline run status", &status))?,
        exit_code: r.opt_int(9)?.map(|c| c as i32),
        report: r
            .opt_text(10)?
            .map(|t| parse_json("pipeline run report", &t))
            .transpose()?,
        actor: r.text(11)?,
        started_ms: r.int(12)?,
        ended_ms: r.opt_int(13)?,
        execution,
    })
}

async fn latest(tx: &mut dyn Tx, name: &str) -> StoreResult<Option<(i64, PipelineVersion)>> {
    let rows = tx
        .query(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM pipeline_versions WHERE name = $1 \
                 ORDER BY version DESC LIMIT 1"
            ),
            vec![name.into()],
        )
        .await?;
    rows.first()
        .map(|r| Ok((r.int(0)?, version_row(r)?)))
        .transpose()
}

pub(crate) async fn fetch_run(
    tx: &mut dyn Tx,
    run_id: &str,
) -> StoreResult<Option<(i64, PipelineRun)>> {
    let rows = tx
        .query(
            &format!("SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE run_id = $1"),
            vec![run_id.into()],
        )
        .await?;
    rows.first()
        .map(|r| Ok((r.int(0)?, run_row(r)?)))
        .transpose()
}

/// The `seq` an `INSERT … RETURNING seq` gave, if it inserted a row.
pub(crate) async fn inserted_seq(
    tx: &mut dyn Tx,
    sql: &str,
    args: Vec<crate::registry::Val>,
) -> StoreResult<Option<i64>> {
    tx.query(sql, args)
        .await?
        .first()
        .map(|r| r.int(0))
        .transpose()
}

pub(crate) fn to_text(v: &Value) -> String {
    v.to_string()
}

#[async_trait]
impl PipelineStore for SqlPipelines {
    async fn register_pipeline(
        &self,
        new: &NewPipelineVersion,
        actor: &str,
        timestamp_ms: i64,
    ) -> StoreResult<(PipelineVersion, bool)> {
        write!(self, |tx| {
            let previous = latest(tx, &new.name).await?;
            if let Some((_, p)) = &previous
                && p.digest == new.digest
            {
                return Ok((p.clone(), false));
            }
            let next = previous.map_or(1, |(_, p)| p.version + 1);
            let files = serde_json::to_string(&new.files).map_err(|e| corrupt("files", e))?;
            let seq = inserted_seq(
                tx,
                "INSERT INTO pipeline_versions (name, version, file, files_json, digest, \
                 triggers_json, actor, registered_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 RETURNING seq",
                vec![
                    (&new.name).into(),
                    next.into(),
                    (&new.file).into(),
                    files.into(),
                    (&new.digest).into(),
                    to_text(&new.triggers).into(),
                    actor.into(),
                    timestamp_ms.into(),
                ],
            )
            .await?
            .ok_or_else(|| StoreError::Internal("pipeline insert returned no seq".into()))?;
            crate::triggers::replace_triggers(tx, &new.name, &new.triggers, timestamp_ms).await?;
            append(
                tx,
                NewChange {
                    topic: Topic::Pipeline,
                    subject: &new.name,
                    kind: "registered",
                    topic_seq: seq,
                    actor,
                    timestamp_ms,
                    detail: Some(
                        json!({ "version": next, "digest": new.digest, "files": new.files.len() }),
                    ),
                },
            )
            .await?;
            Ok((
                PipelineVersion {
                    name: new.name.clone(),
                    version: next,
                    file: new.file.clone(),
                    files: new.files.clone(),
                    digest: new.digest.clone(),
                    triggers: new.triggers.clone(),
                    actor: actor.to_owned(),
                    registered_ms: timestamp_ms,
                },
                true,
            ))
        })
    }

    async fn get_pipeline(&self, name: &str, version: Option<i64>) -> StoreResult<PipelineVersion> {
        read!(self, |tx| {
            let found = match version {
                None => latest(tx, name).await?.map(|(_, p)| p),
                Some(v) => tx
                    .query(
                        &format!(
                            "SELECT {VERSION_COLUMNS} FROM pipeline_versions \
                             WHERE name = $1 AND version = $2"
                        ),
                        vec![name.into(), v.into()],
                    )
                    .await?
                    .first()
                    .map(version_row)
                    .transpose()?,
            };
            found.ok_or_else(|| {
                StoreError::NotFound(match version {
                    None => Missing::Pipeline(name.to_owned()),
                    Some(v) => Missing::PipelineVersion {
                        name: name.to_owned(),
                        version: v,
                    },
                })
            })
        })
    }

    async fn list_pipelines(&self) -> StoreResult<Vec<PipelineVersion>> {
        read!(self, |tx| {
            tx.query(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM pipeline_versions p WHERE version = \
                     (SELECT MAX(version) FROM pipeline_versions q WHERE q.name = p.name) ORDER BY name"
                ),
                vec![],
            )
            .await?
            .iter()
            .map(version_row)
            .collect()
        })
    }

    async fn start_pipeline_run(
        &self,
        new: &NewPipelineRun,
        actor: &str,
        timestamp_ms: i64,
    ) -> StoreResult<PipelineRun> {
        write!(self, |tx| {
            // A triggered run's `cairn run` reports its start: the run a server claimed gets its DAG.
            if let Some((_, mut queued)) = fetch_run(tx, &new.run_id).await?
                && queued.execution.is_some()
                && queued.status == PipelineRunStatus::Running
            {
                tx.execute(
                    "UPDATE pipeline_runs SET experiment_id = $2, executor = $3, dag_json = $4 \
                     WHERE run_id = $1",
                    vec![
                        (&new.run_id).into(),
                        (&new.experiment_id).into(),
                        (&new.executor).into(),
                        to_text(&new.dag).into(),
                    ],
                )
                .await?;
                queued.experiment_id = new.experiment_id.clone();
                queued.executor = new.executor.clone();
                queued.dag = new.dag.clone();
                return Ok(queued);
            }
            // Nothing returned: the run id is taken.
            let seq = inserted_seq(
                tx,
                "INSERT INTO pipeline_runs (run_id, pipeline, experiment_id, pipeline_version, \
                 executor, cause_json, dag_json, status, actor, started_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9) \
                 ON CONFLICT (run_id) DO NOTHING RETURNING seq",
                vec![
                    (&new.run_id).into(),
                    (&new.pipeline).into(),
                    (&new.experiment_id).into(),
                    new.pipeline_version.into(),
                    (&new.executor).into(),
                    to_text(&new.cause).into(),
                    to_text(&new.dag).into(),
                    actor.into(),
                    timestamp_ms.into(),
                ],
            )
            .await?
            .ok_or_else(|| StoreError::AlreadyExists(Taken::PipelineRun(new.run_id.clone())))?;
            append(
                tx,
                NewChange {
                    topic: Topic::Pipeline,
                    subject: &new.pipeline,
                    kind: "run_started",
                    topic_seq: seq,
                    actor,
                    timestamp_ms,
                    detail: Some(json!({
                        "run_id": new.run_id,
                        "version": new.pipeline_version,
                        "executor": new.executor,
                        "cause": new.cause,
                    })),
                },
            )
            .await?;
            Ok(PipelineRun {
                run_id: new.run_id.clone(),
                pipeline: new.pipeline.clone(),
                experiment_id: new.experiment_id.clone(),
                pipeline_version: new.pipeline_version,
                executor: new.executor.clone(),
                cause: new.cause.clone(),
                dag: new.dag.clone(),
                status: PipelineRunStatus::Running,
                exit_code: None,
                report: None,
                actor: actor.to_owned(),
                started_ms: timestamp_ms,
                ended_ms: None,
                execution: None,
            })
        })
    }

    async fn finish_pipeline_run(
        &self,
        run_id: &str,
        end: &PipelineRunEnd,
        actor: &str,
        timestamp_ms: i64,
    ) -> StoreResult<PipelineRun> {
        write!(self, |tx| {
            let (seq, mut current) = fetch_run(tx, run_id)
                .await?
                .ok_or_else(|| StoreError::NotFound(Missing::PipelineRun(run_id.to_owned())))?;
            if !current.status.is_active() {
                return Err(StoreError::Conflict(Clash::PipelineRunFinished(
                    run_id.to_owned(),
                )));
            }
            let ended = timestamp_ms.max(current.started_ms);
            tx.execute(
                "UPDATE pipeline_runs SET status = $2, exit_code = $3, report_json = $4, \
                 ended_ms = $5, lease_until_ms = NULL WHERE run_id = $1",
                vec![
                    run_id.into(),
                    end.status.as_str().into(),
                    end.exit_code.map(i64::from).into(),
                    end.report.as_ref().map(to_text).into(),
                    ended.into(),
                ],
            )
            .await?;
            append(
                tx,
                NewChange {
                    topic: Topic::Pipeline,
                    subject: &current.pipeline,
                    kind: "run_finished",
                    topic_seq: seq,
                    actor,
                    timestamp_ms: ended,
                    detail: Some(json!({
                        "run_id": run_id,
                        "status": end.status.as_str(),
                        "exit_code": end.exit_code,
                    })),
                },
            )
            .await?;
            current.status = end.status;
            current.exit_code = end.exit_code;
            current.report = end.report.clone();
            current.ended_ms = Some(ended);
            Ok(current)
        })
    }

    async fn get_pipeline_run(&self, run_id: &str) -> StoreResult<PipelineRun> {
        read!(self, |tx| {
            fetch_run(tx, run_id)
                .await?
                .map(|(_, r)| r)
                .ok_or_else(|| StoreError::NotFound(Missing::PipelineRun(run_id.to_owned())))
        })
    }

    async fn list_pipeline_runs(
        &self,
        pipeline: Option<&str>,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<PipelineRun>> {
        read!(self, |tx| {
            let before_seq = match before {
                None => i64::MAX,
                Some(id) => fetch_run(tx, id)
                    .await?
                    .map(|(seq, _)| seq)
                    .ok_or_else(|| StoreError::NotFound(Missing::PipelineRun(id.to_owned())))?,
            };
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = match pipeline {
                Some(p) => {
                    tx.query(
                        &format!(
                            "SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE pipeline = $1 AND seq < $2 \
                             ORDER BY seq DESC LIMIT $3"
                        ),
                        vec![p.into(), before_seq.into(), limit.into()],
                    )
                    .await?
                }
                None => {
                    tx.query(
                        &format!(
                            "SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE seq < $1 \
                             ORDER BY seq DESC LIMIT $2"
                        ),
                        vec![before_seq.into(), limit.into()],
                    )
                    .await?
                }
            };
            rows.iter().map(run_row).collect()
        })
    }
}

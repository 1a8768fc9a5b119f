//! Gate evaluations on SQL, written once for both engines on the registry's transactions: the record is
//! one JSON document beside the columns it is looked up by, inserted with its change-log entry.

use std::sync::Arc;

use async_trait::async_trait;
use cairn_domain::change_log::{NewChange, Topic};
use cairn_domain::gate_evaluation::{GateEvaluation, GateEvaluationRecord};
use cairn_domain::{Change, Missing};
use cairn_store::{GateQuery, GateStore, StoreError, StoreResult};

use crate::change_log::append;
use crate::registry::{RegistryDb, Row, Tx, Val};

/// Gate evaluations on a SQL engine.
#[derive(Clone)]
pub struct SqlGates {
    db: Arc<dyn RegistryDb>,
}

impl SqlGates {
    pub fn new(db: Arc<dyn RegistryDb>) -> Self {
        Self { db }
    }
}

const COLUMNS: &str = "id, actor, created_ms, record_json";

fn evaluation(r: &Row) -> StoreResult<GateEvaluation> {
    let record: GateEvaluationRecord = serde_json::from_str(&r.text(3)?)
        .map_err(|e| StoreError::Internal(format!("corrupt gate evaluation: {e}")))?;
    Ok(GateEvaluation {
        id: r.int(0)?,
        actor: r.text(1)?,
        created_ms: r.int(2)?,
        record,
    })
}

#[async_trait]
impl GateStore for SqlGates {
    async fn record_gate_evaluation(
        &self,
        record: &GateEvaluationRecord,
        change: &Change,
    ) -> StoreResult<GateEvaluation> {
        let json =
            serde_json::to_string(record).map_err(|e| StoreError::Internal(e.to_string()))?;
        write!(self, |tx| {
            let id = tx
                .query(
                    "INSERT INTO gate_evaluations (pipeline_run_id, model_name, model_version, decision, \
                     action, actor, created_ms, record_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     RETURNING id",
                    vec![
                        (&record.pipeline_run_id).into(),
                        (&record.model_name).into(),
                        record.model_version.into(),
                        record.decision.as_str().into(),
                        record.action.as_str().into(),
                        change.actor.as_str().into(),
                        change.at_ms.into(),
                        json.clone().into(),
                    ],
                )
                .await?
                .first()
                .map(|r| r.int(0))
                .transpose()?
                .ok_or_else(|| StoreError::Internal("gate evaluation insert returned no id".into()))?;
            let subject = record.model_name.as_deref().unwrap_or(&record.pipeline);
            let detail = serde_json::json!({
                "id": id,
                "pipeline_run_id": record.pipeline_run_id,
                "version": record.model_version,
                "decision": record.decision.as_str(),
                "action": record.action.as_str(),
            });
            append(
                tx,
                NewChange {
                    topic: Topic::Gate,
                    subject,
                    kind: "gate_evaluated",
                    topic_seq: id,
                    actor: &change.actor,
                    timestamp_ms: change.at_ms,
                    detail: Some(detail),
                },
            )
            .await?;
            Ok(GateEvaluation {
                id,
                actor: change.actor.clone(),
                created_ms: change.at_ms,
                record: record.clone(),
            })
        })
    }

    async fn get_gate_evaluation(&self, id: i64) -> StoreResult<GateEvaluation> {
        read!(self, |tx| {
            tx.query(
                &format!("SELECT {COLUMNS} FROM gate_evaluations WHERE id = $1"),
                vec![id.into()],
            )
            .await?
            .first()
            .map(evaluation)
            .transpose()?
            .ok_or(StoreError::NotFound(Missing::GateEvaluation(id)))
        })
    }

    async fn list_gate_evaluations(&self, query: &GateQuery) -> StoreResult<Vec<GateEvaluation>> {
        let mut conds = Vec::new();
        let mut args: Vec<Val> = Vec::new();
        if let Some(run) = &query.pipeline_run_id {
            args.push(run.into());
            conds.push(format!("pipeline_run_id = ${}", args.len()));
        }
        if let Some(model) = &query.model_name {
            args.push(model.into());
            conds.push(format!("model_name = ${}", args.len()));
        }
        args.push(i64::try_from(query.limit).unwrap_or(i64::MAX).into());
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM gate_evaluations {filter} ORDER BY id DESC LIMIT ${}",
            args.len()
        );
        read!(self, |tx| {
            tx.query(&sql, args).await?.iter().map(evaluation).collect()
        })
    }
}

//! Gate evaluations: pipelines report each evaluation of their gates, stored as a record (with its
//! change-log entry) and read back by pipeline run or model.

use std::sync::Arc;

use cairn_domain::Change;
use cairn_domain::gate_evaluation::{GateEvaluation, GateEvaluationRecord};
use cairn_domain::registry::ANONYMOUS;
use cairn_domain::time::now_millis;
use cairn_store::{GateQuery, GateStore, RegistryStore};

use crate::{ServiceError, ServiceResult};

/// The most evaluations one list returns.
pub const MAX_GATE_EVALUATIONS: usize = 1000;

#[derive(Clone)]
pub struct GateRecords {
    store: Arc<dyn GateStore>,
    /// To check the model version a record names exists.
    registry: Arc<dyn RegistryStore>,
}

impl GateRecords {
    pub fn new(store: Arc<dyn GateStore>, registry: Arc<dyn RegistryStore>) -> Self {
        Self { store, registry }
    }

    pub async fn record(
        &self,
        record: &GateEvaluationRecord,
        actor: &str,
    ) -> ServiceResult<GateEvaluation> {
        record.validate()?;
        if let (Some(name), Some(version)) = (&record.model_name, record.model_version) {
            self.registry.get_model_version(name, version).await?;
        }
        let change = Change {
            actor: if actor.is_empty() { ANONYMOUS } else { actor }.to_owned(),
            at_ms: now_millis(),
        };
        Ok(self.store.record_gate_evaluation(record, &change).await?)
    }

    pub async fn get(&self, id: i64) -> ServiceResult<GateEvaluation> {
        Ok(self.store.get_gate_evaluation(id).await?)
    }

    /// Newest first; at most `limit` (1–1000, default 100).
    pub async fn list(
        &self,
        pipeline_run_id: Option<String>,
        model_name: Option<String>,
        limit: Option<usize>,
    ) -> ServiceResult<Vec<GateEvaluation>> {
        let limit = limit.unwrap_or(100);
        if !(1..=MAX_GATE_EVALUATIONS).contains(&limit) {
            return Err(ServiceError::InvalidArgument(format!(
                "'max_results' must be between 1 and {MAX_GATE_EVALUATIONS}, got {limit}."
            )));
        }
        Ok(self
            .store
            .list_gate_evaluations(&GateQuery {
                pipeline_run_id,
                model_name,
                limit,
            })
            .await?)
    }
}

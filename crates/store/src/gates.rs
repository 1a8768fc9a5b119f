//! The gate-evaluation store contract: each evaluation is one record, written with its change-log entry
//! in one transaction.

use async_trait::async_trait;
use cairn_domain::Change;
use cairn_domain::gate_evaluation::{GateEvaluation, GateEvaluationRecord};

use crate::StoreResult;

/// Which evaluations to list (all conditions must hold).
#[derive(Debug, Clone, Default)]
pub struct GateQuery {
    pub pipeline_run_id: Option<String>,
    pub model_name: Option<String>,
    pub limit: usize,
}

#[async_trait]
pub trait GateStore: Send + Sync + 'static {
    /// Stores the record and appends its change-log entry (topic `gate`) in the same transaction.
    async fn record_gate_evaluation(
        &self,
        record: &GateEvaluationRecord,
        change: &Change,
    ) -> StoreResult<GateEvaluation>;
    /// `NotFound` when there is none.
    async fn get_gate_evaluation(&self, id: i64) -> StoreResult<GateEvaluation>;
    /// Newest first.
    async fn list_gate_evaluations(&self, query: &GateQuery) -> StoreResult<Vec<GateEvaluation>>;
}

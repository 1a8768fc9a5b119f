//! The trigger store contract: a pipeline's triggers, their firings (unique per slot), and the queue
//! of triggered runs that servers' executors claim under a lease.
//!
//! Every control-plane write appends its change-log entry (topic `pipeline`) in the same transaction.

use async_trait::async_trait;
use cairn_domain::pipeline::PipelineRun;
use cairn_domain::trigger::{Concurrency, Fire, Trigger};

use crate::StoreResult;

/// A firing about to be recorded.
#[derive(Debug, Clone)]
pub struct NewFire {
    pub pipeline: String,
    pub trigger: String,
    pub slot: String,
    pub cause: serde_json::Value,
    /// The id the run gets if one is queued (the MLflow run id of the pipeline's parent run).
    pub run_id: String,
    /// No run when a run of this trigger started less than this long ago (an alert's cooldown).
    pub cooldown_ms: i64,
    pub concurrency: Concurrency,
    pub max_active_runs: u32,
    pub params: std::collections::BTreeMap<String, String>,
}

/// A firing and, when it queued one, its run.
#[derive(Debug, Clone)]
pub struct Fired {
    pub fire: Fire,
    /// `false`: the slot had fired before; `fire` is that earlier firing.
    pub new: bool,
}

/// What a lease renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    Held {
        cancel_requested: bool,
    },
    /// Another server claimed it, or it ended.
    Lost,
}

#[async_trait]
pub trait TriggerStore: Send + Sync + 'static {
    /// A pipeline's triggers, or every pipeline's, by pipeline and name.
    async fn list_triggers(&self, pipeline: Option<&str>) -> StoreResult<Vec<Trigger>>;
    async fn get_trigger(&self, pipeline: &str, name: &str) -> StoreResult<Trigger>;
    async fn set_trigger_paused(
        &self,
        pipeline: &str,
        name: &str,
        paused: bool,
        actor: &str,
        timestamp_ms: i64,
    ) -> StoreResult<Trigger>;
    /// Keeps what the scheduler remembers about a trigger (a watch's digest); not a change.
    async fn set_trigger_state(
        &self,
        pipeline: &str,
        name: &str,
        state: &serde_json::Value,
    ) -> StoreResult<()>;
    /// Records a firing once per (pipeline, trigger, slot) and, unless concurrency or cooldown says
    /// skip, queues its run; a slot that fired before returns that firing.
    async fn fire(&self, new: &NewFire, actor: &str, timestamp_ms: i64) -> StoreResult<Fired>;
    /// A trigger's firings, newest first.
    async fn list_fires(
        &self,
        pipeline: &str,
        trigger: &str,
        limit: usize,
    ) -> StoreResult<Vec<Fire>>;
    /// The next run for `server` to execute: the oldest queued run whose pipeline has room, or a
    /// running one whose lease lapsed; it becomes running, leased to `server` until `lease_until_ms`.
    async fn claim_run(
        &self,
        server: &str,
        lease_until_ms: i64,
        timestamp_ms: i64,
    ) -> StoreResult<Option<PipelineRun>>;
    /// Extends `server`'s lease on a run it runs.
    async fn renew_lease(
        &self,
        run_id: &str,
        server: &str,
        lease_until_ms: i64,
    ) -> StoreResult<Lease>;
}

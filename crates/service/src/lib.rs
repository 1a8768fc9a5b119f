//! Cairn's use cases, shared by every protocol adapter (MLflow REST, the native API, the CLI through it):
//! validate input against the domain rules, then drive the stores. One function per use case, so that
//! each adapter is a thin translation.
//!
//! Key types: [`Tracking`] (experiments, runs, logging, search, logged models), [`Registry`] (registered
//! models, versions, aliases, change history), [`Deployments`] (deployments bound to the registry, their
//! roll-outs, rollbacks and history), [`Artifacts`], and the one
//! error type [`ServiceError`]. Depends on the domain, the store traits and the artifact repository; never
//! on HTTP or SQL.

mod artifacts;
mod change_log;
mod deployment_resolution;
mod deployments;
mod error;
mod experiments;
mod gates;
mod governance;
mod logged_models;
mod logging;
mod maturity;
mod monitoring;
mod pipelines;
mod registry;
mod registry_sources;
mod rollouts;
mod runs;
mod search;
mod series;
mod triggers;

use std::sync::Arc;

use cairn_store::TrackingStore;

pub use artifacts::Artifacts;
pub use cairn_store::{MetricExtremes, NewPipelineRun, PipelineRunEnd, RunActivity};
pub use change_log::{ChangeLog, MAX_CHANGES, MAX_WAIT};
pub use deployments::{DeploymentRequest, Deployments};
pub use error::{ServiceError, ServiceResult};
pub use experiments::ExperimentSearch;
pub use gates::{GateRecords, MAX_GATE_EVALUATIONS};
pub use governance::{
    AuditVerification, AuthConfig, CardView, Checkpointer, Credential, Governance, IssuedTokenView,
    JwtIdentity, JwtVerifier, Lineage, LineageEdge, LineageNode, Principal, PromotionRequest, Via,
    card_html, card_markdown, parse_time, verify_rows,
};
pub use logged_models::{LoggedModelSearch, NewModel};
pub use logging::{HistoryPage, MetricHistoryRequest};
pub use maturity::{MaturityTracker, Overview, Reached};
pub use monitoring::{
    AlertSink, LabelRequest, MAX_LABELS, MAX_LIST, MAX_PREDICTION_BATCH_BYTES, MAX_REFERENCE_BYTES,
    Monitors, StoredReference, next_slot,
};
pub use pipelines::{MAX_CACHE_ENTRY_BYTES, MAX_PIPELINE_RUNS, Pipelines, RegisterRequest};
pub use registry::{Actor, HistoryRequest, NewVersionRequest, Registry, RegistrySearch};
pub use rollouts::{LivePerformance, NoPerformance, NoTraffic, ROLLOUT_ACTOR, TrafficCounts};
pub use runs::NewRunRequest;
pub use search::{Page, RunSearch};
pub use series::Series;
pub use triggers::{
    CronSchedule, FireResult, LAST_FIRES, Triggers, canonical_triggers, digest_artifacts,
    digest_local, next_fire, slot_time,
};

/// Experiment tracking use cases over a metadata store.
#[derive(Clone)]
pub struct Tracking {
    store: Arc<dyn TrackingStore>,
    /// Root under which experiments get their artifact location (`mlflow-artifacts:` when proxied).
    default_artifact_root: String,
}

impl Tracking {
    pub fn new(store: Arc<dyn TrackingStore>, default_artifact_root: impl Into<String>) -> Self {
        Self {
            store,
            default_artifact_root: default_artifact_root.into(),
        }
    }

    /// Checks the metadata store answers.
    pub async fn ping(&self) -> ServiceResult<()> {
        Ok(self.store.ping().await?)
    }
}

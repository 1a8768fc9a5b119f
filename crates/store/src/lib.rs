//! Cairn's metadata storage contracts. `cairn-store-sql` implements them once for SQL, on the engines
//! `cairn-store-sqlite` and `cairn-store-postgres` supply; services hold them as `Arc<dyn …>` and never
//! see SQL.
//!
//! Key types: [`TrackingStore`] (experiments, runs, metrics, datasets, logged models), [`RegistryStore`]
//! (registered models, versions, aliases and their change log), [`DeploymentStore`] (deployments and their history), [`PipelineStore`] (registered pipelines and pipeline runs), [`ChangeLogStore`] (the control plane's one change log), [`GateStore`] (pipelines' gate evaluations), [`MonitorStore`] (monitors, snapshots, alerts, delayed labels), [`TriggerStore`] (triggers, firings, the run queue), [`GovernanceStore`] (users, tokens, grants, protections, promotions, policies, cards, the audit chain) and [`StoreError`].
//! Depends only on `cairn-domain`.

mod change_log;
mod deployments;
mod error;
mod gates;
mod governance;
mod monitors;
mod pipelines;
mod registry;
mod tracking;
mod triggers;

pub use change_log::ChangeLogStore;
pub use deployments::{DeploymentChange, DeploymentStore};
pub use error::StoreError;
pub use gates::{GateQuery, GateStore};
pub use governance::{GovernanceStore, PromotionEnd};
pub use monitors::{Label, MonitorActivity, MonitorStore};
pub use pipelines::{NewPipelineRun, NewPipelineVersion, PipelineRunEnd, PipelineStore};
pub use registry::{EventQuery, NewModelVersion, RegistryStore};
pub use tracking::{
    HistoryOrder, LoggedModelUpdate, MetricExtremes, MetricHistoryQuery, NewExperiment,
    NewLoggedModel, NewRun, RunActivity, RunIdPage, RunQuery, RunUpdate, SummaryQuery,
    TrackingStore,
};
pub use triggers::{Fired, Lease, NewFire, TriggerStore};

pub type StoreResult<T> = Result<T, StoreError>;

//! Cairn's domain model: the entities of experiment tracking (experiments, runs, metrics, params, tags,
//! datasets, logged models) and of the model registry (registered models, versions, aliases, change
//! events) and of deployments, their ids, the limits and validation rules they obey, and the search grammar
//! (filters, ordering, page tokens) that selects them.
//!
//! This crate performs no I/O and knows nothing of HTTP, SQL or any wire format: stores, services and
//! protocol adapters all depend on it, never the other way round.

pub mod change_log;
pub mod deployment;
pub mod entities;
pub mod entity_error;
pub mod error;
pub mod gate_evaluation;
pub mod governance;
pub mod ids;
pub mod maturity;
pub mod metric_series;
pub mod mlmodel;
pub mod monitor;
pub mod names;
pub mod pipeline;
pub mod registry;
pub mod registry_rules;
pub mod rollout;
pub mod search;
pub mod time;
pub mod trigger;
pub mod validation;

pub use entities::*;
pub use entity_error::{Clash, Holder, Missing, Taken};
pub use error::DomainError;
pub use ids::{ExperimentId, LoggedModelId, RunId};
pub use registry::{
    Change, EventKind, ModelAlias, ModelVersion, NewEvent, RegisteredModel, RegistryEvent, Stage,
    VersionStatus,
};

//! MLflow REST compatibility: the tracking and model-registry APIs under `/api/2.0/mlflow/` and
//! `/ajax-api/2.0/mlflow/`, the
//! proxied artifact API under `/api/2.0/mlflow-artifacts/`, and the server endpoints the client probes.
//!
//! Layout: [`routes`] is the route table; `handlers/*` are thin translations (extract a message, call a
//! use case in `cairn-service`, convert back); `wire/*` are MLflow's messages with MLflow's field names;
//! [`error`] is MLflow's error contract and `wording` its words for missing, taken and clashing entities. No storage or domain logic lives here.

pub mod error;
mod extract;
mod handlers;
mod routes;
mod wire;
mod wording;

use cairn_service::{Artifacts, Registry, Tracking};

pub use extract::{Msg, to_snake_case};
pub use handlers::meta::MLFLOW_COMPAT_VERSION;
pub use routes::router;

/// MLflow's auth REST API (users, permissions, roles) over Cairn's users and grants.
pub fn auth_router(governance: cairn_service::Governance) -> axum::Router {
    handlers::auth::router(governance)
}

/// The URI scheme of proxied artifacts; experiments' artifact locations start with it.
pub const ARTIFACT_SCHEME: &str = "mlflow-artifacts:";

/// What the MLflow handlers share.
#[derive(Clone)]
pub struct MlflowState {
    pub tracking: Tracking,
    pub artifacts: Artifacts,
    pub registry: Registry,
}

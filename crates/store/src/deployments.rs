//! The deployment store contract: deployments and their history.
//!
//! Every write records its [`DeploymentEvent`] in the same transaction. Writes are conditional on the
//! revision the caller read, so two processes that see the same alias move cannot both record it.

use async_trait::async_trait;
use cairn_domain::deployment::{Deployment, DeploymentEvent, DeploymentEventKind, DeploymentState};

use crate::StoreResult;

/// Who changes a deployment, when, and how.
#[derive(Debug, Clone)]
pub struct DeploymentChange {
    pub kind: DeploymentEventKind,
    pub actor: String,
    pub timestamp_ms: i64,
}

#[async_trait]
pub trait DeploymentStore: Send + Sync + 'static {
    /// Fails with `AlreadyExists` when the name is taken.
    async fn create_deployment(
        &self,
        name: &str,
        state: &DeploymentState,
        change: &DeploymentChange,
    ) -> StoreResult<Deployment>;
    /// `NotFound` when there is none.
    async fn get_deployment(&self, name: &str) -> StoreResult<Deployment>;
    /// All deployments, by name.
    async fn list_deployments(&self) -> StoreResult<Vec<Deployment>>;
    /// Replaces the state if the deployment is still at `revision`; `Ok(None)` when it has moved on
    /// (the caller re-reads and decides again).
    async fn update_deployment(
        &self,
        name: &str,
        revision: i64,
        state: &DeploymentState,
        change: &DeploymentChange,
    ) -> StoreResult<Option<Deployment>>;
    /// Deletes it; its history stays readable.
    async fn delete_deployment(&self, name: &str, change: &DeploymentChange) -> StoreResult<()>;
    /// The history of the deployment (or of the last one) of this name, oldest first, after `after_seq`.
    async fn deployment_events(
        &self,
        name: &str,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<DeploymentEvent>>;
    /// Events of one kind across every deployment (live or deleted), oldest first, after `after_seq`.
    async fn deployment_events_of_kind(
        &self,
        kind: DeploymentEventKind,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<DeploymentEvent>>;
}

//! Governance use cases (maturity level 6): authentication and grants (`people.rs`, `authn.rs`),
//! protected aliases and promotion requests with four-eyes approval and policy (`promotions.rs`,
//! `policy.rs`), the audit chain's checkpoints and verification (`audit.rs`), lineage (`lineage.rs`) and
//! model cards (`cards.rs`). Every write goes through the governance store, which chains it.

mod audit;
mod authn;
mod cards;
mod digest;
mod lineage;
mod people;
mod policy;
mod principal;
mod promotions;

use std::sync::Arc;

use cairn_domain::Change;
use cairn_domain::time::now_millis;
use cairn_store::{GateStore, GovernanceStore, MonitorStore};

use crate::{Artifacts, Deployments, Registry, Tracking};

pub use audit::{AuditVerification, Checkpointer, verify_rows};
pub use authn::{AuthConfig, Credential, JwtIdentity, JwtVerifier};
pub use cards::{CardView, card_html, card_markdown};
pub use lineage::{Lineage, LineageEdge, LineageNode, parse_time};
pub use people::IssuedTokenView;
pub use principal::{Principal, Via};
pub use promotions::PromotionRequest;
pub(crate) use promotions::protection_for;

/// Governance over the stores, with the authentication state of this process.
#[derive(Clone)]
pub struct Governance {
    pub(crate) store: Arc<dyn GovernanceStore>,
    pub(crate) registry: Registry,
    pub(crate) tracking: Tracking,
    pub(crate) artifacts: Artifacts,
    pub(crate) gates: Arc<dyn GateStore>,
    pub(crate) deployments: Deployments,
    /// Monitors, for the policy input's monitoring status (none: the status is absent).
    pub(crate) monitors: Option<Arc<dyn MonitorStore>>,
    pub(crate) auth: Arc<authn::AuthState>,
    /// The URI scheme of artifacts stored through the server (`mlflow-artifacts:`).
    pub(crate) artifact_scheme: &'static str,
}

impl Governance {
    /// Over the governance store, with the registry, artifacts and their scheme the deployments use.
    pub fn new(
        store: Arc<dyn GovernanceStore>,
        tracking: Tracking,
        gates: Arc<dyn GateStore>,
        deployments: Deployments,
        auth: AuthConfig,
    ) -> Self {
        Self {
            store,
            registry: deployments.registry.clone(),
            tracking,
            artifacts: deployments.artifacts.clone(),
            gates,
            artifact_scheme: deployments.artifact_scheme,
            deployments,
            monitors: None,
            auth: Arc::new(authn::AuthState::new(auth)),
        }
    }

    /// Gives policies the monitoring status of the deployments serving a model.
    pub fn with_monitors(mut self, monitors: Arc<dyn MonitorStore>) -> Self {
        self.monitors = Some(monitors);
        self
    }

    pub fn store(&self) -> &Arc<dyn GovernanceStore> {
        &self.store
    }

    /// Whether requests must authenticate.
    pub fn auth_enabled(&self) -> bool {
        self.auth.config.enabled
    }
}

impl Governance {
    /// A model's whole registry history, oldest first (alias assignments for rollbacks and lineage).
    pub(crate) async fn model_history(
        &self,
        model: &str,
    ) -> crate::ServiceResult<Vec<cairn_domain::RegistryEvent>> {
        Ok(self
            .registry
            .store
            .events(cairn_store::EventQuery {
                model: Some(model.to_owned()),
                after_seq: 0,
                limit: usize::MAX,
            })
            .await?)
    }
}

fn change(actor: &str) -> Change {
    Change {
        actor: actor.to_owned(),
        at_ms: now_millis(),
    }
}

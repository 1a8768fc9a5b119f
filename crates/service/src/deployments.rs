//! Deployment use cases (maturity level 3): create, change, roll back and delete deployments, and keep
//! what each serves in step with the registry. A deployment bound to an alias follows it: the controller
//! of `cairn server` ([`Deployments::reconcile_all`], run on every registry change of the change log)
//! resolves its references again and records a changed result as a `rolled_out` event credited to whoever
//! moved the alias. Reads never write: they report a pending or impossible roll-out as the deployment's
//! [`Condition`].

use std::sync::Arc;

use cairn_domain::deployment::{
    Canary, Condition, Deployment, DeploymentEvent, DeploymentEventKind, DeploymentSpec,
    DeploymentState, DeploymentStatus, ModelRef, SampleRate, rollback_target,
    validate_deployment_name, validate_weight,
};
use cairn_domain::registry::ANONYMOUS;
use cairn_domain::rollout::RolloutPolicy;
use cairn_domain::time::now_millis;
use cairn_store::{DeploymentChange, DeploymentStore};

use crate::Artifacts;
use crate::registry::{HistoryRequest, Registry, event_token, event_window};
use crate::rollouts::carry_rollout;
use crate::search::Page;
use crate::{ServiceError, ServiceResult};

/// Deployment use cases, over the deployment store and the registry they resolve against.
#[derive(Clone)]
pub struct Deployments {
    pub(crate) store: Arc<dyn DeploymentStore>,
    pub(crate) registry: Registry,
    /// Where the server keeps artifacts: a version is checked to be servable before it is deployed.
    pub(crate) artifacts: Artifacts,
    /// The scheme of locations in `artifacts` (`mlflow-artifacts:`).
    pub(crate) artifact_scheme: &'static str,
}

/// A deployment's spec as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct DeploymentRequest {
    /// `models:/name@alias` or `models:/name/N`.
    pub model: String,
    pub canary: Option<String>,
    /// The canary's percent of requests (1–99).
    pub weight: Option<i64>,
    /// The share of requests logged for monitoring (0–1; every one when absent).
    pub log_sample: Option<f64>,
    /// The automatic roll-out policy: `canary:10%/15m` or `canary:10%/500req`.
    pub rollout: Option<String>,
    /// The alias whose moves the policy rolls out (`candidate` when absent).
    pub candidate_alias: Option<String>,
}

impl DeploymentRequest {
    fn spec(&self) -> ServiceResult<DeploymentSpec> {
        let model = ModelRef::parse(&self.model)?;
        let canary = match (&self.canary, self.weight) {
            (Some(c), Some(w)) => Some(Canary {
                model: ModelRef::parse(c)?,
                weight: validate_weight(w)?,
            }),
            (Some(_), None) => {
                return Err(ServiceError::InvalidArgument(
                    "A canary needs a weight: the percent of requests it gets (1–99).".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(ServiceError::InvalidArgument(
                    "A weight was given without a canary model.".into(),
                ));
            }
            (None, None) => None,
        };
        let log_sample = match self.log_sample {
            Some(rate) => SampleRate::new(rate)?,
            None => SampleRate::EVERY,
        };
        let rollout = match (&self.rollout, &self.candidate_alias) {
            (Some(p), alias) => Some(RolloutPolicy::parse(p, alias.as_deref())?),
            (None, Some(_)) => {
                return Err(ServiceError::InvalidArgument(
                    "A candidate alias was given without a roll-out policy (canary:WEIGHT%/DURATION)."
                        .into(),
                ));
            }
            (None, None) => None,
        };
        let spec = DeploymentSpec {
            model,
            canary,
            log_sample,
            rollout,
        };
        spec.validate_rollout()?;
        Ok(spec)
    }
}

/// Writes conditional on a revision are retried this many times when another writer got there first.
pub(crate) const ATTEMPTS: usize = 8;

fn change(kind: DeploymentEventKind, actor: &str) -> DeploymentChange {
    DeploymentChange {
        kind,
        actor: if actor.is_empty() { ANONYMOUS } else { actor }.to_owned(),
        timestamp_ms: now_millis(),
    }
}

pub(crate) fn lost_race(name: &str) -> ServiceError {
    ServiceError::Unavailable(format!(
        "Deployment '{name}' kept changing while being updated; try again."
    ))
}

impl Deployments {
    pub fn new(
        store: Arc<dyn DeploymentStore>,
        registry: Registry,
        artifacts: Artifacts,
        artifact_scheme: &'static str,
    ) -> Self {
        Self {
            store,
            registry,
            artifacts,
            artifact_scheme,
        }
    }

    /// The state a client asks for, checked: a valid name, references that resolve to servable versions.
    async fn requested(
        &self,
        name: &str,
        req: &DeploymentRequest,
    ) -> ServiceResult<DeploymentState> {
        validate_deployment_name(name)?;
        let spec = req.spec()?;
        let serving = self.resolve_servable(&spec).await?;
        Ok(DeploymentState {
            spec,
            serving,
            rollout: None,
        })
    }

    /// Creates a deployment; its references must resolve now.
    pub async fn create(
        &self,
        name: &str,
        req: &DeploymentRequest,
        actor: &str,
    ) -> ServiceResult<Deployment> {
        let state = self.requested(name, req).await?;
        let change = change(DeploymentEventKind::Created, actor);
        Ok(self.store.create_deployment(name, &state, &change).await?)
    }

    /// Replaces a deployment's spec; its references must resolve now.
    pub async fn update(
        &self,
        name: &str,
        req: &DeploymentRequest,
        actor: &str,
    ) -> ServiceResult<Deployment> {
        let requested = self.requested(name, req).await?;
        for _ in 0..ATTEMPTS {
            let current = self.store.get_deployment(name).await?;
            let state = carry_rollout(&current.state, requested.clone());
            if current.state == state {
                return Ok(current);
            }
            let kind = DeploymentEventKind::Updated;
            if let Some(d) = self
                .write_at(name, current.revision, &state, kind, actor)
                .await?
            {
                return Ok(d);
            }
        }
        Err(lost_race(name))
    }

    /// A deployment as stored: its spec and what it serves.
    pub async fn get(&self, name: &str) -> ServiceResult<Deployment> {
        validate_deployment_name(name)?;
        Ok(self.store.get_deployment(name).await?)
    }

    /// All deployments, by name.
    pub async fn list(&self) -> ServiceResult<Vec<Deployment>> {
        Ok(self.store.list_deployments().await?)
    }

    /// Does the deployment serve what its spec asks for now? Read-only: resolves its references and, if
    /// they point elsewhere, checks that the target can be served.
    pub async fn condition(&self, d: &Deployment) -> ServiceResult<Condition> {
        let problem = |why: String| Condition {
            status: DeploymentStatus::Degraded,
            problem: Some(format!(
                "{why}; still serving {}/{}",
                d.state.serving.primary.name, d.state.serving.primary.version
            )),
        };
        let wanted = match self.resolve(&d.state.spec).await {
            Ok(s) => s,
            Err(e @ (ServiceError::NotFound(_) | ServiceError::InvalidArgument(_))) => {
                return Ok(problem(e.to_string().trim_end_matches('.').to_owned()));
            }
            Err(e) => return Err(e),
        };
        if wanted == d.state.serving {
            return Ok(Condition {
                status: DeploymentStatus::Serving,
                problem: None,
            });
        }
        match self.check_serving(&wanted).await {
            Ok(()) => Ok(Condition {
                status: DeploymentStatus::RollingOut,
                problem: None,
            }),
            Err(e @ (ServiceError::InvalidArgument(_) | ServiceError::NotFound(_))) => {
                Ok(problem(e.to_string().trim_end_matches('.').to_owned()))
            }
            Err(e) => Err(e),
        }
    }

    pub async fn delete(&self, name: &str, actor: &str) -> ServiceResult<()> {
        validate_deployment_name(name)?;
        let change = change(DeploymentEventKind::Deleted, actor);
        Ok(self.store.delete_deployment(name, &change).await?)
    }

    /// Returns the deployment to what it served before its current serving, pinned to those versions so
    /// that the alias it followed cannot roll it forward again (update it to follow the alias anew).
    pub async fn rollback(&self, name: &str, actor: &str) -> ServiceResult<Deployment> {
        validate_deployment_name(name)?;
        for _ in 0..ATTEMPTS {
            let current = self.store.get_deployment(name).await?;
            let history = self.all_events(name).await?;
            let Some(target) = rollback_target(&current.state, &history) else {
                return Err(ServiceError::InvalidArgument(format!(
                    "Deployment '{name}' has served nothing else: there is nothing to roll back to."
                )));
            };
            // The versions must still be there to serve.
            self.resolve(&target.spec).await?;
            let kind = DeploymentEventKind::RolledBack;
            if let Some(d) = self
                .write_at(name, current.revision, &target, kind, actor)
                .await?
            {
                return Ok(d);
            }
        }
        Err(lost_race(name))
    }

    /// Writes `state` if the deployment is still at `revision`; `None` if another writer got there first.
    async fn write_at(
        &self,
        name: &str,
        revision: i64,
        state: &DeploymentState,
        kind: DeploymentEventKind,
        actor: &str,
    ) -> ServiceResult<Option<Deployment>> {
        let change = change(kind, actor);
        Ok(self
            .store
            .update_deployment(name, revision, state, &change)
            .await?)
    }

    /// A deployment's history, oldest first, a page at a time (after deletion too).
    pub async fn history(
        &self,
        name: &str,
        req: HistoryRequest,
    ) -> ServiceResult<Page<DeploymentEvent>> {
        validate_deployment_name(name)?;
        let (after_seq, limit) = event_window(&req)?;
        let mut items = self
            .store
            .deployment_events(name, after_seq, limit + 1)
            .await?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next_page_token = more
            .then(|| items.last().map(|e| event_token(e.seq)))
            .flatten();
        Ok(Page {
            items,
            next_page_token,
        })
    }

    async fn all_events(&self, name: &str) -> ServiceResult<Vec<DeploymentEvent>> {
        let mut all = Vec::new();
        loop {
            let after = all.last().map_or(0, |e: &DeploymentEvent| e.seq);
            let page = self.store.deployment_events(name, after, 1000).await?;
            let done = page.len() < 1000;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// The controller's step for every deployment: see [`Self::reconcile`]. A deployment deleted
    /// meanwhile is skipped; the first other failure is returned after every deployment was tried.
    pub async fn reconcile_all(&self) -> ServiceResult<Vec<Deployment>> {
        let mut rolled = Vec::new();
        let mut failure = None;
        for d in self.store.list_deployments().await? {
            match self.reconcile(d).await {
                Ok(Some(d)) => rolled.push(d),
                Ok(None) | Err(ServiceError::NotFound(_)) => {}
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(rolled),
        }
    }

    /// Rolls out an alias move the deployment has not yet followed: records the new serving as a
    /// `rolled_out` event credited to whoever moved the alias. When its references no longer resolve, or
    /// resolve to a version that cannot be served, it keeps what it serves (its condition says why).
    /// Several servers may reconcile at once: writes are conditional on the revision, so one records it.
    pub async fn reconcile(&self, mut d: Deployment) -> ServiceResult<Option<Deployment>> {
        for _ in 0..ATTEMPTS {
            let serving = match self.resolve(&d.state.spec).await {
                Ok(s) => s,
                Err(ServiceError::NotFound(_) | ServiceError::InvalidArgument(_)) => {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            if serving == d.state.serving {
                return Ok(None);
            }
            match self.check_serving(&serving).await {
                Ok(()) => {}
                Err(e @ (ServiceError::InvalidArgument(_) | ServiceError::NotFound(_))) => {
                    tracing::warn!(deployment = %d.name, problem = %e, "not rolling out");
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
            let (actor, at) = self.who_moved(&d.state.spec, &serving).await?;
            let change = DeploymentChange {
                kind: DeploymentEventKind::RolledOut,
                actor,
                timestamp_ms: at,
            };
            let state = DeploymentState {
                spec: d.state.spec.clone(),
                serving,
                rollout: d.state.rollout.clone(),
            };
            match self
                .store
                .update_deployment(&d.name, d.revision, &state, &change)
                .await?
            {
                Some(updated) => {
                    tracing::info!(deployment = %updated.name, version = updated.state.serving.primary.version, "rolled out");
                    return Ok(Some(updated));
                }
                None => d = self.store.get_deployment(&d.name).await?,
            }
        }
        Err(lost_race(&d.name))
    }
}

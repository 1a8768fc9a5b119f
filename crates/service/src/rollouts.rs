//! Automatic canary promotion (see [`cairn_domain::rollout`]): the controller's step for deployments
//! with a roll-out policy. When the policy's candidate alias points to a version other than the primary's
//! and not yet decided, a canary of it starts (`canary_started`, with the traffic counters it starts
//! from); once it has run its course, the window's traffic decides: promoted (`canary_promoted`: the
//! primary alias moves to it through the registry, credited to [`ROLLOUT_ACTOR`]) or rolled back
//! (`canary_rolled_back`: the canary stops, the primary alias stays). Each decision is stored with its
//! numbers in the deployment's state, so its history and the change log carry them. Writes are
//! conditional on the revision read, so with several servers one records each step.
//!
//! The counts come from a [`TrafficCounts`]: the serving embedded in this server. Requests served by
//! replicas (`cairn serve --deployment`), or by other servers, are not counted.

use cairn_domain::Clash;
use cairn_domain::deployment::{
    Canary, CanaryServing, Deployment, DeploymentEventKind, DeploymentState, Resolved,
};
use std::collections::BTreeMap;

use cairn_domain::rollout::{
    CanaryRun, LiveScore, Outcome, RolloutDecision, RolloutStatus, Traffic, decide,
};
use cairn_domain::time::now_millis;
use cairn_store::DeploymentChange;

use crate::deployments::{ATTEMPTS, Deployments, lost_race};
use crate::{ServiceError, ServiceResult};

/// Who the roll-out's changes are credited to.
pub const ROLLOUT_ACTOR: &str = "rollout";

/// Live traffic counters of the deployments' model versions (in-process, cheap to read).
pub trait TrafficCounts: Send + Sync {
    /// What `deployment`'s `version` has served so far (zeros when nothing).
    fn traffic(&self, deployment: &str, version: i64) -> Traffic;
}

/// No counts at all (every canary is judged on no requests, and so rolled back).
pub struct NoTraffic;

impl TrafficCounts for NoTraffic {
    fn traffic(&self, _: &str, _: i64) -> Traffic {
        Traffic::default()
    }
}

/// The monitored performance of a deployment's versions over a window, from feedback labels joined
/// to their logged predictions (the deployment's monitor knows how to score them).
#[async_trait::async_trait]
pub trait LivePerformance: Send + Sync {
    /// Each version's score over what the deployment answered since `since_ms`; empty when the
    /// deployment has no monitor or no label has arrived.
    async fn scores(&self, deployment: &str, since_ms: i64) -> BTreeMap<i64, LiveScore>;
}

/// No monitored performance (decisions on traffic alone).
pub struct NoPerformance;

#[async_trait::async_trait]
impl LivePerformance for NoPerformance {
    async fn scores(&self, _: &str, _: i64) -> BTreeMap<i64, LiveScore> {
        BTreeMap::new()
    }
}

/// What one roll-out step writes.
struct Step {
    state: DeploymentState,
    kind: DeploymentEventKind,
}

impl Deployments {
    /// The roll-out step of every deployment with a policy (see [`Self::advance_rollout`]); the first
    /// failure is returned after every one was tried.
    pub async fn advance_rollouts(
        &self,
        counts: &dyn TrafficCounts,
        performance: &dyn LivePerformance,
    ) -> ServiceResult<Vec<Deployment>> {
        let mut changed = Vec::new();
        let mut failure = None;
        for d in self.store.list_deployments().await? {
            if d.state.spec.rollout.is_none() {
                continue;
            }
            match self.advance_rollout(d, counts, performance).await {
                Ok(Some(d)) => changed.push(d),
                Ok(None) | Err(ServiceError::NotFound(_)) => {}
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(changed),
        }
    }

    /// Starts a canary of a new candidate, or decides one that has run its course; `None` when there is
    /// nothing to do now.
    pub async fn advance_rollout(
        &self,
        mut d: Deployment,
        counts: &dyn TrafficCounts,
        performance: &dyn LivePerformance,
    ) -> ServiceResult<Option<Deployment>> {
        for _ in 0..ATTEMPTS {
            let Some(step) = self.rollout_step(&d, counts, performance).await? else {
                return Ok(None);
            };
            let change = DeploymentChange {
                kind: step.kind,
                actor: ROLLOUT_ACTOR.to_owned(),
                timestamp_ms: now_millis(),
            };
            match self
                .store
                .update_deployment(&d.name, d.revision, &step.state, &change)
                .await?
            {
                Some(updated) => {
                    tracing::info!(deployment = %updated.name, kind = step.kind.as_str(), "roll-out step");
                    return Ok(Some(updated));
                }
                None => d = self.store.get_deployment(&d.name).await?,
            }
        }
        Err(lost_race(&d.name))
    }

    async fn rollout_step(
        &self,
        d: &Deployment,
        counts: &dyn TrafficCounts,
        performance: &dyn LivePerformance,
    ) -> ServiceResult<Option<Step>> {
        let spec = &d.state.spec;
        let (Some(policy), Some(primary_alias)) = (&spec.rollout, spec.primary_alias()) else {
            return Ok(None);
        };
        let model = spec.model.name.clone();
        let status = d.state.rollout.clone().unwrap_or_default();
        let now = now_millis();
        if let Some(run) = &status.canary {
            let primary_t = counts
                .traffic(&d.name, run.primary_version)
                .since(&run.baseline_primary);
            let canary_t = counts
                .traffic(&d.name, run.version)
                .since(&run.baseline_canary);
            let serving_primary = d.state.serving.primary.version;
            let mut decision = decide(run, &primary_t, &canary_t, now);
            let promoted_already =
                serving_primary == run.version && decision.outcome == Outcome::Promoted;
            if serving_primary != run.primary_version && !promoted_already {
                // The primary alias was moved by hand meanwhile: nothing left to compare against.
                decision.outcome = Outcome::RolledBack;
                decision.reason = format!(
                    "the primary moved to version {serving_primary} during the canary; not judged"
                );
            } else if !promoted_already && !policy.due(run.started_ms, now, canary_t.requests) {
                return Ok(None);
            }
            if decision.outcome == Outcome::Promoted && !promoted_already {
                // When feedback has arrived, the monitored performance has a say too.
                let scores = performance.scores(&d.name, run.started_ms).await;
                if let (Some(c), Some(p)) =
                    (scores.get(&run.version), scores.get(&run.primary_version))
                {
                    decision.judge_performance(c, p);
                }
            }
            let mut primary_version = serving_primary;
            if decision.outcome == Outcome::Promoted {
                match self
                    .promote(&model, primary_alias, run.version, run.primary_version)
                    .await
                {
                    Ok(()) => primary_version = run.version,
                    Err(ServiceError::Conflict(Clash::AliasMoved { .. })) => {
                        decision.outcome = Outcome::RolledBack;
                        decision.reason = format!(
                            "{}; but the alias '{primary_alias}' moved meanwhile, so it was left alone",
                            decision.reason
                        );
                    }
                    // The version (or the model) went away meanwhile: nothing to promote; or the
                    // primary alias is protected: only an approved promotion request moves it.
                    Err(
                        e @ (ServiceError::NotFound(_)
                        | ServiceError::InvalidArgument(_)
                        | ServiceError::PermissionDenied(_)),
                    ) => {
                        decision.outcome = Outcome::RolledBack;
                        decision.reason = format!(
                            "{}; but the alias '{primary_alias}' could not move: {e}",
                            decision.reason
                        );
                    }
                    Err(e) => return Err(e),
                }
            }
            let kind = match decision.outcome {
                Outcome::Promoted => DeploymentEventKind::CanaryPromoted,
                Outcome::RolledBack => DeploymentEventKind::CanaryRolledBack,
            };
            tracing::info!(deployment = %d.name, version = run.version, outcome = ?decision.outcome, reason = %decision.reason, "canary decided");
            let mut state = d.state.clone();
            state.spec.canary = None;
            state.serving.canary = None;
            state.serving.primary = Resolved {
                name: model,
                version: primary_version,
            };
            state.rollout = Some(RolloutStatus {
                canary: None,
                last: Some(decision),
            });
            return Ok(Some(Step { state, kind }));
        }
        // No canary in progress: has the candidate alias moved to something new?
        let candidate = match self
            .registry
            .get_version_by_alias(&model, &policy.candidate_alias)
            .await
        {
            Ok(v) => v.version,
            Err(ServiceError::NotFound(_) | ServiceError::InvalidArgument(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let primary = d.state.serving.primary.version;
        let decided = |l: &RolloutDecision| l.version == candidate;
        if candidate == primary || status.last.as_ref().is_some_and(decided) {
            return Ok(None);
        }
        // The primary must be settled (an alias move of its own is the reconciler's to roll out first).
        match self.resolve(spec).await {
            Ok(s) if s.primary.version == primary => {}
            Ok(_) | Err(ServiceError::NotFound(_) | ServiceError::InvalidArgument(_)) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        let resolved = Resolved {
            name: model,
            version: candidate,
        };
        match self.check_servable(&resolved).await {
            Ok(()) => {}
            Err(e @ (ServiceError::InvalidArgument(_) | ServiceError::NotFound(_))) => {
                tracing::warn!(deployment = %d.name, problem = %e, "not starting a canary");
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        let run = CanaryRun {
            version: candidate,
            primary_version: primary,
            started_ms: now,
            baseline_primary: counts.traffic(&d.name, primary),
            baseline_canary: counts.traffic(&d.name, candidate),
        };
        let mut state = d.state.clone();
        state.spec.canary = Some(Canary {
            model: spec.model.pinned(candidate),
            weight: policy.weight,
        });
        state.serving.canary = Some(CanaryServing {
            model: resolved,
            weight: policy.weight,
        });
        state.rollout = Some(RolloutStatus {
            canary: Some(run),
            last: status.last,
        });
        Ok(Some(Step {
            state,
            kind: DeploymentEventKind::CanaryStarted,
        }))
    }

    /// Moves the primary alias from `from` to `to` (already there, from an earlier attempt whose write
    /// lost a race: done).
    async fn promote(&self, model: &str, alias: &str, to: i64, from: i64) -> ServiceResult<()> {
        let now = self.registry.get_version_by_alias(model, alias).await?;
        if now.version == to {
            return Ok(());
        }
        self.registry
            .compare_and_set_alias(
                model,
                alias,
                &to.to_string(),
                Some(&from.to_string()),
                ROLLOUT_ACTOR,
            )
            .await
    }
}

/// The roll-out part of a spec change: the state `next` a client asks for, given the `current` one. A
/// policy kept on the same model keeps its canary in progress (at the policy's weight now) and its last
/// decision; without a policy, neither stays.
pub(crate) fn carry_rollout(
    current: &DeploymentState,
    mut next: DeploymentState,
) -> DeploymentState {
    let Some(policy) = next.spec.rollout.clone() else {
        next.rollout = None;
        return next;
    };
    let mut status = current.rollout.clone().unwrap_or_default();
    let same_candidate = current
        .spec
        .rollout
        .as_ref()
        .is_some_and(|p| p.candidate_alias == policy.candidate_alias);
    match status.canary.clone() {
        Some(run)
            if same_candidate
                && next.spec.model == current.spec.model
                && next.serving.primary.version == run.primary_version =>
        {
            next.spec.canary = Some(Canary {
                model: next.spec.model.pinned(run.version),
                weight: policy.weight,
            });
            next.serving.canary = Some(CanaryServing {
                model: Resolved {
                    name: next.spec.model.name.clone(),
                    version: run.version,
                },
                weight: policy.weight,
            });
        }
        _ => status.canary = None,
    }
    next.rollout = (!status.is_empty()).then_some(status);
    next
}

#[cfg(test)]
mod tests {
    use cairn_domain::deployment::{DeploymentSpec, ModelRef, SampleRate, Serving};
    use cairn_domain::rollout::RolloutPolicy;

    use super::*;

    fn state(policy: Option<&str>, primary: i64) -> DeploymentState {
        let model = ModelRef::parse("models:/m@production").unwrap();
        DeploymentState {
            spec: DeploymentSpec {
                model,
                canary: None,
                log_sample: SampleRate::EVERY,
                rollout: policy.map(|p| RolloutPolicy::parse(p, None).unwrap()),
            },
            serving: Serving {
                primary: Resolved {
                    name: "m".into(),
                    version: primary,
                },
                canary: None,
            },
            rollout: None,
        }
    }

    /// A deployment with a canary of version 2 in progress against version 1.
    fn running() -> DeploymentState {
        let mut s = state(Some("canary:10%/5m"), 1);
        s.spec.canary = Some(Canary {
            model: s.spec.model.pinned(2),
            weight: 10,
        });
        s.serving.canary = Some(CanaryServing {
            model: Resolved {
                name: "m".into(),
                version: 2,
            },
            weight: 10,
        });
        s.rollout = Some(RolloutStatus {
            canary: Some(CanaryRun {
                version: 2,
                primary_version: 1,
                started_ms: 0,
                baseline_primary: Traffic::default(),
                baseline_canary: Traffic::default(),
            }),
            last: None,
        });
        s
    }

    #[test]
    fn a_spec_change_keeps_the_canary_in_progress_or_stops_it() {
        let current = running();
        // Same policy, another log sample: the canary goes on.
        let mut asked = state(Some("canary:10%/5m"), 1);
        asked.spec.log_sample = SampleRate::NONE;
        let next = carry_rollout(&current, asked);
        assert_eq!(next.serving.canary, current.serving.canary);
        assert_eq!(next.rollout, current.rollout);
        // Unchanged: the very same state (an update that changes nothing writes nothing).
        assert_eq!(
            carry_rollout(&current, state(Some("canary:10%/5m"), 1)),
            current
        );
        // A new weight applies to the canary in progress.
        let next = carry_rollout(&current, state(Some("canary:30%/5m"), 1));
        assert_eq!(next.serving.canary.unwrap().weight, 30);
        // No policy: the canary stops.
        let next = carry_rollout(&current, state(None, 1));
        assert!(next.serving.canary.is_none() && next.rollout.is_none());
        // Another candidate alias: stopped, to start again from the new alias.
        let mut other = state(None, 1);
        other.spec.rollout = Some(RolloutPolicy::parse("canary:10%/5m", Some("next")).unwrap());
        let next = carry_rollout(&current, other);
        assert!(next.serving.canary.is_none() && next.rollout.is_none());
    }
}

//! Protected aliases and promotion requests: a protected alias moves only when a request has N
//! distinct approvers with the approver role on the model — none of them the requester or the version's
//! creator, admins included — and the policy allows it. Approvals are bound to the version's content
//! digest, expire, and are used up when the request is applied.

use cairn_auth::roles::{Capability, Resource};
use cairn_domain::governance::{Approval, Promotion, PromotionState, Protection};
use cairn_domain::time::now_millis;
use cairn_domain::{Clash, EventKind};
use cairn_store::{PromotionEnd, StoreError};
use serde_json::json;

use super::policy::{deny_text, uuid_like};
use super::{Governance, Principal, change};
use crate::{ServiceError, ServiceResult};

/// How long a request (and its approvals) stays valid.
const APPROVAL_TTL_MS: i64 = 7 * 86_400_000;

/// A request to move a protected alias.
#[derive(Debug, Clone)]
pub struct PromotionRequest {
    pub model: String,
    pub version: i64,
    pub alias: String,
    pub reason: String,
}

/// The rule protecting `alias` of `model`, if any: the one asking the most approvals.
pub(crate) fn protection_for<'a>(
    rules: &'a [Protection],
    model: &str,
    alias: &str,
) -> Option<&'a Protection> {
    rules
        .iter()
        .filter(|r| r.covers_alias(alias) && cairn_auth::glob_match(&r.models, model))
        .max_by_key(|r| r.approvals)
}

fn denied(msg: String) -> ServiceError {
    ServiceError::PermissionDenied(msg)
}

impl Governance {
    /// Protects `alias` on models matching `models` (admin only).
    pub async fn protect(
        &self,
        by: &Principal,
        models: &str,
        alias: &str,
        approvals: i64,
    ) -> ServiceResult<Protection> {
        super::people::require_admin(by, "protecting an alias")?;
        if models.is_empty() || alias.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "a protection needs a model glob and an alias".into(),
            ));
        }
        if !(1..=10).contains(&approvals) {
            return Err(ServiceError::InvalidArgument(format!(
                "--approvals must be between 1 and 10, not {approvals}"
            )));
        }
        let rule = Protection {
            models: models.to_owned(),
            alias: alias.to_owned(),
            approvals,
            created_ms: now_millis(),
            created_by: by.name.clone(),
        };
        self.store.set_protection(&rule, &change(&by.name)).await?;
        Ok(rule)
    }

    pub async fn unprotect(
        &self,
        by: &Principal,
        models: &str,
        alias: &str,
    ) -> ServiceResult<bool> {
        super::people::require_admin(by, "removing a protection")?;
        Ok(self
            .store
            .remove_protection(models, alias, &change(&by.name))
            .await?)
    }

    pub async fn protections(&self) -> ServiceResult<Vec<Protection>> {
        Ok(self.store.protections().await?)
    }

    pub async fn promotion(&self, id: &str) -> ServiceResult<Promotion> {
        Ok(self.store.promotion(id).await?)
    }

    pub async fn promotions(
        &self,
        state: Option<&str>,
        model: Option<&str>,
    ) -> ServiceResult<Vec<Promotion>> {
        let state = state
            .map(|s| {
                PromotionState::parse(s).ok_or_else(|| {
                    ServiceError::InvalidArgument(format!(
                        "unknown state '{s}': open, approved, applied, rejected, withdrawn, failed or expired"
                    ))
                })
            })
            .transpose()?;
        Ok(self.store.promotions(state, model).await?)
    }

    /// Opens a request to move a protected alias; the policy (if any) is consulted first and a deny
    /// refuses the request with its messages.
    pub async fn request_promotion(
        &self,
        by: &Principal,
        req: PromotionRequest,
    ) -> ServiceResult<Promotion> {
        if !by.can(Capability::Promote, &Resource::Model(&req.model)) {
            return Err(denied(format!(
                "requesting a promotion of '{}' needs the scientist role on it",
                req.model
            )));
        }
        if req.reason.trim().is_empty() {
            return Err(ServiceError::InvalidArgument(
                "a promotion request needs a reason (--reason)".into(),
            ));
        }
        let version = self
            .registry
            .get_model_version(&req.model, &req.version.to_string())
            .await?;
        let rules = self.store.protections().await?;
        let Some(rule) = protection_for(&rules, &req.model, &req.alias) else {
            return Err(ServiceError::InvalidArgument(format!(
                "@{} of '{}' is not protected: move it directly (set_registered_model_alias)",
                req.alias, req.model
            )));
        };
        let now = now_millis();
        let mut p = Promotion {
            id: format!("pr_{}", &uuid_like()[..20]),
            model: req.model.clone(),
            version: req.version,
            alias: req.alias.clone(),
            reason: req.reason.clone(),
            state: PromotionState::Open,
            requested_by: by.name.clone(),
            requested_via: by.via.as_str().to_owned(),
            version_creator: version.user_id.clone().filter(|u| !u.is_empty()),
            artifact_digest: self.artifact_digest(&req.model, req.version).await?,
            required_approvals: rule.approvals,
            approvals: Vec::new(),
            previous_version: None,
            decision_id: None,
            note: None,
            created_ms: now,
            updated_ms: now,
            expires_ms: now + APPROVAL_TTL_MS,
        };
        // The policy is evaluated once; the decision stored (under the request, when one is opened) is
        // the one acted on.
        let decided = self
            .evaluate_policy("request", &p, by, rule.approvals)
            .await?;
        if let Some((stored, d)) = &decided {
            if !d.allow {
                self.record_decision(stored, by).await?;
                return Err(denied(format!(
                    "the policy denies this promotion: {}",
                    deny_text(d)
                )));
            }
            if let Some(n) = d.required_approvals {
                p.required_approvals = p.required_approvals.max(i64::from(n));
            }
            p.decision_id = Some(stored.id.clone());
        }
        self.store.create_promotion(&p, &change(&by.name)).await?;
        if let Some((mut stored, _)) = decided {
            stored.promotion_id = Some(p.id.clone());
            self.record_decision(&stored, by).await?;
        }
        Ok(p)
    }

    /// Approves (or, with `approve = false`, rejects) a request. The N-th distinct approval applies it.
    pub async fn review_promotion(
        &self,
        by: &Principal,
        id: &str,
        approve: bool,
        comment: Option<&str>,
    ) -> ServiceResult<Promotion> {
        let p = self.live_promotion(id).await?;
        if p.state != PromotionState::Open {
            return Err(ServiceError::Conflict(Clash::Governed(format!(
                "promotion request {id} is {}",
                p.state.as_str()
            ))));
        }
        self.check_approver(by, &p)?;
        let verdict = Approval {
            by: by.name.clone(),
            verdict: if approve { "approve" } else { "reject" }.to_owned(),
            comment: comment.map(str::to_owned),
            at_ms: now_millis(),
            via: by.via.as_str().to_owned(),
        };
        let approvals = p.approvers().count() as i64 + i64::from(approve);
        let state = if !approve {
            PromotionState::Rejected
        } else if approvals >= p.required_approvals {
            PromotionState::Approved
        } else {
            PromotionState::Open
        };
        let p = self
            .store
            .add_verdict(id, PromotionState::Open, &verdict, state, &change(&by.name))
            .await?;
        // Counted again on what the store now holds: approvals racing each other may each have counted
        // only the ones before theirs, leaving a fully approved request open.
        if approve && p.state.is_pending() && p.approvers().count() as i64 >= p.required_approvals {
            return self.apply_approved(p, by).await;
        }
        Ok(p)
    }

    /// Applies an approved request (its requester, an operator or an admin); normally automatic.
    pub async fn apply_promotion(&self, by: &Principal, id: &str) -> ServiceResult<Promotion> {
        let p = self.live_promotion(id).await?;
        let allowed = by.name == p.requested_by
            || by.can(Capability::Deploy, &Resource::Global)
            || by.is_admin;
        if !allowed {
            return Err(denied(
                "applying a promotion request is for its requester, an operator or an admin".into(),
            ));
        }
        if p.state != PromotionState::Approved {
            return Err(ServiceError::Conflict(Clash::Governed(format!(
                "promotion request {id} is {} ({} of {} approvals)",
                p.state.as_str(),
                p.approvers().count(),
                p.required_approvals
            ))));
        }
        self.apply_approved(p, by).await
    }

    /// Withdraws a pending request (its requester or an admin).
    pub async fn withdraw_promotion(&self, by: &Principal, id: &str) -> ServiceResult<Promotion> {
        let p = self.store.promotion(id).await?;
        if by.name != p.requested_by && !by.is_admin {
            return Err(denied(
                "only the requester or an admin withdraws a request".into(),
            ));
        }
        Ok(self
            .store
            .end_promotion(
                id,
                PromotionEnd {
                    state: PromotionState::Withdrawn,
                    note: Some(format!("withdrawn by {}", by.name)),
                    move_alias: None,
                },
                &change(&by.name),
            )
            .await?)
    }

    /// Moves a protected alias back to a version that held it before, without approvals: for an
    /// operator (or admin) in an incident, recorded with its reason.
    pub async fn rollback_alias(
        &self,
        by: &Principal,
        model: &str,
        alias: &str,
        version: i64,
        reason: &str,
    ) -> ServiceResult<()> {
        if !by.can(Capability::Deploy, &Resource::Model(model)) && !by.is_admin {
            return Err(denied("a rollback needs the operator role".into()));
        }
        let history = self.model_history(model).await?;
        let held = history.iter().any(|e| {
            matches!(e.kind, EventKind::AliasSet | EventKind::AliasMoved)
                && e.alias.as_deref() == Some(alias)
                && e.version == Some(version)
        });
        if !held {
            return Err(denied(format!(
                "version {version} of '{model}' never held @{alias}: only a rollback to a version that \
                 held it is allowed without approvals; request it with `cairn promote request`"
            )));
        }
        let current = self
            .registry
            .get_version_by_alias(model, alias)
            .await
            .ok()
            .map(|v| v.version);
        self.store
            .record_event(
                model,
                "alias_rollback",
                json!({"model": model, "alias": alias, "from": current, "to": version, "reason": reason}),
                &change(&by.name),
            )
            .await?;
        self.registry
            .store
            .compare_and_set_alias(model, alias, version, current, &change(&by.name))
            .await?;
        Ok(())
    }

    /// A pending request, expired first if its time is up.
    async fn live_promotion(&self, id: &str) -> ServiceResult<Promotion> {
        let p = self.store.promotion(id).await?;
        if p.state.is_pending() && p.expires_ms <= now_millis() {
            let p = self
                .store
                .end_promotion(
                    id,
                    PromotionEnd {
                        state: PromotionState::Expired,
                        note: Some("the request and its approvals expired".into()),
                        move_alias: None,
                    },
                    &change("cairn"),
                )
                .await?;
            return Err(ServiceError::Conflict(Clash::Governed(format!(
                "promotion request {} has expired",
                p.id
            ))));
        }
        Ok(p)
    }

    /// Four-eyes: the approver role on the model, and neither the requester nor the version's creator.
    fn check_approver(&self, by: &Principal, p: &Promotion) -> ServiceResult<()> {
        if !by.can(Capability::Approve, &Resource::Model(&p.model)) {
            return Err(denied(format!(
                "reviewing a promotion of '{}' needs the approver role on it",
                p.model
            )));
        }
        if by.name == p.requested_by {
            return Err(denied(format!(
                "four-eyes: {} requested this promotion and cannot review it",
                by.name
            )));
        }
        if p.version_creator.as_deref() == Some(by.name.as_str()) {
            return Err(denied(format!(
                "four-eyes: {} registered version {} and cannot review its promotion",
                by.name, p.version
            )));
        }
        Ok(())
    }

    /// Re-checks everything at apply — expiry, content digest, the approvers' roles, the policy with
    /// fresh evidence — then moves the alias and uses the approvals up, in one transaction; a failed
    /// check ends the request as `failed` with the reason.
    async fn apply_approved(&self, p: Promotion, by: &Principal) -> ServiceResult<Promotion> {
        let fail = |why: String| PromotionEnd {
            state: PromotionState::Failed,
            note: Some(why),
            move_alias: None,
        };
        let mut problem = None;
        let digest = self.artifact_digest(&p.model, p.version).await?;
        if digest != p.artifact_digest {
            problem = Some(
                "the version's files changed after the request: approvals are void".to_owned(),
            );
        }
        if problem.is_none() {
            for approver in p.approvers() {
                let still = match self.principal_of(approver, super::Via::System).await {
                    Ok(a) => a.can(Capability::Approve, &Resource::Model(&p.model)),
                    Err(_) => false,
                };
                if !still {
                    problem = Some(format!("{approver} no longer holds the approver role"));
                    break;
                }
            }
        }
        // The policy sees the protection rule's approvals, as at request.
        let rule_approvals = protection_for(&self.store.protections().await?, &p.model, &p.alias)
            .map_or(p.required_approvals, |r| r.approvals);
        if problem.is_none()
            && let Some((_, d)) = self
                .decide("apply", &p, by, rule_approvals, Some(&p.id))
                .await?
        {
            if !d.allow {
                problem = Some(format!("the policy denies it: {}", deny_text(&d)));
            } else if d
                .required_approvals
                .is_some_and(|n| i64::from(n) > p.approvers().count() as i64)
            {
                problem = Some("the policy now requires more approvals".to_owned());
            }
        }
        if let Some(why) = problem {
            let ended = self
                .store
                .end_promotion(&p.id, fail(why.clone()), &change(&by.name))
                .await?;
            return Err(denied(format!(
                "promotion request {} failed: {why}",
                ended.id
            )));
        }
        for _ in 0..3 {
            let current = self
                .registry
                .get_version_by_alias(&p.model, &p.alias)
                .await
                .ok()
                .map(|v| v.version);
            let end = PromotionEnd {
                state: PromotionState::Applied,
                note: None,
                move_alias: Some(current),
            };
            match self
                .store
                .end_promotion(&p.id, end, &change(&by.name))
                .await
            {
                Err(StoreError::Conflict(Clash::AliasMoved { .. })) => continue,
                other => return Ok(other?),
            }
        }
        Err(ServiceError::Unavailable(
            "the alias kept moving while applying; try `cairn promote apply` again".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names_protect_stages_in_any_case() {
        let rules = [Protection {
            models: "fraud*".into(),
            alias: "Production".into(),
            approvals: 2,
            created_ms: 0,
            created_by: "admin".into(),
        }];
        assert!(protection_for(&rules, "fraud", "production").is_some());
        assert!(protection_for(&rules, "fraud-v2", "Production").is_some());
        assert!(protection_for(&rules, "churn", "Production").is_none());
        assert!(protection_for(&rules, "fraud", "champion").is_none());
    }
}

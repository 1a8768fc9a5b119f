//! Rego policy at promotion: the active bundle, the input document a request is judged on, and the
//! stored decision. A policy can only deny or raise the number of approvals; it never grants.

use std::time::Duration;

use cairn_domain::governance::{PolicyBundleRecord, PolicyDecision, Promotion};
use cairn_domain::time::now_millis;
use cairn_governance::policy::{Bundle, Decision, PolicyFile};
use cairn_store::GateQuery;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Governance, Principal, change};
use crate::{ServiceError, ServiceResult};

/// An evaluation that takes longer than this denies.
pub const POLICY_TIMEOUT: Duration = Duration::from_millis(250);
const DEFAULT_ENTRYPOINT: &str = "data.cairn.promotion";

/// RFC 3339 UTC of a millisecond timestamp.
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

pub(crate) fn bundle_of(record: &PolicyBundleRecord) -> ServiceResult<Bundle> {
    let files: Vec<PolicyFile> = record
        .files
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some(PolicyFile {
                path: f.get("path")?.as_str()?.to_owned(),
                source: f.get("source")?.as_str()?.to_owned(),
            })
        })
        .collect();
    Bundle::new(files).map_err(|e| ServiceError::Internal(format!("the stored policy: {e}")))
}

impl Governance {
    /// Makes `files` (path, Rego source) the active policy; a syntax error is a 400 naming the file.
    pub async fn set_policy(
        &self,
        by: &Principal,
        files: Vec<(String, String)>,
        entrypoint: Option<&str>,
    ) -> ServiceResult<PolicyBundleRecord> {
        super::people::require_admin(by, "setting the policy")?;
        if files.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "a policy needs at least one .rego file".into(),
            ));
        }
        let bundle = Bundle::new(
            files
                .into_iter()
                .map(|(path, source)| PolicyFile { path, source })
                .collect(),
        )
        .map_err(|e| ServiceError::InvalidArgument(e.to_string()))?;
        let record = PolicyBundleRecord {
            hash: bundle.hash(),
            files: Value::Array(
                bundle
                    .files()
                    .iter()
                    .map(|f| json!({"path": f.path, "source": f.source}))
                    .collect(),
            ),
            entrypoint: entrypoint.unwrap_or(DEFAULT_ENTRYPOINT).to_owned(),
            created_ms: now_millis(),
            created_by: by.name.clone(),
        };
        self.store
            .activate_policy(&record, &change(&by.name))
            .await?;
        Ok(record)
    }

    pub async fn clear_policy(&self, by: &Principal) -> ServiceResult<()> {
        super::people::require_admin(by, "clearing the policy")?;
        Ok(self.store.clear_policy(&change(&by.name)).await?)
    }

    pub async fn policy(&self) -> ServiceResult<Option<PolicyBundleRecord>> {
        Ok(self.store.active_policy().await?)
    }

    pub async fn decisions(
        &self,
        promotion_id: Option<&str>,
    ) -> ServiceResult<Vec<PolicyDecision>> {
        Ok(self.store.decisions(promotion_id).await?)
    }

    /// The document a policy judges a request on: the candidate with its run, data, gates and card,
    /// the incumbent, the approvals, who asks and who acts.
    pub(crate) async fn policy_input(
        &self,
        action: &str,
        p: &Promotion,
        actor: &Principal,
        required: i64,
    ) -> ServiceResult<Value> {
        let version = self
            .registry
            .get_model_version(&p.model, &p.version.to_string())
            .await?;
        let run = match &version.run_id {
            Some(id) => self.tracking.get_run(id).await.ok(),
            None => None,
        };
        let run_json = run.as_ref().map(|r| {
            json!({
                "id": r.info.run_id.to_string(),
                "experiment_id": r.info.experiment_id.to_string(),
                "author": r.info.user_id,
                "status": r.info.status.as_str(),
                "params": r.data.params.iter().map(|p| (p.key.clone(), json!(p.value))).collect::<serde_json::Map<_, _>>(),
                "metrics": r.data.metrics.iter().map(|m| (m.key.clone(), json!(m.value))).collect::<serde_json::Map<_, _>>(),
                "datasets": r.inputs.dataset_inputs.iter().map(|d| json!({
                    "name": d.dataset.name, "digest": d.dataset.digest,
                    "context": d.context(), "source": d.dataset.source,
                })).collect::<Vec<_>>(),
            })
        });
        let gates = self
            .gates
            .list_gate_evaluations(&GateQuery {
                pipeline_run_id: None,
                model_name: Some(p.model.clone()),
                limit: 50,
            })
            .await?
            .into_iter()
            .filter(|g| g.record.model_version == Some(p.version))
            .map(|g| serde_json::to_value(&g).unwrap_or(Value::Null))
            .collect::<Vec<_>>();
        let card = self.card_summary(&p.model, p.version).await?;
        let incumbent = match self.registry.get_version_by_alias(&p.model, &p.alias).await {
            Ok(v) => {
                let metrics = match &v.run_id {
                    Some(id) => self.tracking.get_run(id).await.ok().map(|r| {
                        r.data
                            .metrics
                            .iter()
                            .map(|m| (m.key.clone(), json!(m.value)))
                            .collect::<serde_json::Map<_, _>>()
                    }),
                    None => None,
                };
                json!({"version": v.version, "metrics": metrics.unwrap_or_default()})
            }
            Err(_) => Value::Null,
        };
        Ok(json!({
            "schema": "cairn.promotion/v1",
            "action": action,
            "now": rfc3339(now_millis()),
            "request": {
                "id": p.id,
                "reason": p.reason,
                "created_at": rfc3339(p.created_ms),
                "requested_by": {"id": p.requested_by},
            },
            "actor": {"id": actor.name, "roles": actor.roles(), "groups": actor.groups},
            "target": {"model": p.model, "alias": p.alias, "rule": {"approvals": required}},
            "candidate": {
                "version": p.version,
                "created_by": version.user_id,
                "source": version.source,
                "artifact_digest": p.artifact_digest,
                "tags": version.tags.iter().map(|t| (t.key.clone(), json!(t.value))).collect::<serde_json::Map<_, _>>(),
                "run": run_json,
                "card": card,
                "gates": gates,
            },
            "incumbent": incumbent,
            "approvals": p.approvals.iter().filter(|a| a.verdict == "approve").map(|a| json!({
                "by": a.by, "at": rfc3339(a.at_ms), "comment": a.comment,
            })).collect::<Vec<_>>(),
            "monitoring": self.monitoring(&p.model).await?,
        }))
    }

    /// The monitors watching deployments that serve `model`: each one's evaluations, alerts and when it
    /// last looked (`alerts > 0` is what a policy would hold a promotion on).
    async fn monitoring(&self, model: &str) -> ServiceResult<Value> {
        let Some(store) = &self.monitors else {
            return Ok(Value::Null);
        };
        let serving: Vec<String> = self
            .deployments
            .list()
            .await?
            .into_iter()
            .filter(|d| d.state.serving.primary.name == model)
            .map(|d| d.name)
            .collect();
        let activity = store.monitor_activity().await?;
        let monitors: Vec<Value> = store
            .list_monitors()
            .await?
            .into_iter()
            .filter(|m| serving.contains(&m.spec.deployment))
            .map(|m| {
                let a = activity.iter().find(|a| a.monitor == m.name);
                json!({
                    "name": m.name,
                    "deployment": m.spec.deployment,
                    "rules": m.spec.rules.len(),
                    "snapshots": a.map_or(0, |a| a.snapshots),
                    "alerts": a.map_or(0, |a| a.alerts),
                    "last_snapshot": a.and_then(|a| a.last_snapshot_ms).map(rfc3339),
                })
            })
            .collect();
        let alerts: usize = monitors
            .iter()
            .filter_map(|m| m["alerts"].as_u64())
            .sum::<u64>() as usize;
        Ok(json!({"deployments": serving, "monitors": monitors, "alerts": alerts}))
    }

    /// Evaluates the active policy (if any) on `p` and stores the decision; `None` without a policy.
    pub(crate) async fn decide(
        &self,
        action: &str,
        p: &Promotion,
        actor: &Principal,
        required: i64,
        stored_under: Option<&str>,
    ) -> ServiceResult<Option<(PolicyDecision, Decision)>> {
        let Some((mut stored, decision)) = self.evaluate_policy(action, p, actor, required).await?
        else {
            return Ok(None);
        };
        stored.promotion_id = stored_under.map(str::to_owned);
        self.record_decision(&stored, actor).await?;
        Ok(Some((stored, decision)))
    }

    /// Evaluates the active policy (if any) on `p`, without storing the decision (its `promotion_id` is
    /// unset): the caller stores exactly the decision it acted on.
    pub(crate) async fn evaluate_policy(
        &self,
        action: &str,
        p: &Promotion,
        actor: &Principal,
        required: i64,
    ) -> ServiceResult<Option<(PolicyDecision, Decision)>> {
        let Some(record) = self.store.active_policy().await? else {
            return Ok(None);
        };
        let bundle = bundle_of(&record)?;
        let input = self.policy_input(action, p, actor, required).await?;
        let entrypoint = record.entrypoint.clone();
        let input_for_eval = input.clone();
        let decision = tokio::task::spawn_blocking(move || {
            bundle.evaluate(&entrypoint, &input_for_eval, &json!({}), POLICY_TIMEOUT)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("policy evaluation: {e}")))?;
        let input_hash = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(input.to_string().as_bytes()))
        );
        let stored = PolicyDecision {
            id: format!("dec_{}", uuid_like()),
            promotion_id: None,
            action: action.to_owned(),
            bundle_hash: record.hash.clone(),
            input_hash,
            input,
            result: serde_json::to_value(&decision).unwrap_or(Value::Null),
            allow: decision.allow,
            at_ms: now_millis(),
        };
        Ok(Some((stored, decision)))
    }

    pub(crate) async fn record_decision(
        &self,
        decision: &PolicyDecision,
        actor: &Principal,
    ) -> ServiceResult<()> {
        Ok(self
            .store
            .record_decision(decision, &change(&actor.name))
            .await?)
    }
}

/// A random 128-bit id in hex.
pub(crate) fn uuid_like() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

/// The deny messages of a decision, for people.
pub(crate) fn deny_text(d: &Decision) -> String {
    d.deny
        .iter()
        .map(|v| v.msg.clone())
        .collect::<Vec<_>>()
        .join("; ")
}

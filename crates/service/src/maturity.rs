//! The maturity tracker's use cases: gather each model's evidence from the stores in a few queries and
//! assess it (`cairn_domain::maturity`); for one model, also when it reached each level, from the change
//! log.

use std::collections::HashMap;

use cairn_domain::EventKind;
use cairn_domain::RunId;
use cairn_domain::change_log::{ChangeEntry, Topic};
use cairn_domain::deployment::{Deployment, DeploymentEventKind, Target};
use cairn_domain::governance::PromotionState;
use cairn_domain::maturity::AppliedPromotion;
use cairn_domain::maturity::{
    DeploymentEvidence, Evidence, Maturity, MonitorEvidence, PipelinePromotion, TrackedVersion,
    assess,
};
use cairn_domain::pipeline::PipelineRun;
use cairn_governance::audit::AuditPublicKey;
use cairn_store::{
    ChangeLogStore, DeploymentStore, EventQuery, GovernanceStore, MonitorStore, PipelineStore,
};
use std::sync::Arc;

use crate::{Deployments, Registry, ServiceResult};

/// A `rolled_out` deployment event: what it rolled out, and when.
struct Rollout {
    /// The deployment's revision after it (what `cairn deploy history` numbers it by).
    revision: i64,
    timestamp_ms: i64,
    model: String,
    version: i64,
}

/// When a model reached a level: the change-log entry that brought its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    pub level: u8,
    pub seq: i64,
    pub timestamp_ms: i64,
}

/// The organisation roll-up: how many models stand on each level (index 0 is level 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    pub models: Vec<Maturity>,
    pub per_level: [usize; 7],
}

#[derive(Clone)]
pub struct MaturityTracker {
    registry: Registry,
    deployments: Arc<dyn DeploymentStore>,
    change_log: Arc<dyn ChangeLogStore>,
    pipelines: Arc<dyn PipelineStore>,
    monitors: Arc<dyn MonitorStore>,
    /// Governance records and the audit verifier key, for level 6.
    governance: Option<(Arc<dyn GovernanceStore>, Option<AuditPublicKey>)>,
}

/// Runs are fetched this many at a time.
const RUN_BATCH: usize = 500;

impl MaturityTracker {
    pub fn new(
        deployments: &Deployments,
        change_log: Arc<dyn ChangeLogStore>,
        pipelines: Arc<dyn PipelineStore>,
        monitors: Arc<dyn MonitorStore>,
    ) -> Self {
        Self {
            registry: deployments.registry.clone(),
            deployments: deployments.store.clone(),
            change_log,
            pipelines,
            monitors,
            governance: None,
        }
    }

    /// Assesses level 6 from the governance store, verifying the audit chain with `key`.
    pub fn with_governance(
        mut self,
        store: Arc<dyn GovernanceStore>,
        key: Option<AuditPublicKey>,
    ) -> Self {
        self.governance = Some((store, key));
        self
    }

    /// Every registered model, assessed, by name; and how many stand on each level.
    pub async fn overview(&self) -> ServiceResult<Overview> {
        let models = self.registry.store.list_registered_models().await?;
        let mut evidence = self.evidence(None).await?;
        let mut out = Overview {
            models: Vec::with_capacity(models.len()),
            per_level: [0; 7],
        };
        for m in models {
            let e = evidence.remove(&m.name).unwrap_or_default();
            let assessed = assess(&m.name, &e);
            out.per_level[usize::from(assessed.level)] += 1;
            out.models.push(assessed);
        }
        Ok(out)
    }

    /// One model, assessed, with when it reached each level it stands on.
    pub async fn model(&self, name: &str) -> ServiceResult<(Maturity, Vec<Reached>)> {
        // Not found names the model.
        self.registry.store.get_registered_model(name).await?;
        let evidence = self
            .evidence(Some(name))
            .await?
            .remove(name)
            .unwrap_or_default();
        let maturity = assess(name, &evidence);
        let history = self.history(&maturity, &evidence).await?;
        Ok((maturity, history))
    }

    /// Evidence per model name (for one model, or all).
    async fn evidence(&self, only: Option<&str>) -> ServiceResult<HashMap<String, Evidence>> {
        let versions = self.registry.store.list_model_versions(only).await?;
        let ids: Vec<RunId> = versions
            .iter()
            .filter_map(|v| v.run_id.as_deref())
            .filter_map(|id| RunId::parse(id).ok())
            .collect();
        let mut counts: HashMap<String, (usize, usize)> = HashMap::with_capacity(ids.len());
        let mut with_data: Vec<String> = Vec::new();
        for chunk in ids.chunks(RUN_BATCH) {
            for run in self.registry.tracking.get_runs(chunk).await? {
                if run
                    .inputs
                    .dataset_inputs
                    .iter()
                    .any(|d| !d.dataset.digest.is_empty())
                {
                    with_data.push(run.info.run_id.as_str().to_owned());
                }
                counts.insert(
                    run.info.run_id.as_str().to_owned(),
                    (run.data.params.len(), run.data.metrics.len()),
                );
            }
        }
        let mut aliases_of: HashMap<String, Vec<String>> = HashMap::new();
        let mut out: HashMap<String, Evidence> = HashMap::new();
        for v in &versions {
            aliases_of
                .entry(v.name.clone())
                .or_default()
                .extend(v.aliases.iter().cloned());
            if v.run_id
                .as_ref()
                .is_some_and(|id| with_data.contains(&id.to_ascii_lowercase()))
            {
                out.entry(v.name.clone())
                    .or_default()
                    .governance
                    .data_lineage
                    .push(v.version);
            }
        }
        for v in versions {
            let (params, metrics) = v
                .run_id
                .as_ref()
                .and_then(|id| counts.get(&id.to_ascii_lowercase()))
                .copied()
                .unwrap_or((0, 0));
            out.entry(v.name)
                .or_default()
                .versions
                .push(TrackedVersion {
                    version: v.version,
                    run_id: v.run_id,
                    params,
                    metrics,
                });
        }
        for (model, p) in self.promotions().await? {
            if only.is_none_or(|n| n == model) {
                out.entry(model).or_default().promotions.push(p);
            }
        }
        let rollouts = self.rollouts().await?;
        let deployments = self.deployments.list_deployments().await?;
        let serves: HashMap<&str, &str> = deployments
            .iter()
            .map(|d| (d.name.as_str(), d.state.serving.primary.name.as_str()))
            .collect();
        let activity: HashMap<String, cairn_store::MonitorActivity> = self
            .monitors
            .monitor_activity()
            .await?
            .into_iter()
            .map(|a| (a.monitor.clone(), a))
            .collect();
        for m in self.monitors.list_monitors().await? {
            let Some(model) = serves.get(m.spec.deployment.as_str()) else {
                continue;
            };
            if only.is_some_and(|n| n != *model) {
                continue;
            }
            let a = activity.get(&m.name);
            out.entry((*model).to_owned())
                .or_default()
                .monitors
                .push(MonitorEvidence {
                    name: m.name.clone(),
                    deployment: m.spec.deployment.clone(),
                    rules: m.spec.rules.len(),
                    snapshots: a.map_or(0, |a| a.snapshots),
                    last_snapshot_ms: a.and_then(|a| a.last_snapshot_ms),
                    alerts: a.map_or(0, |a| a.alerts),
                });
        }
        for d in &deployments {
            let primary = &d.state.serving.primary;
            if only.is_some_and(|n| n != primary.name) {
                continue;
            }
            let evidence = deployment_evidence(d, &rollouts);
            if let Target::Alias(a) = &d.state.spec.model.target {
                aliases_of
                    .entry(primary.name.clone())
                    .or_default()
                    .push(a.clone());
            }
            out.entry(primary.name.clone())
                .or_default()
                .deployments
                .push(evidence);
        }
        if let Some((store, key)) = &self.governance {
            self.governance_evidence(store.as_ref(), key, &mut out, &aliases_of)
                .await?;
        }
        Ok(out)
    }

    /// Level 6's evidence: protections, applied promotions, cards, and the audit chain's verification.
    async fn governance_evidence(
        &self,
        store: &dyn GovernanceStore,
        key: &Option<AuditPublicKey>,
        out: &mut HashMap<String, Evidence>,
        aliases_of: &HashMap<String, Vec<String>>,
    ) -> ServiceResult<()> {
        let rules = store.protections().await?;
        let users: Vec<String> = store.users().await?.into_iter().map(|u| u.name).collect();
        let applied = store
            .promotions(Some(PromotionState::Applied), None)
            .await?;
        let audit = crate::verify_rows(store, key.clone(), Vec::new()).await?;
        let audit = Some((audit.entries, audit.outcome == "intact"));
        for (model, e) in out.iter_mut() {
            let mut protected: Vec<String> = aliases_of
                .get(model)
                .into_iter()
                .flatten()
                .filter(|a| crate::governance::protection_for(&rules, model, a).is_some())
                .cloned()
                .collect();
            protected.sort();
            protected.dedup();
            e.governance.protected_aliases = protected;
            e.governance.audit = audit;
            for p in applied.iter().filter(|p| &p.model == model) {
                let approvers: Vec<String> = p.approvers().map(str::to_owned).collect();
                // Proven identities: user accounts that authenticated, not names claimed to a server
                // running without authentication.
                let proven = |via: &str| !via.is_empty() && via != "unauthenticated";
                let accounts = users.contains(&p.requested_by)
                    && proven(&p.requested_via)
                    && approvers.iter().all(|a| users.contains(a))
                    && p.approvals
                        .iter()
                        .all(|a| a.verdict != "approve" || proven(&a.via));
                e.governance.applied.push(AppliedPromotion {
                    id: p.id.clone(),
                    version: p.version,
                    alias: p.alias.clone(),
                    requested_by: p.requested_by.clone(),
                    approvers,
                    accounts,
                    decision_id: p.decision_id.clone(),
                    seq: 0,
                    timestamp_ms: p.updated_ms,
                });
            }
            let served: Vec<i64> = e.deployments.iter().map(|d| d.serving_version).collect();
            for v in served {
                if let Some(card) = store.card(model, v).await? {
                    e.governance.cards.push((v, card.status));
                }
            }
        }
        Ok(())
    }

    /// Every pipeline run that registered a model version (its report's `promotion`), with the model.
    async fn promotions(&self) -> ServiceResult<Vec<(String, PipelinePromotion)>> {
        let mut out = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let page = self
                .pipelines
                .list_pipeline_runs(None, before.as_deref(), 1000)
                .await?;
            let done = page.len() < 1000;
            before = page.last().map(|r| r.run_id.clone());
            for r in page {
                if let Some(p) = promotion(&r) {
                    out.push(p);
                }
            }
            if done {
                return Ok(out);
            }
        }
    }

    /// Every `rolled_out` event, by deployment.
    async fn rollouts(&self) -> ServiceResult<HashMap<String, Vec<Rollout>>> {
        let mut out: HashMap<String, Vec<Rollout>> = HashMap::new();
        let mut after = 0;
        loop {
            let page = self
                .deployments
                .deployment_events_of_kind(DeploymentEventKind::RolledOut, after, 1000)
                .await?;
            let done = page.len() < 1000;
            for e in page {
                after = e.seq;
                if let Some(s) = e.after {
                    out.entry(e.deployment).or_default().push(Rollout {
                        revision: e.revision.unwrap_or(e.seq),
                        timestamp_ms: e.timestamp_ms,
                        model: s.serving.primary.name,
                        version: s.serving.primary.version,
                    });
                }
            }
            if done {
                return Ok(out);
            }
        }
    }

    /// When each reached level's evidence appeared in the change log.
    async fn history(&self, m: &Maturity, e: &Evidence) -> ServiceResult<Vec<Reached>> {
        let mut out = Vec::new();
        if m.level == 0 {
            return Ok(out);
        }
        let qualifying: Vec<i64> = e
            .versions
            .iter()
            .filter(|v| v.run_id.is_some() && v.params > 0 && v.metrics > 0)
            .map(|v| v.version)
            .collect();
        let mut first = |level: u8, found: Option<(i64, i64)>| {
            if let Some((seq, timestamp_ms)) = found {
                out.push(Reached {
                    level,
                    seq,
                    timestamp_ms,
                });
            }
        };
        // The model's history follows renames; its change-log entry is under the name it had then.
        let created = self
            .registry
            .store
            .events(EventQuery {
                model: Some(m.model.clone()),
                after_seq: 0,
                limit: usize::MAX,
            })
            .await?
            .into_iter()
            .find(|e| {
                e.kind == EventKind::VersionCreated
                    && e.version.is_some_and(|v| qualifying.contains(&v))
            });
        let mut level1 = None;
        if let Some(e) = created {
            level1 = self
                .subject_changes(Topic::Registry, &e.model_name)
                .await?
                .iter()
                .find(|c| c.topic_seq == e.seq)
                .map(|c| (c.seq, c.timestamp_ms));
        }
        first(1, level1);
        let gated: Vec<i64> = e
            .promotions
            .iter()
            .filter(|p| p.exit_code == Some(0) && p.gates > 0 && p.gates_passed == p.gates)
            .map(|p| p.version)
            .collect();
        if m.level >= 2 {
            let mut created = None;
            let mut rolled = None;
            let mut gated_rollout = None;
            for d in &e.deployments {
                let changes = self.subject_changes(Topic::Deployment, &d.name).await?;
                // The current incarnation: after the last deletion of that name.
                let start = changes
                    .iter()
                    .rposition(|c| c.kind == "deleted")
                    .map_or(0, |i| i + 1);
                let live = &changes[start..];
                // Only since it last started serving this model (an update may have moved it here).
                let serves_model =
                    |c: &ChangeEntry| model_of(&c.detail).is_some_and(|n| n == m.model.as_str());
                let start = live
                    .iter()
                    .rposition(|c| !serves_model(c))
                    .map_or(0, |i| i + 1);
                let live = &live[start..];
                let earliest = |a: Option<(i64, i64)>, b: Option<(i64, i64)>| match (a, b) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                created = earliest(created, live.first().map(|c| (c.seq, c.timestamp_ms)));
                if d.follows_alias.is_some() {
                    let r = live.iter().find(|c| c.kind == "rolled_out");
                    rolled = earliest(rolled, r.map(|c| (c.seq, c.timestamp_ms)));
                    let g = live.iter().find(|c| {
                        c.kind == "rolled_out"
                            && version_of(&c.detail).is_some_and(|v| gated.contains(&v))
                    });
                    gated_rollout = earliest(gated_rollout, g.map(|c| (c.seq, c.timestamp_ms)));
                }
            }
            first(2, created);
            if m.level >= 3 {
                first(3, rolled);
            }
            if m.level >= 4 {
                first(4, gated_rollout);
            }
            if m.level >= 6 {
                let applied = e
                    .governance
                    .applied
                    .iter()
                    .map(|p| p.id.clone())
                    .collect::<Vec<_>>();
                let mut found = None;
                for id in applied {
                    let c = self.subject_changes(Topic::Governance, &id).await?;
                    if let Some(c) = c.iter().find(|c| c.kind == "promotion_applied") {
                        found = Some((c.seq, c.timestamp_ms));
                        break;
                    }
                }
                first(6, found);
            }
        }
        Ok(out)
    }

    async fn subject_changes(
        &self,
        topic: Topic,
        subject: &str,
    ) -> ServiceResult<Vec<cairn_domain::change_log::ChangeEntry>> {
        let mut all = Vec::new();
        loop {
            let after = all
                .last()
                .map_or(0, |c: &cairn_domain::change_log::ChangeEntry| c.seq);
            let page = self
                .change_log
                .subject_changes(topic, subject, after, 1000)
                .await?;
            let done = page.len() < 1000;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }
}

fn model_of(detail: &Option<serde_json::Value>) -> Option<&str> {
    detail.as_ref()?.get("model")?.as_str()
}

fn version_of(detail: &Option<serde_json::Value>) -> Option<i64> {
    detail.as_ref()?.get("version")?.as_i64()
}

/// The model version a pipeline run registered, from its report: `promotion: {name, version,
/// aliases}` and `gates: [{passed}]`.
fn promotion(r: &PipelineRun) -> Option<(String, PipelinePromotion)> {
    let report = r.report.as_ref()?;
    let p = report.get("promotion")?;
    let name = p.get("name")?.as_str()?.to_owned();
    let version = match p.get("version")? {
        serde_json::Value::String(s) => s.parse().ok()?,
        v => v.as_i64()?,
    };
    let gates = report
        .get("gates")
        .and_then(|g| g.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    Some((
        name,
        PipelinePromotion {
            run_id: r.run_id.clone(),
            pipeline: r.pipeline.clone(),
            version,
            aliases: p
                .get("aliases")
                .and_then(|a| a.as_array())
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            gates: gates.len(),
            gates_passed: gates.iter().filter(|g| g["passed"] == true).count(),
            exit_code: r.exit_code,
            trigger: r.execution.as_ref().map(|x| {
                let kind = r.cause["kind"].as_str().unwrap_or("manual").to_owned();
                (x.trigger.clone(), kind)
            }),
        },
    ))
}

/// A live deployment as evidence: what it serves, the alias it follows, the roll-outs since it was
/// (last) created.
fn deployment_evidence(
    d: &Deployment,
    rollouts: &HashMap<String, Vec<Rollout>>,
) -> DeploymentEvidence {
    let follows_alias = match &d.state.spec.model.target {
        Target::Alias(a) => Some(a.clone()),
        Target::Version(_) => None,
    };
    let rollouts = match &follows_alias {
        Some(_) => rollouts
            .get(&d.name)
            .into_iter()
            .flatten()
            // This incarnation's, of the model it serves now (not of one it served before an update).
            .filter(|r| r.timestamp_ms >= d.created_ms && r.model == d.state.serving.primary.name)
            .map(|r| (r.revision, r.version))
            .collect(),
        None => vec![],
    };
    DeploymentEvidence {
        name: d.name.clone(),
        follows_alias,
        serving_version: d.state.serving.primary.version,
        rollouts,
    }
}

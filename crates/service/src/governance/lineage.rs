//! Lineage, time-aware: from a deployment back to the version it served at a time, the run and data that
//! trained it, the pipeline run and gates that registered it, and the promotion, approvals and policy
//! decision that moved its alias; forward from a dataset (or a run, or a version) to every version and
//! deployment it fed. Built from stored records on each call (a bounded walk, no lineage tables to drift).

use std::collections::BTreeMap;

use cairn_domain::deployment::DeploymentEvent;
use cairn_domain::{EventKind, ModelVersion, ViewType};
use cairn_store::GateQuery;
use serde::Serialize;
use serde_json::{Value, json};

use super::Governance;
use super::policy::rfc3339;
use crate::{ExperimentSearch, RunSearch, ServiceError, ServiceResult};

#[derive(Debug, Clone, Serialize)]
pub struct LineageNode {
    pub id: String,
    pub kind: String,
    pub label: String,
    pub attrs: Value,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LineageEdge {
    pub from: String,
    pub to: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
}

/// A lineage graph around one node.
#[derive(Debug, Clone, Serialize)]
pub struct Lineage {
    pub root: String,
    pub direction: String,
    pub at: Option<String>,
    pub nodes: Vec<LineageNode>,
    pub edges: Vec<LineageEdge>,
}

#[derive(Default)]
struct Graph {
    nodes: BTreeMap<String, LineageNode>,
    edges: Vec<LineageEdge>,
}

impl Graph {
    fn node(&mut self, id: &str, kind: &str, label: &str, attrs: Value) {
        self.nodes
            .entry(id.to_owned())
            .or_insert_with(|| LineageNode {
                id: id.to_owned(),
                kind: kind.to_owned(),
                label: label.to_owned(),
                attrs,
            });
    }

    fn edge(&mut self, from: &str, to: &str, kind: &str, valid: (Option<i64>, Option<i64>)) {
        let e = LineageEdge {
            from: from.to_owned(),
            to: to.to_owned(),
            kind: kind.to_owned(),
            valid_from: valid.0.map(rfc3339),
            valid_to: valid.1.map(rfc3339),
        };
        if !self.edges.contains(&e) {
            self.edges.push(e);
        }
    }
}

fn version_id(model: &str, version: i64) -> String {
    format!("model_version:{model}/{version}")
}

/// `2026-11-01T12:00:00Z` (or any RFC 3339) or milliseconds since the epoch.
pub fn parse_time(at: &str) -> ServiceResult<i64> {
    if let Ok(ms) = at.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            ServiceError::InvalidArgument(format!(
                "invalid time '{at}': use RFC 3339 (2026-11-01T12:00:00Z) or epoch milliseconds"
            ))
        })
}

/// The version a deployment's events say it served at `at` (now when `None`), with the interval.
fn served_at(
    events: &[DeploymentEvent],
    at: Option<i64>,
) -> Option<(String, i64, i64, Option<i64>)> {
    let mut current: Option<(String, i64, i64)> = None;
    let mut until = None;
    for e in events {
        if at.is_some_and(|t| e.timestamp_ms > t) {
            let next = e
                .after
                .as_ref()
                .map(|s| (&s.serving.primary.name, s.serving.primary.version));
            let cur = current.as_ref().map(|(n, v, _)| (n, *v));
            if next != cur {
                until = Some(e.timestamp_ms);
                break;
            }
            continue;
        }
        match &e.after {
            Some(s) => {
                let (name, version) = (&s.serving.primary.name, s.serving.primary.version);
                if current
                    .as_ref()
                    .is_none_or(|(n, v, _)| n != name || *v != version)
                {
                    current = Some((name.clone(), version, e.timestamp_ms));
                }
            }
            None => current = None,
        }
    }
    current.map(|(n, v, from)| (n, v, from, until))
}

impl Governance {
    /// The lineage around `node` (`deployment:NAME`, `model_version:MODEL/VERSION`, `run:ID`,
    /// `dataset:DIGEST`), upstream, downstream or both, as of `at` (ms) for what deployments served.
    pub async fn lineage(
        &self,
        node: &str,
        direction: &str,
        at: Option<i64>,
    ) -> ServiceResult<Lineage> {
        if !matches!(direction, "up" | "down" | "both") {
            return Err(ServiceError::InvalidArgument(format!(
                "direction must be up, down or both, not '{direction}'"
            )));
        }
        let (kind, key) = node.split_once(':').ok_or_else(|| {
            ServiceError::InvalidArgument(format!(
                "node '{node}' must be kind:key — deployment:NAME, model_version:MODEL/VERSION, run:ID or \
                 dataset:DIGEST"
            ))
        })?;
        let mut g = Graph::default();
        let up = direction != "down";
        let down = direction != "up";
        match kind {
            "deployment" => {
                let events = self.deployment_events(key).await?;
                g.node(node, "deployment", key, json!({}));
                if let Some((model, version, from, to)) = served_at(&events, at) {
                    let v = version_id(&model, version);
                    g.edge(&v, node, "served_by", (Some(from), to));
                    if up {
                        self.version_up(&mut g, &model, version).await?;
                    }
                }
            }
            "model_version" => {
                let (model, version) = key
                    .rsplit_once('/')
                    .and_then(|(m, v)| Some((m, v.parse::<i64>().ok()?)))
                    .ok_or_else(|| {
                        ServiceError::InvalidArgument(format!(
                            "model_version '{key}' must be MODEL/VERSION"
                        ))
                    })?;
                if up {
                    self.version_up(&mut g, model, version).await?;
                } else {
                    let v = self
                        .registry
                        .get_model_version(model, &version.to_string())
                        .await?;
                    self.add_version(&mut g, &v);
                }
                if down {
                    self.version_down(&mut g, model, version, at).await?;
                }
            }
            "run" => {
                let run = self.tracking.get_run(key).await?;
                self.add_run(&mut g, &run);
                if down {
                    self.run_down(&mut g, key, at).await?;
                }
            }
            "dataset" => {
                g.node(node, "dataset", key, json!({"digest": key}));
                if down {
                    for run_id in self.runs_using(key).await? {
                        let run = self.tracking.get_run(&run_id).await?;
                        self.add_run(&mut g, &run);
                        self.run_down(&mut g, &run_id, at).await?;
                    }
                }
            }
            other => {
                return Err(ServiceError::InvalidArgument(format!(
                    "unknown node kind '{other}': deployment, model_version, run or dataset"
                )));
            }
        }
        Ok(Lineage {
            root: node.to_owned(),
            direction: direction.to_owned(),
            at: at.map(rfc3339),
            nodes: g.nodes.into_values().collect(),
            edges: g.edges,
        })
    }

    async fn deployment_events(&self, name: &str) -> ServiceResult<Vec<DeploymentEvent>> {
        let mut all: Vec<DeploymentEvent> = Vec::new();
        loop {
            let after = all.last().map_or(0, |e| e.seq);
            let page = self
                .deployments
                .store
                .deployment_events(name, after, 1000)
                .await?;
            let done = page.len() < 1000;
            all.extend(page);
            if done {
                break;
            }
        }
        if all.is_empty() {
            return Err(ServiceError::NotFound(cairn_domain::Missing::Deployment(
                name.to_owned(),
            )));
        }
        Ok(all)
    }

    fn add_version(&self, g: &mut Graph, v: &ModelVersion) -> String {
        let id = version_id(&v.name, v.version);
        g.node(
            &id,
            "model_version",
            &format!("{} v{}", v.name, v.version),
            json!({"created_by": v.user_id, "source": v.source, "aliases": v.aliases,
                   "created_at": rfc3339(v.creation_timestamp)}),
        );
        id
    }

    fn add_run(&self, g: &mut Graph, run: &cairn_domain::Run) -> String {
        let id = format!("run:{}", run.info.run_id);
        g.node(
            &id,
            "run",
            &run.info.run_name,
            json!({"experiment_id": run.info.experiment_id.to_string(), "author": run.info.user_id,
                   "status": run.info.status.as_str()}),
        );
        for d in &run.inputs.dataset_inputs {
            let did = format!("dataset:{}", d.dataset.digest);
            g.node(
                &did,
                "dataset",
                &d.dataset.name,
                json!({"digest": d.dataset.digest, "source": d.dataset.source, "context": d.context()}),
            );
            g.edge(&did, &id, "input", (None, None));
        }
        id
    }

    /// Upstream of a version: its run and data, the pipeline run and gates, the alias assignments and
    /// the promotions (with approvals and policy decisions) that moved them.
    async fn version_up(&self, g: &mut Graph, model: &str, version: i64) -> ServiceResult<()> {
        let v = self
            .registry
            .get_model_version(model, &version.to_string())
            .await?;
        let vid = self.add_version(g, &v);
        if let Some(run_id) = &v.run_id
            && let Ok(run) = self.tracking.get_run(run_id).await
        {
            let rid = self.add_run(g, &run);
            g.edge(
                &rid,
                &vid,
                "registered_as",
                (Some(v.creation_timestamp), None),
            );
        }
        let gates = self
            .gates
            .list_gate_evaluations(&GateQuery {
                pipeline_run_id: None,
                model_name: Some(model.to_owned()),
                limit: 200,
            })
            .await?;
        for e in gates
            .iter()
            .filter(|e| e.record.model_version == Some(version))
        {
            let gid = format!("gate:{}", e.id);
            g.node(
                &gid,
                "gate",
                &format!("gates {}", e.record.decision.as_str()),
                json!({"decision": e.record.decision.as_str(), "action": e.record.action_detail}),
            );
            let pid = format!("pipeline_run:{}", e.record.pipeline_run_id);
            g.node(
                &pid,
                "pipeline_run",
                &e.record.pipeline,
                json!({"pipeline": e.record.pipeline}),
            );
            g.edge(&pid, &gid, "evaluated", (Some(e.created_ms), None));
            g.edge(&gid, &vid, "gated", (Some(e.created_ms), None));
        }
        for (alias, from, to) in self.alias_intervals(model, version).await? {
            let aid = format!("alias:{model}@{alias}");
            g.node(
                &aid,
                "alias",
                &format!("{model}@{alias}"),
                json!({"model": model, "alias": alias}),
            );
            g.edge(&vid, &aid, "held", (Some(from), to));
        }
        for p in self
            .store
            .promotions(None, Some(model))
            .await?
            .into_iter()
            .filter(|p| p.version == version)
        {
            let pid = format!("promotion:{}", p.id);
            g.node(
                &pid,
                "promotion",
                &format!("promote v{} to @{}", p.version, p.alias),
                json!({"state": p.state.as_str(), "requested_by": p.requested_by, "reason": p.reason,
                       "approvals": p.approvals, "artifact_digest": p.artifact_digest}),
            );
            g.edge(&vid, &pid, "requested", (Some(p.created_ms), None));
            if p.state == cairn_domain::governance::PromotionState::Applied {
                let aid = format!("alias:{model}@{}", p.alias);
                g.node(
                    &aid,
                    "alias",
                    &format!("{model}@{}", p.alias),
                    json!({"model": model, "alias": p.alias}),
                );
                g.edge(&pid, &aid, "moved", (Some(p.updated_ms), None));
            }
            for d in self.store.decisions(Some(&p.id)).await? {
                let did = format!("decision:{}", d.id);
                g.node(
                    &did,
                    "decision",
                    &format!(
                        "policy {} ({})",
                        if d.allow { "allowed" } else { "denied" },
                        d.action
                    ),
                    json!({"allow": d.allow, "bundle": d.bundle_hash, "input_hash": d.input_hash,
                           "action": d.action, "at": rfc3339(d.at_ms)}),
                );
                g.edge(&did, &pid, "gated", (Some(d.at_ms), None));
            }
        }
        Ok(())
    }

    /// Downstream of a version: the deployments that served it, and when.
    async fn version_down(
        &self,
        g: &mut Graph,
        model: &str,
        version: i64,
        at: Option<i64>,
    ) -> ServiceResult<()> {
        let vid = version_id(model, version);
        for d in self.deployments.list().await? {
            let events = self.deployment_events(&d.name).await.unwrap_or_default();
            let mut from: Option<i64> = None;
            let mut intervals = Vec::new();
            for e in &events {
                let serves = e.after.as_ref().is_some_and(|s| {
                    s.serving.primary.name == model && s.serving.primary.version == version
                        || s.serving
                            .canary
                            .as_ref()
                            .is_some_and(|c| c.model.name == model && c.model.version == version)
                });
                match (serves, from) {
                    (true, None) => from = Some(e.timestamp_ms),
                    (false, Some(f)) => {
                        intervals.push((f, Some(e.timestamp_ms)));
                        from = None;
                    }
                    _ => {}
                }
            }
            if let Some(f) = from {
                intervals.push((f, None));
            }
            for (f, t) in intervals {
                if at.is_some_and(|a| a < f || t.is_some_and(|t| a >= t)) {
                    continue;
                }
                let did = format!("deployment:{}", d.name);
                g.node(&did, "deployment", &d.name, json!({}));
                g.edge(&vid, &did, "served_by", (Some(f), t));
            }
        }
        Ok(())
    }

    async fn run_down(&self, g: &mut Graph, run_id: &str, at: Option<i64>) -> ServiceResult<()> {
        let rid = format!("run:{run_id}");
        let versions = self.registry.store.list_model_versions(None).await?;
        for v in versions
            .iter()
            .filter(|v| v.run_id.as_deref() == Some(run_id))
        {
            let vid = self.add_version(g, v);
            g.edge(
                &rid,
                &vid,
                "registered_as",
                (Some(v.creation_timestamp), None),
            );
            self.version_down(g, &v.name, v.version, at).await?;
        }
        Ok(())
    }

    /// Every run (in any experiment) that logged a dataset with this digest.
    async fn runs_using(&self, digest: &str) -> ServiceResult<Vec<String>> {
        if digest.contains('\'') {
            return Err(ServiceError::InvalidArgument(
                "invalid dataset digest".into(),
            ));
        }
        let experiments = self
            .tracking
            .search_experiments(ExperimentSearch {
                filter: String::new(),
                max_results: Some(50_000),
                order_by: Vec::new(),
                page_token: None,
                view: ViewType::All,
            })
            .await?
            .items;
        let mut runs = Vec::new();
        for chunk in experiments.chunks(100) {
            let mut token = None;
            loop {
                let page = self
                    .tracking
                    .search_runs(RunSearch {
                        experiment_ids: chunk.iter().map(|e| e.id.to_string()).collect(),
                        filter: format!("datasets.digest = '{digest}'"),
                        view: ViewType::All,
                        max_results: Some(1000),
                        order_by: Vec::new(),
                        page_token: token,
                    })
                    .await?;
                runs.extend(page.items.into_iter().map(|r| r.info.run_id.to_string()));
                token = page.next_page_token;
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(runs)
    }

    /// When `version` held each alias: `(alias, from, until)` from the registry's history.
    async fn alias_intervals(
        &self,
        model: &str,
        version: i64,
    ) -> ServiceResult<Vec<(String, i64, Option<i64>)>> {
        let events = self.model_history(model).await?;
        let mut open: BTreeMap<String, i64> = BTreeMap::new();
        let mut out = Vec::new();
        for e in &events {
            let Some(alias) = &e.alias else { continue };
            let to_this = matches!(e.kind, EventKind::AliasSet | EventKind::AliasMoved)
                && e.version == Some(version);
            let away = matches!(e.kind, EventKind::AliasMoved | EventKind::AliasDeleted)
                && e.version != Some(version)
                || matches!(e.kind, EventKind::AliasDeleted);
            if to_this {
                open.entry(alias.clone()).or_insert(e.timestamp_ms);
            } else if away && let Some(from) = open.remove(alias) {
                out.push((alias.clone(), from, Some(e.timestamp_ms)));
            }
        }
        out.extend(open.into_iter().map(|(a, f)| (a, f, None)));
        Ok(out)
    }
}

//! A model's continuous-training loop as one timeline, read from the change log: the alerts of the
//! monitors on its deployments, the triggers they fired, the pipeline runs and gate evaluations that
//! followed, the versions and alias moves they made, and the deployments' roll-outs and canary
//! decisions — each step linked to what it concerns.

use std::collections::HashSet;

use cairn_domain::change_log::{ChangeEntry, Topic};
use cairn_domain::deployment::Deployment;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::enc;
use crate::WebUi;
use crate::error::PageResult;
use crate::format;

/// How far back in the change log the timeline looks.
const LOOKBACK: i64 = 5_000;
/// Steps shown, newest first.
const SHOWN: usize = 60;

/// What belongs to a model's loop.
struct Scope {
    model: String,
    deployments: HashSet<String>,
    monitors: HashSet<String>,
    pipelines: HashSet<String>,
}

impl Scope {
    fn concerns(&self, e: &ChangeEntry) -> bool {
        match e.topic {
            Topic::Registry | Topic::Gate => e.subject == self.model,
            Topic::Deployment => self.deployments.contains(&e.subject),
            Topic::Alert => self.monitors.contains(&e.subject),
            Topic::Pipeline => {
                self.pipelines.contains(&e.subject)
                    && matches!(e.kind.as_str(), "triggered" | "run_finished")
            }
            Topic::Monitor | Topic::Governance => false,
        }
    }
}

async fn scope(ui: &WebUi, model: &str, deployments: &[Deployment]) -> PageResult<Scope> {
    let deployments: HashSet<String> = deployments.iter().map(|d| d.name.clone()).collect();
    let monitors: HashSet<String> = ui
        .monitors
        .list()
        .await?
        .into_iter()
        .filter(|m| deployments.contains(&m.spec.deployment))
        .map(|m| m.name)
        .collect();
    // Pipelines that promote the model, or whose triggers follow its monitors or its registry events.
    let mut pipelines: HashSet<String> = HashSet::new();
    for r in ui.pipelines.list_runs(None, None, 500).await? {
        if r.report
            .as_ref()
            .and_then(|x| x["promotion"]["name"].as_str())
            == Some(model)
        {
            pipelines.insert(r.pipeline.clone());
        }
    }
    for p in ui.pipelines.list().await? {
        for t in p.triggers.as_object().into_iter().flatten().map(|(_, t)| t) {
            let alert = t["alert"]
                .as_str()
                .map(|a| a.split('/').next().unwrap_or(a));
            if alert.is_some_and(|m| monitors.contains(m))
                || t["registry"]["model"].as_str() == Some(model)
            {
                pipelines.insert(p.name.clone());
            }
        }
    }
    Ok(Scope {
        model: model.to_owned(),
        deployments,
        monitors,
        pipelines,
    })
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

fn run_link(detail: &Value) -> Markup {
    html! { @if let Some(id) = detail["run_id"].as_str() {
        " " a href=(format!("/pipelines/runs/{}", enc(id))) { "run " code { (short(id)) } }
    } }
}

/// One step, in words.
fn describe(e: &ChangeEntry, model: &str) -> Markup {
    let d = e.detail.clone().unwrap_or(Value::Null);
    let version = |v: &Value| match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    match (e.topic, e.kind.as_str()) {
        (Topic::Alert, _) => html! {
            "alert " strong { (d["rule"].as_str().unwrap_or("?")) } " of monitor "
            a href=(format!("/monitors/{}", enc(&e.subject))) { (e.subject) }
            " fired: " code { (d["condition"].as_str().unwrap_or_default()) } " (value " (d["value"]) ")"
        },
        (Topic::Pipeline, "triggered") => html! {
            "trigger " strong { (d["trigger"].as_str().unwrap_or("?")) } " of pipeline " (e.subject) " "
            @if d["outcome"] == "started" { "started" (run_link(&d)) }
            @else { "was skipped: " (d["reason"].as_str().unwrap_or_default()) }
        },
        (Topic::Pipeline, _) => html! {
            "pipeline " (e.subject) (run_link(&d)) " " (d["status"].as_str().unwrap_or("ended"))
            @if let Some(c) = d["exit_code"].as_i64() { " (exit " (c) ")" }
        },
        (Topic::Gate, _) => html! {
            "gates decided " strong { (d["decision"].as_str().unwrap_or("?")) }
            @if !d["version"].is_null() { " for v" (version(&d["version"])) }
            " → " (d["action"].as_str().unwrap_or("?"))
            (run_link(&json!({ "run_id": d["pipeline_run_id"] })))
        },
        (Topic::Registry, "version_created") => html! {
            "version " a href=(format!("/models/{}/versions/{}", enc(model), version(&d["version"]))) { "v" (version(&d["version"])) } " registered"
        },
        (Topic::Registry, _) => html! {
            (e.kind.replace('_', " "))
            @if let Some(a) = d["alias"].as_str() { " " span.chip { "@" (a) } }
            @if !d["version"].is_null() { " → v" (version(&d["version"])) }
        },
        (Topic::Deployment, kind) => html! {
            "deployment " a href=(format!("/deployments/{}", enc(&e.subject))) { (e.subject) } " " (kind.replace('_', " "))
            @if let Some(v) = d.get("version").filter(|v| !v.is_null()) { " v" (version(v)) }
        },
        _ => html! { (e.kind) },
    }
}

/// The section: newest first.
pub async fn section(ui: &WebUi, model: &str, deployments: &[Deployment]) -> PageResult<Markup> {
    let scope = scope(ui, model, deployments).await?;
    let (_, head) = ui
        .change_log
        .changes(0, 1, std::time::Duration::ZERO)
        .await?;
    let mut after = (head - LOOKBACK).max(0);
    let mut steps: Vec<ChangeEntry> = Vec::new();
    loop {
        let (page, _) = ui
            .change_log
            .changes(after, cairn_service::MAX_CHANGES, std::time::Duration::ZERO)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        steps.extend(page.into_iter().filter(|e| scope.concerns(e)));
        if after >= head {
            break;
        }
    }
    steps.reverse();
    steps.truncate(SHOWN);
    Ok(html! {
        section #training-loop {
            h2 { "Continuous training loop" }
            @if scope.pipelines.is_empty() && scope.monitors.is_empty() {
                p.empty { "No loop yet: monitor a deployment of this model, and register its training pipeline with a trigger (" code { "triggers: {retrain: {alert: MONITOR}}" } ")." }
            }
            @if steps.is_empty() { p.empty { "Nothing has happened in the loop yet." } }
            ol.timeline { @for e in &steps {
                li data-topic=(e.topic.as_str()) data-kind=(e.kind) {
                    span.meta title=(format::time(e.timestamp_ms)) { (format::time(e.timestamp_ms)) } " · "
                    (describe(e, model))
                    @if !e.actor.is_empty() { span.meta { " — " (e.actor) } }
                }
            } }
        }
    })
}

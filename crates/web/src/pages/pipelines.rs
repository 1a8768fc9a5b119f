//! Pipelines: the registered snapshots and the pipeline runs, newest first; one run's DAG (stages by
//! depth, each with its cache result and a link to its stage run and log), its timeline (from the
//! stage runs' own start and end times), and its gates (rule, observed, threshold, baseline).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use cairn_domain::pipeline::PipelineRun;
use maud::{Markup, html};
use serde_json::Value;

use super::enc;
use crate::WebUi;
use crate::error::PageResult;
use crate::format;
use crate::layout::{Page, crumbs};

/// Runs the list shows.
const RECENT: usize = 200;

fn stages(run: &PipelineRun) -> Vec<Value> {
    run.report
        .as_ref()
        .and_then(|r| r["stages"].as_array().cloned())
        .unwrap_or_default()
}

/// `2 ran · 1 cached`.
fn stage_summary(run: &PipelineRun) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for s in stages(run) {
        let st = s["status"].as_str().unwrap_or("?").to_owned();
        match counts.iter_mut().find(|(k, _)| *k == st) {
            Some((_, n)) => *n += 1,
            None => counts.push((st, 1)),
        }
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn gates(run: &PipelineRun) -> Vec<Value> {
    run.report
        .as_ref()
        .and_then(|r| r["gates"].as_array().cloned())
        .unwrap_or_default()
}

fn gate_summary(run: &PipelineRun) -> Markup {
    let g = gates(run);
    let passed = g.iter().filter(|g| g["passed"] == true).count();
    html! { @if g.is_empty() { span.meta { "–" } } @else {
        span class=(if passed == g.len() { "status finished" } else { "status failed" }) { (passed) "/" (g.len()) " passed" }
    } }
}

fn promotion(run: &PipelineRun) -> Markup {
    let p = run.report.as_ref().map(|r| &r["promotion"]);
    html! { @if let Some(p) = p.filter(|p| p.is_object()) {
        @let name = p["name"].as_str().unwrap_or_default();
        @let version = p["version"].as_str().unwrap_or_default();
        a href=(format!("/models/{}/versions/{}", enc(name), enc(version))) { (name) " v" (version) }
        @for a in p["aliases"].as_array().into_iter().flatten() { " " span.chip { "@" (a.as_str().unwrap_or_default()) } }
    } }
}

fn status(run: &PipelineRun) -> Markup {
    let s = run.status.as_str();
    let class = match s {
        "succeeded" => "status finished",
        "failed" | "cancelled" => "status failed",
        _ => "status running",
    };
    html! { span class=(class) { (s) } @if let Some(c) = run.exit_code { span.meta { " (exit " (c) ")" } } }
}

fn duration(run: &PipelineRun) -> String {
    run.ended_ms
        .map(|e| format::duration(e - run.started_ms))
        .unwrap_or_else(|| "running".into())
}

/// `alert #3 · retrain`, `cron 2026-12-07T03:00:00Z · nightly`, `manual`.
fn cause(run: &PipelineRun) -> String {
    cause_text(&run.cause)
}

fn cause_text(c: &Value) -> String {
    let Some(kind) = c["kind"].as_str() else {
        return c.to_string();
    };
    let what = match kind {
        "cron" => c["slot"].as_str().map(str::to_owned),
        "watch" => c["digest"]
            .as_str()
            .map(|d| format!("digest {}", &d[..d.len().min(12)])),
        "alert" => c["alert_id"]
            .as_i64()
            .map(|id| format!("#{id} {}", c["rule"].as_str().unwrap_or_default())),
        "registry" => c["version"]
            .as_i64()
            .map(|v| format!("{} v{v}", c["model"].as_str().unwrap_or_default())),
        "manual" => c["key"].as_str().map(|k| format!("key {k}")),
        _ => None,
    };
    let mut out = kind.to_owned();
    if let Some(w) = what {
        out = format!("{out} {w}");
    }
    if let Some(t) = c["trigger"].as_str() {
        out = format!("{out} · {t}");
    }
    out
}

/// A trigger's kind and what it follows, in a few words.
fn trigger_summary(spec: &Value) -> String {
    if let Some(c) = spec["cron"].as_str() {
        return format!(
            "cron {c}{}",
            spec["timezone"]
                .as_str()
                .map(|z| format!(" ({z})"))
                .unwrap_or_default()
        );
    }
    if let Some(w) = spec["watch"].as_str() {
        return format!(
            "watch {w}, debounce {}",
            spec["debounce"].as_str().unwrap_or("0s")
        );
    }
    if let Some(a) = spec["alert"].as_str() {
        return format!(
            "alert {a}, cooldown {}",
            spec["cooldown"].as_str().unwrap_or("0s")
        );
    }
    if spec["registry"].is_object() {
        return format!(
            "registry {} {}",
            spec["registry"]["model"].as_str().unwrap_or_default(),
            spec["registry"]["event"].as_str().unwrap_or_default()
        );
    }
    "by hand".into()
}

pub async fn list(State(ui): State<WebUi>) -> PageResult<impl IntoResponse> {
    let pipelines = ui.pipelines.list().await?;
    let triggers = ui.triggers.list(None).await?;
    let runs = ui.pipelines.list_runs(None, None, RECENT).await?;
    let body = html! {
        h1 { "Pipelines" }
        section #registered-pipelines {
            h2 { "Registered" }
            @if pipelines.is_empty() { p.empty { "No registered pipeline. Register a project with " code { "cairn pipeline register NAME" } "." } }
            @else {
                table.list { thead { tr { th { "Name" } th.num { "Version" } th.num { "Files" } th { "Triggers" } th { "Registered" } th { "By" } } } tbody {
                    @for p in &pipelines { tr {
                        td { (p.name) } td.num { (p.version) } td.num { (p.files.len()) }
                        td { @for (name, t) in p.triggers.as_object().into_iter().flatten() {
                            span.chip title=(t.to_string()) { (name) " · " (t["kind"].as_str().unwrap_or("manual")) } " "
                        } }
                        td title=(format::time(p.registered_ms)) { (format::ago(p.registered_ms)) }
                        td { (p.actor) }
                    } }
                } }
            }
        }
        section #triggers {
            h2 { "Triggers" }
            @if triggers.is_empty() { p.empty { "No trigger. Add " code { "triggers:" } " to the pipeline file and register it again." } }
            @else {
                table.list { thead { tr { th { "Pipeline" } th { "Trigger" } th { "Follows" } th { "Concurrency" } th { "State" } th { "Next fire" } th { "Last fires, and why" } } } tbody {
                    @for (t, fires) in &triggers {
                        @let spec = t.spec.to_json();
                        tr data-trigger=(format!("{}/{}", t.pipeline, t.name)) {
                            td { (t.pipeline) } td { strong { (t.name) } }
                            td { (trigger_summary(&spec)) }
                            td { (t.spec.concurrency.as_str()) " · max " (t.spec.max_active_runs) }
                            td { @if t.paused { span.status.failed { "paused" } } @else { span.status.finished { "active" } } }
                            td { @match cairn_service::next_fire(t) { Some(ms) => span title=(format::time(ms)) { (format::time(ms)) }, None => span.meta { "–" } } }
                            td { ul.fires { @for f in fires { li {
                                span.meta title=(format::time(f.fired_ms)) { (format::ago(f.fired_ms)) } " "
                                (cause_text(&f.cause)) " → "
                                @match &f.run_id {
                                    Some(id) => a href=(format!("/pipelines/runs/{}", enc(id))) { "run " code { (&id[..id.len().min(8)]) } },
                                    None => span.meta { "skipped: " (f.reason.as_deref().unwrap_or_default()) },
                                }
                            } } } }
                        }
                    }
                } }
            }
        }
        section #pipeline-runs {
            h2 { "Runs" }
            @if runs.is_empty() { p.empty { "No pipeline run yet. Run one with " code { "cairn run" } " (or " code { "cairn ci" } ") against this server." } }
            @else {
                table.list { thead { tr { th { "Run" } th { "Pipeline" } th { "Status" } th { "Stages" } th { "Gates" } th { "Promoted" } th { "Cause" } th { "Started" } th.num { "Duration" } } } tbody {
                    @for r in &runs { tr {
                        td { a href=(format!("/pipelines/runs/{}", enc(&r.run_id))) { code { (&r.run_id[..r.run_id.len().min(8)]) } } }
                        td { (r.pipeline) }
                        td { (status(r)) }
                        td { (stage_summary(r)) }
                        td { (gate_summary(r)) }
                        td { (promotion(r)) }
                        td { (cause(r)) }
                        td title=(format::time(r.started_ms)) { (format::ago(r.started_ms)) }
                        td.num { (duration(r)) }
                    } }
                } }
            }
        }
    };
    Ok(Page {
        title: "Pipelines".into(),
        section: "Pipelines",
        scripts: &[],
        body,
    })
}

/// Each stage's depth in the DAG: 0 for a stage that needs none.
fn depths(dag: &[Value]) -> HashMap<String, usize> {
    let mut depth: HashMap<String, usize> = HashMap::new();
    // The DAG is in file order, which may put a stage before what it needs: settle by repetition.
    for _ in 0..dag.len() {
        for s in dag {
            let name = s["name"].as_str().unwrap_or_default().to_owned();
            let d = s["needs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str())
                .map(|n| depth.get(n).map_or(1, |d| d + 1))
                .max()
                .unwrap_or(0);
            depth.insert(name, d);
        }
    }
    depth
}

pub async fn run(
    State(ui): State<WebUi>,
    Path(run_id): Path<String>,
) -> PageResult<impl IntoResponse> {
    let r = ui.pipelines.get_run(&run_id).await?;
    let dag: Vec<Value> = r.dag.as_array().cloned().unwrap_or_default();
    let results: HashMap<String, Value> = stages(&r)
        .into_iter()
        .map(|s| (s["name"].as_str().unwrap_or_default().to_owned(), s))
        .collect();
    let depth = depths(&dag);
    let columns = depth.values().copied().max().map_or(0, |m| m + 1);
    // The stage runs' own times, for the timeline.
    let mut times: Vec<(String, String, i64, i64)> = Vec::new();
    for (name, s) in &results {
        if let Some(id) = s["run_id"].as_str()
            && let Ok(run) = ui.tracking.get_run(id).await
            && let Some(start) = run.info.start_time
        {
            let end = run.info.end_time.unwrap_or(start);
            times.push((name.clone(), id.to_owned(), start, end));
        }
    }
    times.sort_by_key(|t| t.2);
    let t0 = times
        .first()
        .map_or(r.started_ms, |t| t.2.min(r.started_ms));
    let t1 = times
        .iter()
        .map(|t| t.3)
        .max()
        .unwrap_or(t0)
        .max(r.ended_ms.unwrap_or(t0))
        .max(t0 + 1);
    let pct = |ms: i64| (ms - t0) as f64 * 100.0 / (t1 - t0) as f64;
    let stage_link = |name: &str| -> Option<String> {
        results[name]["run_id"]
            .as_str()
            .map(|id| format!("/experiments/{}/runs/{id}", enc(&r.experiment_id)))
    };
    let body = html! {
        (crumbs(&[("Pipelines", "/pipelines".into())], &format!("{} · run {}", r.pipeline, &r.run_id[..r.run_id.len().min(8)])))
        dl.header #pipeline-run-header {
            dt { "Status" } dd { (status(&r)) }
            dt { "Pipeline" } dd { (r.pipeline) @if let Some(v) = r.pipeline_version { " v" (v) } }
            dt { "MLflow run" } dd { a href=(format!("/experiments/{}/runs/{}", enc(&r.experiment_id), enc(&r.run_id))) { code { (r.run_id) } } }
            dt { "Executor" } dd { (r.executor) }
            dt { "Cause" } dd { code { (r.cause) } }
            dt { "Started" } dd { (format::time(r.started_ms)) " by " (r.actor) }
            dt { "Duration" } dd { (duration(&r)) }
            dt { "Promoted" } dd { (promotion(&r)) }
        }
        section #dag {
            h2 { "Stages" }
            div.dag {
                @for col in 0..columns { div.dag-col {
                    @for s in dag.iter().filter(|s| depth.get(s["name"].as_str().unwrap_or_default()) == Some(&col)) {
                        @let name = s["name"].as_str().unwrap_or_default();
                        @let res = results.get(name);
                        @let st = res.and_then(|x| x["status"].as_str()).unwrap_or(if r.ended_ms.is_some() { "not run" } else { "pending" });
                        div class=(format!("stage {}", st.replace(' ', "-"))) data-stage=(name) {
                            div.stage-name { @if let Some(href) = res.and_then(|_| stage_link(name)) { a href=(href) { (name) } } @else { (name) } }
                            div.stage-status { (st) @if let Some(ms) = res.and_then(|x| x["duration_ms"].as_i64()) { " · " (format::duration(ms)) } }
                            @if let Some(why) = res.and_then(|x| x["reason"].as_str()).filter(|w| !w.is_empty()) { div.meta.stage-reason { (why) } }
                            @let needs: Vec<&str> = s["needs"].as_array().into_iter().flatten().filter_map(|n| n.as_str()).collect();
                            @if !needs.is_empty() { div.meta { "needs " (needs.join(", ")) } }
                            @if let Some(id) = res.and_then(|x| x["run_id"].as_str()) {
                                div { a.log href=(format!("/experiments/{}/runs/{id}/artifacts?path=&file=stage.log", enc(&r.experiment_id))) { "log" } }
                            }
                        }
                    }
                } }
            }
        }
        @if !times.is_empty() {
            section #timeline {
                h2 { "Timeline" }
                div.timeline { @for (name, _, start, end) in &times {
                    // SVG attributes, not inline styles: the UI runs under a CSP without 'unsafe-inline'.
                    div.tl-row { span.tl-name { (name) } svg.tl-track role="img" aria-label=(format!("{name}: {}", format::duration(end - start))) {
                        rect class=(format!("tl-bar {}", results[name]["status"].as_str().unwrap_or(""))) x=(format!("{:.2}%", pct(*start))) y="0" height="14" width=(format!("{:.2}%", (pct(*end) - pct(*start)).max(0.5))) rx="3" {
                            title { (format::duration(end - start)) }
                        }
                    } }
                } }
                p.meta { "From the stage runs' start and end times; the whole bar is " (format::duration(t1 - t0)) "." }
            }
        }
        section #gates {
            h2 { "Gates" }
            @let g = gates(&r);
            @if g.is_empty() { p.empty { @if r.ended_ms.is_some() { "No gate was evaluated (none defined, or a stage failed first)." } @else { "Evaluated when every stage has succeeded." } } }
            @else {
                table.list { thead { tr { th { "" } th { "Gate" } th.num { "Candidate" } th.num { "Baseline" } th.num { "Threshold" } } } tbody {
                    @for x in &g { tr class=(if x["passed"] == true { "gate passed" } else { "gate failed" }) {
                        td { @if x["passed"] == true { span.status.finished { "✓" } } @else { span.status.failed { "✗" } } }
                        td { (x["name"].as_str().unwrap_or_default()) }
                        td.num { (num(&x["observed"])) } td.num { (num(&x["baseline"])) } td.num { (num(&x["threshold"])) }
                    } }
                } }
            }
        }
    };
    Ok(Page {
        title: format!("{} run", r.pipeline),
        section: "Pipelines",
        scripts: &[],
        body,
    })
}

fn num(v: &Value) -> String {
    v.as_f64().map_or_else(|| "–".into(), format::number)
}

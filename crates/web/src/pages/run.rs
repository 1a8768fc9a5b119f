//! One run: header (status, duration, user, source, parent and children), params, metrics (a page of
//! keys at a time, each with a sparkline and a chart card mounted when scrolled into view), tags,
//! description, datasets with digests, logged models, registered versions, and a link to its artifacts.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use cairn_domain::Run;
use cairn_service::{LoggedModelSearch, RegistrySearch, RunSearch};
use maud::{Markup, html};
use serde::Deserialize;

use super::enc;
use super::runs::PARENT_TAG;
use crate::WebUi;
use crate::error::{PageQuery, PageResult};
use crate::format;
use crate::layout::{Page, crumbs};

/// Metric keys shown per page: a run may log thousands.
const KEYS_PER_PAGE: usize = 100;

#[derive(Debug, Default, Deserialize)]
pub struct RunQuery {
    /// Part of a metric key.
    #[serde(default)]
    metric: String,
    #[serde(default)]
    mpage: usize,
}

/// `/runs/{id}` (MLflow's `#/runs/…` links): the run's page under its experiment.
pub async fn by_id(State(ui): State<WebUi>, Path(run): Path<String>) -> PageResult<Redirect> {
    let r = ui.tracking.get_run(&run).await?;
    Ok(Redirect::to(&format!(
        "/experiments/{}/runs/{}",
        r.info.experiment_id.0,
        r.info.run_id.as_str()
    )))
}

pub async fn page(
    State(ui): State<WebUi>,
    Path((experiment_id, run_id)): Path<(String, String)>,
    PageQuery(q): PageQuery<RunQuery>,
) -> PageResult<impl IntoResponse> {
    let run = ui.tracking.get_run(&run_id).await?;
    let experiment = ui
        .tracking
        .get_experiment(&run.info.experiment_id.0.to_string())
        .await?;
    if experiment_id != run.info.experiment_id.0.to_string() {
        let to = format!("/experiments/{}/runs/{}", run.info.experiment_id.0, run_id);
        return Ok(Redirect::to(&to).into_response());
    }
    let children = ui
        .tracking
        .search_runs(RunSearch {
            experiment_ids: vec![experiment_id.clone()],
            filter: format!("tags.`{PARENT_TAG}` = '{}'", run.info.run_id.as_str()),
            max_results: Some(100),
            ..RunSearch::default()
        })
        .await?
        .items;
    let versions = ui
        .registry
        .search_model_versions(RegistrySearch {
            filter: format!("run_id = '{}'", run.info.run_id.as_str()),
            max_results: Some(100),
            ..RegistrySearch::default()
        })
        .await?
        .items;
    let models = ui
        .tracking
        .search_logged_models(LoggedModelSearch {
            experiment_ids: vec![experiment_id.clone()],
            filter: format!("source_run_id = '{}'", run.info.run_id.as_str()),
            max_results: Some(100),
            order_by: vec![],
            page_token: None,
        })
        .await?
        .items;
    let tag = |k: &str| {
        run.data
            .tags
            .iter()
            .find(|t| t.key == k)
            .map(|t| t.value.as_str())
    };
    let base = format!("/experiments/{experiment_id}/runs/{run_id}");
    let name = if run.info.run_name.is_empty() {
        run_id.clone()
    } else {
        run.info.run_name.clone()
    };
    let body = html! {
        (crumbs(&[("Experiments", "/experiments".into()), (&experiment.name, format!("/experiments/{experiment_id}"))], &name))
        dl.header #run-header {
            dt { "Run ID" } dd { code { (run_id) } }
            dt { "Status" } dd { span class=(format!("status {}", run.info.status.as_str().to_lowercase())) { (run.info.status.as_str()) } }
            @if let Some(start) = run.info.start_time {
                dt { "Started" } dd { (format::time(start)) }
                @if let Some(end) = run.info.end_time { dt { "Duration" } dd { (format::duration(end - start)) } }
            }
            dt { "User" } dd { (run.info.user_id) }
            @if let Some(src) = tag("mlflow.source.name") { dt { "Source" } dd { code { (src) } } }
            @if let Some(commit) = tag("mlflow.source.git.commit") { dt { "Commit" } dd { code { (commit) } } }
            @if let Some(parent) = tag(PARENT_TAG) { dt { "Parent" } dd { a href=(format!("/runs/{parent}")) { code { (parent) } } } }
            dt { "Lifecycle" } dd { (run.info.lifecycle_stage.as_str()) }
            dt { "Artifacts" } dd { a href=(format!("{base}/artifacts")) { "Browse artifacts" } }
        }
        @if let Some(note) = tag("mlflow.note.content") {
            section #description { h2 { "Description" } p.note { (note) } }
        }
        @if !children.is_empty() {
            section #children { h2 { "Child runs" } ul { @for c in &children {
                li { a href=(format!("/experiments/{experiment_id}/runs/{}", c.info.run_id.as_str())) { (label(c)) } }
            } } }
        }
        section #params {
            h2 { "Parameters (" (run.data.params.len()) ")" }
            @if run.data.params.is_empty() { p.empty { "No parameters." } } @else {
                table.kv { tbody { @for p in &run.data.params { tr { th { (p.key) } td { (p.value) } } } } }
            }
        }
        (metrics(&run, &base, &q))
        section #tags {
            h2 { "Tags" }
            @let tags: Vec<_> = run.data.tags.iter().filter(|t| !t.key.starts_with("mlflow.")).collect();
            @if tags.is_empty() { p.empty { "No tags." } } @else {
                table.kv { tbody { @for t in tags { tr { th { (t.key) } td { (t.value) } } } } }
            }
        }
        section #datasets {
            h2 { "Datasets" }
            @if run.inputs.dataset_inputs.is_empty() { p.empty { "No datasets." } } @else {
                table.list { thead { tr { th { "Name" } th { "Digest" } th { "Source" } th { "Context" } } } tbody {
                    @for d in &run.inputs.dataset_inputs { tr {
                        td { (d.dataset.name) } td { code { (d.dataset.digest) } } td { (d.dataset.source_type) }
                        td { @for t in &d.tags { (t.key) "=" (t.value) " " } }
                    } }
                } }
            }
        }
        section #logged-models {
            h2 { "Logged models" }
            @if models.is_empty() { p.empty { "No logged models." } } @else {
                ul { @for m in &models { li { (m.name) " " code { (m.model_id.as_str()) } " · " (m.status.as_str()) } } }
            }
        }
        section #registered-versions {
            h2 { "Registered versions" }
            @if versions.is_empty() { p.empty { "Not registered." } } @else {
                ul { @for v in &versions { li {
                    a href=(format!("/models/{}/versions/{}", enc(&v.name), v.version)) { (v.name) " v" (v.version) }
                    @for a in &v.aliases { " " span.chip { "@" (a) } }
                } } }
            }
        }
    };
    Ok(Page {
        title: name.clone(),
        section: "Experiments",
        scripts: &["charts.js"],
        body,
    }
    .into_response())
}

fn label(r: &Run) -> String {
    if r.info.run_name.is_empty() {
        r.info.run_id.as_str().to_owned()
    } else {
        r.info.run_name.clone()
    }
}

/// The metrics table (a page of keys, filterable) and one chart card per key on the page.
fn metrics(run: &Run, base: &str, q: &RunQuery) -> Markup {
    let needle = q.metric.to_lowercase();
    let matching: Vec<_> = run
        .data
        .metrics
        .iter()
        .filter(|m| needle.is_empty() || m.key.to_lowercase().contains(&needle))
        .collect();
    let pages = matching.len().div_ceil(KEYS_PER_PAGE).max(1);
    let page = q.mpage.min(pages - 1);
    let shown = &matching[(page * KEYS_PER_PAGE).min(matching.len())
        ..((page + 1) * KEYS_PER_PAGE).min(matching.len())];
    let run_id = run.info.run_id.as_str();
    let link = |p: usize| format!("{base}?metric={}&mpage={p}#metrics", enc(&q.metric));
    html! {
        section #metrics {
            h2 { "Metrics (" (run.data.metrics.len()) ")" }
            form.toolbar method="get" action=(base) {
                input type="search" name="metric" value=(q.metric) placeholder="Filter metric keys" aria-label="Filter metric keys";
                button type="submit" { "Filter" }
            }
            @if shown.is_empty() { p.empty { "No metrics." } } @else {
                table.list #metric-table { thead { tr { th { "Key" } th.num { "Latest" } th.num { "Step" } th { "History" } } } tbody {
                    @for m in shown { tr {
                        th { (m.key) } td.num { (format::number(m.value)) } td.num { (m.step) }
                        td { span.sparkline data-run=(run_id) data-key=(m.key) {} }
                    } }
                } }
                @if pages > 1 {
                    p.pager { "Keys " (page * KEYS_PER_PAGE + 1) "–" (page * KEYS_PER_PAGE + shown.len()) " of " (matching.len()) " "
                        @if page > 0 { a href=(link(page - 1)) { "← Previous" } " " }
                        @if page + 1 < pages { a href=(link(page + 1)) { "Next →" } }
                    }
                }
                h2 { "Charts" }
                div.chart-options {
                    label { "X axis " select.x-axis { option value="step" { "Step" } option value="time" { "Wall time" } option value="relative" { "Relative time" } } }
                    label { input.log-scale type="checkbox"; " Log scale" }
                    label { "Smoothing " input.smoothing type="range" min="0" max="0.99" step="0.01" value="0"; }
                }
                div.charts { @for m in shown {
                    figure.chart-card data-runs=(run_id) data-key=(m.key) { figcaption { (m.key) } div.chart {} }
                } }
            }
        }
    }
}

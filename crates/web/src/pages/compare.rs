//! Compare runs: a difference table of attributes, params, metrics and tags (only the rows that differ,
//! on a toggle), and parallel coordinates and a scatter of the numeric columns, drawn on canvas by
//! `parallel.js` from the values this page carries.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use cairn_domain::Run;
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::WebUi;
use crate::error::{PageQuery, PageResult, invalid};
use crate::format;
use crate::layout::{Page, json_island};
use crate::pages::enc;

#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    /// Run ids, comma-separated.
    #[serde(default)]
    runs: String,
    /// Show only the rows whose values differ.
    #[serde(default)]
    diff: bool,
}

const MAX_RUNS: usize = 1000;
/// Chart cards whose first series the page preloads: those in view on arrival.
const PRELOADED_CHARTS: usize = 2;

/// The first series request of a chart card, on the step axis, at a nominal width: about a card's
/// width on a laptop screen (the card draws it at its own).
fn first_series(ids: &[&str], key: &str) -> String {
    format!(
        "/ui/series?runs={}&key={}&width=640&x=step",
        enc(&ids.join(",")),
        enc(key)
    )
}

/// Runs drawn together in one chart card (the series endpoint's limit).
const MAX_CHART_RUNS: usize = 100;

pub async fn page(
    State(ui): State<WebUi>,
    PageQuery(q): PageQuery<CompareQuery>,
) -> PageResult<impl IntoResponse> {
    let ids: Vec<&str> = q.runs.split(',').filter(|s| !s.is_empty()).collect();
    if ids.is_empty() || ids.len() > MAX_RUNS {
        return Err(invalid(format!("choose 1 to {MAX_RUNS} runs to compare")).into());
    }
    let mut runs = Vec::with_capacity(ids.len());
    for id in &ids {
        runs.push(ui.tracking.get_run(id).await?);
    }
    let params: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.data.params.iter().map(|p| p.key.as_str()))
        .collect();
    let metrics: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.data.metrics.iter().map(|m| m.key.as_str()))
        .collect();
    let tags: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| {
            r.data
                .tags
                .iter()
                .filter(|t| !t.key.starts_with("mlflow."))
                .map(|t| t.key.as_str())
        })
        .collect();
    let param = |r: &Run, k: &str| {
        r.data
            .params
            .iter()
            .find(|p| p.key == k)
            .map(|p| p.value.clone())
    };
    let metric = |r: &Run, k: &str| r.data.metrics.iter().find(|m| m.key == k).map(|m| m.value);
    let tag = |r: &Run, k: &str| {
        r.data
            .tags
            .iter()
            .find(|t| t.key == k)
            .map(|t| t.value.clone())
    };
    let mut rows: Vec<(String, &str, Vec<String>)> = Vec::new();
    rows.push((
        "Status".into(),
        "attr",
        runs.iter()
            .map(|r| r.info.status.as_str().to_owned())
            .collect(),
    ));
    rows.push((
        "User".into(),
        "attr",
        runs.iter().map(|r| r.info.user_id.clone()).collect(),
    ));
    for k in &params {
        rows.push((
            k.to_string(),
            "param",
            runs.iter()
                .map(|r| param(r, k).unwrap_or_default())
                .collect(),
        ));
    }
    for k in &metrics {
        rows.push((
            k.to_string(),
            "metric",
            runs.iter()
                .map(|r| metric(r, k).map(format::number).unwrap_or_default())
                .collect(),
        ));
    }
    for k in &tags {
        rows.push((
            k.to_string(),
            "tag",
            runs.iter().map(|r| tag(r, k).unwrap_or_default()).collect(),
        ));
    }
    let differs = |v: &[String]| v.iter().any(|x| x != &v[0]);
    // Numeric axes for the plots: every metric, and params whose values all parse as numbers.
    let mut axes: Vec<Value> = Vec::new();
    for k in &params {
        let vals: Vec<Option<f64>> = runs
            .iter()
            .map(|r| param(r, k).and_then(|v| v.parse().ok()))
            .collect();
        if vals.iter().all(Option::is_some) {
            axes.push(json!({ "name": format!("params.{k}"), "values": vals }));
        } else {
            // Categorical: each distinct value gets a position, labelled by its value.
            let cats: BTreeSet<String> = runs.iter().filter_map(|r| param(r, k)).collect();
            let cats: Vec<String> = cats.into_iter().collect();
            let vals: Vec<Option<usize>> = runs
                .iter()
                .map(|r| param(r, k).and_then(|v| cats.iter().position(|c| *c == v)))
                .collect();
            axes.push(json!({ "name": format!("params.{k}"), "values": vals, "categories": cats }));
        }
    }
    for k in &metrics {
        let vals: Vec<Option<f64>> = runs
            .iter()
            .map(|r| metric(r, k).filter(|v| v.is_finite()))
            .collect();
        axes.push(json!({ "name": format!("metrics.{k}"), "values": vals }));
    }
    let names: Vec<String> = runs
        .iter()
        .map(|r| {
            if r.info.run_name.is_empty() {
                r.info.run_id.as_str().to_owned()
            } else {
                r.info.run_name.clone()
            }
        })
        .collect();
    let toggle = format!("/compare?runs={}&diff={}", q.runs, !q.diff);
    let body = html! {
        h1 { "Compare " (runs.len()) " runs" }
        p { a #diff-toggle href=(toggle) { @if q.diff { "Show all rows" } @else { "Show only differences" } } }
        div.scroll { table.list #compare-table {
            thead { tr { th { "" } @for (r, n) in runs.iter().zip(&names) {
                th { a href=(format!("/experiments/{}/runs/{}", r.info.experiment_id.0, r.info.run_id.as_str())) { (n) } }
            } } }
            tbody { @for (key, kind, vals) in &rows {
                @if !q.diff || differs(vals) {
                    tr class=(if differs(vals) { "differs" } else { "" }) data-kind=(kind) {
                        th { span.kind { (kind) } " " (key) }
                        @for v in vals { td { (v) } }
                    }
                }
            } }
        } }
        @if runs.len() <= MAX_CHART_RUNS && !metrics.is_empty() {
            h2 { "Charts" }
            div.chart-options {
                label { "X axis " select.x-axis { option value="step" { "Step" } option value="time" { "Wall time" } option value="relative" { "Relative time" } } }
                label { input.log-scale type="checkbox"; " Log scale" }
                label { "Smoothing " input.smoothing type="range" min="0" max="0.99" step="0.01" value="0"; }
            }
            div.charts { @for k in &metrics {
                figure.chart-card data-runs=(ids.join(",")) data-key=(k) data-series=(first_series(&ids, k)) {
                    figcaption { (k) } div.chart {}
                }
            } }
        }
        h2 { "Parallel coordinates" }
        canvas #parallel width="1000" height="360" aria-label="Parallel coordinates of the compared runs" {}
        h2 { "Scatter" }
        div.toolbar { label { "X " select #scatter-x {} } label { "Y " select #scatter-y {} } }
        canvas #scatter width="600" height="400" aria-label="Scatter of two columns" {}
        (json_island("compare-data", &json!({ "runs": names, "axes": axes })))
    };
    // The first cards' series are fetched while the page and its scripts load: a preload of the very
    // URL charts.js asks first, in a `Link` header so that the browser starts it with the response
    // headers, before parsing anything and ahead of the stylesheets and scripts.
    let preload: Vec<String> = if runs.len() <= MAX_CHART_RUNS {
        metrics
            .iter()
            .take(PRELOADED_CHARTS)
            .map(|k| {
                format!(
                    "<{}>; rel=preload; as=fetch; crossorigin",
                    first_series(&ids, k)
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let page = Page {
        title: "Compare runs".into(),
        section: "Experiments",
        scripts: &["parallel.js", "charts.js"],
        body,
    };
    let link = (!preload.is_empty())
        .then(|| HeaderValue::from_str(&preload.join(", ")).ok())
        .flatten();
    Ok((link.map(|v| [(header::LINK, v)]), page))
}

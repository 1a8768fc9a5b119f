//! Monitoring: the monitors with their latest verdict and the recent alerts; one monitor's snapshot
//! timeline (drift share, per-column scores, quality, performance) and alerts; a column's drill-down with
//! its reference vs current histogram (drawn on the server from the snapshot's pre-binned counts).

use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use cairn_domain::monitor::{Alert, Monitor, Snapshot, Window, format_duration};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::Value;

use super::enc;
use crate::WebUi;
use crate::error::PageResult;
use crate::format;
use crate::layout::{Page, crumbs};

/// Snapshots a monitor's timeline shows.
const TIMELINE: usize = 100;
/// Alerts the lists show.
const RECENT_ALERTS: usize = 50;

fn window(m: &Monitor) -> String {
    match &m.spec.window {
        Window::Duration { ms } => format!("last {}", format_duration(*ms)),
        Window::Rows { rows } => format!("last {rows} rows"),
    }
}

fn value(s: &Snapshot, key: &str) -> Option<f64> {
    s.values.get(key).copied()
}

/// `drift 3/4` in red, or `no drift` in green.
fn verdict(s: &Snapshot) -> Markup {
    let drifted = value(s, "dataset.drifted") == Some(1.0);
    let cols = value(s, "dataset.columns").unwrap_or(0.0);
    let bad = value(s, "dataset.drifted_columns").unwrap_or(0.0);
    html! {
        @if drifted { span.status.failed { "drift " (bad) "/" (cols) } }
        @else { span.status.finished { "no drift" } span.meta { " (" (bad) "/" (cols) ")" } }
    }
}

fn alert_rows(alerts: &[Alert], with_monitor: bool) -> Markup {
    html! {
        table.list { thead { tr {
            th { "Alert" } @if with_monitor { th { "Monitor" } } th { "Rule" } th { "Condition" } th.num { "Value" } th { "Snapshot" } th { "Fired" }
        } } tbody { @for a in alerts { tr {
            td { (a.id) }
            @if with_monitor { td { a href=(format!("/monitors/{}", enc(&a.monitor))) { (a.monitor) } } }
            td { (a.rule) } td { code { (a.condition) } } td.num { (format::number(a.value)) }
            td { (a.snapshot_id) }
            td title=(format::time(a.fired_ms)) { (format::ago(a.fired_ms)) }
        } } } }
    }
}

pub async fn list(State(ui): State<WebUi>) -> PageResult<impl IntoResponse> {
    let monitors = ui.monitors.list().await?;
    let alerts = ui.monitors.alerts(None, Some(RECENT_ALERTS)).await?;
    let mut latest = Vec::with_capacity(monitors.len());
    for m in &monitors {
        latest.push(ui.monitors.snapshots(&m.name, Some(1), None).await?.pop());
    }
    let body = html! {
        h1 { "Monitors" }
        section #monitors {
            @if monitors.is_empty() {
                p.empty { "No monitor. Watch a deployment with " code { "cairn monitor create NAME --deployment D --reference training.csv" } "." }
            } @else {
                table.list { thead { tr {
                    th { "Monitor" } th { "Deployment" } th { "Window" } th { "Schedule" } th.num { "Rules" }
                    th { "Latest" } th.num { "Rows" } th.num { "Drift share" } th { "Verdict" }
                } } tbody { @for (m, s) in monitors.iter().zip(&latest) { tr {
                    td { a href=(format!("/monitors/{}", enc(&m.name))) { (m.name) } }
                    td { a href=(format!("/deployments/{}", enc(&m.spec.deployment))) { (m.spec.deployment) } }
                    td { (window(m)) }
                    td { @if let Some(c) = &m.spec.schedule { code { (c) } } @else { span.meta { "by hand" } } }
                    td.num { (m.spec.rules.len()) }
                    @if let Some(s) = s {
                        td title=(format::time(s.taken_ms)) { (format::ago(s.taken_ms)) }
                        td.num { (s.rows) }
                        td.num { (value(s, "dataset.share").map(format::number).unwrap_or_default()) }
                        td { (verdict(s)) }
                    } @else {
                        td colspan="4" { span.meta { "not evaluated yet" } }
                    }
                } } } }
            }
        }
        section #alerts {
            h2 { "Recent alerts" }
            @if alerts.is_empty() { p.empty { "No alert has fired." } } @else { (alert_rows(&alerts, true)) }
        }
    };
    Ok(Page {
        title: "Monitors".into(),
        section: "Monitors",
        scripts: &[],
        body,
    })
}

/// The columns of a snapshot's drift report, with their verdicts.
fn columns(report: &Value) -> Vec<&Value> {
    report["columns"].as_array().into_iter().flatten().collect()
}

/// A sparkline of `values` (oldest first) in [0, max], as inline SVG.
fn sparkline(values: &[f64], max: f64) -> Markup {
    let (w, h) = (360.0, 48.0);
    if values.len() < 2 {
        return html! {};
    }
    let step = w / (values.len() - 1) as f64;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let y = h - (v / max.max(1e-12)).clamp(0.0, 1.0) * (h - 4.0) - 2.0;
            format!("{:.1},{:.1}", i as f64 * step, y)
        })
        .collect();
    let svg = format!(
        "<svg class=\"sparkline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"drift share over time\"><polyline \
         fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        points.join(" ")
    );
    html! { (PreEscaped(svg)) }
}

pub async fn page(
    State(ui): State<WebUi>,
    Path(name): Path<String>,
) -> PageResult<impl IntoResponse> {
    let m = ui.monitors.get(&name).await?;
    let snapshots = ui.monitors.snapshots(&name, Some(TIMELINE), None).await?;
    let alerts = ui.monitors.alerts(Some(&name), Some(RECENT_ALERTS)).await?;
    let shares: Vec<f64> = snapshots
        .iter()
        .rev()
        .filter_map(|s| value(s, "dataset.share"))
        .collect();
    let latest = snapshots.first();
    let performance = ["accuracy", "f1", "roc_auc", "mae", "rmse", "r2"];
    let shown: Vec<&str> = performance
        .iter()
        .copied()
        .filter(|k| snapshots.iter().any(|s| s.values.contains_key(*k)))
        .collect();
    let body = html! {
        (crumbs(&[("Monitors", "/monitors".into())], &name))
        p.meta {
            "Watches " a href=(format!("/deployments/{}", enc(&m.spec.deployment))) { (m.spec.deployment) }
            " · " (window(&m)) " · reference " code { (m.spec.reference.uri) }
            @if let Some(c) = &m.spec.schedule { " · schedule " code { (c) } }
            @for r in &m.spec.rules { " · rule " strong { (r.name) } " " code { (r.when) } }
        }
        @if let Some(s) = latest {
            section #latest {
                h2 { "Latest snapshot " span.meta { "#" (s.id) ", " (format::time(s.taken_ms)) ", " (s.rows) " rows" } }
                p { (verdict(s)) }
                table.list #column-scores { thead { tr {
                    th { "Column" } th { "Type" } th { "Method" } th.num { "Score" } th.num { "Threshold" } th { "Verdict" }
                    th.num { "Missing" }
                } } tbody { @for c in columns(&s.report) {
                    @let col = c["column"].as_str().unwrap_or_default();
                    @let drifted = c["drifted"] == true;
                    tr {
                        td { a href=(format!("/monitors/{}/columns/{}?snapshot={}", enc(&name), enc(col), s.id)) { (col) } }
                        td { (c["type"].as_str().unwrap_or_default()) }
                        td { (c["method"].as_str().unwrap_or_default()) }
                        td.num { (c["score"].as_f64().map(format::number).unwrap_or_else(|| "–".into())) }
                        td.num { (c["threshold"].as_f64().map(format::number).unwrap_or_default()) }
                        td { @if drifted { span.status.failed { "drift" } } @else { span.status.finished { "ok" } } }
                        td.num { (value(s, &format!("column.{col}.missing_share")).map(|x| format!("{:.1} %", x * 100.0)).unwrap_or_default()) }
                    }
                } } }
            }
        } @else {
            p.empty { "Not evaluated yet: " code { "cairn monitor run " (name) } "." }
        }
        section #timeline {
            h2 { "Timeline" }
            (sparkline(&shares, 1.0))
            @if !snapshots.is_empty() {
                table.list { thead { tr {
                    th { "Snapshot" } th { "Taken" } th.num { "Rows" } th.num { "Drift share" } th { "Verdict" }
                    th.num { "Max missing" } th.num { "New categories" }
                    @for k in &shown { th.num { (k) } }
                } } tbody { @for s in &snapshots { tr {
                    td { (s.id) }
                    td title=(format::time(s.taken_ms)) { (format::ago(s.taken_ms)) }
                    td.num { (s.rows) }
                    td.num { (value(s, "dataset.share").map(format::number).unwrap_or_default()) }
                    td { (verdict(s)) }
                    td.num { (value(s, "missing_share").map(|x| format!("{:.1} %", x * 100.0)).unwrap_or_default()) }
                    td.num { (s.values.iter().filter(|(k, v)| k.ends_with(".new_category_share") && **v > 0.0).count()) }
                    @for k in &shown { td.num { (value(s, k).map(format::number).unwrap_or_default()) } }
                } } }
                }
            }
        }
        section #monitor-alerts {
            h2 { "Alerts" }
            @if alerts.is_empty() { p.empty { "No alert has fired." } } @else { (alert_rows(&alerts, false)) }
        }
    };
    Ok(Page {
        title: format!("Monitor {name}"),
        section: "Monitors",
        scripts: &[],
        body,
    })
}

#[derive(Deserialize)]
pub struct ColumnQuery {
    snapshot: Option<i64>,
}

pub async fn column(
    State(ui): State<WebUi>,
    Path((name, column)): Path<(String, String)>,
    Query(q): Query<ColumnQuery>,
) -> PageResult<impl IntoResponse> {
    let snapshot = match q.snapshot {
        Some(id) => Some(ui.monitors.snapshot(&name, id).await?),
        None => ui.monitors.snapshots(&name, Some(1), None).await?.pop(),
    };
    let drift = snapshot.as_ref().and_then(|s| {
        columns(&s.report)
            .into_iter()
            .find(|c| c["column"] == column.as_str())
            .cloned()
    });
    let histogram = drift.as_ref().and_then(|c| {
        serde_json::from_value::<cairn_monitoring::report::Histogram>(c["histogram"].clone()).ok()
    });
    let quality = snapshot.as_ref().and_then(|s| {
        s.report["quality"]["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["column"] == column.as_str())
            .cloned()
    });
    let body = html! {
        (crumbs(&[("Monitors", "/monitors".into()), (name.as_str(), format!("/monitors/{}", enc(&name)))], &column))
        @match (&snapshot, &drift) {
            (Some(s), Some(c)) => {
                p.meta { "Snapshot #" (s.id) ", " (format::time(s.taken_ms)) ", " (s.rows) " rows" }
                p {
                    (c["method"].as_str().unwrap_or_default()) " = "
                    strong { (c["score"].as_f64().map(format::number).unwrap_or_else(|| "–".into())) }
                    " (threshold " (c["threshold"].as_f64().map(format::number).unwrap_or_default()) "): "
                    @if c["drifted"] == true { span.status.failed { "drift" } } @else { span.status.finished { "ok" } }
                }
                section #histogram {
                    h2 { "Reference vs current" }
                    p.meta { "Share of values per bin: reference in grey, current in blue." }
                    @if let Some(h) = &histogram { (PreEscaped(cairn_monitoring::html::histogram(h))) }
                }
                @if let Some(q) = &quality {
                    section #quality {
                        h2 { "Data quality" }
                        table.list { tbody {
                            @for (k, v) in q.as_object().into_iter().flatten() {
                                @if k != "column" { tr { th { (k) } td { (v.to_string()) } } }
                            }
                        } }
                    }
                }
            }
            _ => { p.empty { "No drift result for column " code { (column) } " in this monitor's snapshots." } }
        }
    };
    Ok(Page {
        title: format!("{column} · monitor {name}"),
        section: "Monitors",
        scripts: &[],
        body,
    })
}

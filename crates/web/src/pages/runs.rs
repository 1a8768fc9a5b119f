//! An experiment's runs grid: a virtual grid (`grid.js`) over every run the filter matches, a page of
//! rows at a time from `/ui/experiments/{id}/runs`, with columns for attributes, params, metrics,
//! tags, datasets and registered versions; the MLflow filter syntax (a bad filter is an inline
//! message, a 400, never a 5xx); sort on any column in the server; CSV of the whole filter, streamed.

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use cairn_domain::{Run, RunId, ViewType};
use cairn_service::{RegistrySearch, RunSearch, ServiceError};
use maud::html;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::enc;
use crate::WebUi;
use crate::error::{self, DataQuery, DataResult, PageQuery, PageResult};
use crate::layout::{Page, crumbs, json_island};

/// The parent's id, as the mlflow client tags nested runs.
pub const PARENT_TAG: &str = "mlflow.parentRunId";

#[derive(Debug, Default, Deserialize)]
pub struct GridQuery {
    #[serde(default)]
    pub filter: String,
    /// An MLflow `order_by` clause, e.g. ``metrics.`rmse` ASC``.
    #[serde(default)]
    pub order: String,
    #[serde(default)]
    pub view: String,
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub max: Option<i64>,
    /// The grid's chosen columns (`cols` in the page's URL); `min.K` and `max.K` are metric extremes.
    #[serde(default)]
    pub cols: String,
    /// `1`: send each metric's min and max too (the grid asks when such a column is shown).
    #[serde(default)]
    pub extremes: String,
}

impl GridQuery {
    fn extremes(&self) -> bool {
        self.extremes == "1"
            || self
                .cols
                .split(',')
                .any(|c| c.starts_with("min.") || c.starts_with("max."))
    }

    fn view(&self) -> ViewType {
        match self.view.as_str() {
            "deleted" => ViewType::DeletedOnly,
            "all" => ViewType::All,
            _ => ViewType::ActiveOnly,
        }
    }

    fn search(&self, experiment: &str, max: i64, page: Option<String>) -> RunSearch {
        RunSearch {
            experiment_ids: vec![experiment.to_owned()],
            filter: self.filter.clone(),
            view: self.view(),
            max_results: Some(max),
            order_by: if self.order.trim().is_empty() {
                vec![]
            } else {
                vec![self.order.clone()]
            },
            page_token: page.filter(|p| !p.is_empty()),
        }
    }
}

/// Rows a grid request returns at most.
const MAX_ROWS: i64 = 1000;
/// Rows that come with the page: a screenful and some.
const FIRST_ROWS: i64 = 50;

pub async fn grid(
    State(ui): State<WebUi>,
    Path(id): Path<String>,
    PageQuery(q): PageQuery<GridQuery>,
) -> PageResult<impl IntoResponse> {
    let experiment = ui.tracking.get_experiment(&id).await?;
    // The first rows come with the page, so they show without another round trip; a bad filter is
    // shown inline (the search is the user's, not the page's, so the page itself is still served).
    let (first, error) = match rows_of(&ui, &id, &q, FIRST_ROWS, None).await {
        Ok(rows) => (Some(rows), None),
        Err(e) if error::status(&e).is_client_error() => (None, Some(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let config = json!({
        "experiment": id,
        "filter": q.filter,
        "order": q.order,
        "view": q.view,
        "first": first,
    });
    let csv = format!(
        "/ui/experiments/{id}/runs.csv?filter={}&order={}&view={}",
        enc(&q.filter),
        enc(&q.order),
        enc(&q.view)
    );
    let body = html! {
        (crumbs(&[("Experiments", "/experiments".to_owned())], &experiment.name))
        p.meta { "Experiment " (experiment.id.0) " · " (experiment.artifact_location) }
        form.toolbar #run-filter method="get" action=(format!("/experiments/{id}")) role="search" {
            input #filter type="search" name="filter" value=(q.filter) size="60"
                placeholder="metrics.rmse < 1 and params.model = 'tree'" aria-label="Filter runs"
                aria-describedby="filter-error";
            input type="hidden" name="order" value=(q.order);
            select name="view" aria-label="Lifecycle" {
                option value="" selected[q.view.is_empty()] { "Active" }
                option value="deleted" selected[q.view == "deleted"] { "Deleted" }
                option value="all" selected[q.view == "all"] { "All" }
            }
            button type="submit" { "Search" }
            a.button href=(csv) download { "CSV" }
            a.button #compare href="/compare" aria-disabled="true" { "Compare selected" }
        }
        p.error #filter-error role="alert" hidden[error.is_none()] { (error.as_deref().unwrap_or("")) }
        details #columns {
            summary { "Columns" }
            input #column-search type="search" placeholder="Find a column" aria-label="Find a column";
            div #column-list {}
        }
        div #grid role="grid" aria-label="Runs" tabindex="0" aria-rowcount="-1" {
            div.grid-head role="row" {}
            div.grid-body {}
        }
        p.meta #grid-status aria-live="polite" {}
        (json_island("grid-config", &config))
    };
    Ok(Page {
        title: experiment.name.clone(),
        section: "Experiments",
        scripts: &["grid.js"],
        body,
    }
    .into_response())
}

/// One page of the grid: rows with every column's value, the keys seen (for the column chooser),
/// and the token of the next page.
pub async fn rows(
    State(ui): State<WebUi>,
    Path(id): Path<String>,
    DataQuery(q): DataQuery<GridQuery>,
) -> DataResult<Json<Value>> {
    let max = q.max.unwrap_or(200).clamp(1, MAX_ROWS);
    Ok(Json(rows_of(&ui, &id, &q, max, q.page.clone()).await?))
}

/// A run's metric minimums and maximums, by key.
type Extremes = (Map<String, Value>, Map<String, Value>);

async fn rows_of(
    ui: &WebUi,
    id: &str,
    q: &GridQuery,
    max: i64,
    page: Option<String>,
) -> Result<Value, ServiceError> {
    let page = ui.tracking.search_runs(q.search(id, max, page)).await?;
    let versions = registered_versions(ui, &page.items).await?;
    let mut extremes: HashMap<String, Extremes> = HashMap::new();
    if q.extremes() {
        let ids: Vec<RunId> = page.items.iter().map(|r| r.info.run_id.clone()).collect();
        for e in ui.tracking.metric_extremes(&ids).await? {
            let (min, max) = extremes.entry(e.run_id).or_default();
            min.insert(e.key.clone(), e.min.map_or(Value::Null, number));
            max.insert(e.key, e.max.map_or(Value::Null, number));
        }
    }
    let mut keys = Keys::default();
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|r| {
            keys.add(r);
            let mut v = row(r, versions.get(r.info.run_id.as_str()));
            if q.extremes() {
                let (min, max) = extremes.remove(r.info.run_id.as_str()).unwrap_or_default();
                v["min"] = Value::Object(min);
                v["max"] = Value::Object(max);
            }
            v
        })
        .collect();
    Ok(json!({
        "rows": rows,
        "next": page.next_page_token,
        "params": keys.params,
        "metrics": keys.metrics,
        "tags": keys.tags,
    }))
}

#[derive(Default)]
struct Keys {
    params: BTreeSet<String>,
    metrics: BTreeSet<String>,
    tags: BTreeSet<String>,
}

impl Keys {
    fn add(&mut self, r: &Run) {
        self.params
            .extend(r.data.params.iter().map(|p| p.key.clone()));
        self.metrics
            .extend(r.data.metrics.iter().map(|m| m.key.clone()));
        self.tags.extend(
            r.data
                .tags
                .iter()
                .filter(|t| !t.key.starts_with("mlflow."))
                .map(|t| t.key.clone()),
        );
    }
}

fn row(r: &Run, versions: Option<&Vec<String>>) -> Value {
    let tag = |k: &str| {
        r.data
            .tags
            .iter()
            .find(|t| t.key == k)
            .map(|t| t.value.clone())
    };
    json!({
        "id": r.info.run_id.as_str(),
        "name": r.info.run_name,
        "status": r.info.status.as_str(),
        "user": r.info.user_id,
        "start": r.info.start_time,
        "end": r.info.end_time,
        "parent": tag(PARENT_TAG),
        "stage": r.info.lifecycle_stage.as_str(),
        "params": r.data.params.iter().map(|p| (p.key.clone(), Value::from(p.value.clone()))).collect::<serde_json::Map<_, _>>(),
        "metrics": r.data.metrics.iter().map(|m| (m.key.clone(), number(m.value))).collect::<serde_json::Map<_, _>>(),
        "tags": r.data.tags.iter().filter(|t| !t.key.starts_with("mlflow.")).map(|t| (t.key.clone(), Value::from(t.value.clone()))).collect::<serde_json::Map<_, _>>(),
        "datasets": r.inputs.dataset_inputs.iter().map(|d| format!("{} ({})", d.dataset.name, d.dataset.digest)).collect::<Vec<_>>(),
        "versions": versions.cloned().unwrap_or_default(),
    })
}

/// JSON has no NaN or infinities: they travel as strings.
fn number(v: f64) -> Value {
    if v.is_finite() {
        Value::from(v)
    } else {
        Value::from(crate::format::number(v))
    }
}

/// `name/version` of the versions registered from each run, in one registry search per page.
async fn registered_versions(
    ui: &WebUi,
    runs: &[Run],
) -> Result<HashMap<String, Vec<String>>, ServiceError> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    // The registry's filter grammar takes lists of ids; keep each request's filter short.
    for chunk in runs.chunks(100) {
        let ids: Vec<String> = chunk
            .iter()
            .map(|r| format!("'{}'", r.info.run_id.as_str()))
            .collect();
        let mut token = None;
        loop {
            let page = ui
                .registry
                .search_model_versions(RegistrySearch {
                    filter: format!("run_id IN ({})", ids.join(", ")),
                    max_results: Some(1000),
                    order_by: vec![],
                    page_token: token,
                })
                .await?;
            for v in page.items {
                if let Some(run) = v.run_id {
                    out.entry(run)
                        .or_default()
                        .push(format!("{}/{}", v.name, v.version));
                }
            }
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
    }
    Ok(out)
}

/// The whole filter as CSV, a page at a time as it is read (never the whole result in memory).
pub async fn csv(
    State(ui): State<WebUi>,
    Path(id): Path<String>,
    DataQuery(q): DataQuery<GridQuery>,
) -> DataResult<Response> {
    // The first page runs before the response starts, so that a bad filter is a 400, not a cut stream.
    let first = ui
        .tracking
        .search_runs(q.search(&id, MAX_ROWS, None))
        .await?;
    let mut columns = Keys::default();
    first.items.iter().for_each(|r| columns.add(r));
    let params: Vec<String> = columns.params.into_iter().collect();
    let metrics: Vec<String> = columns.metrics.into_iter().collect();
    let mut header_line = vec!["run_id", "name", "status", "user", "start_time", "end_time"]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    header_line.extend(params.iter().map(|p| format!("params.{p}")));
    header_line.extend(metrics.iter().map(|m| format!("metrics.{m}")));
    let head = csv_line(&header_line);
    let state = (Some(first), ui, id, q, params, metrics, Some(head));
    let stream = futures::stream::unfold(
        state,
        |(page, ui, id, q, params, metrics, head)| async move {
            if let Some(h) = head {
                return Some((
                    Ok::<_, std::io::Error>(h),
                    (page, ui, id, q, params, metrics, None),
                ));
            }
            let page = page?;
            let mut chunk = String::new();
            for r in &page.items {
                let mut cells = vec![
                    r.info.run_id.as_str().to_owned(),
                    r.info.run_name.clone(),
                    r.info.status.as_str().to_owned(),
                    r.info.user_id.clone(),
                    r.info.start_time.map(|t| t.to_string()).unwrap_or_default(),
                    r.info.end_time.map(|t| t.to_string()).unwrap_or_default(),
                ];
                cells.extend(params.iter().map(|k| {
                    r.data
                        .params
                        .iter()
                        .find(|p| &p.key == k)
                        .map(|p| p.value.clone())
                        .unwrap_or_default()
                }));
                cells.extend(metrics.iter().map(|k| {
                    r.data
                        .metrics
                        .iter()
                        .find(|m| &m.key == k)
                        .map(|m| m.value.to_string())
                        .unwrap_or_default()
                }));
                chunk.push_str(&csv_line(&cells));
            }
            let next = match page.next_page_token {
                Some(t) => match ui
                    .tracking
                    .search_runs(q.search(&id, MAX_ROWS, Some(t)))
                    .await
                {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::warn!(error = %e, "CSV export stopped");
                        None
                    }
                },
                None => None,
            };
            Some((Ok(chunk), (next, ui, id, q, params, metrics, None)))
        },
    );
    let mut r = Body::from_stream(stream).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"runs.csv\""),
    );
    Ok(r)
}

/// One CSV record (RFC 4180 quoting), ending in CRLF.
fn csv_line(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect();
    format!("{}\r\n", quoted.join(","))
}

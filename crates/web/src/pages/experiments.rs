//! Experiments: name, run count, last activity, tags; search, sort, paging; create, rename, delete,
//! restore. The home page (`/`) too, where the mlflow client's `#/experiments/…` links land (app.js
//! turns the fragment into the page's path).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use cairn_domain::ViewType;
use cairn_service::ExperimentSearch;
use maud::html;
use serde::Deserialize;

use super::{enc, see};
use crate::WebUi;
use crate::error::{PageForm, PageQuery, PageResult};
use crate::format;
use crate::layout::Page;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Part of the name (case-insensitive).
    #[serde(default)]
    q: String,
    /// `name`, `created` or `updated` (default), optionally with ` asc`/` desc`.
    #[serde(default)]
    sort: String,
    #[serde(default)]
    view: String,
    #[serde(default)]
    page: Option<String>,
}

const PAGE_SIZE: i64 = 100;

pub async fn list(
    State(ui): State<WebUi>,
    PageQuery(q): PageQuery<ListQuery>,
) -> PageResult<impl IntoResponse> {
    let view = match q.view.as_str() {
        "deleted" => ViewType::DeletedOnly,
        "all" => ViewType::All,
        _ => ViewType::ActiveOnly,
    };
    let filter = if q.q.is_empty() {
        String::new()
    } else {
        format!("name ILIKE '%{}%'", q.q.replace('\'', ""))
    };
    let order = match q.sort.as_str() {
        "name" => "name ASC",
        "created" => "creation_time DESC",
        _ => "last_update_time DESC",
    };
    let page = ui
        .tracking
        .search_experiments(ExperimentSearch {
            filter,
            max_results: Some(PAGE_SIZE),
            order_by: vec![order.into()],
            page_token: q.page.clone().filter(|p| !p.is_empty()),
            view,
        })
        .await?;
    let ids: Vec<_> = page.items.iter().map(|e| e.id).collect();
    let activity: HashMap<_, _> = ui
        .tracking
        .run_activity(&ids)
        .await?
        .into_iter()
        .map(|a| (a.experiment, a))
        .collect();
    let link = |sort: &str, page: Option<&str>| {
        let mut s = format!(
            "/experiments?q={}&sort={sort}&view={}",
            enc(&q.q),
            enc(&q.view)
        );
        if let Some(p) = page {
            s.push_str(&format!("&page={}", enc(p)));
        }
        s
    };
    let body = html! {
        h1 { "Experiments" }
        form.toolbar method="get" action="/experiments" role="search" {
            input type="search" name="q" value=(q.q) placeholder="Search by name" aria-label="Search experiments";
            select name="view" aria-label="Lifecycle" {
                option value="" selected[view == ViewType::ActiveOnly] { "Active" }
                option value="deleted" selected[view == ViewType::DeletedOnly] { "Deleted" }
                option value="all" selected[view == ViewType::All] { "All" }
            }
            input type="hidden" name="sort" value=(q.sort);
            button type="submit" { "Search" }
        }
        table.list #experiments {
            thead { tr {
                th { a href=(link("name", None)) { "Name" } }
                th.num { "Runs" }
                th { a href=(link("updated", None)) { "Last activity" } }
                th { a href=(link("created", None)) { "Created" } }
                th { "Tags" }
                th { "" }
            } }
            tbody {
                @for e in &page.items {
                    @let act = activity.get(&e.id);
                    @let last = act.and_then(|a| a.last_ms).unwrap_or(0).max(e.last_update_time);
                    tr data-experiment=(e.id.0) {
                        td { a href=(format!("/experiments/{}", e.id.0)) { (e.name) } }
                        td.num { (act.map(|a| a.runs).unwrap_or(0)) }
                        td title=(format::time(last)) { (format::ago(last)) }
                        td { (format::time(e.creation_time)) }
                        td { @for t in e.tags.iter().filter(|t| !t.key.starts_with("mlflow.")) { span.chip { (t.key) "=" (t.value) } " " } }
                        td.actions {
                            @if e.lifecycle_stage == cairn_domain::LifecycleStage::Active {
                                details.inline {
                                    summary { "Rename" }
                                    form method="post" action=(format!("/experiments/{}/rename", e.id.0)) {
                                        input name="name" value=(e.name) aria-label="New name" required;
                                        button type="submit" { "Save" }
                                    }
                                }
                                @if e.id.0 != 0 {
                                    form.inline method="post" action=(format!("/experiments/{}/delete", e.id.0)) {
                                        button.danger type="submit" { "Delete" }
                                    }
                                }
                            } @else {
                                form.inline method="post" action=(format!("/experiments/{}/restore", e.id.0)) {
                                    button type="submit" { "Restore" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if page.items.is_empty() { p.empty { "No experiments match." } }
        @if let Some(next) = &page.next_page_token {
            p { a.next href=(link(&q.sort, Some(next))) { "Next page →" } }
        }
        details.create {
            summary { "New experiment" }
            form method="post" action="/experiments" {
                input name="name" placeholder="Experiment name" aria-label="Experiment name" required;
                button type="submit" { "Create" }
            }
        }
    };
    Ok(Page {
        title: "Experiments".into(),
        section: "Experiments",
        scripts: &[],
        body,
    })
}

#[derive(Debug, Deserialize)]
pub struct NameForm {
    name: String,
}

pub async fn create(
    State(ui): State<WebUi>,
    PageForm(f): PageForm<NameForm>,
) -> PageResult<Redirect> {
    let id = ui.tracking.create_experiment(&f.name, None, vec![]).await?;
    Ok(see(&format!("/experiments/{id}")))
}

pub async fn rename(
    State(ui): State<WebUi>,
    Path(id): Path<String>,
    PageForm(f): PageForm<NameForm>,
) -> PageResult<Redirect> {
    ui.tracking.rename_experiment(&id, &f.name).await?;
    Ok(see("/experiments"))
}

pub async fn delete(State(ui): State<WebUi>, Path(id): Path<String>) -> PageResult<Redirect> {
    ui.tracking.delete_experiment(&id).await?;
    Ok(see("/experiments?view=deleted"))
}

pub async fn restore(State(ui): State<WebUi>, Path(id): Path<String>) -> PageResult<Redirect> {
    ui.tracking.restore_experiment(&id).await?;
    Ok(see("/experiments"))
}

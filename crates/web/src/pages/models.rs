//! Registered models: the list (with each model's maturity level), one model (versions with aliases
//! and tags, the alias timeline from the change history, the deployments following each alias, the
//! tracker's rungs), and one version.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use cairn_domain::deployment::{Deployment, Target};
use cairn_domain::{EventKind, RegistryEvent};
use cairn_service::{HistoryRequest, RegistrySearch};
use maud::{Markup, html};
use serde::Deserialize;

use super::enc;
use super::maturity::{badge, rungs};
use crate::WebUi;
use crate::error::{PageQuery, PageResult};
use crate::format;
use crate::layout::{Page, crumbs};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<String>,
}

pub async fn list(
    State(ui): State<WebUi>,
    PageQuery(q): PageQuery<ListQuery>,
) -> PageResult<impl IntoResponse> {
    let filter = if q.q.is_empty() {
        String::new()
    } else {
        format!("name ILIKE '%{}%'", q.q.replace('\'', ""))
    };
    let page = ui
        .registry
        .search_registered_models(RegistrySearch {
            filter,
            max_results: Some(100),
            order_by: vec!["name ASC".into()],
            page_token: q.page.clone().filter(|p| !p.is_empty()),
        })
        .await?;
    let levels: HashMap<String, u8> = ui
        .maturity
        .overview()
        .await?
        .models
        .into_iter()
        .map(|m| (m.model, m.level))
        .collect();
    let body = html! {
        h1 { "Models" }
        form.toolbar method="get" action="/models" role="search" {
            input type="search" name="q" value=(q.q) placeholder="Search models" aria-label="Search models";
            button type="submit" { "Search" }
        }
        table.list #models { thead { tr { th { "Name" } th { "Level" } th { "Latest version" } th { "Aliases" } th { "Last change" } } } tbody {
            @for m in &page.items { tr {
                td { a href=(format!("/models/{}", enc(&m.name))) { (m.name) } }
                td { (badge(levels.get(&m.name).copied().unwrap_or(0))) }
                td { (m.latest_versions.iter().map(|v| v.version).max().map(|v| format!("v{v}")).unwrap_or_default()) }
                td { @for a in &m.aliases { span.chip { "@" (a.alias) " → v" (a.version) } " " } }
                td title=(format::time(m.last_updated_timestamp)) { (format::ago(m.last_updated_timestamp)) }
            } }
        } }
        @if page.items.is_empty() { p.empty { "No registered models." } }
        @if let Some(next) = &page.next_page_token { p { a href=(format!("/models?q={}&page={}", enc(&q.q), enc(next))) { "Next page →" } } }
    };
    Ok(Page {
        title: "Models".into(),
        section: "Models",
        scripts: &[],
        body,
    })
}

pub async fn model(
    State(ui): State<WebUi>,
    Path(name): Path<String>,
) -> PageResult<impl IntoResponse> {
    let model = ui.registry.get_registered_model(&name).await?;
    let versions = ui
        .registry
        .search_model_versions(RegistrySearch {
            filter: format!("name = '{}'", name.replace('\'', "\\'")),
            max_results: Some(200),
            order_by: vec!["version_number DESC".into()],
            page_token: None,
        })
        .await?;
    let history = all_history(&ui, &name).await?;
    let deployments: Vec<Deployment> = ui
        .deployments
        .list()
        .await?
        .into_iter()
        .filter(|d| d.state.spec.model.name == name || d.state.serving.primary.name == name)
        .collect();
    let (maturity, reached) = ui.maturity.model(&name).await?;
    let moves: Vec<&RegistryEvent> = history
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::AliasSet | EventKind::AliasMoved | EventKind::AliasDeleted
            )
        })
        .collect();
    let training_loop = super::training_loop::section(&ui, &name, &deployments).await?;
    let body = html! {
        (crumbs(&[("Models", "/models".into())], &name))
        p { (badge(maturity.level)) " " a href="/maturity" { "maturity tracker" } }
        @if let Some(d) = &model.description { p.note { (d) } }
        section #aliases {
            h2 { "Aliases" }
            @if model.aliases.is_empty() { p.empty { "No aliases." } }
            ul { @for a in &model.aliases {
                li { span.chip { "@" (a.alias) } " → " a href=(format!("/models/{}/versions/{}", enc(&name), a.version)) { "v" (a.version) }
                    @let following: Vec<_> = deployments.iter().filter(|d| matches!(&d.state.spec.model.target, Target::Alias(x) if *x == a.alias)).collect();
                    @for d in following { " · deployed by " a href=(format!("/deployments/{}", enc(&d.name))) { (d.name) } }
                }
            } }
        }
        section #alias-timeline {
            h2 { "Alias timeline" }
            @if moves.is_empty() { p.empty { "No alias has been set yet." } }
            ol.timeline { @for e in &moves { li data-seq=(e.seq) { (timeline_entry(e)) } } }
        }
        section #versions {
            h2 { "Versions" }
            table.list { thead { tr { th { "Version" } th { "Aliases" } th { "Stage" } th { "Run" } th { "Created" } th { "Tags" } } } tbody {
                @for v in &versions.items { tr {
                    td { a href=(format!("/models/{}/versions/{}", enc(&name), v.version)) { "v" (v.version) } }
                    td { @for a in &v.aliases { span.chip { "@" (a) } " " } }
                    td { (v.current_stage.as_str()) }
                    td { @if let Some(r) = &v.run_id { a href=(format!("/runs/{r}")) { code { (&r[..8.min(r.len())]) } } } }
                    td { (format::time(v.creation_timestamp)) }
                    td { @for t in &v.tags { span.chip { (t.key) "=" (t.value) } " " } }
                } }
            } }
        }
        section #deployments {
            h2 { "Deployments" }
            @if deployments.is_empty() { p.empty { "Not deployed." } }
            ul { @for d in &deployments { li {
                a href=(format!("/deployments/{}", enc(&d.name))) { (d.name) } " follows " code { (d.state.spec.model.uri()) }
                " · serving v" (d.state.serving.primary.version)
            } } }
        }
        (training_loop)
        section #maturity { h2 { "Maturity" } (rungs(&maturity, &reached)) }
    };
    Ok(Page {
        title: name.clone(),
        section: "Models",
        scripts: &[],
        body,
    })
}

/// The model's whole change history, oldest first.
async fn all_history(ui: &WebUi, name: &str) -> PageResult<Vec<RegistryEvent>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = ui
            .registry
            .history(
                name,
                HistoryRequest {
                    max_results: Some(1000),
                    page_token: token,
                },
            )
            .await?;
        let done = page.items.is_empty() || page.next_page_token.is_none();
        out.extend(page.items);
        if done {
            return Ok(out);
        }
        token = page.next_page_token;
    }
}

/// "alice moved @champion from v3 to v4".
fn timeline_entry(e: &RegistryEvent) -> Markup {
    let alias = e.alias.clone().unwrap_or_default();
    let version = |v: &Option<serde_json::Value>| {
        // The registry records versions as MLflow's wire does, as strings.
        v.as_ref()
            .and_then(|v| v.get("version"))
            .and_then(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| v.as_i64().map(|n| n.to_string()))
            })
            .map(|v| format!("v{v}"))
    };
    let to = version(&e.after)
        .or(e.version.map(|v| format!("v{v}")))
        .unwrap_or_default();
    let from = version(&e.before).unwrap_or_default();
    html! {
        time datetime=(e.timestamp_ms) { (format::time(e.timestamp_ms)) } " "
        strong { (e.actor) } " "
        @match e.kind {
            EventKind::AliasSet => { "set " span.chip { "@" (alias) } " to " (to) }
            EventKind::AliasMoved => { "moved " span.chip { "@" (alias) } " from " (from) " to " (to) }
            _ => { "deleted " span.chip { "@" (alias) } " (was " (from) ")" }
        }
    }
}

pub async fn version(
    State(ui): State<WebUi>,
    Path((name, version)): Path<(String, String)>,
) -> PageResult<impl IntoResponse> {
    let v = ui.registry.get_model_version(&name, &version).await?;
    let run = match &v.run_id {
        Some(r) => ui.tracking.get_run(r).await.ok(),
        None => None,
    };
    let body = html! {
        (crumbs(&[("Models", "/models".into()), (&name, format!("/models/{}", enc(&name)))], &format!("Version {}", v.version)))
        dl.header #version-header {
            dt { "Aliases" } dd { @for a in &v.aliases { span.chip { "@" (a) } " " } }
            dt { "Stage" } dd { (v.current_stage.as_str()) }
            dt { "Status" } dd { (v.status.as_str()) }
            dt { "Source" } dd { code { (v.source) } }
            dt { "Created" } dd { (format::time(v.creation_timestamp)) }
            @if let Some(r) = &run {
                dt { "Run" } dd { a href=(format!("/experiments/{}/runs/{}", r.info.experiment_id.0, r.info.run_id.as_str())) { (r.info.run_name) } }
            }
            @if let Some(d) = &v.description { dt { "Description" } dd { (d) } }
        }
        @if let Some(r) = &run {
            section #source-metrics { h2 { "Source run metrics" }
                table.kv { tbody { @for m in &r.data.metrics { tr { th { (m.key) } td { (format::number(m.value)) } } } } }
            }
        }
        section #version-tags { h2 { "Tags" }
            @if v.tags.is_empty() { p.empty { "No tags." } }
            table.kv { tbody { @for t in &v.tags { tr { th { (t.key) } td { (t.value) } } } } }
        }
    };
    Ok(Page {
        title: format!("{name} v{}", v.version),
        section: "Models",
        scripts: &[],
        body,
    })
}

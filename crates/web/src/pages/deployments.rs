//! Deployments: each one's alias followed, serving version, canary split, status and problem; one
//! deployment's history (by revision) and a rollback behind a confirmation page.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use cairn_domain::deployment::{Deployment, DeploymentEvent, DeploymentEventKind};
use cairn_domain::rollout::Outcome;
use cairn_service::HistoryRequest;
use maud::{Markup, html};

use super::{enc, see};
use crate::WebUi;
use crate::error::PageResult;
use crate::format;
use crate::layout::{Page, crumbs};

/// What the deployment serves: `iris v3`, and the canary's share.
fn serving(d: &Deployment) -> Markup {
    let s = &d.state.serving;
    html! {
        a href=(format!("/models/{}/versions/{}", enc(&s.primary.name), s.primary.version)) { (s.primary.name) " v" (s.primary.version) }
        @if let Some(c) = &s.canary {
            " · canary " a href=(format!("/models/{}/versions/{}", enc(&c.model.name), c.model.version)) { (c.model.name) " v" (c.model.version) }
            " at " (c.weight) "%"
        }
    }
}

pub async fn list(State(ui): State<WebUi>) -> PageResult<impl IntoResponse> {
    let deployments = ui.deployments.list().await?;
    let metrics = (ui.metrics)();
    let mut rows = Vec::with_capacity(deployments.len());
    for d in deployments {
        let c = ui.deployments.condition(&d).await?;
        rows.push((d, c));
    }
    let body = html! {
        h1 { "Deployments" }
        @if rows.is_empty() { p.empty { "No deployments. Create one with " code { "cairn deploy create NAME --model models:/MODEL@ALIAS" } "." } }
        @else {
            table.list #deployments { thead { tr { th { "Name" } th { "Follows" } th { "Serving" } th.num { "Requests" } th { "Status" } th { "Updated" } } } tbody {
                @for (d, c) in &rows { tr {
                    td { a href=(format!("/deployments/{}", enc(&d.name))) { (d.name) } }
                    td { code { (d.state.spec.model.uri()) } }
                    td { (serving(d)) }
                    td.num { (super::traffic::of(&metrics, &d.name).requests) }
                    td { span class=(format!("status {}", c.status.as_str())) { (c.status.as_str()) } @if let Some(p) = &c.problem { " " span.problem { (p) } } }
                    td title=(format::time(d.updated_ms)) { (format::ago(d.updated_ms)) }
                } }
            } }
        }
    };
    Ok(Page {
        title: "Deployments".into(),
        section: "Deployments",
        scripts: &[],
        body,
    })
}

pub async fn page(
    State(ui): State<WebUi>,
    Path(name): Path<String>,
) -> PageResult<impl IntoResponse> {
    let d = ui.deployments.get(&name).await?;
    let c = ui.deployments.condition(&d).await?;
    let history = ui
        .deployments
        .history(
            &name,
            HistoryRequest {
                max_results: Some(1000),
                page_token: None,
            },
        )
        .await?;
    let body = html! {
        (crumbs(&[("Deployments", "/deployments".into())], &name))
        dl.header #deployment-header {
            dt { "Follows" } dd { code { (d.state.spec.model.uri()) } }
            dt { "Serving" } dd { (serving(&d)) }
            dt { "Status" } dd { span class=(format!("status {}", c.status.as_str())) { (c.status.as_str()) } }
            @if let Some(p) = &c.problem { dt { "Problem" } dd.problem { (p) } }
            @if let Some(policy) = &d.state.spec.rollout {
                dt { "Roll-out" } dd #rollout { code { (policy.text()) } " when " code { "@" (policy.candidate_alias) } " moves"
                    @if let Some(run) = d.state.rollout.as_ref().and_then(|r| r.canary.as_ref()) {
                        " · canary v" (run.version) " against v" (run.primary_version) " since " (format::time(run.started_ms))
                    }
                    @if let Some(last) = d.state.rollout.as_ref().and_then(|r| r.last.as_ref()) {
                        " · last: v" (last.version) " " (if last.outcome == Outcome::Promoted { "promoted" } else { "rolled back" }) " (" (last.reason) ")"
                    }
                }
            }
            dt { "Revision" } dd { (d.revision) }
            dt { "Endpoint" } dd { code { "/serving-endpoints/" (name) "/invocations" } }
        }
        section #traffic {
            h2 { "Traffic on this server" }
            @let t = super::traffic::of(&(ui.metrics)(), &name);
            dl.header {
                dt { "Requests" } dd #requests { (t.requests) }
                dt { "Errors" } dd #errors { (t.errors) }
                dt { "Mean latency" } dd { (t.mean_ms().map(|m| format!("{m:.2} ms")).unwrap_or_else(|| "–".into())) }
                dt { "Median latency" } dd { (t.median_bound_ms().map(|m| format!("≤ {m} ms")).unwrap_or_else(|| "–".into())) }
            }
            p.meta { "Counted since this server started, from its " a href="/metrics" { "Prometheus metrics" } "; replicas count their own." }
        }
        p { a.button href=(format!("/deployments/{}/rollback", enc(&name))) { "Roll back…" } }
        section #deployment-history {
            h2 { "History" }
            table.list { thead { tr { th { "Revision" } th { "Change" } th { "By" } th { "When" } th { "Serving after" } } } tbody {
                @for e in history.items.iter().rev() { (history_row(e)) }
            } }
        }
    };
    Ok(Page {
        title: name.clone(),
        section: "Deployments",
        scripts: &[],
        body,
    })
}

fn history_row(e: &DeploymentEvent) -> Markup {
    html! { tr {
        td { (e.revision.map(|r| r.to_string()).unwrap_or_default()) }
        td { (e.kind.as_str())
            @if let (DeploymentEventKind::CanaryPromoted | DeploymentEventKind::CanaryRolledBack, Some(last)) = (e.kind, e.after.as_ref().and_then(|s| s.rollout.as_ref()).and_then(|r| r.last.as_ref())) {
                " " span.meta { "(" (last.reason) ")" }
            } }
        td { (e.actor) }
        td { (format::time(e.timestamp_ms)) }
        td { @if let Some(s) = &e.after { (s.serving.primary.name) " v" (s.serving.primary.version)
            @if let Some(c) = &s.serving.canary { " + canary v" (c.model.version) " at " (c.weight) "%" } } }
    } }
}

/// What a rollback would do, and the button that does it.
pub async fn confirm_rollback(
    State(ui): State<WebUi>,
    Path(name): Path<String>,
) -> PageResult<impl IntoResponse> {
    let d = ui.deployments.get(&name).await?;
    let body = html! {
        (crumbs(&[("Deployments", "/deployments".into()), (&name, format!("/deployments/{}", enc(&name)))], "Roll back"))
        p { "Now serving " (serving(&d)) ". Rolling back pins the deployment to what it served before, and it stops following its alias until it is updated again." }
        form method="post" action=(format!("/deployments/{}/rollback", enc(&name))) {
            button.danger #confirm-rollback type="submit" { "Roll back " (name) }
            " " a href=(format!("/deployments/{}", enc(&name))) { "Cancel" }
        }
    };
    Ok(Page {
        title: "Roll back".into(),
        section: "Deployments",
        scripts: &[],
        body,
    })
}

pub async fn rollback(
    State(ui): State<WebUi>,
    actor: Option<axum::Extension<cairn_service::Actor>>,
    Path(name): Path<String>,
) -> PageResult<Redirect> {
    let who = actor.map_or_else(|| "web-ui".to_owned(), |axum::Extension(a)| a.0);
    ui.deployments.rollback(&name, &who).await?;
    Ok(see(&format!("/deployments/{}", enc(&name))))
}

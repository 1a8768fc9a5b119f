//! The maturity tracker: every model's level with the organisation roll-up, and (on a model's page)
//! each rung with its evidence, what is missing and when it was reached.

use axum::extract::State;
use axum::response::IntoResponse;
use cairn_domain::maturity::{LEVELS, Maturity};
use cairn_service::Reached;
use maud::{Markup, html};

use super::enc;
use crate::WebUi;
use crate::error::PageResult;
use crate::format;
use crate::layout::Page;

/// `L3 · Automated Deployment`.
pub fn badge(level: u8) -> Markup {
    let name = if level == 0 {
        "Not started"
    } else {
        LEVELS[usize::from(level) - 1].name
    };
    html! { span class=(format!("badge level-{level}")) title=(name) { "L" (level) " · " (name) } }
}

pub fn rungs(m: &Maturity, reached: &[Reached]) -> Markup {
    html! {
        @if !m.next_step.is_empty() { p.next-step { strong { "Next step: " } (m.next_step) } }
        ol.rungs { @for r in &m.rungs {
            li class=(if r.reached { "reached" } else { "missing" }) data-level=(r.level.level) {
                span.mark { @if r.reached { "✓" } @else { "✗" } } " "
                strong { (r.level.level) ". " (r.level.name) } " — " (r.level.automation) ", " (r.level.outcome)
                @if let Some(when) = reached.iter().find(|x| x.level == r.level.level) {
                    " " span.meta { "since " (format::time(when.timestamp_ms)) " (change " (when.seq) ")" }
                }
                @if !r.evidence.is_empty() { ul.evidence { @for e in &r.evidence { li { (e) } } } }
                @if !r.missing.is_empty() { ul.missing { @for e in &r.missing { li { (e) } } } }
            }
        } }
    }
}

pub async fn page(State(ui): State<WebUi>) -> PageResult<impl IntoResponse> {
    let o = ui.maturity.overview().await?;
    let total = o.models.len().max(1);
    let body = html! {
        h1 { "Maturity" }
        section #rollup {
            h2 { "Models per level" }
            table.list { tbody { @for (level, n) in o.per_level.iter().enumerate() { tr {
                th { (badge(level as u8)) }
                td.num { (n) }
                td { meter min="0" max=(total) value=(n) {} }
            } } } }
        }
        section #tracker {
            h2 { "Every model" }
            table.list { thead { tr { th { "Model" } th { "Level" } th { "Automation" } th { "Outcome" } th { "Next step" } } } tbody {
                @for m in &o.models { tr {
                    td { a href=(format!("/models/{}#maturity", enc(&m.model))) { (m.model) } }
                    td { (badge(m.level)) }
                    td { (m.current().map(|l| l.automation).unwrap_or("")) }
                    td { (m.current().map(|l| l.outcome).unwrap_or("")) }
                    td { (m.next_step) }
                } }
            } }
            @if o.models.is_empty() { p.empty { "No registered models yet." } }
        }
    };
    Ok(Page {
        title: "Maturity".into(),
        section: "Maturity",
        scripts: &[],
        body,
    })
}

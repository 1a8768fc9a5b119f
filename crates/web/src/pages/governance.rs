//! Governance in the UI: sign-in (a session cookie holding a one-day API token), pending promotion
//! requests with approve/reject, protected aliases, policy decisions with the inputs they saw, the audit
//! chain with a verification, lineage, and a version's model card.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use cairn_service::{Credential, Principal, ServiceError, card_markdown};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::{enc, see};
use crate::WebUi;
use crate::error::{PageForm, PageQuery, PageResult};
use crate::format;
use crate::layout::{Page, crumbs};

/// The cookie the access layer reads (`cairn_server::access::SESSION_COOKIE`).
const SESSION_COOKIE: &str = "cairn_session";

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    error: Option<String>,
}

/// Only a path on this server: never an open redirect.
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//"))
        .unwrap_or("/")
        .to_owned()
}

pub async fn login_page(
    State(ui): State<WebUi>,
    PageQuery(q): PageQuery<NextQuery>,
) -> PageResult<impl IntoResponse> {
    let next = safe_next(q.next.as_deref());
    let body = html! {
        h1 { "Sign in" }
        @if !ui.governance.auth_enabled() {
            p.empty { "This server runs without authentication (a loopback address): there is nothing to sign in to." }
        }
        @if let Some(e) = &q.error { p.error role="alert" { (e) } }
        form #login method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label { "User " input type="text" name="username" autocomplete="username" required; }
            label { "Password or API token " input type="password" name="password" autocomplete="current-password" required; }
            button type="submit" { "Sign in" }
        }
    };
    Ok(Page {
        title: "Sign in".into(),
        section: "",
        scripts: &[],
        body,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// Checks the password (or token) and sets a session cookie holding a fresh one-day API token.
pub async fn login(State(ui): State<WebUi>, PageForm(f): PageForm<LoginForm>) -> Response {
    let next = safe_next(f.next.as_deref());
    let cred = Credential::Basic {
        user: f.username.clone(),
        password: f.password,
    };
    let fail =
        |why: &str| see(&format!("/login?next={}&error={}", enc(&next), enc(why))).into_response();
    let principal = match ui.governance.authenticate(&cred).await {
        Ok(p) => p,
        Err(ServiceError::Unauthenticated(why)) => return fail(&why),
        Err(e) => return fail(&e.to_string()),
    };
    let token = match ui
        .governance
        .create_token(&principal, None, "web session", Some(1))
        .await
    {
        Ok(t) => t,
        Err(e) => return fail(&e.to_string()),
    };
    let mut resp = see(&next).into_response();
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400",
        token.secret
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// Revokes the session's token and clears the cookie.
pub async fn logout(
    State(ui): State<WebUi>,
    me: Option<Extension<Principal>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned());
    if let (Some(t), Some(Extension(p))) = (token, me)
        && let Some(parsed) = cairn_auth::token::parse(&t)
    {
        let _ = ui.governance.revoke_token(&p, &parsed.id).await;
    }
    let mut resp = see("/login").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("cairn_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    resp
}

fn who(me: &Option<Extension<Principal>>) -> Result<Principal, ServiceError> {
    me.as_ref()
        .map(|Extension(p)| p.clone())
        .ok_or_else(|| ServiceError::Unauthenticated("sign in first".into()))
}

/// The governance overview: what waits for approval, what is protected, what policy decided, and the
/// audit chain.
pub async fn page(
    State(ui): State<WebUi>,
    me: Option<Extension<Principal>>,
) -> PageResult<impl IntoResponse> {
    let g = &ui.governance;
    let pending = g.promotions(None, None).await?;
    let protections = g.protections().await?;
    let decisions = g.decisions(None).await?;
    let policy = g.policy().await?;
    let verify =
        cairn_service::verify_rows(g.store().as_ref(), ui.audit_key.clone(), Vec::new()).await?;
    // The newest 50 entries only: the verification already counted them all.
    let from = i64::try_from(verify.entries)
        .unwrap_or(i64::MAX)
        .saturating_sub(50);
    let mut recent = g
        .store()
        .audit_rows(from, 50)
        .await
        .map_err(ServiceError::from)?;
    recent.reverse();
    let user = me.as_ref().map(|Extension(p)| p.name.clone());
    let body = html! {
        h1 { "Governance" }
        @if let Some(u) = &user { p.meta { "Signed in as " strong { (u) } " · " form.inline method="post" action="/logout" { button type="submit" { "Sign out" } } } }
        section #approvals {
            h2 { "Promotion requests" }
            @if pending.is_empty() { p.empty { "No promotion requests. Open one with " code { "cairn promote request MODEL VERSION --alias ALIAS --reason TEXT" } "." } }
            @else {
                table.list { thead { tr { th { "Request" } th { "Model" } th { "Alias" } th { "State" } th { "Requested by" } th { "Approvals" } th { "Reason" } th {} } } tbody {
                    @for p in &pending { tr data-state=(p.state.as_str()) {
                        td { code { (p.id) } }
                        td { a href=(format!("/models/{}/versions/{}/card", enc(&p.model), p.version)) { (p.model) " v" (p.version) } }
                        td { "@" (p.alias) }
                        td { (p.state.as_str()) @if let Some(n) = &p.note { br; span.meta { (n) } } }
                        td { (p.requested_by) }
                        td { (p.approvers().count()) " / " (p.required_approvals) " " span.meta { (p.approvers().collect::<Vec<_>>().join(", ")) } }
                        td { (p.reason) }
                        td { @if p.state == cairn_domain::governance::PromotionState::Open {
                            form.inline method="post" action=(format!("/governance/promotions/{}/approve", enc(&p.id))) { button type="submit" name="approve" { "Approve" } }
                            form.inline method="post" action=(format!("/governance/promotions/{}/reject", enc(&p.id))) { button type="submit" name="reject" { "Reject" } }
                        } }
                    } }
                } }
            }
        }
        section #protections {
            h2 { "Protected aliases" }
            @if protections.is_empty() { p.empty { "No alias is protected. " code { "cairn protect set MODEL_GLOB --alias production --approvals 2" } } }
            @else { table.list { thead { tr { th { "Models" } th { "Alias" } th { "Approvals" } th { "By" } th { "Since" } } } tbody {
                @for r in &protections { tr { td { code { (r.models) } } td { "@" (r.alias) } td.num { (r.approvals) } td { (r.created_by) } td { (format::time(r.created_ms)) } } }
            } } }
        }
        section #policy {
            h2 { "Policy" }
            @match &policy {
                Some(p) => { p { "Active bundle " code { (p.hash) } " (" (p.entrypoint) "), set by " (p.created_by) " " (format::time(p.created_ms)) "." } }
                None => { p.empty { "No policy: promotions are decided by approvals alone. " code { "cairn policy set promotion.rego" } } }
            }
            @if !decisions.is_empty() {
                table.list #decisions { thead { tr { th { "Decision" } th { "When" } th { "Request" } th { "Action" } th { "Result" } th { "Input it saw" } } } tbody {
                    @for d in decisions.iter().take(50) { tr {
                        td { code { (d.id) } }
                        td { (format::time(d.at_ms)) }
                        td { (d.promotion_id.as_deref().unwrap_or("-")) }
                        td { (d.action) }
                        td class=(if d.allow { "ok" } else { "bad" }) { @if d.allow { "allow" } @else { "deny" }
                            @for v in d.result.get("deny").and_then(Value::as_array).into_iter().flatten() { br; span.meta { (v.get("msg").and_then(Value::as_str).unwrap_or("")) } } }
                        td { details { summary { (d.input_hash) } pre { (serde_json::to_string_pretty(&d.input).unwrap_or_default()) } } }
                    } }
                } }
            }
        }
        section #audit {
            h2 { "Audit chain" }
            p #verify data-outcome=(verify.outcome) {
                @match verify.outcome {
                    "intact" => { "✓ Intact: " (verify.entries) " entries, " (verify.checkpoints_verified) " signed checkpoint(s) verified, " (verify.unanchored_tail) " entries after the last." }
                    "tampered" => { "✗ Tampered at entry " (verify.seq.unwrap_or(0)) ": " (verify.reason.clone().unwrap_or_default()) }
                    _ => { "Cannot verify: " (verify.reason.clone().unwrap_or_default()) }
                }
            }
            table.list { thead { tr { th { "#" } th { "When" } th { "Who" } th { "What" } th { "On" } } } tbody {
                @for e in &recent { tr { td.num { (e.seq) } td { (format::time(e.ts_ms)) } td { (e.actor) } td { code { (e.action) } } td { (e.resource_id) } } }
            } }
        }
    };
    Ok(Page {
        title: "Governance".into(),
        section: "Governance",
        scripts: &[],
        body,
    })
}

/// Approve or reject from the page.
pub async fn review(
    State(ui): State<WebUi>,
    me: Option<Extension<Principal>>,
    Path((id, verdict)): Path<(String, String)>,
) -> PageResult<Redirect> {
    let p = who(&me)?;
    ui.governance
        .review_promotion(&p, &id, verdict == "approve", None)
        .await?;
    Ok(see("/governance#approvals"))
}

#[derive(Deserialize)]
pub struct LineageQuery {
    node: Option<String>,
    direction: Option<String>,
    at: Option<String>,
}

pub async fn lineage(
    State(ui): State<WebUi>,
    PageQuery(q): PageQuery<LineageQuery>,
) -> PageResult<impl IntoResponse> {
    let direction = q.direction.clone().unwrap_or_else(|| "up".into());
    let graph = match &q.node {
        Some(n) => {
            let at =
                q.at.as_deref()
                    .filter(|a| !a.is_empty())
                    .map(cairn_service::parse_time)
                    .transpose()?;
            Some(ui.governance.lineage(n, &direction, at).await?)
        }
        None => None,
    };
    let body = html! {
        h1 { "Lineage" }
        form #lineage-form method="get" action="/lineage" {
            label { "Node " input type="text" name="node" value=(q.node.clone().unwrap_or_default()) placeholder="deployment:NAME, model_version:MODEL/1, dataset:DIGEST"; }
            label { "Direction " select name="direction" { @for d in ["up", "down", "both"] { option value=(d) selected[d == direction] { (d) } } } }
            label { "At " input type="text" name="at" value=(q.at.clone().unwrap_or_default()) placeholder="2026-11-01T12:00:00Z"; }
            button type="submit" { "Trace" }
        }
        @if let Some(g) = &graph {
            table.list #lineage-edges { thead { tr { th { "From" } th { "" } th { "To" } th { "Valid" } } } tbody {
                @for e in &g.edges { tr {
                    td { (node_link(&e.from, g)) } td { "→ " (e.kind) } td { (node_link(&e.to, g)) }
                    td.meta { (e.valid_from.clone().unwrap_or_default()) " … " (e.valid_to.clone().unwrap_or_default()) }
                } }
            } }
            @if g.edges.is_empty() { p.empty { "Nothing recorded around " (g.root) "." } }
        }
    };
    Ok(Page {
        title: "Lineage".into(),
        section: "Governance",
        scripts: &[],
        body,
    })
}

fn node_link(id: &str, g: &cairn_service::Lineage) -> Markup {
    let label = g
        .nodes
        .iter()
        .find(|n| n.id == id)
        .map_or(id.to_owned(), |n| format!("{} ({})", n.label, n.kind));
    html! { a href=(format!("/lineage?node={}&direction=up", enc(id))) { (label) } }
}

/// A version's model card, rendered from its Markdown form section by section.
pub async fn card(
    State(ui): State<WebUi>,
    Path((name, version)): Path<(String, i64)>,
) -> PageResult<impl IntoResponse> {
    let c = ui.governance.card(&name, version).await?;
    let md = card_markdown(&c);
    let body = html! {
        (crumbs(&[("Models", "/models".into()), (&name, format!("/models/{}", enc(&name))), (&format!("v{version}"), format!("/models/{}/versions/{version}", enc(&name)))], "card"))
        h1 { "Model card: " (name) " v" (version) }
        p #card-status data-status=(c.status) { "Status: " strong { (c.status) } " · digest " code { (c.digest) } }
        @if !c.missing.is_empty() { p.missing { "Not written yet: " (c.missing.join(", ")) ". " code { "cairn card edit " (name) " " (version) " --set intended_use=…" } } }
        article.card { @for line in md.lines().skip(2) {
            @if let Some(h) = line.strip_prefix("## ") { h2 { (h) } }
            @else if let Some(item) = line.strip_prefix("- ") { p.item { "• " (item) } }
            @else if !line.is_empty() { p { (line) } }
        } }
        p { a href=(format!("/lineage?node={}&direction=both", enc(&format!("model_version:{name}/{version}")))) { "Lineage of this version" } }
    };
    Ok(Page {
        title: format!("Card of {name} v{version}"),
        section: "Models",
        scripts: &[],
        body,
    })
}

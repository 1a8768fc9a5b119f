//! Governance over the native API: who am I, users, tokens, grants, protected aliases, promotion
//! requests and their reviews, the policy and its decisions, the audit chain, lineage and model cards.
//! The route table in the server decides who reaches each route; the use cases check the rest (admin,
//! ownership, four-eyes).

use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use cairn_service::{Checkpointer, Governance, Principal, PromotionRequest, card_markdown};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, Body, Segment};

/// Governance's state: the use cases and the audit checkpointer (which holds the signing key).
#[derive(Clone)]
pub struct GovernanceApi {
    pub governance: Governance,
    pub checkpointer: Option<Checkpointer>,
    /// Every route the server answers (method, template), for `GET /auth/routes`.
    pub routes: std::sync::Arc<std::sync::OnceLock<Vec<(String, String, String)>>>,
}

type Me = Option<Extension<Principal>>;

fn me(p: Me) -> Result<Principal, ApiError> {
    p.map(|Extension(p)| p).ok_or_else(|| {
        ApiError(cairn_contract::ErrorBody::new(
            cairn_contract::ErrorCode::Unauthenticated,
            "authentication required",
        ))
    })
}

fn ok<T: serde::Serialize>(v: T) -> Result<Json<Value>, ApiError> {
    Ok(Json(serde_json::to_value(v).unwrap_or(Value::Null)))
}

pub fn router(s: GovernanceApi) -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        .route("/auth/routes", get(routes))
        .route("/users", get(users).post(create_user))
        .route("/users/{name}", get(user).delete(delete_user))
        .route("/users/{name}/password", put(set_password))
        .route("/users/{name}/admin", put(set_admin))
        .route("/tokens", get(tokens).post(create_token))
        .route("/tokens/{id}/revoke", post(revoke_token))
        .route("/grants", get(grants).post(add_grant).delete(remove_grant))
        .route(
            "/protections",
            get(protections).post(protect).delete(unprotect),
        )
        .route("/promotions", get(promotions).post(request_promotion))
        .route("/promotions/rollback", post(rollback))
        .route("/promotions/{id}", get(promotion))
        .route("/promotions/{id}/approve", post(approve))
        .route("/promotions/{id}/reject", post(reject))
        .route("/promotions/{id}/apply", post(apply))
        .route("/promotions/{id}/withdraw", post(withdraw))
        .route("/policy", get(policy).put(set_policy).delete(clear_policy))
        .route("/policy/decisions", get(decisions))
        .route("/audit/entries", get(audit_entries))
        .route("/audit/checkpoints", get(checkpoints).post(checkpoint))
        .route("/audit/pubkey", get(pubkey))
        .route("/audit/verify", get(verify))
        .route("/lineage", get(lineage))
        .route("/cards/{model}/{version}", get(card).put(update_card))
        .with_state(s)
}

type S = State<GovernanceApi>;

async fn whoami(p: Me) -> Result<Json<Value>, ApiError> {
    let p = me(p)?;
    Ok(Json(json!({
        "user": p.name,
        "via": p.via.as_str(),
        "is_admin": p.is_admin,
        "roles": p.roles(),
        "grants": p.grants.iter().map(|g| json!({"role": g.role.as_str(), "scope": g.scope.to_string()})).collect::<Vec<_>>(),
        "groups": p.groups,
    })))
}

async fn routes(State(s): S) -> Json<Value> {
    Json(
        json!({"routes": s.routes.get().into_iter().flatten().map(|(m, p, need)| json!({"method": m, "path": p, "needs": need})).collect::<Vec<_>>()}),
    )
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: Option<String>,
    #[serde(default)]
    is_admin: bool,
}

async fn create_user(State(s): S, p: Me, Body(b): Body<NewUser>) -> Result<Response, ApiError> {
    let u = s
        .governance
        .create_user(&me(p)?, &b.username, b.password.as_deref(), b.is_admin)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"user": u}))).into_response())
}

async fn users(State(s): S, p: Me) -> Result<Json<Value>, ApiError> {
    ok(json!({"users": s.governance.users(&me(p)?).await?}))
}

async fn user(State(s): S, p: Me, Segment(name): Segment<String>) -> Result<Json<Value>, ApiError> {
    ok(json!({"user": s.governance.user(&me(p)?, &name).await?}))
}

async fn delete_user(
    State(s): S,
    p: Me,
    Segment(name): Segment<String>,
) -> Result<Json<Value>, ApiError> {
    s.governance.delete_user(&me(p)?, &name).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct Password {
    password: String,
}

async fn set_password(
    State(s): S,
    p: Me,
    Segment(name): Segment<String>,
    Body(b): Body<Password>,
) -> Result<Json<Value>, ApiError> {
    s.governance
        .set_password(&me(p)?, &name, &b.password)
        .await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct AdminFlag {
    is_admin: bool,
}

async fn set_admin(
    State(s): S,
    p: Me,
    Segment(name): Segment<String>,
    Body(b): Body<AdminFlag>,
) -> Result<Json<Value>, ApiError> {
    s.governance.set_admin(&me(p)?, &name, b.is_admin).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    user: Option<String>,
    /// Days until it expires (90 by default; 0: never).
    expires_days: Option<u32>,
}

async fn create_token(State(s): S, p: Me, Body(b): Body<NewToken>) -> Result<Response, ApiError> {
    let t = s
        .governance
        .create_token(&me(p)?, b.user.as_deref(), &b.name, b.expires_days)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"token": t}))).into_response())
}

#[derive(Deserialize)]
struct UserFilter {
    user: Option<String>,
}

async fn tokens(State(s): S, p: Me, Query(q): Query<UserFilter>) -> Result<Json<Value>, ApiError> {
    ok(json!({"tokens": s.governance.tokens(&me(p)?, q.user.as_deref()).await?}))
}

async fn revoke_token(
    State(s): S,
    p: Me,
    Segment(id): Segment<String>,
) -> Result<Json<Value>, ApiError> {
    s.governance.revoke_token(&me(p)?, &id).await?;
    ok(json!({"revoked": id}))
}

#[derive(Deserialize)]
struct GrantBody {
    user: String,
    role: String,
    #[serde(default = "all")]
    scope: String,
}

fn all() -> String {
    "*".into()
}

async fn grants(State(s): S, p: Me, Query(q): Query<UserFilter>) -> Result<Json<Value>, ApiError> {
    ok(json!({"grants": s.governance.grants(&me(p)?, q.user.as_deref()).await?}))
}

async fn add_grant(State(s): S, p: Me, Body(b): Body<GrantBody>) -> Result<Json<Value>, ApiError> {
    let added = s
        .governance
        .grant(&me(p)?, &b.user, &b.role, &b.scope)
        .await?;
    ok(json!({"added": added, "user": b.user, "role": b.role, "scope": b.scope}))
}

async fn remove_grant(
    State(s): S,
    p: Me,
    Body(b): Body<GrantBody>,
) -> Result<Json<Value>, ApiError> {
    let removed = s
        .governance
        .revoke_grant(&me(p)?, &b.user, &b.role, &b.scope)
        .await?;
    ok(json!({"removed": removed}))
}

#[derive(Deserialize)]
struct ProtectBody {
    models: String,
    alias: String,
    #[serde(default = "one")]
    approvals: i64,
}

fn one() -> i64 {
    1
}

async fn protections(State(s): S) -> Result<Json<Value>, ApiError> {
    ok(json!({"protections": s.governance.protections().await?}))
}

async fn protect(State(s): S, p: Me, Body(b): Body<ProtectBody>) -> Result<Json<Value>, ApiError> {
    let rule = s
        .governance
        .protect(&me(p)?, &b.models, &b.alias, b.approvals)
        .await?;
    ok(json!({"protection": rule}))
}

async fn unprotect(
    State(s): S,
    p: Me,
    Body(b): Body<ProtectBody>,
) -> Result<Json<Value>, ApiError> {
    let removed = s.governance.unprotect(&me(p)?, &b.models, &b.alias).await?;
    ok(json!({"removed": removed}))
}

#[derive(Deserialize)]
struct PromotionFilter {
    state: Option<String>,
    model: Option<String>,
}

async fn promotions(
    State(s): S,
    Query(q): Query<PromotionFilter>,
) -> Result<Json<Value>, ApiError> {
    ok(
        json!({"promotions": s.governance.promotions(q.state.as_deref(), q.model.as_deref()).await?}),
    )
}

async fn promotion(State(s): S, Segment(id): Segment<String>) -> Result<Json<Value>, ApiError> {
    let p = s.governance.promotion(&id).await?;
    let decisions = s.governance.decisions(Some(&id)).await?;
    ok(json!({"promotion": p, "decisions": decisions}))
}

#[derive(Deserialize)]
struct RequestBody {
    model: String,
    version: Value,
    alias: String,
    #[serde(default)]
    reason: String,
}

fn version_of(v: &Value) -> Result<i64, ApiError> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|v| *v > 0)
    .ok_or_else(|| ApiError::invalid(format!("version must be a positive integer, not {v}")))
}

async fn request_promotion(
    State(s): S,
    p: Me,
    Body(b): Body<RequestBody>,
) -> Result<Response, ApiError> {
    let promotion = s
        .governance
        .request_promotion(
            &me(p)?,
            PromotionRequest {
                model: b.model,
                version: version_of(&b.version)?,
                alias: b.alias,
                reason: b.reason,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"promotion": promotion}))).into_response())
}

#[derive(Deserialize, Default)]
struct Review {
    comment: Option<String>,
}

async fn approve(
    State(s): S,
    p: Me,
    Segment(id): Segment<String>,
    body: Option<Json<Review>>,
) -> Result<Json<Value>, ApiError> {
    let c = body.map(|Json(b)| b).unwrap_or_default().comment;
    ok(json!({"promotion": s.governance.review_promotion(&me(p)?, &id, true, c.as_deref()).await?}))
}

async fn reject(
    State(s): S,
    p: Me,
    Segment(id): Segment<String>,
    body: Option<Json<Review>>,
) -> Result<Json<Value>, ApiError> {
    let c = body.map(|Json(b)| b).unwrap_or_default().comment;
    ok(
        json!({"promotion": s.governance.review_promotion(&me(p)?, &id, false, c.as_deref()).await?}),
    )
}

async fn apply(State(s): S, p: Me, Segment(id): Segment<String>) -> Result<Json<Value>, ApiError> {
    ok(json!({"promotion": s.governance.apply_promotion(&me(p)?, &id).await?}))
}

async fn withdraw(
    State(s): S,
    p: Me,
    Segment(id): Segment<String>,
) -> Result<Json<Value>, ApiError> {
    ok(json!({"promotion": s.governance.withdraw_promotion(&me(p)?, &id).await?}))
}

#[derive(Deserialize)]
struct RollbackBody {
    model: String,
    alias: String,
    version: Value,
    #[serde(default)]
    reason: String,
}

async fn rollback(
    State(s): S,
    p: Me,
    Body(b): Body<RollbackBody>,
) -> Result<Json<Value>, ApiError> {
    let version = version_of(&b.version)?;
    s.governance
        .rollback_alias(&me(p)?, &b.model, &b.alias, version, &b.reason)
        .await?;
    ok(json!({"model": b.model, "alias": b.alias, "version": version}))
}

async fn policy(State(s): S) -> Result<Json<Value>, ApiError> {
    ok(json!({"policy": s.governance.policy().await?}))
}

#[derive(Deserialize)]
struct PolicyBody {
    /// `[{"path": "promotion.rego", "source": "package cairn.promotion ..."}]`
    files: Vec<PolicyFileBody>,
    entrypoint: Option<String>,
}

#[derive(Deserialize)]
struct PolicyFileBody {
    path: String,
    source: String,
}

async fn set_policy(
    State(s): S,
    p: Me,
    Body(b): Body<PolicyBody>,
) -> Result<Json<Value>, ApiError> {
    let files = b.files.into_iter().map(|f| (f.path, f.source)).collect();
    let record = s
        .governance
        .set_policy(&me(p)?, files, b.entrypoint.as_deref())
        .await?;
    ok(json!({"policy": record}))
}

async fn clear_policy(State(s): S, p: Me) -> Result<Json<Value>, ApiError> {
    s.governance.clear_policy(&me(p)?).await?;
    ok(json!({}))
}

#[derive(Deserialize)]
struct DecisionFilter {
    promotion: Option<String>,
}

async fn decisions(State(s): S, Query(q): Query<DecisionFilter>) -> Result<Json<Value>, ApiError> {
    ok(json!({"decisions": s.governance.decisions(q.promotion.as_deref()).await?}))
}

#[derive(Deserialize)]
struct EntryFilter {
    #[serde(default)]
    after_seq: i64,
    limit: Option<usize>,
    actor: Option<String>,
    action: Option<String>,
    resource: Option<String>,
}

async fn audit_entries(State(s): S, Query(q): Query<EntryFilter>) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let filtered = q.actor.is_some() || q.action.is_some() || q.resource.is_some();
    let mut out = Vec::new();
    let mut after = q.after_seq;
    let mut next = None;
    loop {
        let rows = s
            .governance
            .store()
            .audit_rows(after, 10_000)
            .await
            .map_err(cairn_service::ServiceError::from)?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        let n = rows.len();
        for r in rows {
            let keep = q.actor.as_deref().is_none_or(|a| r.actor == a)
                && q.action.as_deref().is_none_or(|a| r.action.starts_with(a))
                && q.resource.as_deref().is_none_or(|x| r.resource_id == x);
            if keep {
                if out.len() == limit {
                    next = Some(r.seq - 1);
                    break;
                }
                out.push(r);
            }
        }
        if next.is_some() || n < 10_000 || !filtered && out.len() >= limit {
            break;
        }
    }
    ok(json!({"entries": out, "next_after_seq": next}))
}

async fn checkpoints(State(s): S) -> Result<Json<Value>, ApiError> {
    let cps = s
        .governance
        .store()
        .audit_checkpoints()
        .await
        .map_err(cairn_service::ServiceError::from)?;
    ok(json!({"checkpoints": cps}))
}

async fn checkpoint(State(s): S) -> Result<Json<Value>, ApiError> {
    let Some(c) = &s.checkpointer else {
        return Err(ApiError::invalid("this server holds no audit signing key"));
    };
    ok(json!({"checkpoint": c.checkpoint().await?}))
}

async fn pubkey(State(s): S) -> Result<Json<Value>, ApiError> {
    let key = s.checkpointer.as_ref().map(|c| c.public_key().to_text());
    ok(json!({"pubkey": key}))
}

async fn verify(State(s): S) -> Result<Json<Value>, ApiError> {
    let key = s.checkpointer.as_ref().map(|c| c.public_key());
    let report = cairn_service::verify_rows(s.governance.store().as_ref(), key, Vec::new()).await?;
    ok(report)
}

#[derive(Deserialize)]
struct LineageQuery {
    node: String,
    #[serde(default = "up")]
    direction: String,
    at: Option<String>,
}

fn up() -> String {
    "up".into()
}

async fn lineage(State(s): S, Query(q): Query<LineageQuery>) -> Result<Json<Value>, ApiError> {
    let at = q.at.as_deref().map(cairn_service::parse_time).transpose()?;
    ok(s.governance.lineage(&q.node, &q.direction, at).await?)
}

#[derive(Deserialize)]
struct CardFormat {
    format: Option<String>,
}

async fn card(
    State(s): S,
    Segment((model, version)): Segment<(String, i64)>,
    Query(q): Query<CardFormat>,
) -> Result<Response, ApiError> {
    let c = s.governance.card(&model, version).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(json!({"card": c})).into_response()),
        Some("md" | "markdown") => Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                "text/markdown; charset=utf-8",
            )],
            card_markdown(&c),
        )
            .into_response()),
        Some("html") => Ok(axum::response::Html(cairn_service::card_html(&c)).into_response()),
        Some(other) => Err(ApiError::invalid(format!(
            "format must be json, md or html, not '{other}'"
        ))),
    }
}

#[derive(Deserialize)]
struct CardUpdate {
    sections: Option<Map<String, Value>>,
    status: Option<String>,
}

async fn update_card(
    State(s): S,
    p: Me,
    Segment((model, version)): Segment<(String, i64)>,
    Body(b): Body<CardUpdate>,
) -> Result<Json<Value>, ApiError> {
    let c = s
        .governance
        .update_card(&me(p)?, &model, version, b.sections, b.status.as_deref())
        .await?;
    ok(json!({"card": c}))
}

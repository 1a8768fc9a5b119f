//! MLflow's auth REST API (`mlflow.server.get_app_client("basic-auth")`, the `AuthServiceClient`), as a
//! view over Cairn's users and grants: READ/USE → viewer, EDIT → scientist, MANAGE → scientist plus
//! admin over that one resource (who may then grant on it), NO_PERMISSIONS → none. Roles are Cairn's
//! fixed roles; assigning one grants it everywhere. Parameters come from the query or the JSON body, as
//! the client sends them.

use axum::Json;
use axum::Router;
use axum::extract::{Extension, Request, State};
use axum::routing::any;
use cairn_service::{Governance, Principal, ServiceError};
use serde_json::{Value, json};

use crate::error::{ApiError, ErrorCode};

/// The seven roles, numbered for MLflow's role ids.
const ROLES: [&str; 7] = [
    "viewer",
    "scientist",
    "approver",
    "operator",
    "invoker",
    "auditor",
    "admin",
];

pub fn router(g: Governance) -> Router {
    let mut r = Router::new();
    for prefix in ["/api", "/ajax-api"] {
        r = r
            .route(
                &format!("{prefix}/2.0/mlflow/users/create"),
                any(create_user),
            )
            .route(&format!("{prefix}/2.0/mlflow/users/get"), any(get_user))
            .route(
                &format!("{prefix}/2.0/mlflow/users/current"),
                any(current_user),
            )
            .route(&format!("{prefix}/2.0/mlflow/users/list"), any(list_users))
            .route(
                &format!("{prefix}/2.0/mlflow/users/update-password"),
                any(update_password),
            )
            .route(
                &format!("{prefix}/2.0/mlflow/users/update-admin"),
                any(update_admin),
            )
            .route(
                &format!("{prefix}/2.0/mlflow/users/delete"),
                any(delete_user),
            )
            .route(
                &format!("{prefix}/3.0/mlflow/users/permissions/grant"),
                any(grant),
            )
            .route(
                &format!("{prefix}/3.0/mlflow/users/permissions/revoke"),
                any(revoke),
            )
            .route(
                &format!("{prefix}/3.0/mlflow/users/permissions/get"),
                any(get_permission),
            )
            .route(&format!("{prefix}/3.0/mlflow/roles/list"), any(list_roles))
            .route(&format!("{prefix}/3.0/mlflow/roles/get"), any(get_role))
            .route(
                &format!("{prefix}/3.0/mlflow/roles/assign"),
                any(assign_role),
            )
            .route(
                &format!("{prefix}/3.0/mlflow/roles/unassign"),
                any(unassign_role),
            )
            .route(
                &format!("{prefix}/3.0/mlflow/users/roles/list"),
                any(list_user_roles),
            )
            .route(
                &format!("{prefix}/3.0/mlflow/roles/users/list"),
                any(list_role_users),
            )
            .route(
                &format!("{prefix}/3.0/mlflow/roles/{{*rest}}"),
                any(fixed_roles),
            );
    }
    r.with_state(g)
}

type Me = Option<Extension<Principal>>;
type Res = Result<Json<Value>, ApiError>;

fn me(p: Me) -> Result<Principal, ApiError> {
    p.map(|Extension(p)| p)
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "authentication required"))
}

/// The request's parameters: the query string merged with a JSON body.
async fn params(req: Request) -> Result<Value, ApiError> {
    let mut out = serde_json::Map::new();
    if let Some(q) = req.uri().query() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap_or_default();
        for (k, v) in pairs {
            out.insert(k, Value::String(v));
        }
    }
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|_| ApiError::invalid("request body too large"))?;
    if !bytes.is_empty() {
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::invalid(format!("the body is not JSON: {e}")))?;
        if let Value::Object(o) = body {
            out.extend(o);
        }
    }
    Ok(Value::Object(out))
}

fn text<'a>(p: &'a Value, key: &str) -> Result<&'a str, ApiError> {
    p.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::missing(key))
}

fn id_of(p: &Value, key: &str) -> Result<String, ApiError> {
    match p.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(ApiError::missing(key)),
    }
}

/// A stable number for a user (MLflow's users have integer ids; Cairn's are their names).
fn user_id(name: &str) -> u32 {
    name.bytes().fold(2_166_136_261_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    }) & 0x7fff_ffff
}

fn user_json(u: &cairn_domain::governance::User) -> Value {
    json!({"id": user_id(&u.name), "username": u.name, "is_admin": u.is_admin})
}

async fn create_user(State(g): State<Governance>, p: Me, req: Request) -> Res {
    let p2 = params(req).await?;
    let u = g
        .create_user(
            &me(p)?,
            text(&p2, "username")?,
            Some(text(&p2, "password")?),
            false,
        )
        .await?;
    Ok(Json(json!({"user": user_json(&u)})))
}

async fn get_user(State(g): State<Governance>, p: Me, req: Request) -> Res {
    let q = params(req).await?;
    let u = g.user(&me(p)?, text(&q, "username")?).await?;
    Ok(Json(json!({"user": user_json(&u)})))
}

async fn current_user(State(g): State<Governance>, p: Me) -> Res {
    let me = me(p)?;
    let u = g.user(&me, &me.name).await?;
    Ok(Json(json!({"user": user_json(&u)})))
}

async fn list_users(State(g): State<Governance>, p: Me) -> Res {
    let users = g.users(&me(p)?).await?;
    Ok(Json(
        json!({"users": users.iter().map(user_json).collect::<Vec<_>>()}),
    ))
}

async fn update_password(State(g): State<Governance>, p: Me, req: Request) -> Res {
    let q = params(req).await?;
    g.set_password(&me(p)?, text(&q, "username")?, text(&q, "password")?)
        .await?;
    Ok(Json(json!({})))
}

async fn update_admin(State(g): State<Governance>, p: Me, req: Request) -> Res {
    let q = params(req).await?;
    let is_admin = match q.get("is_admin") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => return Err(ApiError::missing("is_admin")),
    };
    g.set_admin(&me(p)?, text(&q, "username")?, is_admin)
        .await?;
    Ok(Json(json!({})))
}

async fn delete_user(State(g): State<Governance>, p: Me, req: Request) -> Res {
    let q = params(req).await?;
    g.delete_user(&me(p)?, text(&q, "username")?).await?;
    Ok(Json(json!({})))
}

/// The Cairn scope of an MLflow resource.
fn scope(resource_type: &str, id: &str) -> Result<String, ApiError> {
    match resource_type {
        "experiment" => Ok(format!("experiment:{id}")),
        "registered_model" => Ok(format!("model:{id}")),
        other => Err(ApiError::invalid(format!(
            "resource_type '{other}' is not supported: use experiment or registered_model"
        ))),
    }
}

/// The Cairn roles an MLflow permission stands for.
fn roles_for(permission: &str) -> Result<&'static [&'static str], ApiError> {
    Ok(match permission {
        "READ" | "USE" => &["viewer"],
        "EDIT" => &["scientist"],
        "MANAGE" => &["scientist", "admin"],
        "NO_PERMISSIONS" => &[],
        other => {
            return Err(ApiError::invalid(format!(
                "permission '{other}' must be READ, USE, EDIT, MANAGE or NO_PERMISSIONS"
            )));
        }
    })
}

async fn clear(
    g: &Governance,
    by: &Principal,
    user: &str,
    scope: &str,
) -> Result<(), ServiceError> {
    for role in ["viewer", "scientist", "admin"] {
        g.revoke_grant(by, user, role, scope).await?;
    }
    Ok(())
}

async fn grant(State(g): State<Governance>, p: Me, req: Request) -> Res {
    let by = me(p)?;
    let q = params(req).await?;
    let user = text(&q, "username")?;
    let scope = scope(text(&q, "resource_type")?, &id_of(&q, "resource_id")?)?;
    let roles = roles_for(text(&q, "permission")?)?;
    clear(&g, &by, user, &scope).await?;
    for role in roles {
        g.grant(&by, user, role, &scope).await?;
    }
    Ok(Json(json!({})))
}

async fn revoke(State(g): State<Governance>, p: Me, req: Request) -> Res {
    let by = me(p)?;
    let q = params(req).await?;
    let scope = scope(text(&q, "resource_type")?, &id_of(&q, "resource_id")?)?;
    clear(&g, &by, text(&q, "username")?, &scope).await?;
    Ok(Json(json!({})))
}

async fn get_permission(State(g): State<Governance>, p: Me, req: Request) -> Res {
    let by = me(p)?;
    let q = params(req).await?;
    let user = text(&q, "username")?;
    let scope = scope(text(&q, "resource_type")?, &id_of(&q, "resource_id")?)?;
    let grants = g.grants(&by, Some(user)).await?;
    let covers = |s: &str| {
        s == "*"
            || s == scope
            || (s.starts_with("model:")
                && scope.starts_with("model:")
                && cairn_auth::glob_match(&s["model:".len()..], &scope["model:".len()..]))
    };
    let held: Vec<&str> = grants
        .iter()
        .filter(|gr| covers(&gr.scope))
        .map(|gr| gr.role.as_str())
        .collect();
    let is_admin = g.user(&by, user).await.map(|u| u.is_admin).unwrap_or(false);
    let permission = if is_admin || held.contains(&"admin") {
        "MANAGE"
    } else if held.contains(&"scientist") {
        "EDIT"
    } else if held.is_empty() || held == ["invoker"] {
        "NO_PERMISSIONS"
    } else {
        "READ"
    };
    Ok(Json(json!({
        "allowed": matches!(permission, "EDIT" | "MANAGE"),
        "permission": permission,
    })))
}

fn role_json(i: usize) -> Value {
    let name = ROLES[i];
    json!({
        "id": i + 1,
        "name": name,
        "workspace": "default",
        "description": format!("Cairn's {name} role"),
        "permissions": [{"id": i + 1, "role_id": i + 1, "resource_type": "*", "resource_pattern": "*",
                         "permission": match name { "viewer" | "approver" | "auditor" | "operator" => "READ",
                                                    "scientist" => "EDIT", "admin" => "MANAGE",
                                                    _ => "NO_PERMISSIONS" }}],
    })
}

fn role_index(q: &Value) -> Result<usize, ApiError> {
    id_of(q, "role_id")?
        .parse::<usize>()
        .ok()
        .filter(|i| (1..=ROLES.len()).contains(i))
        .map(|i| i - 1)
        .ok_or_else(|| ApiError::new(ErrorCode::ResourceDoesNotExist, "no such role"))
}

async fn list_roles() -> Res {
    Ok(Json(
        json!({"roles": (0..ROLES.len()).map(role_json).collect::<Vec<_>>()}),
    ))
}

async fn get_role(req: Request) -> Res {
    let q = params(req).await?;
    Ok(Json(json!({"role": role_json(role_index(&q)?)})))
}

async fn assign_role(State(g): State<Governance>, p: Me, req: Request) -> Res {
    let q = params(req).await?;
    let i = role_index(&q)?;
    let user = text(&q, "username")?;
    g.grant(&me(p)?, user, ROLES[i], "*").await?;
    Ok(Json(
        json!({"assignment": {"id": i + 1, "user_id": user_id(user), "role_id": i + 1}}),
    ))
}

async fn unassign_role(State(g): State<Governance>, p: Me, req: Request) -> Res {
    let q = params(req).await?;
    let i = role_index(&q)?;
    g.revoke_grant(&me(p)?, text(&q, "username")?, ROLES[i], "*")
        .await?;
    Ok(Json(json!({})))
}

async fn list_user_roles(State(g): State<Governance>, p: Me, req: Request) -> Res {
    let q = params(req).await?;
    let grants = g.grants(&me(p)?, Some(text(&q, "username")?)).await?;
    let roles: Vec<Value> = (0..ROLES.len())
        .filter(|i| grants.iter().any(|gr| gr.role == ROLES[*i]))
        .map(role_json)
        .collect();
    Ok(Json(json!({"roles": roles})))
}

async fn list_role_users(State(g): State<Governance>, p: Me, req: Request) -> Res {
    let q = params(req).await?;
    let i = role_index(&q)?;
    let grants = g.grants(&me(p)?, None).await?;
    let mut users: Vec<&str> = grants
        .iter()
        .filter(|gr| gr.role == ROLES[i])
        .map(|gr| gr.user.as_str())
        .collect();
    users.dedup();
    Ok(Json(json!({"assignments": users.iter().map(|u| json!({
        "id": user_id(u), "user_id": user_id(u), "role_id": i + 1})).collect::<Vec<_>>()})))
}

async fn fixed_roles() -> Res {
    Err(ApiError::invalid(
        "Cairn's roles are fixed (viewer, scientist, approver, operator, invoker, auditor, admin): \
         assign them with assign_role, or grant them per model or experiment",
    ))
}

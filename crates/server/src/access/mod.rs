//! Authentication and authorization of every request, deny by default: the route table (`table.rs`)
//! says what each (method, route) needs, the request's credential names a principal, and its grants
//! must cover the route's resource. Anonymous requests get 401 with `WWW-Authenticate`; principals
//! without the capability get 403 `PERMISSION_DENIED`, both in MLflow's error shape. With
//! authentication off (a loopback server) every request passes as the user it claims.

pub mod enumerate;
mod limiter;
pub mod table;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use cairn_auth::roles::{Capability, Resource};
use cairn_domain::time::now_millis;
use cairn_service::{Actor, Credential, Governance, Principal, Tracking, Via};
use serde_json::{Value, json};

use table::{Need, Source, rule_for};

/// The cookie the UI's login sets: an API token of the signed-in user.
pub const SESSION_COOKIE: &str = "cairn_session";
/// Request bodies read to find a route's resource (larger ones are refused with 413 by the handlers).
const MAX_INSPECTED_BODY: usize = 64 << 20;

/// (method, route template) → what the table says it needs (`None`: not in the table).
type Needs = HashMap<(String, String), Option<Need>>;

/// What the access layer needs.
#[derive(Clone)]
pub struct Access {
    pub governance: Governance,
    pub tracking: Tracking,
    /// Run id → experiment id (runs never move), for experiment-scoped grants.
    runs: Arc<Mutex<HashMap<String, String>>>,
    limiter: Arc<limiter::Failures>,
    denials: Arc<Mutex<HashMap<String, i64>>>,
    /// What each (method, route) needs, looked up in the table once (the routes are a fixed set).
    needs: Arc<std::sync::RwLock<Needs>>,
}

impl Access {
    /// The table's answer for a route, memoized.
    fn need(&self, method: &str, template: &str) -> Option<Need> {
        let key = (method.to_owned(), template.to_owned());
        if let Some(need) = self.needs.read().expect("needs").get(&key) {
            return *need;
        }
        let need = rule_for(method, template).map(|r| r.need);
        self.needs.write().expect("needs").insert(key, need);
        need
    }

    pub fn new(governance: Governance, tracking: Tracking) -> Self {
        Self {
            governance,
            tracking,
            runs: Arc::default(),
            limiter: Arc::default(),
            denials: Arc::default(),
            needs: Arc::default(),
        }
    }
}

/// MLflow's error shape with a status.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut resp = (
        status,
        axum::Json(json!({"error_code": code, "message": message})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"cairn\", Bearer realm=\"cairn\""),
        );
    }
    resp
}

/// The credential a request carries: `Authorization: Basic|Bearer …`, else the UI's session cookie.
pub fn credential(req: &Request) -> Option<Credential> {
    if let Some(h) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = h.split_once(' ')?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            let text = String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .ok()?,
            )
            .ok()?;
            let (user, password) = text.split_once(':')?;
            return Some(Credential::Basic {
                user: user.to_owned(),
                password: password.to_owned(),
            });
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(Credential::Bearer(rest.to_owned()));
        }
        return None;
    }
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| Credential::Bearer(v.to_owned()))
}

/// The user name a Basic header claims (what histories recorded before authentication existed).
fn claimed_user(req: &Request) -> Option<String> {
    match credential(req)? {
        Credential::Basic { user, .. } if !user.is_empty() => Some(user),
        _ => None,
    }
}

/// The middleware.
pub async fn guard(
    axum::extract::State(access): axum::extract::State<Access>,
    mut req: Request,
    next: Next,
) -> Response {
    if !access.governance.auth_enabled() {
        let name =
            claimed_user(&req).unwrap_or_else(|| cairn_domain::registry::ANONYMOUS.to_owned());
        req.extensions_mut().insert(Actor(name.clone()));
        req.extensions_mut()
            .insert(Principal::unrestricted(&name, Via::Unauthenticated));
        return next.run(req).await;
    }
    let method = req.method().as_str().to_owned();
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let need = match &template {
        Some(t) => match access.need(&method, t) {
            Some(need) => need,
            None => {
                return error(
                    StatusCode::FORBIDDEN,
                    "PERMISSION_DENIED",
                    &format!("{method} {t} is not in the route table: denied"),
                );
            }
        },
        // No route: the router answers 404, but only to a principal.
        None => Need::Authenticated,
    };
    if need == Need::Public {
        req.extensions_mut().insert(Actor::anonymous());
        return next.run(req).await;
    }
    let Some(cred) = credential(&req) else {
        return unauthenticated(
            &req,
            "authentication required: send a token (Authorization: Bearer) or a user and password",
        );
    };
    let user_key = match &cred {
        Credential::Basic { user, .. } => user.clone(),
        Credential::Bearer(t) => t.chars().take(24).collect(),
    };
    if access.limiter.blocked(&user_key) {
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "too many failed sign-ins: try again in a minute",
        );
    }
    let principal = match access.governance.authenticate(&cred).await {
        Ok(p) => p,
        Err(cairn_service::ServiceError::Unauthenticated(why)) => {
            access.limiter.failed(&user_key);
            // Failed sign-ins are chained too (once a minute per name and route): who tried, not the
            // secret they sent.
            let who = match &cred {
                Credential::Basic { user, .. } => user.clone(),
                Credential::Bearer(_) => "bearer".to_owned(),
            };
            record_denial(
                &access,
                &who,
                &method,
                template.as_deref(),
                &format!("authentication failed: {why}"),
            );
            return unauthenticated(&req, &why);
        }
        Err(e) => {
            tracing::error!(error = %e, "authenticating");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "TEMPORARILY_UNAVAILABLE",
                "could not check the credential",
            );
        }
    };
    if let Need::Cap(cap, from) = need {
        let (req2, resource) = resource_of(&access, req, from).await;
        req = req2;
        let resource = match resource {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        let res = match &resource {
            Some((kind, key)) => match *kind {
                "model" => Resource::Model(key),
                "experiment" => Resource::Experiment(key),
                "deployment" => Resource::Deployment(key),
                _ => Resource::Global,
            },
            None => Resource::Global,
        };
        // Server-wide administration and the audit trail need an unscoped grant: admin over one model
        // or experiment (MLflow's MANAGE) does not make its holder an admin of the server.
        let allowed = match (&res, cap) {
            (Resource::Global, Capability::Admin | Capability::Audit) => {
                principal.can_everywhere(cap)
            }
            _ => principal.can(cap, &res),
        };
        if !allowed {
            let what = resource
                .as_ref()
                .map_or(String::new(), |(k, v)| format!(" on {k} '{v}'"));
            let message = format!(
                "{} may not {} {}{what}: it needs the '{}' capability (roles: {})",
                principal.name,
                method,
                template.as_deref().unwrap_or(""),
                cap.as_str(),
                role_hint(cap)
            );
            record_denial(
                &access,
                &principal.name,
                &method,
                template.as_deref(),
                &message,
            );
            return error(StatusCode::FORBIDDEN, "PERMISSION_DENIED", &message);
        }
    }
    let who = principal.name.clone();
    req.extensions_mut().insert(Actor(who.clone()));
    req.extensions_mut().insert(principal);
    let resp = next.run(req).await;
    if resp.status() != StatusCode::FORBIDDEN {
        return resp;
    }
    // Refused by the use case (admin only, four-eyes, a protected alias…): chained like the refusals
    // above, with the use case's message.
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "permission denied".to_owned());
    record_denial(&access, &who, &method, template.as_deref(), &message);
    Response::from_parts(parts, Body::from(bytes))
}

/// Which roles carry a capability, for the 403's hint.
fn role_hint(cap: Capability) -> &'static str {
    match cap {
        Capability::Read => "viewer, scientist, approver, operator, auditor, admin",
        Capability::Track | Capability::Register | Capability::Promote => "scientist, admin",
        Capability::Approve => "approver, admin",
        Capability::Deploy => "operator, admin",
        Capability::Invoke => "invoker, operator, admin",
        Capability::Audit => "auditor, admin",
        Capability::Admin => "admin",
    }
}

/// 401: JSON in MLflow's shape for API clients; a page pointing at the login form for browsers.
fn unauthenticated(req: &Request, why: &str) -> Response {
    let browser = req.method() == Method::GET
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if browser {
        let next = req.uri().path();
        let body = format!(
            "<!doctype html><meta http-equiv=\"refresh\" content=\"0; url=/login?next={next}\">\
             <title>Sign in</title><p>Sign in at <a href=\"/login?next={next}\">/login</a>.</p>"
        );
        let mut resp = (StatusCode::UNAUTHORIZED, axum::response::Html(body)).into_response();
        // Bearer only: a Basic challenge would make the browser prompt instead of showing the page.
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"cairn\""),
        );
        return resp;
    }
    error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", why)
}

/// Chains a refused request on the audit log, at most once a minute per principal and route.
fn record_denial(access: &Access, who: &str, method: &str, route: Option<&str>, message: &str) {
    let key = format!("{who} {method} {}", route.unwrap_or(""));
    let now = now_millis();
    {
        let mut seen = access.denials.lock().expect("denials");
        if seen.get(&key).is_some_and(|at| now - at < 60_000) {
            return;
        }
        if seen.len() > 10_000 {
            seen.clear();
        }
        seen.insert(key.clone(), now);
    }
    let store = access.governance.store().clone();
    let detail = json!({"method": method, "route": route, "message": message});
    let change = cairn_domain::Change {
        actor: who.to_owned(),
        at_ms: now,
    };
    tokio::spawn(async move {
        if let Err(e) = store.record_event(&key, "denied", detail, &change).await {
            tracing::warn!(error = %e, "recording a denied request");
        }
    });
}

/// The resource a route acts on, reading the body when the resource is named there (then putting it
/// back for the handler).
async fn resource_of(
    access: &Access,
    req: Request,
    from: Source,
) -> (Request, Result<Option<(&'static str, String)>, Response>) {
    let path_param = |req: &Request, names: &[&str]| -> Option<String> {
        let template = req.extensions().get::<MatchedPath>()?.as_str().to_owned();
        let path = req.uri().path().to_owned();
        let t: Vec<&str> = template.split('/').collect();
        let p: Vec<&str> = path.split('/').collect();
        t.iter().zip(p.iter()).find_map(|(seg, val)| {
            names
                .iter()
                .any(|n| *seg == format!("{{{n}}}"))
                .then(|| percent_decode(val))
        })
    };
    match from {
        Source::Global => (req, Ok(None)),
        Source::ModelPath => {
            let name = path_param(&req, &["name", "model"]);
            (req, Ok(name.map(|n| ("model", n))))
        }
        Source::DeploymentPath => {
            let name = path_param(&req, &["name"]);
            (req, Ok(name.map(|n| ("deployment", n))))
        }
        Source::ModelField => {
            let (req, v) = field(req, &["name"]).await;
            (req, v.map(|v| v.map(|n| ("model", n))))
        }
        Source::ExperimentField => {
            let (req, v) = field(req, &["experiment_id"]).await;
            // Without an experiment id MLflow's handlers use the default experiment "0".
            (
                req,
                v.map(|v| Some(("experiment", v.unwrap_or_else(|| "0".to_owned())))),
            )
        }
        Source::RunField => {
            let (req, v) = field(req, &["run_id", "run_uuid"]).await;
            let id = match v {
                Ok(Some(id)) => id,
                other => return (req, other.map(|_| None)),
            };
            let cached = access.runs.lock().expect("run cache").get(&id).cloned();
            let experiment = match cached {
                Some(e) => Some(e),
                None => match access.tracking.get_run(&id).await {
                    Ok(run) => {
                        let e = run.info.experiment_id.to_string();
                        let mut runs = access.runs.lock().expect("run cache");
                        if runs.len() > 100_000 {
                            runs.clear();
                        }
                        runs.insert(id, e.clone());
                        Some(e)
                    }
                    // A run that does not exist: the handler answers its 404 (to a principal).
                    Err(_) => None,
                },
            };
            (req, Ok(experiment.map(|e| ("experiment", e))))
        }
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The first of `names` with a non-empty value where the MLflow handler reads it: the query string of
/// a GET, the JSON body of every other verb (read and put back); a value elsewhere is ignored, as the
/// handler ignores it. Keys match as the handler decodes them, camelCase (`runId`) as snake_case.
async fn field(req: Request, names: &[&str]) -> (Request, Result<Option<String>, Response>) {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        let pairs: Vec<(String, String)> = req
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let found = names.iter().find_map(|n| {
            pairs
                .iter()
                .find(|(k, v)| cairn_mlflow::to_snake_case(k) == *n && !v.is_empty())
                .map(|(_, v)| v.clone())
        });
        return (req, Ok(found));
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_INSPECTED_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let req = Request::from_parts(parts, Body::empty());
            return (
                req,
                Err(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "INVALID_PARAMETER_VALUE",
                    "request body too large",
                )),
            );
        }
    };
    // The top level's scalars only: a log_batch's thousand metrics are skipped, never built.
    let found = serde_json::from_slice::<std::collections::BTreeMap<String, Scalar>>(&bytes)
        .ok()
        .and_then(|fields| {
            names.iter().find_map(|n| {
                fields
                    .iter()
                    .filter(|(k, _)| cairn_mlflow::to_snake_case(k) == *n)
                    .find_map(|(_, v)| v.0.clone().filter(|s| !s.is_empty()))
            })
        });
    (Request::from_parts(parts, Body::from(bytes)), Ok(found))
}

/// A JSON value read as text when it is a string or a number; anything else is skipped unbuilt.
struct Scalar(Option<String>);

impl<'de> serde::Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_owned())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(
                    serde_json::Number::from_f64(v).map_or_else(String::new, |n| n.to_string()),
                )))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

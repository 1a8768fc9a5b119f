//! The one route table: every (method, path template) the server answers maps to what it needs. A
//! route no rule covers stops the server at start-up (see `enumerate.rs`); at run time an uncovered
//! route is denied. Rules are tried in order; the first whose method and pattern match wins.

use cairn_auth::roles::Capability;

/// Where a route's resource (the thing a scoped grant must cover) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// No single resource (lists, searches, server-wide reads): any grant with the capability.
    Global,
    /// A registered model named by the `name` field of the query or JSON body.
    ModelField,
    /// A registered model named by the `{name}` (or `{model}`) path segment.
    ModelPath,
    /// An experiment named by `experiment_id` in the query or JSON body.
    ExperimentField,
    /// A run (`run_id` / `run_uuid` in the query or body), scoped by its experiment.
    RunField,
    /// A deployment named by the `{name}` path segment.
    DeploymentPath,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone, signed in or not.
    Public,
    /// Any authenticated principal; the use case checks the rest (own tokens, admin, approver).
    Authenticated,
    Cap(Capability, Source),
}

pub struct Rule {
    /// `*` for any method, else a `|`-separated list (`GET|POST`).
    pub methods: &'static str,
    /// A path template pattern: `*` matches any run of characters.
    pub path: &'static str,
    pub need: Need,
}

use Capability::*;
use Need::*;
use Source::*;

const fn r(methods: &'static str, path: &'static str, need: Need) -> Rule {
    Rule {
        methods,
        path,
        need,
    }
}

/// The table. MLflow's `/ajax-api/` paths are looked up as their `/api/` twins.
pub static RULES: &[Rule] = &[
    // --- public: liveness and identity of the server, the login page and its assets ---
    r("GET", "/health", Public),
    r("GET", "/version", Public),
    r("GET", "/ping", Public),
    r("GET", "/v2/health/live", Public),
    r("GET", "/v2/health/ready", Public),
    r("GET|POST", "/login", Public),
    r("GET", "/static/{file}", Public),
    r("POST", "/logout", Authenticated),
    // --- MLflow auth REST (users and permissions): the use cases check admin / MANAGE ---
    r("*", "/api/2.0/mlflow/users/*", Authenticated),
    r("*", "/api/3.0/mlflow/users/*", Authenticated),
    r(
        "*",
        "/api/2.0/mlflow/experiments/permissions/*",
        Authenticated,
    ),
    r(
        "*",
        "/api/2.0/mlflow/registered-models/permissions/*",
        Authenticated,
    ),
    r("*", "/api/3.0/mlflow/roles*", Authenticated),
    // --- MLflow tracking ---
    r(
        "GET",
        "/api/2.0/mlflow/experiments/get",
        Cap(Read, ExperimentField),
    ),
    r(
        "GET",
        "/api/2.0/mlflow/experiments/get-by-name",
        Cap(Read, Global),
    ),
    r(
        "GET|POST",
        "/api/2.0/mlflow/experiments/search",
        Cap(Read, Global),
    ),
    r(
        "POST",
        "/api/2.0/mlflow/experiments/create",
        Cap(Track, Global),
    ),
    r(
        "POST",
        "/api/2.0/mlflow/experiments/*",
        Cap(Track, ExperimentField),
    ),
    r("GET", "/api/2.0/mlflow/runs/get", Cap(Read, RunField)),
    r("POST", "/api/2.0/mlflow/runs/search", Cap(Read, Global)),
    r(
        "POST",
        "/api/2.0/mlflow/runs/create",
        Cap(Track, ExperimentField),
    ),
    r("POST", "/api/2.0/mlflow/runs/*", Cap(Track, RunField)),
    r("GET", "/api/2.0/mlflow/metrics/*", Cap(Read, RunField)),
    r("GET", "/api/2.0/mlflow/artifacts/list", Cap(Read, RunField)),
    r(
        "POST",
        "/api/2.0/mlflow/logged-models",
        Cap(Track, ExperimentField),
    ),
    r(
        "POST",
        "/api/2.0/mlflow/logged-models/search",
        Cap(Read, Global),
    ),
    r("GET", "/api/2.0/mlflow/logged-models/*", Cap(Read, Global)),
    r(
        "PATCH|DELETE",
        "/api/2.0/mlflow/logged-models/*",
        Cap(Track, Global),
    ),
    // --- MLflow registry ---
    r(
        "GET|POST",
        "/api/2.0/mlflow/registered-models/search",
        Cap(Read, Global),
    ),
    r(
        "GET|POST",
        "/api/2.0/mlflow/model-versions/search",
        Cap(Read, Global),
    ),
    r(
        "GET",
        "/api/2.0/mlflow/registered-models/*",
        Cap(Read, ModelField),
    ),
    r(
        "POST",
        "/api/2.0/mlflow/registered-models/get-latest-versions",
        Cap(Read, ModelField),
    ),
    r(
        "GET",
        "/api/2.0/mlflow/model-versions/*",
        Cap(Read, ModelField),
    ),
    r(
        "POST",
        "/api/2.0/mlflow/registered-models/rename",
        Cap(Admin, ModelField),
    ),
    r(
        "DELETE",
        "/api/2.0/mlflow/registered-models/delete",
        Cap(Admin, ModelField),
    ),
    r(
        "POST",
        "/api/2.0/mlflow/registered-models/create",
        Cap(Register, Global),
    ),
    r(
        "*",
        "/api/2.0/mlflow/registered-models/*",
        Cap(Register, ModelField),
    ),
    r(
        "*",
        "/api/2.0/mlflow/model-versions/*",
        Cap(Register, ModelField),
    ),
    r("*", "/api/2.0/mlflow/traces*", Cap(Read, Global)),
    r("*", "/api/3.0/mlflow/traces*", Cap(Read, Global)),
    r("*", "/v1/traces", Cap(Read, Global)),
    r("GET", "/api/3.0/mlflow/server-info", Cap(Read, Global)),
    r("GET", "/api/2.0/mlflow-artifacts/*", Cap(Read, Global)),
    r(
        "PUT|DELETE",
        "/api/2.0/mlflow-artifacts/*",
        Cap(Track, Global),
    ),
    // --- native API: governance (the use cases check admin, ownership and approver roles) ---
    r("*", "/api/cairn/v1/whoami", Authenticated),
    r("GET", "/api/cairn/v1/auth/routes", Cap(Admin, Global)),
    r("*", "/api/cairn/v1/users*", Authenticated),
    r("*", "/api/cairn/v1/tokens*", Authenticated),
    r("*", "/api/cairn/v1/grants*", Authenticated),
    r("GET", "/api/cairn/v1/protections", Cap(Read, Global)),
    r("*", "/api/cairn/v1/protections*", Cap(Admin, Global)),
    r("GET", "/api/cairn/v1/promotions*", Cap(Read, Global)),
    r("POST", "/api/cairn/v1/promotions*", Authenticated),
    r("GET", "/api/cairn/v1/policy", Cap(Read, Global)),
    r("GET", "/api/cairn/v1/policy/decisions*", Cap(Audit, Global)),
    r("*", "/api/cairn/v1/policy*", Cap(Admin, Global)),
    r("*", "/api/cairn/v1/audit/*", Cap(Audit, Global)),
    r("GET", "/api/cairn/v1/lineage", Cap(Read, Global)),
    r("GET", "/api/cairn/v1/cards/*", Cap(Read, Global)),
    r("*", "/api/cairn/v1/cards/*", Authenticated),
    // --- native API: the rest ---
    r("GET", "/api/cairn/v1/openapi.json", Cap(Read, Global)),
    r("GET", "/api/cairn/docs*", Cap(Read, Global)),
    r("GET", "/api/cairn/v1/registry/*", Cap(Read, ModelPath)),
    r(
        "PUT",
        "/api/cairn/v1/models/{name}/aliases/{alias}",
        Cap(Register, ModelPath),
    ),
    r(
        "POST",
        "/api/cairn/v1/deployments/{name}/feedback",
        Cap(Invoke, DeploymentPath),
    ),
    r(
        "POST",
        "/api/cairn/v1/deployments/{name}/predictions",
        Cap(Invoke, DeploymentPath),
    ),
    r("GET", "/api/cairn/v1/deployments", Cap(Read, Global)),
    r("POST", "/api/cairn/v1/deployments", Cap(Deploy, Global)),
    r(
        "GET",
        "/api/cairn/v1/deployments/*",
        Cap(Read, DeploymentPath),
    ),
    r(
        "*",
        "/api/cairn/v1/deployments/*",
        Cap(Deploy, DeploymentPath),
    ),
    r("GET", "/api/cairn/v1/*", Cap(Read, Global)),
    r("*", "/api/cairn/v1/monitor*", Cap(Deploy, Global)),
    r("*", "/api/cairn/v1/pipeline*", Cap(Track, Global)),
    r("*", "/api/cairn/v1/gate-evaluations", Cap(Track, Global)),
    // --- serving ---
    r("GET", "/v2", Cap(Invoke, Global)),
    r("*", "/v2/models/{name}*", Cap(Invoke, DeploymentPath)),
    r(
        "POST",
        "/serving-endpoints/{name}/invocations",
        Cap(Invoke, DeploymentPath),
    ),
    r("GET", "/metrics", Cap(Read, Global)),
    // --- the web UI ---
    r(
        "POST",
        "/deployments/{name}/rollback",
        Cap(Deploy, DeploymentPath),
    ),
    r("POST", "/governance/*", Authenticated),
    r("POST", "/experiments*", Cap(Track, Global)),
    r("GET", "/*", Cap(Read, Global)),
];

/// Whether `pattern` (with `*` for any run of characters) matches `path`.
fn matches(pattern: &str, path: &str) -> bool {
    cairn_auth::glob_match(pattern, path)
}

/// The rule for a request to `template` (the matched route) with `method`.
pub fn rule_for(method: &str, template: &str) -> Option<&'static Rule> {
    let template = template
        .strip_prefix("/ajax-api/")
        .map_or(std::borrow::Cow::Borrowed(template), |rest| {
            std::borrow::Cow::Owned(format!("/api/{rest}"))
        });
    RULES.iter().find(|r| {
        (r.methods == "*" || r.methods.split('|').any(|m| m == method))
            && matches(r.path, &template)
    })
}

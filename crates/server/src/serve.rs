//! Binding, middleware and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::Router;
use axum::http::HeaderName;
use axum::serve::ListenerExt;
use cairn_mlflow::{ARTIFACT_SCHEME, MlflowState};
use cairn_service::{
    Actor, Artifacts, ChangeLog, Checkpointer, Deployments, Governance, MaturityTracker, Monitors,
    Pipelines, Registry, Tracking, Triggers,
};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::backends::{MetadataStore, open_artifacts};
use crate::{ServerConfig, control};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A server whose engines are open and whose socket is bound, ready to serve.
pub struct Server {
    listener: TcpListener,
    router: Router,
    store: MetadataStore,
    /// Closed at shutdown, so that long polls of the change log end instead of holding it up.
    change_log: ChangeLog,
    /// Signs the audit chain's last entries at shutdown.
    checkpointer: Checkpointer,
}

impl Server {
    /// Opens the engines and binds the socket; fails fast, naming what is wrong.
    pub async fn bind(config: &ServerConfig) -> anyhow::Result<Self> {
        let started = Instant::now();
        let store = MetadataStore::open(&config.store_uri()).await?;
        let artifacts = open_artifacts(&config.artifacts_uri()).await?;
        tracing::info!(store = %redact(&config.store_uri()), artifacts = %artifacts.description(), "engines open");
        let registry =
            Registry::new(store.registry(), store.tracking()).guarded(store.governance());
        let artifacts = Artifacts::new(artifacts);
        let deployments = Deployments::new(
            store.deployments(),
            registry.clone(),
            artifacts.clone(),
            ARTIFACT_SCHEME,
        );
        let pipelines = Pipelines::new(store.pipelines(), artifacts.clone());
        let state = MlflowState {
            tracking: Tracking::new(store.tracking(), ARTIFACT_SCHEME),
            artifacts,
            registry: registry.clone(),
        };
        let change_log = ChangeLog::new(store.change_log());
        let change_log_handle = change_log.clone();
        let maturity = MaturityTracker::new(
            &deployments,
            store.change_log(),
            store.pipelines(),
            store.monitors(),
        );
        let monitors = Monitors::new(
            store.monitors(),
            deployments.clone(),
            registry.clone(),
            state.tracking.clone(),
            state.artifacts.clone(),
            ARTIFACT_SCHEME,
            Arc::new(crate::alerts::Deliveries::new()),
        );
        tokio::spawn(control::run_monitor_scheduler(monitors.clone()));
        let governance = Governance::new(
            store.governance(),
            state.tracking.clone(),
            store.gates(),
            deployments.clone(),
            crate::governance::auth_config(config),
        )
        .with_monitors(store.monitors());
        crate::governance::check_startup(config, &governance).await?;
        let checkpointer = crate::governance::checkpointer(config, store.governance())?;
        let maturity =
            maturity.with_governance(store.governance(), Some(checkpointer.public_key()));
        let listener = listen(&config.host, config.port, started, "cairn server listening").await?;
        let triggers = Triggers::new(store.triggers(), state.tracking.clone());
        tokio::spawn(
            crate::triggers::Scheduler {
                triggers: triggers.clone(),
                monitors: monitors.clone(),
                log: change_log.clone(),
                artifacts: state.artifacts.clone(),
            }
            .run(),
        );
        tokio::spawn(
            crate::executor::Executor {
                triggers: triggers.clone(),
                pipelines: pipelines.clone(),
                artifacts: state.artifacts.clone(),
                server_id: format!(
                    "{}-{}",
                    std::process::id(),
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                ),
                work_dir: config.data_dir.join("pipeline-runs"),
                self_url: self_url(listener.local_addr()?),
                lease_ms: lease_ms(),
                slots: Arc::new(tokio::sync::Semaphore::new(executor_slots())),
                governance: governance.clone(),
            }
            .run(),
        );
        // The controller rolls out alias moves; the embedded serving follows the deployments in-process,
        // both woken by this process's commits (and, for other servers' writes, by polling the log).
        tokio::spawn(control::run_deployment_controller(
            deployments.clone(),
            change_log.clone(),
            monitors.clone(),
        ));
        let serving = cairn_serving::embedded(
            &config.serving,
            control::in_process(deployments.clone(), change_log.clone()),
            Arc::new(control::StoredModels {
                registry: registry.clone(),
                artifacts: state.artifacts.clone(),
            }),
            Arc::new(control::StoredPredictions(monitors.clone())),
        );
        let web = cairn_web::router(cairn_web::WebUi {
            tracking: state.tracking.clone(),
            registry: registry.clone(),
            deployments: deployments.clone(),
            maturity: maturity.clone(),
            pipelines: pipelines.clone(),
            triggers: triggers.clone(),
            change_log: change_log.clone(),
            monitors: monitors.clone(),
            artifacts: state.artifacts.clone(),
            artifact_scheme: ARTIFACT_SCHEME,
            metrics: cairn_serving::render_metrics,
            governance: governance.clone(),
            audit_key: Some(checkpointer.public_key()),
        });
        let access = crate::access::Access::new(governance.clone(), state.tracking.clone());
        let routes = router_routes();
        let router = cairn_api::router(cairn_api::NativeApi {
            registry,
            deployments,
            change_log: change_log.clone(),
            maturity,
            pipelines,
            triggers,
            gates: cairn_service::GateRecords::new(store.gates(), store.registry()),
            monitors: monitors.clone(),
            governance: cairn_api::GovernanceApi {
                governance: governance.clone(),
                checkpointer: Some(checkpointer.clone()),
                routes: routes.clone(),
            },
        })
        .route(
            "/metrics",
            axum::routing::get(move || metrics(monitors.clone())),
        )
        .merge(cairn_mlflow::auth_router(governance.clone()))
        .merge(cairn_mlflow::router(state))
        .merge(serving)
        .merge(web);
        // Deny by default: every route must be in the access table, or the server does not start.
        let table = crate::access::enumerate::check(&router).map_err(anyhow::Error::msg)?;
        let _ = routes.set(table);
        let router = with_middleware(router.layer(axum::middleware::from_fn_with_state(
            access,
            crate::access::guard,
        )));
        tokio::spawn(crate::governance::run_checkpointer(
            checkpointer.clone(),
            change_log.clone(),
        ));
        Ok(Self {
            listener,
            router,
            store,
            change_log: change_log_handle,
            checkpointer,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests and closes the store.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let listener = self.listener.tap_io(|tcp| {
            // The MLflow client sends many small requests on one connection: don't let Nagle delay them.
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, self.router)
            .with_graceful_shutdown({
                let log = self.change_log.clone();
                async move {
                    shutdown.await;
                    log.close();
                }
            })
            .await
            .context("serving")?;
        if let Err(e) = self.checkpointer.checkpoint().await {
            tracing::warn!(error = %e, "signing the last audit checkpoint");
        }
        self.store.close().await;
        tracing::info!("cairn server stopped");
        Ok(())
    }
}

/// The route list `GET /api/cairn/v1/auth/routes` shows, filled once the router is built.
fn router_routes() -> std::sync::Arc<std::sync::OnceLock<Vec<(String, String, String)>>> {
    std::sync::Arc::new(std::sync::OnceLock::new())
}

/// This server as a child process reaches it: over loopback when it listens on every address.
fn self_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::Ipv4Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// How long a server's claim on a triggered run lasts without renewal (`CAIRN_RUN_LEASE_MS`, 30 s by
/// default): a run whose server died is claimed again this long after.
fn lease_ms() -> i64 {
    std::env::var("CAIRN_RUN_LEASE_MS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|ms| *ms >= 500)
        .unwrap_or(30_000)
}

/// How many triggered runs one server executes at once (`CAIRN_EXECUTOR_SLOTS`, 4 by default).
fn executor_slots() -> usize {
    std::env::var("CAIRN_EXECUTOR_SLOTS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(4)
}

/// `GET /metrics`: the serving's metrics, then every monitor's latest snapshot as gauges.
async fn metrics(monitors: Monitors) -> String {
    let mut text = cairn_serving::render_metrics();
    match monitors.gauges().await {
        Ok(gauges) => text.push_str(&gauges),
        Err(e) => tracing::warn!(error = %e, "reading monitor gauges"),
    }
    text
}

/// Binds `host:port` and logs that the server is up, with how long start-up took.
async fn listen(
    host: &str,
    port: u16,
    started: Instant,
    what: &str,
) -> anyhow::Result<TcpListener> {
    let addr = format!("{host}:{port}");
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        startup_ms = started.elapsed().as_millis() as u64,
        "{what}"
    );
    Ok(listener)
}

/// What every Cairn HTTP server wraps its routes in: request ids (generated unless the client sent one,
/// echoed in the response), a trace span per request, panics answered as 500s instead of dropped
/// connections, and the actor of each request.
fn with_middleware(router: Router) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(TraceLayer::new_for_http())
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(CatchPanicLayer::new())
            .layer(axum::middleware::from_fn(identify)),
    )
}

/// Runs `cairn serve`: one model or one deployment behind the Open Inference Protocol v2 and MLflow
/// scoring, until SIGINT or SIGTERM.
pub async fn run_model_server(config: cairn_serving::ServeConfig) -> anyhow::Result<()> {
    let started = Instant::now();
    let router = with_middleware(cairn_serving::app(&config).await?);
    let listener = listen(
        &config.host,
        config.port,
        started,
        "cairn model server listening",
    )
    .await?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")
}

/// Records who the request says it is: the user name of HTTP basic auth (what the MLflow client sends
/// when `MLFLOW_TRACKING_USERNAME` is set), else anonymous — a claim, not a proof. `cairn serve` keeps
/// it; in `cairn server` the access layer (`access::guard`, inside this) replaces it with the
/// authenticated principal when `--auth` is on.
async fn identify(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let actor = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_auth_user)
        .map_or_else(Actor::anonymous, Actor);
    req.extensions_mut().insert(actor);
    next.run(req).await
}

/// The user name of a `Basic` authorization header.
fn basic_auth_user(header: &str) -> Option<String> {
    use base64::Engine as _;
    let (scheme, credentials) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split_once(':').map_or(text.as_str(), |(u, _)| u);
    (!user.is_empty()).then(|| user.to_owned())
}

/// Runs a server until SIGINT or SIGTERM.
pub async fn run(config: ServerConfig) -> anyhow::Result<()> {
    Server::bind(&config).await?.serve(shutdown_signal()).await
}

/// A store URI fit for logs: any password replaced by `***`.
fn redact(uri: &str) -> String {
    match (uri.find("://"), uri.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &uri[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &uri[..scheme + 3], &uri[at..]),
                None => uri.to_string(),
            }
        }
        _ => uri.to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_auth_names_the_actor() {
        // "alice:secret"
        assert_eq!(
            super::basic_auth_user("Basic YWxpY2U6c2VjcmV0").as_deref(),
            Some("alice")
        );
        assert_eq!(super::basic_auth_user("Bearer abc"), None);
        assert_eq!(super::basic_auth_user("Basic !!!"), None);
        // ":x" has no user name.
        assert_eq!(super::basic_auth_user("Basic Ong="), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgresql://u:secret@h:5432/db"),
            "postgresql://u:***@h:5432/db"
        );
        assert_eq!(super::redact("postgresql://u@h/db"), "postgresql://u@h/db");
        assert_eq!(super::redact("sqlite:///a/b.db"), "sqlite:///a/b.db");
    }
}

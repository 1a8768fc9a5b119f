//! Binding, middleware and graceful shutdown.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::Context;
use axum::Router;
use axum::http::HeaderName;
use axum::serve::ListenerExt;
use cairn_mlflow::{ARTIFACT_SCHEME, MlflowState};
use cairn_service::{Artifacts, Tracking};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::ServerConfig;
use crate::backends::{MetadataStore, open_artifacts};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A server whose engines are open and whose socket is bound, ready to serve.
pub struct Server {
    listener: TcpListener,
    router: Router,
    store: MetadataStore,
}

impl Server {
    /// Opens the engines and binds the socket; fails fast, naming what is wrong.
    pub async fn bind(config: &ServerConfig) -> anyhow::Result<Self> {
        let started = Instant::now();
        let store = MetadataStore::open(&config.store_uri()).await?;
        let artifacts = open_artifacts(&config.artifacts_uri()).await?;
        tracing::info!(store = %redact(&config.store_uri()), artifacts = %artifacts.description(), "engines open");
        let state = MlflowState {
            tracking: Tracking::new(store.tracking(), ARTIFACT_SCHEME),
            artifacts: Artifacts::new(artifacts),
        };
        let router = cairn_mlflow::router(state).layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http())
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::new()),
        );
        let addr = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        tracing::info!(
            addr = %listener.local_addr()?,
            startup_ms = started.elapsed().as_millis() as u64,
            "cairn server listening"
        );
        Ok(Self {
            listener,
            router,
            store,
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
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving")?;
        self.store.close().await;
        tracing::info!("cairn server stopped");
        Ok(())
    }
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
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgresql://u:secret@h:5432/db"),
            "postgresql://u:***@h:5432/db"
        );
        assert_eq!(super::redact("postgresql://u@h/db"), "postgresql://u@h/db");
        assert_eq!(super::redact("sqlite:///a/b.db"), "sqlite:///a/b.db");
    }
}

//! Cairn's model serving (maturity levels 2–3). It loads ONNX models — a plain `.onnx` file, an MLflow
//! ONNX-flavour folder, or a registered version — onto the inference engine (`cairn-onnx`) and serves
//! them over the Open Inference Protocol v2 ([`oip`]) and MLflow's scoring protocol ([`scoring`]).
//!
//! Three ways to run: `cairn serve --model …` serves one model by hand (following an alias if given
//! one); `cairn serve --deployment NAME` is a stateless replica serving one deployment of a control
//! plane; and `cairn server` embeds the serving of every deployment ([`embedded`]). Deployments and
//! aliases are followed through the control plane's change log, aliases served by hand by polling the registry ([`follow`]); a change is loaded beside what serves
//! and swapped in, so no request fails. Deployments' requests are logged for monitoring ([`predictions`]).
//!
//! Layout: [`config`] the settings, [`source`] finds and fetches models, [`served`] loads them,
//! [`endpoints`] routes each endpoint's requests (canary split included), [`values`] converts JSON to
//! and from engine tensors, `routes` holds the thin HTTP handlers, `telemetry` the Prometheus metrics.

pub mod config;
pub mod endpoints;
pub mod follow;
pub mod oip;
pub mod predictions;
mod routes;
pub mod scoring;
pub mod served;
pub mod source;
mod telemetry;
pub mod traffic;
pub mod values;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use cairn_onnx::Runtime;

pub use config::{EngineConfig, ServeConfig};
use endpoints::{Endpoints, Routing, Unservable};
pub use follow::{ControlPlane, Scope, Wanted};
use follow::{Follower, HttpControlPlane};
use predictions::{LogSettings, PredictionLog, PredictionSink};
pub use served::{Loader, Served};
/// The Prometheus exposition text of this process's serving metrics (what `GET /metrics` answers).
pub use telemetry::render as render_metrics;

/// `cairn serve`: loads what the settings name and returns the router serving it; for an alias or a
/// deployment, also starts following it.
pub async fn app(cfg: &ServeConfig) -> anyhow::Result<axum::Router> {
    telemetry::install();
    let runtime = Runtime::init(cfg.engine.ort_dylib.as_deref())?;
    let loader = Loader::new(Ok(runtime), &cfg.server(), cfg.engine.options());
    let endpoints = match (&cfg.deployment, cfg.model.as_deref()) {
        (Some(deployment), _) => serve_deployment(cfg, loader, deployment).await?,
        (None, Some(model)) if model.starts_with("models:/") => {
            serve_registered(cfg, loader, model).await?
        }
        (None, Some(path)) => {
            let served = loader.local(&PathBuf::from(path)).await?;
            let endpoint = cfg
                .name
                .clone()
                .unwrap_or_else(|| served.model_name.clone());
            let endpoints = Arc::new(Endpoints::with_default(&endpoint));
            endpoints.set(&endpoint, Routing::single(served));
            endpoints
        }
        (None, None) => bail!("give --model or --deployment"),
    };
    Ok(routes::router(endpoints, true))
}

/// A replica: one deployment of the control plane, loaded before the replica listens, then followed.
async fn serve_deployment(
    cfg: &ServeConfig,
    loader: Loader,
    deployment: &str,
) -> anyhow::Result<Arc<Endpoints>> {
    let endpoint = cfg.name.clone().unwrap_or_else(|| deployment.to_owned());
    // A replica's logged predictions go to its control plane, which stores them with the others.
    let sink = Arc::new(HttpPredictionSink(cairn_client::Client::new(
        &loader.server,
    )));
    let log = PredictionLog::start(sink, LogSettings::from_env());
    let endpoints = Arc::new(Endpoints::with_default(&endpoint).with_log(log));
    let plane = Arc::new(HttpControlPlane::new(&loader.server));
    let mut follower = Follower::new(
        loader,
        plane,
        Scope::One(deployment.to_owned()),
        Some(endpoint.clone()),
    );
    follower.sync(&endpoints).await?;
    if let Err(Unservable::NotReady(why) | Unservable::Unknown(why)) = endpoints.get(&endpoint) {
        bail!("{why}");
    }
    tokio::spawn(follower.run(endpoints.clone()));
    Ok(endpoints)
}

/// `models:/name/3` or `models:/name@alias` (then followed as the alias moves).
async fn serve_registered(
    cfg: &ServeConfig,
    loader: Loader,
    model: &str,
) -> anyhow::Result<Arc<Endpoints>> {
    let (name, version, alias) = source::parse_models_uri(model)?;
    let version = match (version, &alias) {
        (Some(v), _) => v,
        (None, Some(alias)) => source::alias_version(&loader.server, &name, alias)
            .await
            .with_context(|| format!("resolving {model}"))?,
        (None, None) => bail!("expected a version or an alias in {model}"),
    };
    let endpoint = cfg.name.clone().unwrap_or_else(|| name.clone());
    let endpoints = Arc::new(Endpoints::with_default(&endpoint));
    endpoints.set(
        &endpoint,
        Routing::single(loader.registered(&name, &version).await?),
    );
    if let Some(alias) = alias {
        tokio::spawn(follow::follow_alias(
            loader,
            endpoints.clone(),
            endpoint,
            name,
            alias,
            cfg.engine.poll(),
        ));
    }
    Ok(endpoints)
}

/// Uploads a replica's batches of logged predictions to its control plane.
struct HttpPredictionSink(cairn_client::Client);

#[async_trait::async_trait]
impl PredictionSink for HttpPredictionSink {
    async fn write(&self, deployment: &str, file: &str, parquet: Vec<u8>) -> anyhow::Result<()> {
        Ok(self.0.upload_predictions(deployment, file, parquet).await?)
    }
}

/// The serving embedded in `cairn server`: every deployment of `plane` (the server's own control plane),
/// at `/v2/models/{deployment}/…` and `/serving-endpoints/{deployment}/invocations`, with `/metrics`;
/// models are read through `files` (the server's own stores). Both in-process: no HTTP to itself.
/// Without an ONNX Runtime the server still runs; each deployment then answers 503 saying how to
/// install one.
pub fn embedded(
    engine: &EngineConfig,
    plane: Arc<dyn ControlPlane>,
    files: Arc<dyn source::ModelFiles>,
    predictions: Arc<dyn PredictionSink>,
) -> axum::Router {
    telemetry::install();
    let runtime = Runtime::init(engine.ort_dylib.as_deref()).map_err(|e| e.to_string());
    if let Err(why) = &runtime {
        tracing::warn!(error = %why, "deployments cannot be served by this server until ONNX Runtime is installed");
    }
    let log = PredictionLog::start(predictions, LogSettings::from_env());
    let endpoints = Arc::new(Endpoints::default().with_log(log));
    let follower = Follower::new(
        Loader::with_files(runtime, "this server", files, engine.options()),
        plane,
        Scope::All,
        None,
    );
    tokio::spawn(follower.run(endpoints.clone()));
    routes::router(endpoints, false)
}

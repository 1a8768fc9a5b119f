//! Cairn's model server (maturity level 2: serving a chosen model by hand). It loads one ONNX model — a
//! plain `.onnx` file, an MLflow ONNX-flavour folder, or a registered version or alias fetched from a Cairn
//! server — onto the inference engine (`cairn-onnx`) and serves it over the Open Inference Protocol v2
//! ([`oip`]) and MLflow's scoring protocol ([`scoring`]).
//!
//! Served from an alias (`models:/name@champion`), it follows the alias: when the alias moves, the new
//! version is loaded beside the serving one and swapped in; requests in flight finish on the old one, so
//! none fails.
//!
//! Layout: [`source`] finds and fetches the model, [`values`] converts JSON to and from engine tensors,
//! `routes` holds the thin HTTP handlers.

pub mod oip;
mod routes;
pub mod scoring;
pub mod source;
mod telemetry;
pub mod values;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use cairn_onnx::{Model, ModelOptions, Runtime};

pub use routes::router;

/// Settings of `cairn serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// The model: `models:/name@alias` or `models:/name/3` (fetched from --server), an MLflow ONNX-flavour
    /// folder (MLmodel + model.onnx), or a `.onnx` file.
    #[arg(long, env = "CAIRN_MODEL")]
    pub model: String,
    /// The Cairn server that holds the registry, for `models:/` sources.
    #[arg(long, env = "CAIRN_SERVER", default_value = "http://127.0.0.1:5000")]
    pub server: String,
    /// The name the model is served under (`/v2/models/<name>`); defaults to its registered name or file stem.
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, env = "CAIRN_SERVE_HOST", default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, env = "CAIRN_SERVE_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Inference worker threads, each with its own ONNX Runtime session.
    #[arg(long, env = "CAIRN_SERVE_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Threads each session may use inside one run (1 is best for single-row requests).
    #[arg(long, env = "CAIRN_SERVE_INTRA_THREADS", default_value_t = 1)]
    pub intra_threads: usize,
    /// The ONNX Runtime shared library (else ORT_DYLIB_PATH, else `.onnxruntime/` from scripts/onnxruntime.sh).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_dylib: Option<PathBuf>,
    /// For `models:/name@alias`: how often to check where the alias points, in milliseconds; when it
    /// moves, the new version is loaded beside the old and swapped in without failing a request.
    #[arg(long, env = "CAIRN_SERVE_POLL_MS", default_value_t = 1000)]
    pub poll_ms: u64,
}

/// A model being served.
pub struct Served {
    pub name: String,
    pub version: Option<String>,
    pub model: Model,
    /// Input column names from the MLmodel signature, for table payloads.
    pub columns: Option<Vec<String>>,
}

impl Served {
    /// Fetches the model and loads it onto the engine's workers.
    async fn load(runtime: &Runtime, cfg: &ServeConfig) -> anyhow::Result<Served> {
        let runtime = runtime.clone();
        let (loaded, default_name) = if cfg.model.starts_with("models:/") {
            let (name, _, _) = source::parse_models_uri(&cfg.model)?;
            (
                source::load_registered(&cfg.server, &cfg.model).await?,
                name,
            )
        } else {
            let path = PathBuf::from(&cfg.model);
            let stem = path
                .file_stem()
                .map_or_else(|| "model".to_owned(), |s| s.to_string_lossy().into_owned());
            (source::load_local(&path)?, stem)
        };
        let options = ModelOptions {
            workers: cfg.workers,
            intra_threads: cfg.intra_threads,
        };
        let bytes = loaded.onnx.clone();
        let model = tokio::task::spawn_blocking(move || Model::load(&runtime, &bytes, options))
            .await
            .context("loading the model")??;
        tracing::info!(model = %loaded.description, "model loaded");
        Ok(Served {
            name: cfg.name.clone().unwrap_or(default_name),
            version: loaded.version,
            model,
            columns: loaded.columns,
        })
    }
}

/// The model being served now. Requests take the current `Arc` and keep it until they finish, so a swap
/// never interrupts one: the old model is dropped when its last request is done.
pub struct Current(RwLock<Arc<Served>>);

impl Current {
    pub fn new(served: Served) -> Self {
        Current(RwLock::new(Arc::new(served)))
    }
    pub fn get(&self) -> Arc<Served> {
        self.0
            .read()
            .map_or_else(|p| p.into_inner().clone(), |g| g.clone())
    }
    fn set(&self, served: Served) {
        match self.0.write() {
            Ok(mut g) => *g = Arc::new(served),
            Err(p) => *p.into_inner() = Arc::new(served),
        }
    }
}

/// Loads the model and returns the router serving it; for an alias source, also starts following the
/// alias.
pub async fn app(cfg: &ServeConfig) -> anyhow::Result<axum::Router> {
    telemetry::install();
    let runtime = Runtime::init(cfg.ort_dylib.as_deref())?;
    let current = Arc::new(Current::new(Served::load(&runtime, cfg).await?));
    if let Ok((name, None, Some(alias))) = source::parse_models_uri(&cfg.model) {
        tokio::spawn(follow_alias(
            runtime,
            cfg.clone(),
            name,
            alias,
            current.clone(),
        ));
    }
    Ok(router(current))
}

/// Checks where the alias points every `poll_ms`; when it has moved, loads that version beside the one
/// serving and swaps it in. A failed check or load keeps the current model and is retried.
async fn follow_alias(
    runtime: Runtime,
    cfg: ServeConfig,
    name: String,
    alias: String,
    current: Arc<Current>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(cfg.poll_ms.max(50)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let target = match source::alias_version(&cfg.server, &name, &alias).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "checking alias {alias} of {name}");
                continue;
            }
        };
        let serving = current.get().version.clone();
        if serving.as_deref() == Some(target.as_str()) {
            continue;
        }
        let pinned = ServeConfig {
            model: format!("models:/{name}/{target}"),
            name: Some(current.get().name.clone()),
            ..cfg.clone()
        };
        match Served::load(&runtime, &pinned).await {
            Ok(next) => {
                tracing::info!(model = %name, alias = %alias, from = ?serving, to = %target, "alias moved: new version serving");
                current.set(next);
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), version = %target, "loading the version {alias} now points to")
            }
        }
    }
}

//! Models loaded onto the engine, and the loader that fetches and loads them.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use cairn_onnx::{Model, ModelOptions, Runtime};

use crate::predictions::Origin;
use crate::source::{self, HttpModelFiles, Loaded, ModelFiles};

/// A model being served.
pub struct Served {
    /// The registered model's name, or the file's stem.
    pub model_name: String,
    /// The registry version, for registered models.
    pub version: Option<String>,
    pub model: Model,
    /// Input column names from the MLmodel signature, for table payloads.
    pub columns: Option<Arc<[String]>>,
    /// How prediction logs name it.
    pub origin: Arc<Origin>,
}

impl Served {
    /// Is this `name` at `version`?
    pub fn is(&self, name: &str, version: &str) -> bool {
        self.model_name == name && self.version.as_deref() == Some(version)
    }
}

/// Fetches models (from the local disk, or from a Cairn server's registry) and loads them onto the
/// engine's workers.
#[derive(Clone)]
pub struct Loader {
    /// The engine, or why there is none (then every load fails saying so).
    runtime: Result<Runtime, String>,
    /// The Cairn server whose registry `models:/` references name.
    pub server: String,
    /// Where registered versions' files come from.
    files: Arc<dyn ModelFiles>,
    options: ModelOptions,
}

impl Loader {
    /// Registered versions are fetched from `server`'s REST API.
    pub fn new(runtime: Result<Runtime, String>, server: &str, options: ModelOptions) -> Self {
        let files = Arc::new(HttpModelFiles::new(server));
        Self::with_files(runtime, server, files, options)
    }

    /// Registered versions are read through `files` (the server's own stores, in-process).
    pub fn with_files(
        runtime: Result<Runtime, String>,
        server: &str,
        files: Arc<dyn ModelFiles>,
        options: ModelOptions,
    ) -> Self {
        Loader {
            runtime,
            server: server.trim_end_matches('/').to_owned(),
            files,
            options,
        }
    }

    /// A registered version.
    pub async fn registered(&self, name: &str, version: &str) -> anyhow::Result<Served> {
        let loaded = source::load_registered(self.files.as_ref(), name, version).await?;
        self.load(loaded, name).await
    }

    /// A `.onnx` file or an MLflow ONNX-flavour folder.
    pub async fn local(&self, path: &Path) -> anyhow::Result<Served> {
        let stem = path
            .file_stem()
            .map_or_else(|| "model".to_owned(), |s| s.to_string_lossy().into_owned());
        self.load(source::load_local(path)?, &stem).await
    }

    async fn load(&self, loaded: Loaded, model_name: &str) -> anyhow::Result<Served> {
        let runtime = self
            .runtime
            .clone()
            .map_err(|why| anyhow::anyhow!("this process cannot run ONNX models: {why}"))?;
        let options = self.options;
        let bytes = loaded.onnx;
        // Building sessions is CPU work of up to seconds: off the async threads.
        let model = tokio::task::spawn_blocking(move || Model::load(&runtime, &bytes, options))
            .await
            .context("loading the model")??;
        tracing::info!(model = %loaded.description, "model loaded");
        let columns: Option<Arc<[String]>> = loaded.columns.map(Into::into);
        let origin = Arc::new(Origin {
            model: model_name.to_owned(),
            version: loaded.version.clone().unwrap_or_default(),
            columns: columns.clone(),
        });
        Ok(Served {
            model_name: model_name.to_owned(),
            version: loaded.version,
            model,
            columns,
            origin,
        })
    }
}

//! Settings of `cairn serve`, and of the serving `cairn server` embeds.

use std::path::PathBuf;

use cairn_onnx::ModelOptions;

/// How models are run: shared by `cairn serve` and the serving embedded in `cairn server`.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineConfig {
    /// Inference worker threads per model, each with its own ONNX Runtime session.
    #[arg(long, env = "CAIRN_SERVE_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Threads each session may use inside one run (1 is best for single-row requests).
    #[arg(long, env = "CAIRN_SERVE_INTRA_THREADS", default_value_t = 1)]
    pub intra_threads: usize,
    /// The ONNX Runtime shared library (else ORT_DYLIB_PATH, else `.onnxruntime/` from
    /// scripts/onnxruntime.sh).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_dylib: Option<PathBuf>,
    /// How often `cairn serve --model models:/name@alias` checks where the alias points, in
    /// milliseconds. (Deployments need no polling: they follow the control plane's change log, so a
    /// change reaches them at once.) A change is loaded beside what serves and swapped in without
    /// failing a request.
    #[arg(long, env = "CAIRN_SERVE_POLL_MS", default_value_t = 1000)]
    pub poll_ms: u64,
}

impl EngineConfig {
    pub fn options(&self) -> ModelOptions {
        ModelOptions {
            workers: self.workers,
            intra_threads: self.intra_threads,
        }
    }

    pub fn poll(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.poll_ms.max(50))
    }
}

/// Settings of `cairn serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// The model: `models:/name@alias` or `models:/name/3` (fetched from --server), an MLflow ONNX-flavour
    /// folder (MLmodel + model.onnx), or a `.onnx` file.
    #[arg(
        long,
        env = "CAIRN_MODEL",
        required_unless_present = "deployment",
        conflicts_with = "deployment"
    )]
    pub model: Option<String>,
    /// Serve this deployment of the --server control plane, as a stateless replica: it follows the
    /// deployment's model, canary and alias moves.
    #[arg(long, env = "CAIRN_DEPLOYMENT")]
    pub deployment: Option<String>,
    /// The Cairn server that holds the registry and the deployments [default: MLFLOW_TRACKING_URI when
    /// it is an http(s) URL, else http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER")]
    pub server: Option<String>,
    /// The name the model is served under (`/v2/models/<name>`); defaults to the deployment's name, else
    /// the registered name or file stem.
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, env = "CAIRN_SERVE_HOST", default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, env = "CAIRN_SERVE_PORT", default_value_t = 8080)]
    pub port: u16,
    #[command(flatten)]
    pub engine: EngineConfig,
}

impl ServeConfig {
    /// The server in force: `--server` / `CAIRN_SERVER`, else `MLFLOW_TRACKING_URI` (what MLflow users
    /// already have set, and what `cairn deploy` and `cairn registry` honour too), else the default.
    pub fn server(&self) -> String {
        server_url(
            self.server.as_deref(),
            std::env::var("MLFLOW_TRACKING_URI").ok().as_deref(),
        )
    }
}

/// `flag` if given, else `tracking_uri` if it is an http(s) URL, else `http://127.0.0.1:5000`; without a
/// trailing `/`.
fn server_url(flag: Option<&str>, tracking_uri: Option<&str>) -> String {
    flag.or(tracking_uri.filter(|u| u.starts_with("http://") || u.starts_with("https://")))
        .unwrap_or("http://127.0.0.1:5000")
        .trim_end_matches('/')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::server_url;

    #[test]
    fn the_server_defaults_to_the_tracking_uri() {
        assert_eq!(
            server_url(Some("http://a:1/"), Some("http://b:2")),
            "http://a:1"
        );
        assert_eq!(server_url(None, Some("https://b:2/")), "https://b:2");
        assert_eq!(
            server_url(None, Some("file:///mlruns")),
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            server_url(None, Some("databricks")),
            "http://127.0.0.1:5000"
        );
        assert_eq!(server_url(None, None), "http://127.0.0.1:5000");
    }
}

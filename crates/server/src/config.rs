//! The server's one configuration struct, read from flags and environment.

use std::path::PathBuf;

/// `cairn server` settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerConfig {
    /// Address to listen on.
    #[arg(long, env = "CAIRN_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "CAIRN_PORT", default_value_t = 5000)]
    pub port: u16,
    /// Folder for the embedded defaults: `cairn.db` (SQLite) and `artifacts/`.
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./cairn-data")]
    pub data_dir: PathBuf,
    /// Metadata store, e.g. `sqlite:///path/cairn.db`. Default: SQLite in the data folder.
    #[arg(long, env = "CAIRN_BACKEND_STORE_URI")]
    pub backend_store_uri: Option<String>,
    /// Where artifacts are stored: a folder, `file:///path` or `s3://bucket/prefix` (configured by the
    /// standard AWS variables). Default: `artifacts/` in the data folder.
    #[arg(long, env = "CAIRN_ARTIFACTS_DESTINATION")]
    pub artifacts_destination: Option<String>,
    /// How the deployments this server serves run their models.
    #[command(flatten)]
    pub serving: cairn_serving::EngineConfig,
}

impl ServerConfig {
    /// The metadata store URI in force.
    pub fn store_uri(&self) -> String {
        self.backend_store_uri
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("cairn.db").display()))
    }

    /// The artifact destination in force.
    pub fn artifacts_uri(&self) -> String {
        self.artifacts_destination
            .clone()
            .unwrap_or_else(|| self.data_dir.join("artifacts").display().to_string())
    }
}

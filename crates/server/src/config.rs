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
    /// Authentication and authorization on every route (users, tokens, OIDC, roles). Off by default
    /// only on a loopback address.
    #[arg(long, env = "CAIRN_AUTH")]
    pub auth: bool,
    /// Serve a non-loopback address without authentication (anyone who reaches it may do anything).
    #[arg(long, env = "CAIRN_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,
    /// The audit log's Ed25519 signing key file (created, mode 0600, if missing). Default:
    /// `audit/signing.key` in the data folder; in production keep it elsewhere.
    #[arg(long, env = "CAIRN_AUDIT_SIGNING_KEY")]
    pub audit_key: Option<PathBuf>,
    /// Accept OIDC bearer tokens from this issuer (with --oidc-audience).
    #[arg(long, env = "CAIRN_OIDC_ISSUER", requires = "oidc_audience")]
    pub oidc_issuer: Option<String>,
    /// The audience OIDC tokens must carry.
    #[arg(long, env = "CAIRN_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,
    /// The issuer's JWKS URL (default: from its discovery document).
    #[arg(long, env = "CAIRN_OIDC_JWKS_URI")]
    pub oidc_jwks_uri: Option<String>,
    /// The claim naming the user (default `preferred_username`, else `sub`).
    #[arg(long, env = "CAIRN_OIDC_USERNAME_CLAIM")]
    pub oidc_username_claim: Option<String>,
}

impl ServerConfig {
    /// The metadata store URI in force.
    pub fn store_uri(&self) -> String {
        self.backend_store_uri
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("cairn.db").display()))
    }

    /// The audit signing key file in force.
    pub fn audit_key_path(&self) -> PathBuf {
        self.audit_key
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit").join("signing.key"))
    }

    /// Where each signed audit checkpoint is also written, outside the database.
    pub fn audit_anchor_dir(&self) -> PathBuf {
        self.data_dir.join("audit").join("checkpoints")
    }

    /// The artifact destination in force.
    pub fn artifacts_uri(&self) -> String {
        self.artifacts_destination
            .clone()
            .unwrap_or_else(|| self.data_dir.join("artifacts").display().to_string())
    }
}

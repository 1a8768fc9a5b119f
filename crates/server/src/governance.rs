//! Governance at start-up and in the background: authentication settings, the refusals that keep a
//! server from starting open by mistake, the first admin, and the audit chain's signed checkpoints.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use cairn_auth::oidc::{OidcConfig, OidcVerifier};
use cairn_governance::audit::AuditKey;
use cairn_service::{AuthConfig, ChangeLog, Checkpointer, Governance, JwtIdentity, JwtVerifier};
use cairn_store::GovernanceStore;

use crate::ServerConfig;

/// How often the chain's new entries are signed (also at shutdown and on `POST /audit/checkpoints`).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

pub(crate) fn auth_config(config: &ServerConfig) -> AuthConfig {
    AuthConfig {
        enabled: config.auth,
        oidc: match (&config.oidc_issuer, &config.oidc_audience) {
            (Some(issuer), Some(audience)) => {
                let mut c = OidcConfig::new(issuer.clone(), audience.clone());
                c.jwks_uri = config.oidc_jwks_uri.clone();
                if let Some(claim) = &config.oidc_username_claim {
                    c.username_claim = claim.clone();
                }
                Some(Arc::new(Oidc(OidcVerifier::new(c, reqwest::Client::new()))))
            }
            _ => None,
        },
    }
}

/// The use cases' bearer-token check, on `cairn-auth`'s OIDC verifier and this server's HTTP client.
struct Oidc(OidcVerifier);

#[async_trait::async_trait]
impl JwtVerifier for Oidc {
    async fn verify(&self, token: &str) -> Result<JwtIdentity, String> {
        let id = self.0.verify(token).await.map_err(|e| e.to_string())?;
        Ok(JwtIdentity {
            username: id.username,
            groups: id.groups,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses to start open on a network, or with authentication but nobody who can sign in; creates the
/// first admin from `CAIRN_ADMIN_USERNAME` + `CAIRN_ADMIN_PASSWORD` when there is none.
pub(crate) async fn check_startup(config: &ServerConfig, g: &Governance) -> anyhow::Result<()> {
    if !config.auth && !is_loopback(&config.host) && !config.allow_unauthenticated {
        bail!(
            "refusing to serve {} without authentication: start with --auth (users, tokens, roles), or \
             --allow-unauthenticated to let anyone who reaches it do anything",
            config.host
        );
    }
    if !config.auth && config.allow_unauthenticated && !is_loopback(&config.host) {
        tracing::warn!(host = %config.host, "serving without authentication on a network address");
    }
    let user = std::env::var("CAIRN_ADMIN_USERNAME")
        .ok()
        .filter(|u| !u.is_empty());
    let password = std::env::var("CAIRN_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    if let (Some(user), Some(password)) = (&user, &password)
        && g.bootstrap_admin(user, password)
            .await
            .context("creating the first admin")?
    {
        tracing::info!(user = %user, "created the first admin from CAIRN_ADMIN_USERNAME");
    }
    if config.auth && !g.has_admin().await? {
        bail!(
            "--auth needs an admin and there is none: set CAIRN_ADMIN_USERNAME and CAIRN_ADMIN_PASSWORD \
             for the first start, or run `cairn admin init` (there is no default password)"
        );
    }
    Ok(())
}

/// The audit signer, with the key from `--audit-key` (or the data folder), created at first start.
pub(crate) fn checkpointer(
    config: &ServerConfig,
    store: Arc<dyn GovernanceStore>,
) -> anyhow::Result<Checkpointer> {
    let path = config.audit_key_path();
    // A name of its own per key, so that the checkpoints of servers sharing a database with keys of
    // their own are told apart (a note under the trusted key's name that does not verify is a forgery).
    let name = format!("cairn-audit-{:08x}", rand::random::<u32>());
    let key = AuditKey::load_or_create(&path, &name)
        .with_context(|| format!("the audit signing key {}", path.display()))?;
    Ok(Checkpointer::new(
        store,
        key,
        Some(config.audit_anchor_dir()),
    ))
}

/// Signs a checkpoint whenever the change log (and with it the chain) grew.
pub(crate) async fn run_checkpointer(c: Checkpointer, log: ChangeLog) {
    let mut last = -1;
    loop {
        if let Ok(head) = log.head().await
            && head != last
        {
            match c.checkpoint().await {
                Ok(_) => last = head,
                Err(e) => tracing::warn!(error = %e, "signing an audit checkpoint"),
            }
        }
        tokio::time::sleep(CHECKPOINT_EVERY).await;
    }
}

/// `cairn admin init`: creates the first admin in the store a server with this configuration uses;
/// false when an admin exists already.
pub async fn admin_init(config: &ServerConfig, user: &str, password: &str) -> anyhow::Result<bool> {
    let g = offline_governance(config).await?;
    Ok(g.0.bootstrap_admin(user, password).await?)
}

/// `cairn audit verify --data-dir`: verifies the chain in the store of a data folder (or the store URI
/// given) with the public key from `pubkey` (text), else the data folder's key file, and every anchor
/// note written beside it.
pub async fn audit_verify_local(
    config: &ServerConfig,
    pubkey: Option<&str>,
) -> anyhow::Result<cairn_service::AuditVerification> {
    use cairn_governance::audit::AuditPublicKey;
    let key = match pubkey {
        Some(text) => Some(AuditPublicKey::parse(text.trim()).context("--pubkey")?),
        None => {
            let path = config.audit_key_path();
            if path.exists() {
                Some(
                    AuditKey::load(&path)
                        .with_context(|| path.display().to_string())?
                        .public(),
                )
            } else {
                None
            }
        }
    };
    let mut anchors = Vec::new();
    if let Ok(dir) = std::fs::read_dir(config.audit_anchor_dir()) {
        let mut files: Vec<_> = dir.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "note"))
        {
            anchors.push(std::fs::read_to_string(f).with_context(|| f.display().to_string())?);
        }
    }
    let (g, store) = offline_governance(config).await?;
    let report = cairn_service::verify_rows(g.store().as_ref(), key, anchors).await;
    store.close().await;
    Ok(report?)
}

/// The governance use cases over a configuration's store, without serving (for CLI commands that work
/// on a data folder).
async fn offline_governance(
    config: &ServerConfig,
) -> anyhow::Result<(Governance, crate::backends::MetadataStore)> {
    use cairn_service::{Artifacts, Deployments, Registry, Tracking};
    let store = crate::backends::MetadataStore::open(&config.store_uri()).await?;
    let artifacts = Artifacts::new(crate::backends::open_artifacts(&config.artifacts_uri()).await?);
    let registry = Registry::new(store.registry(), store.tracking());
    let scheme = cairn_mlflow::ARTIFACT_SCHEME;
    let deployments = Deployments::new(
        store.deployments(),
        registry.clone(),
        artifacts.clone(),
        scheme,
    );
    let g = Governance::new(
        store.governance(),
        Tracking::new(store.tracking(), scheme),
        store.gates(),
        deployments,
        AuthConfig::default(),
    );
    Ok((g, store))
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_hosts() {
        assert!(super::is_loopback("127.0.0.1"));
        assert!(super::is_loopback("::1"));
        assert!(super::is_loopback("[::1]"));
        assert!(super::is_loopback("localhost"));
        assert!(!super::is_loopback("0.0.0.0"));
        assert!(!super::is_loopback("10.1.2.3"));
    }
}

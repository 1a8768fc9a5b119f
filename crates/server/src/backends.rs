//! Choosing and opening the engines a configuration names.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use cairn_artifacts::ArtifactStore;
use cairn_artifacts_object_store::ObjectStoreArtifacts;
use cairn_store::{
    ChangeLogStore, DeploymentStore, GateStore, GovernanceStore, MonitorStore, PipelineStore,
    RegistryStore, TrackingStore, TriggerStore,
};
use cairn_store_postgres::PostgresStore;
use cairn_store_sql::{
    Signalled, SqlChangeLog, SqlDeployments, SqlGates, SqlGovernance, SqlMonitors, SqlPipelines,
    SqlRegistry, SqlTriggers,
};
use cairn_store_sqlite::SqliteStore;

/// An opened metadata store, kept concretely so it can be closed cleanly at shutdown.
pub(crate) struct MetadataStore {
    engine: Engine,
    /// The control plane's transactions (registry, deployments, change log), signalling each commit.
    sql: Arc<Signalled>,
}

enum Engine {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl MetadataStore {
    pub(crate) async fn open(uri: &str) -> anyhow::Result<Self> {
        let engine = Engine::open(uri).await?;
        let sql = Signalled::new(match &engine {
            Engine::Sqlite(s) => Arc::new(s.clone()),
            Engine::Postgres(s) => Arc::new(s.clone()),
        });
        Ok(Self { engine, sql })
    }

    pub(crate) fn tracking(&self) -> Arc<dyn TrackingStore> {
        match &self.engine {
            Engine::Sqlite(s) => Arc::new(s.clone()),
            Engine::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// The registry, on the same database as tracking (registration updates logged-model tags in the
    /// same transaction).
    pub(crate) fn registry(&self) -> Arc<dyn RegistryStore> {
        Arc::new(SqlRegistry::new(self.sql.clone()))
    }

    /// Deployments, on the registry's transactions (their history is kept like the registry's).
    pub(crate) fn deployments(&self) -> Arc<dyn DeploymentStore> {
        Arc::new(SqlDeployments::new(self.sql.clone()))
    }

    /// Registered pipelines and pipeline runs, on the control plane's transactions.
    pub(crate) fn pipelines(&self) -> Arc<dyn PipelineStore> {
        Arc::new(SqlPipelines::new(self.sql.clone()))
    }

    /// Triggers, their firings and the triggered-run queue, on the control plane's transactions.
    pub(crate) fn triggers(&self) -> Arc<dyn TriggerStore> {
        Arc::new(SqlTriggers::new(self.sql.clone()))
    }

    /// Pipelines' gate evaluations, on the registry's transactions (each with its change-log entry).
    pub(crate) fn gates(&self) -> Arc<dyn GateStore> {
        Arc::new(SqlGates::new(self.sql.clone()))
    }

    /// Monitors, snapshots, alerts and delayed labels, on the control plane's transactions.
    pub(crate) fn monitors(&self) -> Arc<dyn MonitorStore> {
        Arc::new(SqlMonitors::new(self.sql.clone()))
    }

    /// Users, tokens, grants, protections, promotions, policies, cards and the audit chain, on the
    /// control plane's transactions.
    pub(crate) fn governance(&self) -> Arc<dyn GovernanceStore> {
        Arc::new(SqlGovernance::new(self.sql.clone()))
    }

    /// The control plane's change log, which every registry and deployment write appends to.
    pub(crate) fn change_log(&self) -> Arc<dyn ChangeLogStore> {
        Arc::new(SqlChangeLog::new(self.sql.clone()))
    }

    pub(crate) async fn close(&self) {
        match &self.engine {
            Engine::Sqlite(s) => s.close().await,
            Engine::Postgres(s) => s.close().await,
        }
    }
}

impl Engine {
    async fn open(uri: &str) -> anyhow::Result<Self> {
        let scheme = uri.split_once("://").map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" | "" => {
                Ok(Self::Sqlite(SqliteStore::open(uri).await.with_context(
                    || format!("opening the metadata store {uri}"),
                )?))
            }
            "postgresql" | "postgres" => Ok(Self::Postgres(
                PostgresStore::open(uri)
                    .await
                    .context("opening the metadata store")?,
            )),
            other => bail!(
                "unsupported --backend-store-uri scheme '{other}': use sqlite:///path/to/cairn.db or \
                 postgresql://user@host:port/db"
            ),
        }
    }
}

/// Opens the artifact store named by a destination — a folder, `file:///path` or
/// `s3://bucket/prefix` — and checks it answers, within seconds.
pub(crate) async fn open_artifacts(uri: &str) -> anyhow::Result<Arc<dyn ArtifactStore>> {
    let repo = match uri.split_once("://") {
        None => ObjectStoreArtifacts::local(&PathBuf::from(uri)),
        Some(("file", rest)) => ObjectStoreArtifacts::local(&PathBuf::from(rest)),
        Some(("s3", _)) => ObjectStoreArtifacts::s3(uri),
        Some((other, _)) => bail!(
            "unsupported --artifacts-destination scheme '{other}' in {uri}: use a folder, file:///path or \
             s3://bucket/prefix"
        ),
    }
    .with_context(|| format!("opening the artifact destination {uri}"))?;
    tokio::time::timeout(std::time::Duration::from_secs(20), repo.probe())
        .await
        .map_err(|_| anyhow::anyhow!("the artifact destination {uri} did not answer within 20 s"))?
        .with_context(|| format!("checking the artifact destination {uri}"))?;
    Ok(Arc::new(repo))
}

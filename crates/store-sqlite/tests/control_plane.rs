//! The control plane's conformance checks — registry, deployments and the change log
//! (`cairn-store-testkit`) — on SQLite, composed as the server composes them: one signalled engine per
//! fresh database file. Plus the checks that need two processes on one file.

use std::sync::Arc;

use cairn_store::{DeploymentStore, RegistryStore, TrackingStore};
use cairn_store_sql::{Signalled, SqlChangeLog, SqlDeployments, SqlGates, SqlRegistry};
use cairn_store_sqlite::SqliteStore;
use cairn_store_testkit::change_log::{self as change_log_checks, ControlPlane};
use cairn_store_testkit::registry as registry_checks;
use tempfile::TempDir;

async fn fresh() -> (SqliteStore, String, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let uri = format!("sqlite://{}", dir.path().join("cairn.db").display());
    (SqliteStore::open(&uri).await.expect("open"), uri, dir)
}

async fn plane(store: SqliteStore) -> ControlPlane {
    let db = Signalled::new(Arc::new(store));
    ControlPlane {
        log: Arc::new(SqlChangeLog::new(db.clone())),
        registry: Arc::new(SqlRegistry::new(db.clone())),
        deployments: Arc::new(SqlDeployments::new(db.clone())),
        gates: Arc::new(SqlGates::new(db)),
    }
}

async fn open_registry() -> (Arc<dyn RegistryStore>, Arc<dyn TrackingStore>, TempDir) {
    let (store, _, dir) = fresh().await;
    let registry = Arc::new(SqlRegistry::new(Arc::new(store.clone())));
    (registry, Arc::new(store), dir)
}

async fn open_deployments() -> (Arc<dyn DeploymentStore>, TempDir) {
    let (store, _, dir) = fresh().await;
    (Arc::new(SqlDeployments::new(Arc::new(store))), dir)
}

async fn open_plane() -> (ControlPlane, TempDir) {
    let (store, _, dir) = fresh().await;
    (plane(store).await, dir)
}

cairn_store_testkit::control_plane_conformance_tests!(
    registry: open_registry(),
    deployments: open_deployments(),
    change_log: open_plane(),
);

/// Writers racing on one model, through one store and through two (two server processes on one file).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_concurrent_versions() {
    let (registry, _tracking, dir) = open_registry().await;
    registry_checks::registry_concurrent_versions(std::slice::from_ref(&registry)).await;
    let uri = format!("sqlite://{}", dir.path().join("cairn.db").display());
    let second: Arc<dyn RegistryStore> = Arc::new(SqlRegistry::new(Arc::new(
        SqliteStore::open(&uri).await.expect("second"),
    )));
    registry_checks::registry_concurrent_versions(&[registry.clone(), second.clone()]).await;
    registry_checks::registry_lists_see_other_writers(registry, second).await;
}

/// Two server processes on one file follow one change log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn change_log_across_processes() {
    let (store, uri, _dir) = fresh().await;
    let a = plane(store).await;
    let b = plane(SqliteStore::open(&uri).await.expect("second")).await;
    change_log_checks::change_log_across_processes(a, b).await;
}

/// Triggers through two stores on one file (two servers): each slot fires once, runs are leased.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn triggers_fire_once_and_runs_are_leased() {
    let (store, uri, _dir) = fresh().await;
    let first = Signalled::new(Arc::new(store));
    let second = Signalled::new(Arc::new(SqliteStore::open(&uri).await.expect("second")));
    cairn_store_testkit::triggers::triggers_fire_once_and_runs_are_leased(
        Arc::new(cairn_store_sql::SqlPipelines::new(first.clone())),
        vec![
            Arc::new(cairn_store_sql::SqlTriggers::new(first)),
            Arc::new(cairn_store_sql::SqlTriggers::new(second)),
        ],
    )
    .await;
}

/// Governance through two stores on one file: records, a promotion's life, the audit chain under racing
/// writers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn governance_records_and_chain() {
    let (store, uri, _dir) = fresh().await;
    let first = Signalled::new(Arc::new(store));
    let second = Signalled::new(Arc::new(SqliteStore::open(&uri).await.expect("second")));
    cairn_store_testkit::governance::governance_records_and_chain(
        vec![
            Arc::new(cairn_store_sql::SqlGovernance::new(first.clone())),
            Arc::new(cairn_store_sql::SqlGovernance::new(second)),
        ],
        Arc::new(SqlRegistry::new(first)),
    )
    .await;
}

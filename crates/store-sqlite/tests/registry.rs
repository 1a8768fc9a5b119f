//! The registry's conformance checks (`cairn-store-testkit::registry`) on SQLite, through the shared SQL
//! registry; each on a fresh database file.

use std::sync::Arc;

use cairn_store::{RegistryStore, TrackingStore};
use cairn_store_sql::SqlRegistry;
use cairn_store_sqlite::SqliteStore;
use cairn_store_testkit::registry as checks;
use tempfile::TempDir;

async fn open() -> (Arc<dyn RegistryStore>, Arc<dyn TrackingStore>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let uri = format!("sqlite://{}", dir.path().join("cairn.db").display());
    let store = SqliteStore::open(&uri).await.expect("open");
    let registry = Arc::new(SqlRegistry::new(Arc::new(store.clone())));
    (registry, Arc::new(store), dir)
}

macro_rules! registry_tests {
    ($($check:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let (registry, tracking, _dir) = open().await;
            checks::$check(registry, tracking).await;
        }
    )*};
}

registry_tests!(
    registry_lifecycle,
    registry_failed_writes_leave_no_events,
    registry_stages,
    registry_tags_the_logged_model
);

/// Writers racing on one model, through one store and through two (two server processes on one file).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_concurrent_versions() {
    let (registry, _tracking, dir) = open().await;
    checks::registry_concurrent_versions(std::slice::from_ref(&registry)).await;
    let uri = format!("sqlite://{}", dir.path().join("cairn.db").display());
    let second: Arc<dyn RegistryStore> = Arc::new(SqlRegistry::new(Arc::new(
        SqliteStore::open(&uri).await.expect("second"),
    )));
    checks::registry_concurrent_versions(&[registry.clone(), second.clone()]).await;
    checks::registry_lists_see_other_writers(registry, second).await;
}

/// Deployments live beside the registry, on its transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deployments_lifecycle() {
    let dir = tempfile::tempdir().expect("temp dir");
    let uri = format!("sqlite://{}", dir.path().join("cairn.db").display());
    let store = SqliteStore::open(&uri).await.expect("open");
    cairn_store_testkit::deployments::deployments_lifecycle(Arc::new(
        cairn_store_sql::SqlDeployments::new(Arc::new(store)),
    ))
    .await;
}

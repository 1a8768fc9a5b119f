//! The registry's conformance checks (`cairn-store-testkit::registry`) on PostgreSQL, through the shared
//! SQL registry; each on a database of its own. Needs PostgreSQL as `conformance.rs` does.

#[allow(dead_code)] // shared with conformance.rs, which uses all of it
mod support;

use std::sync::Arc;

use cairn_store::{RegistryStore, TrackingStore};
use cairn_store_sql::SqlRegistry;
use cairn_store_testkit::registry as checks;
use support::TestDb;

async fn open(db: &TestDb) -> (Arc<dyn RegistryStore>, Arc<dyn TrackingStore>) {
    let store = db.open().await;
    (
        Arc::new(SqlRegistry::new(Arc::new(store.clone()))),
        Arc::new(store),
    )
}

macro_rules! registry_tests {
    ($($check:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let db = TestDb::create().await;
            let (registry, tracking) = open(&db).await;
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

/// Writers racing on one model through two stores (two server processes on one database): numbers stay
/// unique and consecutive, and the event feed follows commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_concurrent_versions() {
    let db = TestDb::create().await;
    let (a, _) = open(&db).await;
    let (b, _) = open(&db).await;
    checks::registry_concurrent_versions(&[a.clone(), b.clone()]).await;
    checks::registry_lists_see_other_writers(a, b).await;
}

/// Deployments live beside the registry, on its transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deployments_lifecycle() {
    let db = TestDb::create().await;
    let store = db.open().await;
    cairn_store_testkit::deployments::deployments_lifecycle(Arc::new(
        cairn_store_sql::SqlDeployments::new(Arc::new(store)),
    ))
    .await;
}

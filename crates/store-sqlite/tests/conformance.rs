//! The shared conformance suite (`cairn-store-testkit`) against [`SqliteStore`]: one fresh database file
//! in a temporary directory per check, plus the whole suite twice over on one file.

use std::sync::Arc;

use cairn_store::TrackingStore;
use cairn_store_sqlite::SqliteStore;
use tempfile::TempDir;

/// A store on a new database file; the directory (and so the file) goes away with the guard.
async fn open_store() -> (Arc<dyn TrackingStore>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cairn.db");
    let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
        .await
        .expect("open SQLite store");
    (Arc::new(store), dir)
}

cairn_store_testkit::conformance_tests!(open_store());

/// Every check in turn on one database, twice, the second time through a reopened store: the suite must
/// not depend on a fresh database, and the schema must survive reopening.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_suite_twice_on_one_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let uri = format!("sqlite://{}", dir.path().join("cairn.db").display());
    for _ in 0..2 {
        let store = SqliteStore::open(&uri).await.expect("open SQLite store");
        cairn_store_testkit::run_conformance(Arc::new(store.clone())).await;
        store.close().await;
    }
}

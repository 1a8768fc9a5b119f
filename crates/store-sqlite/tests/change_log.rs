//! The change log's conformance checks (`cairn-store-testkit::change_log`) on SQLite: the log, the
//! registry and deployments composed as the server composes them, on one signalled engine; each check on a
//! fresh database file.

use std::sync::Arc;

use cairn_store_sql::{Signalled, SqlChangeLog, SqlDeployments, SqlRegistry};
use cairn_store_sqlite::SqliteStore;
use cairn_store_testkit::change_log::{self as checks, ControlPlane};
use tempfile::TempDir;

async fn plane(uri: &str) -> ControlPlane {
    let store = SqliteStore::open(uri).await.expect("open");
    let db = Signalled::new(Arc::new(store));
    ControlPlane {
        log: Arc::new(SqlChangeLog::new(db.clone())),
        registry: Arc::new(SqlRegistry::new(db.clone())),
        deployments: Arc::new(SqlDeployments::new(db)),
    }
}

async fn open() -> (ControlPlane, String, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let uri = format!("sqlite://{}", dir.path().join("cairn.db").display());
    (plane(&uri).await, uri, dir)
}

macro_rules! change_log_tests {
    ($($check:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let (cp, _uri, _dir) = open().await;
            checks::$check(cp).await;
        }
    )*};
}

change_log_tests!(
    change_log_follows_commit_order,
    change_log_failed_writes_leave_no_entry,
    change_log_subject_changes,
    change_log_head_and_commits
);

/// Two server processes on one file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn change_log_across_processes() {
    let (a, uri, _dir) = open().await;
    let b = plane(&uri).await;
    checks::change_log_across_processes(a, b).await;
}

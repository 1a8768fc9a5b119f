//! The change log's conformance checks (`cairn-store-testkit::change_log`) on PostgreSQL: the log, the
//! registry and deployments composed as the server composes them, on one signalled engine; each check on a
//! database of its own. Needs PostgreSQL as `conformance.rs` does.

#[allow(dead_code)] // shared with conformance.rs, which uses all of it
mod support;

use std::sync::Arc;

use cairn_store_sql::{Signalled, SqlChangeLog, SqlDeployments, SqlRegistry};
use cairn_store_testkit::change_log::{self as checks, ControlPlane};
use support::TestDb;

async fn plane(db: &TestDb) -> ControlPlane {
    let signalled = Signalled::new(Arc::new(db.open().await));
    ControlPlane {
        log: Arc::new(SqlChangeLog::new(signalled.clone())),
        registry: Arc::new(SqlRegistry::new(signalled.clone())),
        deployments: Arc::new(SqlDeployments::new(signalled)),
    }
}

macro_rules! change_log_tests {
    ($($check:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let db = TestDb::create().await;
            checks::$check(plane(&db).await).await;
        }
    )*};
}

change_log_tests!(
    change_log_follows_commit_order,
    change_log_failed_writes_leave_no_entry,
    change_log_subject_changes,
    change_log_head_and_commits
);

/// Two server processes on one database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn change_log_across_processes() {
    let db = TestDb::create().await;
    let a = plane(&db).await;
    let b = plane(&db).await;
    checks::change_log_across_processes(a, b).await;
}

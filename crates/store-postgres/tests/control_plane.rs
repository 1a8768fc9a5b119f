//! The control plane's conformance checks — registry, deployments and the change log
//! (`cairn-store-testkit`) — on PostgreSQL, composed as the server composes them: one signalled engine
//! on a database of its own per check. Plus the checks that need two processes on one database. Needs
//! PostgreSQL as `conformance.rs` does.

#[allow(dead_code)] // shared with conformance.rs, which uses all of it
mod support;

use std::sync::Arc;

use cairn_store::{DeploymentStore, RegistryStore, TrackingStore};
use cairn_store_sql::{Signalled, SqlChangeLog, SqlDeployments, SqlGates, SqlRegistry};
use cairn_store_testkit::change_log::{self as change_log_checks, ControlPlane};
use cairn_store_testkit::registry as registry_checks;
use support::TestDb;

async fn plane(db: &TestDb) -> ControlPlane {
    let signalled = Signalled::new(Arc::new(db.open().await));
    ControlPlane {
        log: Arc::new(SqlChangeLog::new(signalled.clone())),
        registry: Arc::new(SqlRegistry::new(signalled.clone())),
        deployments: Arc::new(SqlDeployments::new(signalled.clone())),
        gates: Arc::new(SqlGates::new(signalled)),
    }
}

async fn registry_on(db: &TestDb) -> (Arc<dyn RegistryStore>, Arc<dyn TrackingStore>) {
    let store = db.open().await;
    (
        Arc::new(SqlRegistry::new(Arc::new(store.clone()))),
        Arc::new(store),
    )
}

async fn open_registry() -> (Arc<dyn RegistryStore>, Arc<dyn TrackingStore>, TestDb) {
    let db = TestDb::create().await;
    let (registry, tracking) = registry_on(&db).await;
    (registry, tracking, db)
}

async fn open_deployments() -> (Arc<dyn DeploymentStore>, TestDb) {
    let db = TestDb::create().await;
    let store = db.open().await;
    (Arc::new(SqlDeployments::new(Arc::new(store))), db)
}

async fn open_plane() -> (ControlPlane, TestDb) {
    let db = TestDb::create().await;
    (plane(&db).await, db)
}

cairn_store_testkit::control_plane_conformance_tests!(
    registry: open_registry(),
    deployments: open_deployments(),
    change_log: open_plane(),
);

/// Writers racing on one model through two stores (two server processes on one database): numbers stay
/// unique and consecutive, and the event feed follows commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_concurrent_versions() {
    let db = TestDb::create().await;
    let (a, _) = registry_on(&db).await;
    let (b, _) = registry_on(&db).await;
    registry_checks::registry_concurrent_versions(&[a.clone(), b.clone()]).await;
    registry_checks::registry_lists_see_other_writers(a, b).await;
}

/// Two server processes on one database follow one change log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn change_log_across_processes() {
    let db = TestDb::create().await;
    let a = plane(&db).await;
    let b = plane(&db).await;
    change_log_checks::change_log_across_processes(a, b).await;
}

/// Triggers through two stores on one database (two servers): each slot fires once, runs are leased.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn triggers_fire_once_and_runs_are_leased() {
    let db = TestDb::create().await;
    let first = Signalled::new(Arc::new(db.open().await));
    let second = Signalled::new(Arc::new(db.open().await));
    cairn_store_testkit::triggers::triggers_fire_once_and_runs_are_leased(
        Arc::new(cairn_store_sql::SqlPipelines::new(first.clone())),
        vec![
            Arc::new(cairn_store_sql::SqlTriggers::new(first)),
            Arc::new(cairn_store_sql::SqlTriggers::new(second)),
        ],
    )
    .await;
}

/// Governance through two stores on one database: records, a promotion's life, the audit chain under
/// racing writers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn governance_records_and_chain() {
    let db = TestDb::create().await;
    let first = Signalled::new(Arc::new(db.open().await));
    let second = Signalled::new(Arc::new(db.open().await));
    cairn_store_testkit::governance::governance_records_and_chain(
        vec![
            Arc::new(cairn_store_sql::SqlGovernance::new(first.clone())),
            Arc::new(cairn_store_sql::SqlGovernance::new(second)),
        ],
        Arc::new(SqlRegistry::new(first)),
    )
    .await;
}

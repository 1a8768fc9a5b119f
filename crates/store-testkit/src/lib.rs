//! The conformance suite every Cairn metadata store must pass: the [`TrackingStore`] contract written down as
//! executable checks, so that SQLite, PostgreSQL and any later engine answer every call alike.
//!
//! Each check is a `pub async fn(Arc<dyn TrackingStore>)` that panics (with the expected and actual values)
//! on the first deviation. Checks assume only that the store holds the Default experiment `0`; they create
//! experiments with fresh random names, so they run side by side and again and again on one database.
//!
//! The registry's contract ([`RegistryStore`](cairn_store::RegistryStore)) is in [`registry`]: checks that
//! take the registry and tracking stores of one database.
//!
//! Deployments' contract ([`DeploymentStore`](cairn_store::DeploymentStore)) is in [`deployments`].
//!
//! The control plane's change log ([`ChangeLogStore`](cairn_store::ChangeLogStore)) is in [`change_log`].
//!
//! Use it from an engine's integration tests in one of two ways:
//! - [`conformance_tests!`] expands to one `#[tokio::test]` per check, each on a store of its own;
//! - [`run_conformance`] runs every check in turn on one store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use cairn_store::TrackingStore;

pub mod change_log;
mod concurrency;
pub mod deployments;
mod experiments;
mod fixtures;
pub mod gates;
pub mod governance;
mod inputs;
mod logged_models;
mod metrics;
pub mod registry;
mod runs;
mod search;
pub mod triggers;

pub use concurrency::{
    concurrent_conflicting_params, concurrent_conflicting_params_across,
    concurrent_experiment_creation, concurrent_experiment_creation_across, concurrent_log_batch,
    concurrent_log_batch_across,
};
pub use experiments::{
    default_experiment_and_ping, experiment_lifecycle_cascade, experiment_rename, experiment_tags,
    experiments_crud,
};
pub use inputs::{dataset_inputs, model_inputs_outputs};
pub use logged_models::{logged_model_metrics, logged_models_lifecycle};
pub use metrics::{
    latest_metric_semantics, log_batch_atomicity, metric_history_order_and_bounds,
    metric_history_time_order, metric_summary_pyramid, metrics_nan_and_dedup,
};
pub use runs::{
    deleted_run_refuses_writes, list_runs_views, run_name_sync, runs_create_get_update,
    search_loading,
};
pub use search::{search_in_store_matches_domain, search_in_store_matches_domain_randomized};

/// One check of the contract.
pub type Check = fn(Arc<dyn TrackingStore>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every check, by name. [`conformance_tests!`] lists them again (a macro cannot read a constant) and
/// generates a test that the two lists agree.
pub const CHECKS: &[(&str, Check)] = &[
    ("default_experiment_and_ping", |s| {
        Box::pin(default_experiment_and_ping(s))
    }),
    ("experiments_crud", |s| Box::pin(experiments_crud(s))),
    ("experiment_rename", |s| Box::pin(experiment_rename(s))),
    ("experiment_tags", |s| Box::pin(experiment_tags(s))),
    ("experiment_lifecycle_cascade", |s| {
        Box::pin(experiment_lifecycle_cascade(s))
    }),
    ("runs_create_get_update", |s| {
        Box::pin(runs_create_get_update(s))
    }),
    ("run_name_sync", |s| Box::pin(run_name_sync(s))),
    ("deleted_run_refuses_writes", |s| {
        Box::pin(deleted_run_refuses_writes(s))
    }),
    ("list_runs_views", |s| Box::pin(list_runs_views(s))),
    ("search_loading", |s| Box::pin(search_loading(s))),
    ("search_in_store_matches_domain", |s| {
        Box::pin(search_in_store_matches_domain(s))
    }),
    ("search_in_store_matches_domain_randomized", |s| {
        Box::pin(search_in_store_matches_domain_randomized(s))
    }),
    ("log_batch_atomicity", |s| Box::pin(log_batch_atomicity(s))),
    ("metrics_nan_and_dedup", |s| {
        Box::pin(metrics_nan_and_dedup(s))
    }),
    ("latest_metric_semantics", |s| {
        Box::pin(latest_metric_semantics(s))
    }),
    ("metric_history_order_and_bounds", |s| {
        Box::pin(metric_history_order_and_bounds(s))
    }),
    ("metric_history_time_order", |s| {
        Box::pin(metric_history_time_order(s))
    }),
    ("metric_summary_pyramid", |s| {
        Box::pin(metric_summary_pyramid(s))
    }),
    ("dataset_inputs", |s| Box::pin(dataset_inputs(s))),
    ("model_inputs_outputs", |s| {
        Box::pin(model_inputs_outputs(s))
    }),
    ("logged_models_lifecycle", |s| {
        Box::pin(logged_models_lifecycle(s))
    }),
    ("logged_model_metrics", |s| {
        Box::pin(logged_model_metrics(s))
    }),
    ("concurrent_log_batch", |s| {
        Box::pin(concurrent_log_batch(s))
    }),
    ("concurrent_conflicting_params", |s| {
        Box::pin(concurrent_conflicting_params(s))
    }),
    ("concurrent_experiment_creation", |s| {
        Box::pin(concurrent_experiment_creation(s))
    }),
];

/// Runs every check in turn against `store`, which must hold at least the Default experiment. Panics at the
/// first failure, naming the check.
pub async fn run_conformance(store: Arc<dyn TrackingStore>) {
    for (name, check) in CHECKS {
        eprintln!("conformance: {name}");
        check(store.clone()).await;
    }
}

/// Expands to one `#[tokio::test]` per check. `$open` is an expression evaluated afresh for each test
/// whose `.await` yields `(Arc<dyn TrackingStore>, guard)`; the guard (a temporary directory, a scratch
/// database) lives until the check ends. The calling crate needs `tokio` with `macros` and
/// `rt-multi-thread`.
///
/// ```text
/// cairn_store_testkit::conformance_tests!(open_store());
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($open:expr) => {
        $crate::conformance_tests!(@each $open;
            default_experiment_and_ping,
            experiments_crud,
            experiment_rename,
            experiment_tags,
            experiment_lifecycle_cascade,
            runs_create_get_update,
            run_name_sync,
            deleted_run_refuses_writes,
            list_runs_views,
            search_loading,
            search_in_store_matches_domain,
            search_in_store_matches_domain_randomized,
            log_batch_atomicity,
            metrics_nan_and_dedup,
            latest_metric_semantics,
            metric_history_order_and_bounds,
            metric_history_time_order,
            metric_summary_pyramid,
            dataset_inputs,
            model_inputs_outputs,
            logged_models_lifecycle,
            logged_model_metrics,
            concurrent_log_batch,
            concurrent_conflicting_params,
            concurrent_experiment_creation
        );
    };
    (@each $open:expr; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let (store, _guard) = $open.await;
                $crate::$check(store).await;
            }
        )*

        /// The tests above cover exactly the checks of [`CHECKS`](cairn_store_testkit::CHECKS).
        #[test]
        fn conformance_tests_cover_every_check() {
            let listed = [$(stringify!($check)),*];
            let known: Vec<&str> = $crate::CHECKS.iter().map(|(name, _)| *name).collect();
            assert_eq!(listed.as_slice(), known.as_slice());
        }
    };
}

/// The registry's, the deployments' and the change log's checks, one `#[tokio::test]` each, for an
/// engine's test file: the lists live here, beside the checks, so that every engine runs every one.
///
/// `$registry` opens `(Arc<dyn RegistryStore>, Arc<dyn TrackingStore>, guard)` on a fresh database;
/// `$deployments` opens `(Arc<dyn DeploymentStore>, guard)`; `$plane` opens
/// `(change_log::ControlPlane, guard)`. The checks that need two processes on one database stay in the
/// engine's file (how a second process opens the same database is the engine's business).
#[macro_export]
macro_rules! control_plane_conformance_tests {
    (registry: $registry:expr, deployments: $deployments:expr, change_log: $plane:expr $(,)?) => {
        $crate::control_plane_conformance_tests!(@with $registry; registry;
            (registry, tracking, _guard); (registry, tracking);
            registry_lifecycle,
            registry_failed_writes_leave_no_events,
            registry_stages,
            registry_tags_the_logged_model
        );
        $crate::control_plane_conformance_tests!(@with $deployments; deployments;
            (store, _guard); (store);
            deployments_lifecycle
        );
        $crate::control_plane_conformance_tests!(@with $plane; change_log;
            (plane, _guard); (plane);
            change_log_follows_commit_order,
            change_log_failed_writes_leave_no_entry,
            change_log_subject_changes,
            change_log_head_and_commits
        );
        $crate::control_plane_conformance_tests!(@with $plane; gates;
            (plane, _guard); (plane);
            alias_compare_and_set,
            gate_evaluations_on_the_log
        );
    };
    (@with $open:expr; $module:ident; $opened:tt; $args:tt; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let $opened = $open.await;
                $crate::$module::$check $args .await;
            }
        )*
    };
}

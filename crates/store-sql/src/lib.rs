//! Engine-agnostic pieces shared by the sqlx-based stores: the one [`TrackingStore`](cairn_store::TrackingStore)
//! implementation ([`SqlTracking`], over an engine's reads and writes, [`TrackingEngine`]), the whole model
//! registry ([`SqlRegistry`], over transactions an engine supplies) and deployments ([`SqlDeployments`], on
//! the same transactions); assembling domain entities (runs with their
//! params, tags, latest metrics, inputs and outputs; experiments; logged models) from fetched rows, the
//! key lists and literal quoting, latest-metric selection, the statements both dialects spell alike, and
//! the errors both stores must word alike.
//!
//! Nothing here knows SQLite or PostgreSQL. An engine plugs in through [`Fetch`] (how it runs a SELECT on
//! its connection, spells the bound parameter and maps errors) and [`TrackingEngine`] (its read
//! connections and the tracking writes it spells its own way), and keeps to itself what really differs:
//! connections, transactions and locking, retries, dialect-specific SQL, migrations and error mapping.

// The registry's and the deployments' transactions; defined before the modules so that they see them.
/// Runs `body` in a write transaction and commits it; on error the transaction is dropped (rolled
/// back).
macro_rules! write {
    ($self:ident, |$tx:ident| $body:block) => {{
        let mut boxed = $self.db.begin_write().await?;
        let result = {
            let $tx: &mut dyn Tx = &mut *boxed;
            async { $body }.await
        };
        match result {
            Ok(v) => {
                boxed.commit().await?;
                Ok(v)
            }
            Err(e) => Err(e),
        }
    }};
}

/// Runs `body` on a read snapshot.
macro_rules! read {
    ($self:ident, |$tx:ident| $body:block) => {{
        let mut boxed = $self.db.begin_read().await?;
        let $tx: &mut dyn Tx = &mut *boxed;
        let result = async { $body }.await;
        drop(boxed);
        result
    }};
}

mod change_log;
mod checks;
mod columns;
mod deployments;
mod errors;
mod experiments;
mod fetch;
mod gates;
mod governance;
mod inputs;
mod literals;
mod logged_models;
mod metrics;
mod monitors;
mod pipelines;
mod registry;
mod runs;
mod search;
mod search_sql;
mod summary;
mod tracking;
mod tracking_writes;
mod triggers;

pub use change_log::{Signalled, SqlChangeLog};
pub use checks::{active_run, check_params};
pub use columns::Columns;
pub use deployments::SqlDeployments;
pub use errors::*;
pub use experiments::{
    EXPERIMENT_COLUMNS, attach_experiment_tags, default_artifact_location, experiments,
    experiments_in_view, stage_before,
};
pub use fetch::Fetch;
pub use gates::SqlGates;
pub use governance::SqlGovernance;
pub use logged_models::{load_active_model, load_active_models, load_model, model_artifact_uri};
pub use metrics::{Point, history_metric, history_query, metric_statements, points};
pub use monitors::SqlMonitors;
pub use pipelines::SqlPipelines;
pub use registry::{RegistryDb, Row, SqlRegistry, Tx, Val};
pub use runs::{RUN_NAME_TAG, RunScope, in_request_order, load_run, load_runs};
pub use search_sql::Dialect;
pub use tracking::{EngineExperiments, EngineMetrics, SqlTracking, TrackingEngine};
pub use triggers::SqlTriggers;

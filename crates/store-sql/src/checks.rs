//! What writes check in rows they read first, so that both stores refuse alike.

use std::collections::HashMap;

use cairn_domain::{LifecycleStage, Param, RunId};
use cairn_store::{NewRun, StoreError, StoreResult};

use crate::Columns;
use crate::messages::{experiment_not_active, experiment_not_found, run_not_active, run_not_found};

/// Checks a run about to be written, given its row `(experiment_id, lifecycle_stage)`: it must exist and
/// be active. Returns its experiment id.
pub fn active_run(id: &RunId, row: Option<impl Columns>) -> StoreResult<i64> {
    let row = row.ok_or_else(|| run_not_found(id))?;
    let stage = row.str(1);
    if stage != LifecycleStage::Active.as_str() {
        return Err(run_not_active(id, stage));
    }
    Ok(row.int(0))
}

/// The artifact URI of a run about to be created, under its experiment's artifact location, once the
/// experiment's row `(artifact_location, lifecycle_stage)` shows it exists and is active.
pub fn run_artifact_uri(new: &NewRun, experiment: Option<impl Columns>) -> StoreResult<String> {
    let row = experiment.ok_or_else(|| experiment_not_found(new.experiment_id))?;
    let stage = row.str(1);
    if stage != LifecycleStage::Active.as_str() {
        return Err(experiment_not_active(new.experiment_id, stage));
    }
    let location = row.str(0).trim_end_matches('/');
    Ok(format!("{location}/{}/artifacts", new.run_id))
}

/// Refuses (so that the caller rolls back the batch) any param whose key was logged for the run with
/// another value; `existing` maps the run's already-logged keys among `params` to their values.
pub fn check_params(
    id: &RunId,
    existing: &HashMap<String, String>,
    params: &[Param],
) -> StoreResult<()> {
    for p in params {
        if let Some(old) = existing.get(&p.key)
            && *old != p.value
        {
            return Err(StoreError::Conflict(format!(
                "Changing param values is not allowed. Param with key='{}' was already logged with \
                 value='{old}' for run ID='{id}'. Attempted logging new value '{}'.",
                p.key, p.value
            )));
        }
    }
    Ok(())
}

//! What writes check in rows they read first, so that both stores refuse alike.

use std::collections::HashMap;

use cairn_domain::{Clash, LifecycleStage, Param, RunId};
use cairn_store::{StoreError, StoreResult};

use crate::Columns;
use crate::errors::{run_not_active, run_not_found};

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
            return Err(StoreError::Conflict(Clash::ParamChanged {
                run: id.to_string(),
                key: p.key.clone(),
                old: old.clone(),
                new: p.value.clone(),
            }));
        }
    }
    Ok(())
}

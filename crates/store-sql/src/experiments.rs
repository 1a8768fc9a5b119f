//! Experiments and their tags, from rows.

use std::collections::HashMap;

use cairn_domain::{Experiment, ExperimentId, LifecycleStage, Tag, ViewType};
use cairn_store::StoreResult;

use crate::Columns;

/// The columns [`experiments`] reads, in order.
pub const EXPERIMENT_COLUMNS: &str =
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time";

/// Experiments from rows of [`EXPERIMENT_COLUMNS`], without tags yet.
pub fn experiments(rows: &[impl Columns]) -> StoreResult<Vec<Experiment>> {
    rows.iter().map(experiment).collect()
}

fn experiment(row: &impl Columns) -> StoreResult<Experiment> {
    Ok(Experiment {
        id: ExperimentId(row.int(0)),
        name: row.text(1),
        artifact_location: row.text(2),
        lifecycle_stage: row.parsed(3)?,
        creation_time: row.int(4),
        last_update_time: row.int(5),
        tags: Vec::new(),
    })
}

/// Adds tag rows `(experiment_id, key, value)` to the experiments they belong to.
pub fn attach_experiment_tags(exps: &mut [Experiment], rows: &[impl Columns]) {
    let index: HashMap<i64, usize> = exps.iter().enumerate().map(|(i, e)| (e.id.0, i)).collect();
    for row in rows {
        if let Some(&i) = index.get(&row.int(0)) {
            exps[i].tags.push(Tag {
                key: row.text(1),
                value: row.text(2),
            });
        }
    }
}

/// A WHERE condition over `experiments` keeping those `view` shows.
pub fn experiments_in_view(view: ViewType) -> &'static str {
    match view {
        ViewType::ActiveOnly => "lifecycle_stage = 'active'",
        ViewType::DeletedOnly => "lifecycle_stage = 'deleted'",
        ViewType::All => "1 = 1",
    }
}

/// The stage an experiment must be in to move to `stage`: only an active experiment can be deleted and
/// only a deleted one restored (MLflow answers anything else as a missing experiment).
pub fn stage_before(stage: LifecycleStage) -> LifecycleStage {
    match stage {
        LifecycleStage::Active => LifecycleStage::Deleted,
        LifecycleStage::Deleted => LifecycleStage::Active,
    }
}

/// The artifact location of an experiment created without one: `{root}/{id}`.
pub fn default_artifact_location(root: &str, id: i64) -> String {
    format!("{}/{id}", root.trim_end_matches('/'))
}

//! Reading whole runs: one query per child table for any number of runs, assembled in memory, so that a
//! search over thousands of runs costs a handful of statements, not thousands.

use std::collections::{BTreeSet, HashMap};

use cairn_domain::search::RunFields;
use cairn_domain::{
    ExperimentId, LifecycleStage, Metric, Param, Run, RunId, RunInfo, Tag, ViewType,
};
use cairn_store::{StoreError, StoreResult};

use crate::errors::run_not_found;
use crate::inputs::load_inputs;
use crate::literals::{id_list, quoted};
use crate::{Columns, Fetch};

/// The tag MLflow keeps in step with a run's name.
pub const RUN_NAME_TAG: &str = "mlflow.runName";

/// Which runs to load.
pub enum RunScope<'a> {
    One(&'a RunId),
    Ids(&'a [RunId]),
    Experiments(&'a [ExperimentId], ViewType),
}

impl RunScope<'_> {
    fn is_empty(&self) -> bool {
        match self {
            RunScope::Experiments(ids, _) => ids.is_empty(),
            RunScope::Ids(ids) => ids.is_empty(),
            RunScope::One(_) => false,
        }
    }

    /// A WHERE condition over `runs` aliased `r`. Experiment ids are integers, stages constants and run
    /// ids validated hex, so lists are written inline; one run id is bound.
    fn condition<F: Fetch>(&self) -> String {
        match self {
            RunScope::One(_) => format!("r.run_id = {}", F::PARAM),
            RunScope::Ids(ids) => {
                format!("r.run_id IN ({})", quoted(ids.iter().map(RunId::as_str)))
            }
            RunScope::Experiments(ids, view) => {
                let stage = match view {
                    ViewType::ActiveOnly => " AND r.lifecycle_stage = 'active'",
                    ViewType::DeletedOnly => " AND r.lifecycle_stage = 'deleted'",
                    ViewType::All => "",
                };
                format!("r.experiment_id IN ({}){stage}", id_list(ids))
            }
        }
    }

    pub(crate) async fn fetch<F: Fetch>(
        &self,
        f: &mut F,
        sql: String,
    ) -> Result<Vec<F::Row>, F::Error> {
        let bind = match self {
            RunScope::One(id) => Some(id.as_str()),
            RunScope::Experiments(..) | RunScope::Ids(_) => None,
        };
        f.fetch(sql, bind).await
    }
}

/// Loads one run, whole.
pub async fn load_run<F: Fetch>(f: &mut F, id: &RunId) -> Result<Run, F::Error> {
    load_runs(f, RunScope::One(id), None)
        .await?
        .pop()
        .ok_or_else(|| run_not_found(id).into())
}

/// Loads the runs in `scope`: whole, or (for a search) with only the children `fields` names.
pub async fn load_runs<F: Fetch>(
    f: &mut F,
    scope: RunScope<'_>,
    fields: Option<&RunFields>,
) -> Result<Vec<Run>, F::Error> {
    if scope.is_empty() {
        return Ok(Vec::new());
    }
    let cond = scope.condition::<F>();
    let order = if F::EXPLICIT_ORDER {
        " ORDER BY r.run_id"
    } else {
        ""
    };
    let rows = scope
        .fetch(
            f,
            format!(
                "SELECT r.run_id, r.experiment_id, r.name, r.user_id, r.status, r.start_time, \
                 r.end_time, r.artifact_uri, r.lifecycle_stage FROM runs r WHERE {cond}{order}"
            ),
        )
        .await?;
    let mut runs = Vec::with_capacity(rows.len());
    let mut index: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let info = run_info(row)?;
        index.insert(info.run_id.as_str().to_string(), runs.len());
        runs.push(Run {
            info,
            ..Run::default()
        });
    }
    if runs.is_empty() {
        return Ok(runs);
    }
    let sub = format!("SELECT r.run_id FROM runs r WHERE {cond}");
    // With `fields`, each child query keeps only the named keys, and is skipped when it names none.
    let keys = |pick: fn(&RunFields) -> &BTreeSet<String>| match fields {
        None => Some(String::new()),
        Some(named) if pick(named).is_empty() => None,
        Some(named) => Some(format!(
            " AND key IN ({})",
            quoted(pick(named).iter().map(String::as_str))
        )),
    };
    let children = async |f: &mut F, only: Option<String>, columns: &str, table: &str| match only {
        Some(only) => {
            let sql =
                format!("SELECT {columns} FROM {table} WHERE run_id IN ({sub}){only} ORDER BY key");
            scope.fetch(f, sql).await
        }
        None => Ok(Vec::new()),
    };

    let at = |row: &F::Row| index.get(row.str(0)).copied();
    for row in children(f, keys(|n| &n.params), "run_id, key, value", "params").await? {
        if let Some(i) = at(&row) {
            runs[i].data.params.push(Param {
                key: row.text(1),
                value: row.text(2),
            });
        }
    }
    for row in children(f, keys(|n| &n.tags), "run_id, key, value", "tags").await? {
        if let Some(i) = at(&row) {
            runs[i].data.tags.push(Tag {
                key: row.text(1),
                value: row.text(2),
            });
        }
    }
    let columns = "run_id, key, value, is_nan, step, timestamp";
    for row in children(f, keys(|n| &n.metrics), columns, "latest_metrics").await? {
        if let Some(i) = at(&row) {
            runs[i].data.metrics.push(Metric {
                key: row.text(1),
                value: row.metric_value(2, 3),
                step: row.int(4),
                timestamp: row.int(5),
                run_id: None,
                model_id: None,
                dataset_name: None,
                dataset_digest: None,
            });
        }
    }
    if fields.is_none_or(|n| n.datasets) {
        load_inputs(f, &scope, &sub, &mut runs, &index).await?;
    }
    Ok(runs)
}

fn run_info(row: &impl Columns) -> StoreResult<RunInfo> {
    Ok(RunInfo {
        run_id: RunId::parse(row.str(0)).map_err(|e| StoreError::Internal(e.to_string()))?,
        experiment_id: ExperimentId(row.int(1)),
        run_name: row.text(2),
        user_id: row.text(3),
        status: row.parsed(4)?,
        start_time: row.opt_int(5),
        end_time: row.opt_int(6),
        artifact_uri: row.text(7),
        lifecycle_stage: row.parsed::<LifecycleStage>(8)?,
    })
}

/// `loaded` in the order of `ids`, as asked for.
pub fn in_request_order(ids: &[RunId], mut loaded: Vec<Run>) -> Vec<Run> {
    let position: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    loaded.sort_by_key(|r| {
        position
            .get(r.info.run_id.as_str())
            .copied()
            .unwrap_or(usize::MAX)
    });
    loaded
}

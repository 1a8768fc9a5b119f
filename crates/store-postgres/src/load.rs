//! Reading whole runs: one query per child table for any number of runs, assembled in memory, so that a
//! search over thousands of runs costs a handful of statements, not thousands.

use std::collections::HashMap;

use cairn_domain::search::RunFields;
use cairn_domain::{
    Dataset, DatasetInput, ExperimentId, LifecycleStage, Metric, ModelInput, ModelOutput, Param,
    Run, RunId, RunInfo, Tag, ViewType,
};
use cairn_store::StoreError;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};

use crate::errors::TxResult;

/// Which runs to load.
pub(crate) enum RunScope<'a> {
    One(&'a RunId),
    Ids(&'a [RunId]),
    Experiments(&'a [ExperimentId], ViewType),
}

impl RunScope<'_> {
    /// A WHERE condition over `runs` aliased `r`. Experiment ids are integers and stages constants, so they
    /// are written inline; a run id is bound as `$1`.
    fn condition(&self) -> String {
        match self {
            RunScope::One(_) => "r.run_id = $1".to_string(),
            // Run ids are validated hex, so they can be written inline.
            RunScope::Ids(ids) => {
                format!("r.run_id IN ({})", quoted(ids.iter().map(RunId::as_str)))
            }
            RunScope::Experiments(ids, view) => {
                let ids = ids
                    .iter()
                    .map(|i| i.0.to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                let stage = match view {
                    ViewType::ActiveOnly => " AND r.lifecycle_stage = 'active'",
                    ViewType::DeletedOnly => " AND r.lifecycle_stage = 'deleted'",
                    ViewType::All => "",
                };
                format!("r.experiment_id IN ({ids}){stage}")
            }
        }
    }

    async fn fetch(&self, conn: &mut PgConnection, sql: String) -> TxResult<Vec<PgRow>> {
        let q = sqlx::query(AssertSqlSafe(sql));
        let q = match self {
            RunScope::One(id) => q.bind(id.as_str().to_string()),
            RunScope::Experiments(..) | RunScope::Ids(_) => q,
        };
        Ok(q.fetch_all(conn).await?)
    }
}

/// Loads the runs in `scope`: whole, or (for a search) with only the children `fields` names.
pub(crate) async fn load_runs(
    conn: &mut PgConnection,
    scope: RunScope<'_>,
    fields: Option<&RunFields>,
) -> TxResult<Vec<Run>> {
    let empty = match &scope {
        RunScope::Experiments(ids, _) => ids.is_empty(),
        RunScope::Ids(ids) => ids.is_empty(),
        RunScope::One(_) => false,
    };
    if empty {
        return Ok(Vec::new());
    }
    let cond = scope.condition();
    let rows = scope
        .fetch(
            conn,
            format!(
                "SELECT r.run_id, r.experiment_id, r.name, r.user_id, r.status, r.start_time, \
                 r.end_time, r.artifact_uri, r.lifecycle_stage FROM runs r WHERE {cond} \
                 ORDER BY r.run_id"
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
    let keys = |pick: fn(&RunFields) -> &std::collections::BTreeSet<String>| match fields {
        None => Some(String::new()),
        Some(f) if pick(f).is_empty() => None,
        Some(f) => Some(format!(
            " AND key IN ({})",
            quoted(pick(f).iter().map(String::as_str))
        )),
    };

    let params = match keys(|f| &f.params) {
        Some(only) => {
            scope
                .fetch(
                    conn,
                    format!("SELECT run_id, key, value FROM params WHERE run_id IN ({sub}){only} ORDER BY key"),
                )
                .await?
        }
        None => Vec::new(),
    };
    for row in params {
        if let Some(i) = index.get(row.get::<&str, _>(0)).copied() {
            runs[i].data.params.push(Param {
                key: row.get(1),
                value: row.get(2),
            });
        }
    }
    let tags = match keys(|f| &f.tags) {
        Some(only) => scope
            .fetch(
                conn,
                format!(
                    "SELECT run_id, key, value FROM tags WHERE run_id IN ({sub}){only} ORDER BY key"
                ),
            )
            .await?,
        None => Vec::new(),
    };
    for row in tags {
        if let Some(i) = index.get(row.get::<&str, _>(0)).copied() {
            runs[i].data.tags.push(Tag {
                key: row.get(1),
                value: row.get(2),
            });
        }
    }
    let metrics =
        match keys(|f| &f.metrics) {
            Some(only) => scope
                .fetch(
                    conn,
                    format!(
                        "SELECT run_id, key, value, is_nan, step, timestamp FROM latest_metrics \
                         WHERE run_id IN ({sub}){only} ORDER BY key"
                    ),
                )
                .await?,
            None => Vec::new(),
        };
    for row in metrics {
        if let Some(i) = index.get(row.get::<&str, _>(0)).copied() {
            runs[i].data.metrics.push(Metric {
                key: row.get(1),
                value: metric_value(&row, 2, 3),
                step: row.get(4),
                timestamp: row.get(5),
                run_id: None,
                model_id: None,
                dataset_name: None,
                dataset_digest: None,
            });
        }
    }
    if fields.is_none_or(|f| f.datasets) {
        load_inputs(conn, &scope, &sub, &mut runs, &index).await?;
    }
    Ok(runs)
}

/// `'a', 'b'` — SQL string literals, quotes doubled (standard_conforming_strings is on).
fn quoted<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn load_inputs(
    conn: &mut PgConnection,
    scope: &RunScope<'_>,
    sub: &str,
    runs: &mut [Run],
    index: &HashMap<String, usize>,
) -> TxResult<()> {
    // (run, dataset) -> position in that run's dataset_inputs
    let mut inputs: HashMap<(String, i64), usize> = HashMap::new();
    for row in scope
        .fetch(
            conn,
            format!(
                "SELECT i.run_id, d.dataset_id, d.name, d.digest, d.source_type, d.source, d.schema, \
                 d.profile FROM run_dataset_inputs i JOIN datasets d ON d.dataset_id = i.dataset_id \
                 WHERE i.run_id IN ({sub}) ORDER BY d.dataset_id"
            ),
        )
        .await?
    {
        let run_id: String = row.get(0);
        if let Some(&i) = index.get(&run_id) {
            let list = &mut runs[i].inputs.dataset_inputs;
            inputs.insert((run_id, row.get(1)), list.len());
            list.push(DatasetInput {
                tags: Vec::new(),
                dataset: Dataset {
                    name: row.get(2),
                    digest: row.get(3),
                    source_type: row.get(4),
                    source: row.get(5),
                    schema: row.get(6),
                    profile: row.get(7),
                },
            });
        }
    }
    if !inputs.is_empty() {
        for row in scope
            .fetch(
                conn,
                format!(
                    "SELECT run_id, dataset_id, key, value FROM run_dataset_input_tags \
                     WHERE run_id IN ({sub}) ORDER BY key"
                ),
            )
            .await?
        {
            let run_id: String = row.get(0);
            if let (Some(&i), Some(&j)) = (
                index.get(&run_id),
                inputs.get(&(run_id.clone(), row.get(1))),
            ) {
                runs[i].inputs.dataset_inputs[j].tags.push(Tag {
                    key: row.get(2),
                    value: row.get(3),
                });
            }
        }
    }
    for row in scope
        .fetch(
            conn,
            format!(
                "SELECT run_id, model_id FROM run_model_inputs WHERE run_id IN ({sub}) \
                 ORDER BY model_id"
            ),
        )
        .await?
    {
        if let Some(&i) = index.get(row.get::<&str, _>(0)) {
            runs[i].inputs.model_inputs.push(ModelInput {
                model_id: row.get(1),
            });
        }
    }
    for row in scope
        .fetch(
            conn,
            format!(
                "SELECT run_id, model_id, step FROM run_model_outputs WHERE run_id IN ({sub}) \
                 ORDER BY model_id"
            ),
        )
        .await?
    {
        if let Some(&i) = index.get(row.get::<&str, _>(0)) {
            runs[i].outputs.model_outputs.push(ModelOutput {
                model_id: row.get(1),
                step: row.get(2),
            });
        }
    }
    Ok(())
}

fn run_info(row: &PgRow) -> TxResult<RunInfo> {
    let run_id: String = row.get(0);
    Ok(RunInfo {
        run_id: RunId::parse(&run_id).map_err(|e| StoreError::Internal(e.to_string()))?,
        experiment_id: ExperimentId(row.get(1)),
        run_name: row.get(2),
        user_id: row.get(3),
        status: parse_col(row, 4)?,
        start_time: row.get(5),
        end_time: row.get(6),
        artifact_uri: row.get(7),
        lifecycle_stage: parse_col::<LifecycleStage>(row, 8)?,
    })
}

/// Decodes a metric value stored as (value, is_nan).
pub(crate) fn metric_value(row: &PgRow, value: usize, is_nan: usize) -> f64 {
    if row.get::<bool, _>(is_nan) {
        f64::NAN
    } else {
        row.get(value)
    }
}

/// Parses a text column into a domain enum; a bad value means a corrupt database.
pub(crate) fn parse_col<T: std::str::FromStr>(row: &PgRow, idx: usize) -> TxResult<T>
where
    T::Err: std::fmt::Display,
{
    let s: &str = row.get(idx);
    s.parse()
        .map_err(|e| StoreError::Internal(format!("corrupt column value {s:?}: {e}")).into())
}

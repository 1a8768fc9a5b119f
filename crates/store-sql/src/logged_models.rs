//! Reading logged models with their params, tags and latest metrics, one query per table.

use std::collections::HashMap;

use cairn_domain::{ExperimentId, LoggedModel, LoggedModelId, Metric, Param, Tag};
use cairn_store::{StoreError, StoreResult};

use crate::errors::model_not_found;
use crate::literals::id_list;
use crate::{Columns, Fetch};

/// Which models to load.
enum ModelScope<'a> {
    /// One model, whatever its stage (the one a transaction has just written).
    One(&'a LoggedModelId),
    /// One model, if active.
    Active(&'a LoggedModelId),
    /// The active models of these experiments.
    ActiveIn(&'a [ExperimentId]),
}

impl ModelScope<'_> {
    /// A WHERE condition over `logged_models` aliased `m`, and what it binds.
    fn condition<F: Fetch>(&self) -> (String, Option<&str>) {
        match self {
            ModelScope::One(id) => (format!("m.model_id = {}", F::PARAM), Some(id.as_str())),
            ModelScope::Active(id) => (
                format!("m.model_id = {} AND m.lifecycle_stage = 'active'", F::PARAM),
                Some(id.as_str()),
            ),
            ModelScope::ActiveIn(ids) => (
                format!(
                    "m.experiment_id IN ({}) AND m.lifecycle_stage = 'active'",
                    id_list(ids)
                ),
                None,
            ),
        }
    }
}

/// Loads one model whatever its stage, or fails with its not-found error.
pub async fn load_model<F: Fetch>(f: &mut F, id: &LoggedModelId) -> Result<LoggedModel, F::Error> {
    one(load(f, ModelScope::One(id)).await?, id)
}

/// Loads one active model, or fails with its not-found error.
pub async fn load_active_model<F: Fetch>(
    f: &mut F,
    id: &LoggedModelId,
) -> Result<LoggedModel, F::Error> {
    one(load(f, ModelScope::Active(id)).await?, id)
}

/// Loads the active models of `experiments`, oldest first.
pub async fn load_active_models<F: Fetch>(
    f: &mut F,
    experiments: &[ExperimentId],
) -> Result<Vec<LoggedModel>, F::Error> {
    load(f, ModelScope::ActiveIn(experiments)).await
}

fn one<E: From<StoreError>>(
    mut found: Vec<LoggedModel>,
    id: &LoggedModelId,
) -> Result<LoggedModel, E> {
    found.pop().ok_or_else(|| model_not_found(id).into())
}

async fn load<F: Fetch>(f: &mut F, scope: ModelScope<'_>) -> Result<Vec<LoggedModel>, F::Error> {
    let (condition, bind) = scope.condition::<F>();
    // Models created in the same millisecond; see `Fetch::EXPLICIT_ORDER`.
    let tie = if F::EXPLICIT_ORDER {
        ", m.model_id"
    } else {
        ""
    };
    let rows = f
        .fetch(
            format!(
                "SELECT m.model_id, m.experiment_id, m.name, m.artifact_uri, m.creation_timestamp_ms, \
                 m.last_updated_timestamp_ms, m.status, m.status_message, m.model_type, \
                 m.source_run_id, m.lifecycle_stage FROM logged_models m WHERE {condition} \
                 ORDER BY m.creation_timestamp_ms{tie}"
            ),
            bind,
        )
        .await?;
    let mut models = rows.iter().map(model).collect::<StoreResult<Vec<_>>>()?;
    if models.is_empty() {
        return Ok(models);
    }
    let index: HashMap<String, usize> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.model_id.as_str().to_string(), i))
        .collect();
    let sub = format!("SELECT m.model_id FROM logged_models m WHERE {condition}");
    let sql = |columns: &str, table: &str, order: &str| {
        format!("SELECT {columns} FROM {table} WHERE model_id IN ({sub}) ORDER BY {order}")
    };
    let params = sql("model_id, key, value", "logged_model_params", "key");
    for row in f.fetch(params, bind).await? {
        if let Some(&i) = index.get(row.str(0)) {
            models[i].params.push(Param {
                key: row.text(1),
                value: row.text(2),
            });
        }
    }
    let tags = sql("model_id, key, value", "logged_model_tags", "key");
    for row in f.fetch(tags, bind).await? {
        if let Some(&i) = index.get(row.str(0)) {
            models[i].tags.push(Tag {
                key: row.text(1),
                value: row.text(2),
            });
        }
    }
    let metrics = sql(
        "model_id, run_id, key, value, is_nan, step, timestamp, dataset_name, dataset_digest",
        "metrics",
        "key, step, timestamp",
    );
    for row in f.fetch(metrics, bind).await? {
        if let Some(&i) = index.get(row.str(0)) {
            let m = Metric {
                model_id: Some(row.text(0)),
                run_id: Some(row.text(1)),
                key: row.text(2),
                value: row.metric_value(3, 4),
                step: row.int(5),
                timestamp: row.int(6),
                dataset_name: row.opt_text(7),
                dataset_digest: row.opt_text(8),
            };
            keep_latest(&mut models[i].metrics, m);
        }
    }
    Ok(models)
}

/// Keeps one point per (key, dataset): the latest.
fn keep_latest(list: &mut Vec<Metric>, m: Metric) {
    let same = |x: &Metric| {
        x.key == m.key && x.dataset_name == m.dataset_name && x.dataset_digest == m.dataset_digest
    };
    match list.iter_mut().find(|x| same(x)) {
        Some(cur) if m.is_newer_than(cur) => *cur = m,
        Some(_) => {}
        None => list.push(m),
    }
}

fn model(row: &impl Columns) -> StoreResult<LoggedModel> {
    Ok(LoggedModel {
        model_id: LoggedModelId::parse(row.str(0))
            .map_err(|e| StoreError::Internal(e.to_string()))?,
        experiment_id: ExperimentId(row.int(1)),
        name: row.text(2),
        artifact_uri: row.text(3),
        creation_timestamp_ms: row.int(4),
        last_updated_timestamp_ms: row.int(5),
        status: row.parsed(6)?,
        status_message: row.opt_text(7),
        model_type: row.opt_text(8),
        source_run_id: row.opt_text(9),
        lifecycle_stage: row.parsed(10)?,
        tags: Vec::new(),
        params: Vec::new(),
        metrics: Vec::new(),
    })
}

/// Where a logged model's artifacts live, under its experiment's artifact location.
pub fn model_artifact_uri(location: &str, id: &LoggedModelId) -> String {
    format!("{}/models/{id}/artifacts", location.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::keep_latest;
    use cairn_domain::Metric;

    fn point(key: &str, step: i64, value: f64, dataset: Option<&str>) -> Metric {
        Metric {
            key: key.to_string(),
            value,
            timestamp: 1,
            step,
            run_id: None,
            model_id: None,
            dataset_name: dataset.map(str::to_string),
            dataset_digest: None,
        }
    }

    #[test]
    fn one_point_per_key_and_dataset_the_latest() {
        let mut list = Vec::new();
        for m in [
            point("loss", 2, 0.5, None),
            point("loss", 1, 0.9, None),
            point("loss", 0, 0.7, Some("eval")),
            point("acc", 3, 0.1, None),
            point("loss", 3, 0.4, None),
        ] {
            keep_latest(&mut list, m);
        }
        let got: Vec<_> = list
            .iter()
            .map(|m| (m.key.as_str(), m.step, m.dataset_name.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("loss", 3, None),
                ("loss", 0, Some("eval")),
                ("acc", 3, None)
            ]
        );
    }
}

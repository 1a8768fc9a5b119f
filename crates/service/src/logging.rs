//! Logging metrics, params, tags, inputs and outputs to a run, and reading metric history.

use std::collections::BTreeSet;

use cairn_domain::validation::{
    KeyKind, MAX_RESULTS_GET_METRIC_HISTORY, validate_batch_counts, validate_key,
    validate_max_results, validate_unique_param_keys, validate_value_length,
};
use cairn_domain::{DatasetInput, Metric, ModelInput, ModelOutput, Param, RunId, Tag};
use cairn_store::{HistoryOrder, MetricExtremes, MetricHistoryQuery};

use crate::experiments::validate_tags;
use crate::runs::parse_run_id;
use crate::search::paginate;
use crate::{ServiceError, ServiceResult, Tracking};

/// Runs per bulk-interval request, and points per run, as MLflow bounds them.
const MAX_RUNS_BULK_INTERVAL: usize = 100;
const MAX_POINTS_PER_RUN: i64 = 2500;

/// A read of one metric's history.
#[derive(Debug, Clone, Default)]
pub struct MetricHistoryRequest {
    pub run_id: String,
    pub key: String,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

/// A page of metric points.
pub type HistoryPage = crate::Page<Metric>;

impl Tracking {
    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: Vec<Metric>,
        params: Vec<Param>,
        tags: Vec<Tag>,
    ) -> ServiceResult<()> {
        let id = parse_run_id(run_id)?;
        validate_batch_counts(metrics.len(), params.len(), tags.len())?;
        for m in &metrics {
            validate_key(KeyKind::Metric, &m.key)?;
        }
        for p in &params {
            validate_key(KeyKind::Param, &p.key)?;
            validate_value_length(KeyKind::Param, &p.key, &p.value)?;
        }
        validate_unique_param_keys(params.iter().map(|p| p.key.as_str()))?;
        validate_tags(&tags)?;
        let metrics = metrics.into_iter().map(clamp_infinity).collect();
        Ok(self.store.log_batch(&id, metrics, params, tags).await?)
    }

    pub async fn log_metric(&self, run_id: &str, metric: Metric) -> ServiceResult<()> {
        self.log_batch(run_id, vec![metric], vec![], vec![]).await
    }

    pub async fn log_param(&self, run_id: &str, param: Param) -> ServiceResult<()> {
        self.log_batch(run_id, vec![], vec![param], vec![]).await
    }

    pub async fn set_tag(&self, run_id: &str, tag: Tag) -> ServiceResult<()> {
        self.log_batch(run_id, vec![], vec![], vec![tag]).await
    }

    pub async fn delete_tag(&self, run_id: &str, key: &str) -> ServiceResult<()> {
        Ok(self
            .store
            .delete_run_tag(&parse_run_id(run_id)?, key)
            .await?)
    }

    pub async fn log_inputs(
        &self,
        run_id: &str,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> ServiceResult<()> {
        let id = parse_run_id(run_id)?;
        for d in &datasets {
            validate_dataset(d)?;
        }
        Ok(self.store.log_inputs(&id, datasets, models).await?)
    }

    pub async fn log_outputs(&self, run_id: &str, models: Vec<ModelOutput>) -> ServiceResult<()> {
        Ok(self
            .store
            .log_outputs(&parse_run_id(run_id)?, models)
            .await?)
    }

    /// Each metric's smallest and largest value for these runs (the grid's min and max columns).
    pub async fn metric_extremes(&self, runs: &[RunId]) -> ServiceResult<Vec<MetricExtremes>> {
        Ok(self.store.metric_extremes(runs).await?)
    }

    pub async fn metric_history(&self, req: MetricHistoryRequest) -> ServiceResult<HistoryPage> {
        let id = parse_run_id(&req.run_id)?;
        if req.key.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "Missing value for required parameter 'metric_key'.".into(),
            ));
        }
        let max = req.max_results.unwrap_or(MAX_RESULTS_GET_METRIC_HISTORY);
        if max < 1 {
            return Err(ServiceError::InvalidArgument(format!(
                "Invalid value {max} for parameter 'max_results'"
            )));
        }
        // An unknown run has no history: MLflow answers an empty list, not an error.
        let points = self
            .store
            .metric_history(MetricHistoryQuery {
                run_ids: vec![id],
                key: req.key,
                min_step: None,
                max_step: None,
                order: HistoryOrder::Time,
            })
            .await?;
        if req.page_token.is_none() && (points.len() as i64) <= max {
            return Ok(crate::Page {
                items: points,
                next_page_token: None,
            });
        }
        paginate(points, max, req.page_token.as_deref())
    }

    /// Points of one metric across runs, sampled to at most `max_results` steps per run over
    /// `[start_step, end_step]`; the first and last steps are always kept.
    pub async fn metric_history_bulk_interval(
        &self,
        run_ids: &[String],
        key: &str,
        start_step: Option<i64>,
        end_step: Option<i64>,
        max_results: Option<i64>,
    ) -> ServiceResult<Vec<Metric>> {
        if run_ids.is_empty() || run_ids.len() > MAX_RUNS_BULK_INTERVAL {
            return Err(ServiceError::InvalidArgument(format!(
                "GetMetricHistoryBulkInterval request must specify between 1 and \
                 {MAX_RUNS_BULK_INTERVAL} run_ids. Received {} run_ids.",
                run_ids.len()
            )));
        }
        if key.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "Missing value for required parameter 'metric_key'.".into(),
            ));
        }
        if let (Some(a), Some(b)) = (start_step, end_step)
            && a > b
        {
            return Err(ServiceError::InvalidArgument(format!(
                "end_step must be greater than start_step. Found start_step={a} and end_step={b}."
            )));
        }
        let max = max_results.unwrap_or(MAX_POINTS_PER_RUN);
        validate_max_results(max, MAX_POINTS_PER_RUN)?;
        let ids = run_ids
            .iter()
            .map(|r| parse_run_id(r))
            .collect::<ServiceResult<Vec<_>>>()?;
        let points = self
            .store
            .metric_history(MetricHistoryQuery {
                run_ids: ids,
                key: key.to_string(),
                min_step: start_step,
                max_step: end_step,
                order: HistoryOrder::Step,
            })
            .await?;
        let steps: BTreeSet<i64> = points.iter().map(|m| m.step).collect();
        let keep = sample_steps(&steps.into_iter().collect::<Vec<_>>(), max as usize);
        Ok(points
            .into_iter()
            .filter(|m| keep.contains(&m.step))
            .collect())
    }
}

/// Evenly spaced steps, first and last included.
fn sample_steps(steps: &[i64], max: usize) -> BTreeSet<i64> {
    if steps.len() <= max {
        return steps.iter().copied().collect();
    }
    let mut keep: BTreeSet<i64> = (0..max)
        .map(|i| steps[i * (steps.len() - 1) / (max - 1).max(1)])
        .collect();
    keep.insert(steps[0]);
    keep.insert(steps[steps.len() - 1]);
    keep
}

/// ±infinity is stored as ±f64::MAX, as MLflow's SQL store does.
fn clamp_infinity(mut m: Metric) -> Metric {
    if m.value.is_infinite() {
        m.value = if m.value > 0.0 { f64::MAX } else { f64::MIN };
    }
    m
}

fn validate_dataset(d: &DatasetInput) -> ServiceResult<()> {
    use cairn_domain::validation::*;
    let ds = &d.dataset;
    let check = |what: &str, len: usize, max: usize| {
        if len > max {
            Err(ServiceError::InvalidArgument(format!(
                "Dataset {what} exceeds the maximum length of {max}"
            )))
        } else {
            Ok(())
        }
    };
    for (field, value) in [
        ("dataset name", Some(ds.name.as_str())),
        ("dataset digest", Some(ds.digest.as_str())),
        ("dataset source_type", Some(ds.source_type.as_str())),
        ("dataset source", Some(ds.source.as_str())),
        ("dataset schema", ds.schema.as_deref()),
        ("dataset profile", ds.profile.as_deref()),
    ] {
        validate_no_nul_opt(field, value)?;
    }
    for t in &d.tags {
        validate_no_nul("input tag key", &t.key)?;
        validate_no_nul(&format!("input tag '{}' value", t.key), &t.value)?;
    }
    if ds.name.is_empty() || ds.digest.is_empty() {
        return Err(ServiceError::InvalidArgument(
            "A dataset needs a name and a digest".into(),
        ));
    }
    check("name", ds.name.len(), MAX_DATASET_NAME_LENGTH)?;
    check("digest", ds.digest.len(), MAX_DATASET_DIGEST_LENGTH)?;
    check("source", ds.source.len(), MAX_DATASET_SOURCE_LENGTH)?;
    check(
        "schema",
        ds.schema.as_deref().map_or(0, str::len),
        MAX_DATASET_SCHEMA_LENGTH,
    )?;
    check(
        "profile",
        ds.profile.as_deref().map_or(0, str::len),
        MAX_DATASET_PROFILE_LENGTH,
    )?;
    for t in &d.tags {
        check("input tag key", t.key.len(), MAX_INPUT_TAG_KEY_LENGTH)?;
        check("input tag value", t.value.len(), MAX_INPUT_TAG_VALUE_LENGTH)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sample_steps;

    #[test]
    fn sampling_keeps_ends_and_bound() {
        let steps: Vec<i64> = (0..1000).collect();
        let s = sample_steps(&steps, 10);
        assert!(s.len() <= 11 && s.len() >= 10);
        assert!(s.contains(&0) && s.contains(&999));
        assert_eq!(sample_steps(&[1, 2, 3], 10).len(), 3);
    }
}

//! Run, metric and input/output messages.

use cairn_domain::{Dataset, DatasetInput, Metric, ModelInput, ModelOutput, Run, RunInfo, Tag};
use serde::{Deserialize, Serialize};

use super::lenient;
use super::tags::{KeyValue, out};

/// A run reference: the client sends both `run_id` and the legacy `run_uuid`.
#[derive(Debug, Deserialize)]
pub struct RunRef {
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub run_uuid: Option<String>,
}

impl RunRef {
    pub fn id(&self) -> Option<&str> {
        self.run_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.run_uuid.as_deref().filter(|s| !s.is_empty()))
    }
}

#[derive(Debug, Deserialize)]
pub struct CreateRun {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub experiment_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub run_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub start_time: Option<i64>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
pub struct UpdateRun {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub end_time: Option<i64>,
    #[serde(default)]
    pub run_name: Option<String>,
}

/// One metric as logged (log-metric body, log-batch element).
#[derive(Debug, Deserialize)]
pub struct MetricIn {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub value: Option<f64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub step: Option<i64>,
    #[serde(default)]
    pub model_id: Option<String>,
    #[serde(default)]
    pub dataset_name: Option<String>,
    #[serde(default)]
    pub dataset_digest: Option<String>,
}

impl MetricIn {
    /// Converts, naming the first missing required field.
    pub fn into_metric(self) -> Result<Metric, &'static str> {
        Ok(Metric {
            key: self.key.ok_or("key")?,
            value: self.value.ok_or("value")?,
            timestamp: self.timestamp.ok_or("timestamp")?,
            step: self.step.unwrap_or(0),
            run_id: None,
            model_id: self.model_id.filter(|s| !s.is_empty()),
            dataset_name: self.dataset_name.filter(|s| !s.is_empty()),
            dataset_digest: self.dataset_digest.filter(|s| !s.is_empty()),
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct LogMetric {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(flatten)]
    pub metric: MetricIn,
}

#[derive(Debug, Deserialize)]
pub struct LogKeyValue {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub value: Option<String>,
}

/// The hot path of bulk logging: fields spelled out rather than a flattened [`RunRef`], which would make
/// serde buffer the whole (up to 1,000-metric) message before decoding it.
#[derive(Debug, Deserialize)]
pub struct LogBatch {
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub run_uuid: Option<String>,
    #[serde(default)]
    pub metrics: Vec<MetricIn>,
    #[serde(default)]
    pub params: Vec<KeyValue>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct DatasetDto {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub source_type: String,
    #[serde(default)]
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct DatasetInputDto {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    pub dataset: DatasetDto,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct ModelRefDto {
    #[serde(default)]
    pub model_id: String,
    #[serde(
        default,
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub step: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct LogInputs {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default)]
    pub datasets: Vec<DatasetInputDto>,
    #[serde(default)]
    pub models: Vec<ModelRefDto>,
}

#[derive(Debug, Deserialize)]
pub struct LogOutputs {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default)]
    pub models: Vec<ModelRefDto>,
}

#[derive(Debug, Deserialize)]
pub struct DeleteTag {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default)]
    pub key: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SearchRuns {
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub experiment_ids: Vec<String>,
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub run_view_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub order_by: Vec<String>,
    #[serde(default)]
    pub page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct GetMetricHistory {
    #[serde(flatten)]
    pub run: RunRef,
    #[serde(default)]
    pub metric_key: Option<String>,
    #[serde(default)]
    pub page_token: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub max_results: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct GetMetricHistoryBulkInterval {
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub run_ids: Vec<String>,
    #[serde(default)]
    pub metric_key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub start_step: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub end_step: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub max_results: Option<i64>,
}

// ---- responses ----

#[derive(Debug, Serialize)]
pub struct MetricDto {
    pub key: String,
    #[serde(serialize_with = "lenient::metric_value")]
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

impl From<&Metric> for MetricDto {
    fn from(m: &Metric) -> Self {
        Self {
            key: m.key.clone(),
            value: m.value,
            timestamp: m.timestamp,
            step: m.step,
            dataset_name: m.dataset_name.clone(),
            dataset_digest: m.dataset_digest.clone(),
            model_id: m.model_id.clone(),
            run_id: m.run_id.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RunInfoDto {
    pub run_id: String,
    pub run_uuid: String,
    pub run_name: String,
    pub experiment_id: String,
    pub user_id: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: &'static str,
}

impl From<&RunInfo> for RunInfoDto {
    fn from(i: &RunInfo) -> Self {
        Self {
            run_id: i.run_id.to_string(),
            run_uuid: i.run_id.to_string(),
            run_name: i.run_name.clone(),
            experiment_id: i.experiment_id.to_string(),
            user_id: i.user_id.clone(),
            status: i.status.as_str(),
            start_time: i.start_time,
            end_time: i.end_time,
            artifact_uri: i.artifact_uri.clone(),
            lifecycle_stage: i.lifecycle_stage.as_str(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RunDataDto {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricDto>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Serialize)]
pub struct RunInputsDto {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dataset_inputs: Vec<DatasetInputDto>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_inputs: Vec<ModelRefDto>,
}

#[derive(Debug, Serialize)]
pub struct RunOutputsDto {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_outputs: Vec<ModelRefDto>,
}

#[derive(Debug, Serialize)]
pub struct RunDto {
    pub info: RunInfoDto,
    pub data: RunDataDto,
    pub inputs: RunInputsDto,
    pub outputs: RunOutputsDto,
}

impl From<&Run> for RunDto {
    fn from(r: &Run) -> Self {
        Self {
            info: RunInfoDto::from(&r.info),
            data: RunDataDto {
                metrics: r.data.metrics.iter().map(MetricDto::from).collect(),
                params: out(&r.data.params),
                tags: out(&r.data.tags),
            },
            inputs: RunInputsDto {
                dataset_inputs: r
                    .inputs
                    .dataset_inputs
                    .iter()
                    .map(DatasetInputDto::from)
                    .collect(),
                model_inputs: r
                    .inputs
                    .model_inputs
                    .iter()
                    .map(|m| ModelRefDto {
                        model_id: m.model_id.clone(),
                        step: None,
                    })
                    .collect(),
            },
            outputs: RunOutputsDto {
                model_outputs: r
                    .outputs
                    .model_outputs
                    .iter()
                    .map(|m| ModelRefDto {
                        model_id: m.model_id.clone(),
                        step: Some(m.step),
                    })
                    .collect(),
            },
        }
    }
}

impl From<&DatasetInput> for DatasetInputDto {
    fn from(d: &DatasetInput) -> Self {
        Self {
            tags: out(&d.tags),
            dataset: DatasetDto {
                name: d.dataset.name.clone(),
                digest: d.dataset.digest.clone(),
                source_type: d.dataset.source_type.clone(),
                source: d.dataset.source.clone(),
                schema: d.dataset.schema.clone(),
                profile: d.dataset.profile.clone(),
            },
        }
    }
}

impl From<DatasetInputDto> for DatasetInput {
    fn from(d: DatasetInputDto) -> Self {
        Self {
            tags: d.tags.into_iter().map(KeyValue::tag).collect::<Vec<Tag>>(),
            dataset: Dataset {
                name: d.dataset.name,
                digest: d.dataset.digest,
                source_type: d.dataset.source_type,
                source: d.dataset.source,
                schema: d.dataset.schema,
                profile: d.dataset.profile,
            },
        }
    }
}

impl From<ModelRefDto> for ModelInput {
    fn from(m: ModelRefDto) -> Self {
        Self {
            model_id: m.model_id,
        }
    }
}

impl From<ModelRefDto> for ModelOutput {
    fn from(m: ModelRefDto) -> Self {
        Self {
            model_id: m.model_id,
            step: m.step.unwrap_or(0),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RunResponse {
    pub run: RunDto,
}

#[derive(Debug, Serialize)]
pub struct UpdateRunResponse {
    pub run_info: RunInfoDto,
}

#[derive(Debug, Serialize)]
pub struct SearchRunsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<RunDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MetricsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

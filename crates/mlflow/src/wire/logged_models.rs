//! Logged-model messages (MLflow 3.x).

use cairn_domain::LoggedModel;
use cairn_domain::search::LoggedModelOrderBy;
use serde::{Deserialize, Serialize};

use super::lenient;
use super::runs::MetricDto;
use super::tags::{KeyValue, out};

#[derive(Debug, Deserialize)]
pub struct CreateLoggedModel {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub experiment_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub model_type: Option<String>,
    #[serde(default)]
    pub source_run_id: Option<String>,
    #[serde(default)]
    pub params: Vec<KeyValue>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
pub struct FinalizeLoggedModel {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SetLoggedModelTags {
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
pub struct OrderByDto {
    #[serde(default)]
    pub field_name: String,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub ascending: Option<bool>,
    #[serde(default)]
    pub dataset_name: Option<String>,
    #[serde(default)]
    pub dataset_digest: Option<String>,
}

impl From<OrderByDto> for LoggedModelOrderBy {
    fn from(o: OrderByDto) -> Self {
        Self {
            field_name: o.field_name,
            ascending: o.ascending.unwrap_or(true),
            dataset_name: o.dataset_name,
            dataset_digest: o.dataset_digest,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct SearchLoggedModels {
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub experiment_ids: Vec<String>,
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub max_results: Option<i64>,
    #[serde(default)]
    pub order_by: Vec<OrderByDto>,
    #[serde(default)]
    pub page_token: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LoggedModelInfoDto {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub artifact_uri: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Serialize)]
pub struct LoggedModelDataDto {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricDto>,
}

#[derive(Debug, Serialize)]
pub struct LoggedModelDto {
    pub info: LoggedModelInfoDto,
    pub data: LoggedModelDataDto,
}

impl From<&LoggedModel> for LoggedModelDto {
    fn from(m: &LoggedModel) -> Self {
        Self {
            info: LoggedModelInfoDto {
                model_id: m.model_id.to_string(),
                experiment_id: m.experiment_id.to_string(),
                name: m.name.clone(),
                creation_timestamp_ms: m.creation_timestamp_ms,
                last_updated_timestamp_ms: m.last_updated_timestamp_ms,
                artifact_uri: m.artifact_uri.clone(),
                status: m.status.as_str(),
                model_type: m.model_type.clone(),
                source_run_id: m.source_run_id.clone(),
                status_message: m.status_message.clone(),
                tags: out(&m.tags),
            },
            data: LoggedModelDataDto {
                params: out(&m.params),
                metrics: m.metrics.iter().map(MetricDto::from).collect(),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LoggedModelResponse {
    pub model: LoggedModelDto,
}

#[derive(Debug, Serialize)]
pub struct SearchLoggedModelsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<LoggedModelDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

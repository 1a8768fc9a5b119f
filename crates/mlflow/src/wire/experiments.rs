//! Experiment messages.

use cairn_domain::Experiment;
use serde::{Deserialize, Serialize};

use super::lenient;
use super::tags::{KeyValue, out};

#[derive(Debug, Deserialize)]
pub struct CreateExperiment {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub artifact_location: Option<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
pub struct ExperimentRef {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub experiment_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ExperimentByName {
    #[serde(default)]
    pub experiment_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SearchExperiments {
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub max_results: Option<i64>,
    #[serde(default)]
    pub page_token: Option<String>,
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub order_by: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub view_type: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UpdateExperiment {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub experiment_id: Option<String>,
    #[serde(default)]
    pub new_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ExperimentTag {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub experiment_id: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub value: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ExperimentDto {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: &'static str,
    pub last_update_time: i64,
    pub creation_time: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    pub workspace: &'static str,
}

impl From<&Experiment> for ExperimentDto {
    fn from(e: &Experiment) -> Self {
        Self {
            experiment_id: e.id.to_string(),
            name: e.name.clone(),
            artifact_location: e.artifact_location.clone(),
            lifecycle_stage: e.lifecycle_stage.as_str(),
            last_update_time: e.last_update_time,
            creation_time: e.creation_time,
            tags: out(&e.tags),
            workspace: "default",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ExperimentResponse {
    pub experiment: ExperimentDto,
}

#[derive(Debug, Serialize)]
pub struct CreateExperimentResponse {
    pub experiment_id: String,
}

#[derive(Debug, Serialize)]
pub struct SearchExperimentsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<ExperimentDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

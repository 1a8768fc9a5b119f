//! Model registry messages (`model_registry.proto`), with MLflow's field names.

use cairn_domain::{ModelVersion, RegisteredModel};
use serde::{Deserialize, Serialize};

use super::lenient;
use super::tags::{KeyValue, out};

/// Requests that name a model (and maybe a version, alias, tag or description). One lenient shape
/// serves them all: each handler reads the fields its RPC defines and checks the required ones.
#[derive(Debug, Default, Deserialize)]
pub struct RegistryRequest {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub new_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub version: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub alias: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub stage: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub archive_existing_versions: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub stages: Vec<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateModelVersion {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub source: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub model_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub run_link: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RegistrySearchRequest {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub order_by: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub page_token: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AliasDto {
    pub alias: String,
    pub version: String,
}

#[derive(Debug, Serialize)]
pub struct ModelVersionDto {
    pub name: String,
    pub version: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub current_stage: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_link: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

impl From<&ModelVersion> for ModelVersionDto {
    fn from(v: &ModelVersion) -> Self {
        Self {
            name: v.name.clone(),
            version: v.version.to_string(),
            creation_timestamp: v.creation_timestamp,
            last_updated_timestamp: v.last_updated_timestamp,
            user_id: v.user_id.clone(),
            current_stage: v.current_stage.as_str(),
            description: v.description.clone(),
            source: v.source.clone(),
            run_id: v.run_id.clone(),
            status: v.status.as_str(),
            status_message: v.status_message.clone(),
            tags: out(&v.tags),
            run_link: v.run_link.clone(),
            aliases: v.aliases.clone(),
            model_id: v.model_id.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RegisteredModelDto {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub latest_versions: Vec<ModelVersionDto>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<AliasDto>,
}

impl From<&RegisteredModel> for RegisteredModelDto {
    fn from(m: &RegisteredModel) -> Self {
        Self {
            name: m.name.clone(),
            creation_timestamp: m.creation_timestamp,
            last_updated_timestamp: m.last_updated_timestamp,
            description: m.description.clone(),
            latest_versions: m.latest_versions.iter().map(Into::into).collect(),
            tags: out(&m.tags),
            aliases: m
                .aliases
                .iter()
                .map(|a| AliasDto {
                    alias: a.alias.clone(),
                    version: a.version.to_string(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RegisteredModelResponse {
    pub registered_model: RegisteredModelDto,
}

#[derive(Debug, Serialize)]
pub struct RegisteredModelsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub registered_models: Vec<RegisteredModelDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ModelVersionResponse {
    pub model_version: ModelVersionDto,
}

#[derive(Debug, Serialize)]
pub struct ModelVersionsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_versions: Vec<ModelVersionDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DownloadUriResponse {
    pub artifact_uri: String,
}

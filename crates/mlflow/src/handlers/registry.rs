//! `/mlflow/registered-models/*` and `/mlflow/model-versions/*`.

use axum::extract::State;
use axum::{Extension, Json};
use cairn_service::{Actor, NewVersionRequest, RegistrySearch};

use super::{Empty, required_str};
use crate::MlflowState as AppState;
use crate::error::ApiResult;
use crate::extract::Msg;
use crate::wire::registry::*;
use crate::wire::tags::{KeyValue, tags};

/// The request's actor (set by the server's middleware); anonymous when there is none.
fn who(actor: &Option<Extension<Actor>>) -> &str {
    actor.as_ref().map_or("", |Extension(a)| a.as_str())
}

type Who = Option<Extension<Actor>>;

fn name(m: &RegistryRequest) -> ApiResult<String> {
    required_str(m.name.clone(), "name")
}

fn version(m: &RegistryRequest) -> ApiResult<String> {
    required_str(m.version.clone(), "version")
}

fn tag(m: &RegistryRequest) -> ApiResult<cairn_domain::Tag> {
    Ok(KeyValue {
        key: required_str(m.key.clone(), "key")?,
        value: m.value.clone(),
    }
    .tag())
}

fn model_response(m: &cairn_domain::RegisteredModel) -> Json<RegisteredModelResponse> {
    Json(RegisteredModelResponse {
        registered_model: m.into(),
    })
}

fn version_response(v: &cairn_domain::ModelVersion) -> Json<ModelVersionResponse> {
    Json(ModelVersionResponse {
        model_version: v.into(),
    })
}

fn search(m: RegistrySearchRequest) -> RegistrySearch {
    RegistrySearch {
        filter: m.filter.unwrap_or_default(),
        max_results: m.max_results,
        order_by: m.order_by,
        page_token: m.page_token,
    }
}

// --- registered models ---

pub async fn create_model(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<RegisteredModelResponse>> {
    let model = s
        .registry
        .create_registered_model(&name(&m)?, m.description, tags(m.tags), who(&a))
        .await?;
    Ok(model_response(&model))
}

pub async fn get_model(
    State(s): State<AppState>,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<RegisteredModelResponse>> {
    Ok(model_response(
        &s.registry.get_registered_model(&name(&m)?).await?,
    ))
}

pub async fn rename_model(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<RegisteredModelResponse>> {
    let new_name = required_str(m.new_name.clone(), "new_name")?;
    let model = s
        .registry
        .rename_registered_model(&name(&m)?, &new_name, who(&a))
        .await?;
    Ok(model_response(&model))
}

pub async fn update_model(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<RegisteredModelResponse>> {
    let model = s
        .registry
        .update_registered_model(&name(&m)?, m.description, who(&a))
        .await?;
    Ok(model_response(&model))
}

pub async fn delete_model(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    s.registry
        .delete_registered_model(&name(&m)?, who(&a))
        .await?;
    Ok(Json(Empty {}))
}

pub async fn search_models(
    State(s): State<AppState>,
    Msg(m): Msg<RegistrySearchRequest>,
) -> ApiResult<Json<RegisteredModelsResponse>> {
    let page = s.registry.search_registered_models(search(m)).await?;
    Ok(Json(RegisteredModelsResponse {
        registered_models: page.items.iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn latest_versions(
    State(s): State<AppState>,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<ModelVersionsResponse>> {
    let versions = s
        .registry
        .get_latest_versions(&name(&m)?, &m.stages)
        .await?;
    Ok(Json(ModelVersionsResponse {
        model_versions: versions.iter().map(Into::into).collect(),
        next_page_token: None,
    }))
}

pub async fn set_model_tag(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    s.registry
        .set_registered_model_tag(&name(&m)?, tag(&m)?, who(&a))
        .await?;
    Ok(Json(Empty {}))
}

pub async fn delete_model_tag(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    let key = required_str(m.key.clone(), "key")?;
    s.registry
        .delete_registered_model_tag(&name(&m)?, &key, who(&a))
        .await?;
    Ok(Json(Empty {}))
}

// --- aliases ---

pub async fn set_alias(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    let alias = required_str(m.alias.clone(), "alias")?;
    s.registry
        .set_alias(&name(&m)?, &alias, &version(&m)?, who(&a))
        .await?;
    Ok(Json(Empty {}))
}

pub async fn delete_alias(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    let alias = required_str(m.alias.clone(), "alias")?;
    s.registry.delete_alias(&name(&m)?, &alias, who(&a)).await?;
    Ok(Json(Empty {}))
}

pub async fn get_by_alias(
    State(s): State<AppState>,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<ModelVersionResponse>> {
    let alias = required_str(m.alias.clone(), "alias")?;
    Ok(version_response(
        &s.registry.get_version_by_alias(&name(&m)?, &alias).await?,
    ))
}

// --- model versions ---

pub async fn create_version(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<CreateModelVersion>,
) -> ApiResult<Json<ModelVersionResponse>> {
    let req = NewVersionRequest {
        name: required_str(m.name, "name")?,
        source: required_str(m.source, "source")?,
        run_id: m.run_id,
        model_id: m.model_id,
        run_link: m.run_link,
        description: m.description,
        tags: tags(m.tags),
    };
    Ok(version_response(
        &s.registry.create_model_version(req, who(&a)).await?,
    ))
}

pub async fn get_version(
    State(s): State<AppState>,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<ModelVersionResponse>> {
    Ok(version_response(
        &s.registry
            .get_model_version(&name(&m)?, &version(&m)?)
            .await?,
    ))
}

pub async fn update_version(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<ModelVersionResponse>> {
    let v = s
        .registry
        .update_model_version(&name(&m)?, &version(&m)?, m.description.clone(), who(&a))
        .await?;
    Ok(version_response(&v))
}

pub async fn transition_stage(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<ModelVersionResponse>> {
    let stage = required_str(m.stage.clone(), "stage")?;
    let v = s
        .registry
        .transition_stage(
            &name(&m)?,
            &version(&m)?,
            &stage,
            m.archive_existing_versions.unwrap_or(false),
            who(&a),
        )
        .await?;
    Ok(version_response(&v))
}

pub async fn delete_version(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    s.registry
        .delete_model_version(&name(&m)?, &version(&m)?, who(&a))
        .await?;
    Ok(Json(Empty {}))
}

pub async fn search_versions(
    State(s): State<AppState>,
    Msg(m): Msg<RegistrySearchRequest>,
) -> ApiResult<Json<ModelVersionsResponse>> {
    let page = s.registry.search_model_versions(search(m)).await?;
    Ok(Json(ModelVersionsResponse {
        model_versions: page.items.iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn download_uri(
    State(s): State<AppState>,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<DownloadUriResponse>> {
    let artifact_uri = s
        .registry
        .get_download_uri(&name(&m)?, &version(&m)?)
        .await?;
    Ok(Json(DownloadUriResponse { artifact_uri }))
}

pub async fn set_version_tag(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    s.registry
        .set_model_version_tag(&name(&m)?, &version(&m)?, tag(&m)?, who(&a))
        .await?;
    Ok(Json(Empty {}))
}

pub async fn delete_version_tag(
    State(s): State<AppState>,
    a: Who,
    Msg(m): Msg<RegistryRequest>,
) -> ApiResult<Json<Empty>> {
    let key = required_str(m.key.clone(), "key")?;
    s.registry
        .delete_model_version_tag(&name(&m)?, &version(&m)?, &key, who(&a))
        .await?;
    Ok(Json(Empty {}))
}

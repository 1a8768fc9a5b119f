//! The route table: every MLflow endpoint Cairn serves, in one place.

use axum::Router;
use axum::routing::{MethodRouter, any, delete, get, patch, post};

use crate::MlflowState;
use crate::handlers::{artifacts, experiments, logged_models, meta, metrics, registry, runs};

/// The MLflow-compatible router, with its state applied.
pub fn router(state: MlflowState) -> Router {
    let api = tracking_routes();
    let artifacts = artifact_routes();
    Router::new()
        .nest("/api/2.0/mlflow", api.clone())
        .nest("/ajax-api/2.0/mlflow", api)
        .nest("/api/2.0/mlflow-artifacts", artifacts.clone())
        .nest("/ajax-api/2.0/mlflow-artifacts", artifacts)
        .route("/api/3.0/mlflow/server-info", get(meta::server_info))
        .route("/ajax-api/3.0/mlflow/server-info", get(meta::server_info))
        .route("/api/3.0/mlflow/traces", any(meta::traces_unsupported))
        .route(
            "/api/3.0/mlflow/traces/{*rest}",
            any(meta::traces_unsupported),
        )
        .route("/v1/traces", any(meta::traces_unsupported))
        .route("/health", get(meta::health))
        .route("/version", get(meta::version))
        .fallback(meta::not_found)
        .with_state(state)
}

fn get_or_post<H, T>(handler: H) -> MethodRouter<MlflowState>
where
    H: axum::handler::Handler<T, MlflowState> + Clone,
    T: 'static,
{
    get(handler.clone()).post(handler)
}

fn tracking_routes() -> Router<MlflowState> {
    Router::new()
        // experiments
        .route("/experiments/create", post(experiments::create))
        .route("/experiments/get", get(experiments::get))
        .route("/experiments/get-by-name", get(experiments::get_by_name))
        .route("/experiments/search", get_or_post(experiments::search))
        .route("/experiments/update", post(experiments::update))
        .route("/experiments/delete", post(experiments::delete))
        .route("/experiments/restore", post(experiments::restore))
        .route(
            "/experiments/set-experiment-tag",
            post(experiments::set_tag),
        )
        .route(
            "/experiments/delete-experiment-tag",
            post(experiments::delete_tag),
        )
        // runs
        .route("/runs/create", post(runs::create))
        .route("/runs/get", get(runs::get))
        .route("/runs/update", post(runs::update))
        .route("/runs/delete", post(runs::delete))
        .route("/runs/restore", post(runs::restore))
        .route("/runs/search", post(runs::search))
        .route("/runs/log-metric", post(runs::log_metric))
        .route("/runs/log-parameter", post(runs::log_param))
        .route("/runs/log-batch", post(runs::log_batch))
        .route("/runs/set-tag", post(runs::set_tag))
        .route("/runs/delete-tag", post(runs::delete_tag))
        .route("/runs/log-inputs", post(runs::log_inputs))
        .route("/runs/outputs", post(runs::log_outputs))
        .route("/metrics/get-history", get(metrics::history))
        .route(
            "/metrics/get-history-bulk-interval",
            get(metrics::bulk_interval),
        )
        .route("/artifacts/list", get(artifacts::list_for_run))
        // logged models (3.x)
        .route("/logged-models", post(logged_models::create))
        .route("/logged-models/search", post(logged_models::search))
        .route(
            "/logged-models/{model_id}",
            get(logged_models::get)
                .patch(logged_models::finalize)
                .delete(logged_models::delete),
        )
        .route(
            "/logged-models/{model_id}/tags",
            patch(logged_models::set_tags),
        )
        .route(
            "/logged-models/{model_id}/tags/{key}",
            delete(logged_models::delete_tag),
        )
        // model registry
        .route("/registered-models/create", post(registry::create_model))
        .route("/registered-models/get", get(registry::get_model))
        .route("/registered-models/rename", post(registry::rename_model))
        .route("/registered-models/update", patch(registry::update_model))
        .route("/registered-models/delete", delete(registry::delete_model))
        .route(
            "/registered-models/search",
            get_or_post(registry::search_models),
        )
        .route(
            "/registered-models/get-latest-versions",
            get_or_post(registry::latest_versions),
        )
        .route("/registered-models/set-tag", post(registry::set_model_tag))
        .route(
            "/registered-models/delete-tag",
            delete(registry::delete_model_tag),
        )
        .route(
            "/registered-models/alias",
            post(registry::set_alias)
                .delete(registry::delete_alias)
                .get(registry::get_by_alias),
        )
        .route("/model-versions/create", post(registry::create_version))
        .route("/model-versions/get", get(registry::get_version))
        .route("/model-versions/update", patch(registry::update_version))
        .route(
            "/model-versions/transition-stage",
            post(registry::transition_stage),
        )
        .route("/model-versions/delete", delete(registry::delete_version))
        .route(
            "/model-versions/search",
            get_or_post(registry::search_versions),
        )
        .route(
            "/model-versions/get-download-uri",
            get(registry::download_uri),
        )
        .route("/model-versions/set-tag", post(registry::set_version_tag))
        .route(
            "/model-versions/delete-tag",
            delete(registry::delete_version_tag),
        )
        // traces (not yet served)
        .route("/traces", any(meta::traces_unsupported))
        .route("/traces/{*rest}", any(meta::traces_unsupported))
}

fn artifact_routes() -> Router<MlflowState> {
    Router::new()
        .route("/artifacts", get(artifacts::list))
        .route(
            "/artifacts/{*path}",
            get(artifacts::download)
                .put(artifacts::upload)
                .delete(artifacts::delete),
        )
}

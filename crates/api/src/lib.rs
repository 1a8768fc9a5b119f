//! Cairn's native JSON API under `/api/cairn/v1/`: what MLflow's API has no words for. Today that is
//! the registry's change log — a model's history and the registry-wide event feed that deployments and
//! auditors follow. Described by an OpenAPI document at `/api/cairn/v1/openapi.json`, browsable at
//! `/api/cairn/docs`.
//!
//! Handlers are thin: they call the same use cases (`cairn-service`) as the MLflow adapter and answer
//! errors in the same `{"error_code", "message"}` format.

mod history;

use axum::Router;
use axum::routing::get;
use cairn_service::Registry;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use history::{EventDto, EventsResponse};

/// Where the native API lives.
pub const PREFIX: &str = "/api/cairn/v1";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cairn native API",
        description = "Cairn's own endpoints, beside its MLflow-compatible API. Errors are \
                       `{\"error_code\": ..., \"message\": ...}` with MLflow's codes.",
        version = "1"
    ),
    paths(history::model_history, history::events),
    components(schemas(EventDto, EventsResponse, history::ErrorDto)),
    tags((name = "registry", description = "The model registry's change log"))
)]
struct ApiDoc;

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The native API's routes, its OpenAPI document and the Swagger UI.
pub fn router(registry: Registry) -> Router {
    let api = Router::new()
        .route(
            "/registry/models/{name}/history",
            get(history::model_history),
        )
        .route("/registry/events", get(history::events))
        .with_state(registry);
    Router::new()
        .nest(PREFIX, api)
        .merge(SwaggerUi::new("/api/cairn/docs").url(format!("{PREFIX}/openapi.json"), openapi()))
}

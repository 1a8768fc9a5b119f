//! Cairn's native JSON API under `/api/cairn/v1/`: what MLflow's API has no words for. Today that is
//! the registry's change log — a model's history and the registry-wide event feed that deployments and
//! auditors follow — and deployments: named endpoints bound to registry aliases, with their history. Described by an OpenAPI document at `/api/cairn/v1/openapi.json`, browsable at
//! `/api/cairn/docs`.
//!
//! Handlers are thin: they call the same use cases (`cairn-service`) as the MLflow adapter and answer
//! errors in the same `{"error_code", "message"}` format.

mod deployments;
mod history;

use axum::Router;
use axum::routing::{get, post};
use cairn_service::{Deployments, Registry};
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
    paths(
        history::model_history,
        history::events,
        deployments::create,
        deployments::list,
        deployments::get,
        deployments::update,
        deployments::delete,
        deployments::rollback,
        deployments::history
    ),
    components(schemas(
        EventDto,
        EventsResponse,
        history::ErrorDto,
        deployments::DeploymentDto,
        deployments::DeploymentBody,
        deployments::DeploymentEventsResponse
    )),
    tags(
        (name = "registry", description = "The model registry's change log"),
        (name = "deployments", description = "Named serving endpoints bound to registry aliases or versions")
    )
)]
struct ApiDoc;

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The native API's routes, its OpenAPI document and the Swagger UI.
pub fn router(registry: Registry, deployments: Deployments) -> Router {
    let api = Router::new()
        .route(
            "/registry/models/{name}/history",
            get(history::model_history),
        )
        .route("/registry/events", get(history::events))
        .with_state(registry)
        .merge(
            Router::new()
                .route(
                    "/deployments",
                    get(deployments::list).post(deployments::create),
                )
                .route(
                    "/deployments/{name}",
                    get(deployments::get)
                        .put(deployments::update)
                        .delete(deployments::delete),
                )
                .route("/deployments/{name}/rollback", post(deployments::rollback))
                .route("/deployments/{name}/history", get(deployments::history))
                .with_state(deployments),
        );
    Router::new()
        .nest(PREFIX, api)
        .merge(SwaggerUi::new("/api/cairn/docs").url(format!("{PREFIX}/openapi.json"), openapi()))
}

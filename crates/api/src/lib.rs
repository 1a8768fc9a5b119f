//! Cairn's native JSON API under `/api/cairn/v1/`: what MLflow's API has no words for — the control
//! plane's change log (`/events`, a long poll that replicas and the UI follow), the registry's history,
//! deployments with their status and history, the maturity tracker, and pipelines (registered project
//! snapshots and pipeline runs). Described by an OpenAPI
//! document at `/api/cairn/v1/openapi.json`, browsable at `/api/cairn/docs`.
//!
//! Request and response types are the contract's (`cairn-contract`), shared with the typed client.
//! Handlers are thin: they call the use cases (`cairn-service`) and answer errors — extractor rejections
//! included — as the contract's `ErrorBody`. Independent of the MLflow adapter.

mod deployments;
mod error;
mod events;
mod gates;
mod governance;
mod history;
mod maturity;
mod monitors;
mod pipelines;
mod triggers;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use cairn_service::{
    ChangeLog, Deployments, GateRecords, MaturityTracker, Monitors, Pipelines, Registry, Triggers,
};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use error::ApiError;
pub use governance::GovernanceApi;

/// Where the native API lives.
pub const PREFIX: &str = "/api/cairn/v1";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cairn native API",
        description = "Cairn's own endpoints, beside its MLflow-compatible API. Every error is \
                       `{\"error_code\": ..., \"message\": ...}` (`ErrorBody`); the status follows from \
                       the code.",
        version = "1"
    ),
    paths(
        events::changes,
        history::model_history,
        history::events,
        deployments::create,
        deployments::list,
        deployments::get,
        deployments::update,
        deployments::delete,
        deployments::rollback,
        deployments::history,
        maturity::overview,
        maturity::model,
        pipelines::missing_objects,
        pipelines::put_object,
        pipelines::get_object,
        pipelines::put_cache_entry,
        pipelines::cache_entry,
        pipelines::register,
        pipelines::list,
        pipelines::get,
        pipelines::file,
        pipelines::start_run,
        pipelines::finish_run,
        pipelines::get_run,
        pipelines::list_runs,
        triggers::list,
        triggers::list_of_pipeline,
        triggers::fire,
        triggers::pause,
        triggers::resume,
        triggers::runs,
        gates::compare_and_set_alias,
        gates::create,
        gates::list,
        gates::get,
        monitors::upload_reference,
        monitors::create,
        monitors::replace,
        monitors::list,
        monitors::get,
        monitors::delete,
        monitors::run,
        monitors::snapshots,
        monitors::snapshot,
        monitors::alerts,
        monitors::feedback,
        monitors::predictions
    ),
    components(schemas(
        cairn_contract::EventDto,
        cairn_contract::EventsResponse,
        cairn_contract::ErrorBody,
        cairn_contract::ErrorCode,
        cairn_contract::ChangeDto,
        cairn_contract::ChangesResponse,
        cairn_contract::DeploymentDto,
        cairn_contract::DeploymentBody,
        cairn_contract::DeploymentResponse,
        cairn_contract::DeploymentsResponse,
        cairn_contract::DeploymentEventsResponse,
        cairn_contract::MaturityDto,
        cairn_contract::MaturityListResponse,
        cairn_contract::SnapshotFileDto,
        cairn_contract::RegisterPipelineBody,
        cairn_contract::PipelineDto,
        cairn_contract::PipelineResponse,
        cairn_contract::PipelinesResponse,
        cairn_contract::ObjectsBody,
        cairn_contract::MissingObjectsResponse,
        cairn_contract::StartPipelineRunBody,
        cairn_contract::FinishPipelineRunBody,
        cairn_contract::PipelineRunDto,
        cairn_contract::PipelineRunResponse,
        cairn_contract::PipelineRunsResponse,
        cairn_contract::TriggerDto,
        cairn_contract::FireDto,
        cairn_contract::TriggersResponse,
        cairn_contract::TriggerResponse,
        cairn_contract::FireBody,
        cairn_contract::FireResponse,
        cairn_contract::AliasBody,
        cairn_contract::AliasResponse,
        cairn_contract::GateEvaluationBody,
        cairn_contract::GateEvaluationDto,
        cairn_contract::GateEvaluationResponse,
        cairn_contract::GateEvaluationsResponse,
        cairn_contract::RuleResultDto,
        cairn_contract::PinnedAliasDto,
        cairn_contract::DecisionDto,
        cairn_contract::RuleOutcomeDto,
        cairn_contract::ActionDto,
        cairn_contract::AlertRuleDto,
        cairn_contract::MonitorBody,
        cairn_contract::MonitorDto,
        cairn_contract::MonitorResponse,
        cairn_contract::MonitorsResponse,
        cairn_contract::SnapshotDto,
        cairn_contract::SnapshotResponse,
        cairn_contract::SnapshotsResponse,
        cairn_contract::AlertDto,
        cairn_contract::AlertsResponse,
        cairn_contract::RunMonitorResponse,
        cairn_contract::ReferenceResponse,
        cairn_contract::LabelDto,
        cairn_contract::FeedbackBody,
        cairn_contract::FeedbackResponse,
        cairn_contract::PredictionBatchResponse,
    )),
    tags(
        (name = "change log", description = "The control plane's one change log, with a global sequence"),
        (name = "registry", description = "The model registry's change log"),
        (name = "deployments", description = "Named serving endpoints bound to registry aliases or versions"),
        (name = "maturity", description = "Each model's MLOps maturity level, from evidence"),
        (name = "pipelines", description = "Registered pipeline snapshots and pipeline runs"),
        (name = "triggers", description = "Pipelines' triggers (cron, watch, alert, registry, by hand), their firings, and a pipeline's runs with their causes"),
        (name = "gates", description = "Pipelines' gate evaluations: inputs, pinned baselines, per-rule values, decision and action")
    )
)]
struct ApiDoc;

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The use cases the native API serves.
#[derive(Clone)]
pub struct NativeApi {
    pub registry: Registry,
    pub deployments: Deployments,
    pub change_log: ChangeLog,
    pub maturity: MaturityTracker,
    pub pipelines: Pipelines,
    pub triggers: Triggers,
    pub gates: GateRecords,
    pub monitors: Monitors,
    pub governance: GovernanceApi,
}

/// The native API's routes, its OpenAPI document and the Swagger UI.
pub fn router(s: NativeApi) -> Router {
    let api = Router::new()
        .route("/events", get(events::changes))
        .with_state(s.change_log)
        .route(
            "/registry/models/{name}/history",
            get(history::model_history),
        )
        .route("/registry/events", get(history::events))
        .route(
            "/models/{name}/aliases/{alias}",
            put(gates::compare_and_set_alias),
        )
        .with_state(s.registry)
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
        .with_state(s.deployments)
        .route("/maturity", get(maturity::overview))
        .route("/maturity/{model}", get(maturity::model))
        .with_state(s.maturity)
        .route(
            "/pipelines/objects/missing",
            post(pipelines::missing_objects),
        )
        .route(
            "/pipelines/objects/{digest}",
            put(pipelines::put_object)
                .layer(DefaultBodyLimit::max(pipelines::MAX_OBJECT_BYTES))
                .get(pipelines::get_object),
        )
        .route(
            "/pipeline-cache/{key}",
            get(pipelines::cache_entry).put(pipelines::put_cache_entry),
        )
        .route("/pipelines", get(pipelines::list))
        .route(
            "/pipelines/{name}",
            get(pipelines::get).put(pipelines::register),
        )
        .route("/pipelines/{name}/files/{*path}", get(pipelines::file))
        .route(
            "/pipeline-runs",
            get(pipelines::list_runs).post(pipelines::start_run),
        )
        .route("/pipeline-runs/{run_id}", get(pipelines::get_run))
        .route("/pipelines/{name}/runs", get(triggers::runs))
        .route(
            "/pipeline-runs/{run_id}/finish",
            post(pipelines::finish_run),
        )
        .with_state(s.pipelines)
        .route("/triggers", get(triggers::list))
        .route(
            "/pipelines/{name}/triggers",
            get(triggers::list_of_pipeline),
        )
        .route(
            "/pipelines/{name}/triggers/{trigger}/fire",
            post(triggers::fire),
        )
        .route(
            "/pipelines/{name}/triggers/{trigger}/pause",
            post(triggers::pause),
        )
        .route(
            "/pipelines/{name}/triggers/{trigger}/resume",
            post(triggers::resume),
        )
        .with_state(s.triggers)
        .route("/gate-evaluations", get(gates::list).post(gates::create))
        .route("/gate-evaluations/{id}", get(gates::get))
        .with_state(s.gates)
        .route(
            "/monitor-references",
            post(monitors::upload_reference).layer(DefaultBodyLimit::max(
                usize::try_from(cairn_service::MAX_REFERENCE_BYTES).unwrap_or(usize::MAX),
            )),
        )
        .route("/monitors", get(monitors::list).post(monitors::create))
        .route(
            "/monitors/{name}",
            get(monitors::get)
                .put(monitors::replace)
                .delete(monitors::delete),
        )
        .route("/monitors/{name}/run", post(monitors::run))
        .route("/monitors/{name}/snapshots", get(monitors::snapshots))
        .route("/monitors/{name}/snapshots/{id}", get(monitors::snapshot))
        .route("/alerts", get(monitors::alerts))
        .route(
            "/deployments/{name}/feedback",
            post(monitors::feedback).layer(DefaultBodyLimit::max(64 << 20)),
        )
        .route(
            "/deployments/{name}/predictions",
            post(monitors::predictions).layer(DefaultBodyLimit::max(
                usize::try_from(cairn_service::MAX_PREDICTION_BATCH_BYTES).unwrap_or(usize::MAX),
            )),
        )
        .with_state(s.monitors)
        .merge(governance::router(s.governance))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .nest(PREFIX, api)
        .merge(SwaggerUi::new("/api/cairn/docs").url(format!("{PREFIX}/openapi.json"), openapi()))
}

/// A known path with another method answers in the API's format.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError(cairn_contract::ErrorBody::new(
        cairn_contract::ErrorCode::MethodNotAllowed,
        format!("{uri} does not take {method} in Cairn's native API."),
    ))
}

/// An unknown path under the API answers in the API's format.
async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError(cairn_contract::ErrorBody::new(
        cairn_contract::ErrorCode::NotFound,
        format!("No endpoint {uri} in Cairn's native API."),
    ))
}

#[cfg(test)]
mod tests {
    /// The whole OpenAPI document is the native API's contract: any change to it shows in review as a
    /// diff of `openapi.json`. Regenerate with `CAIRN_UPDATE_OPENAPI=1 cargo test -p cairn-api`.
    #[test]
    fn openapi_document_matches_its_snapshot() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let doc = super::openapi().to_pretty_json().unwrap() + "\n";
        if std::env::var_os("CAIRN_UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &doc).unwrap();
        }
        let snapshot = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            snapshot == doc,
            "the OpenAPI document differs from crates/api/openapi.json; if the change is meant, \
             regenerate it with CAIRN_UPDATE_OPENAPI=1 cargo test -p cairn-api and review the diff"
        );
    }
}

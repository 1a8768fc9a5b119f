//! The native API's contract: every request and response body of `/api/cairn/v1`, in one place. The API
//! handlers (`cairn-api`) answer with these types, the typed client (`cairn-client`) reads them, and so
//! the CLI, serving replicas and the web UI read what the server writes, by construction.
//!
//! Wire types are kept apart from the domain's; each has an explicit conversion from the domain type it
//! shows. Depends only on the domain, serde and utoipa (for the OpenAPI schemas).

mod change_log;
mod deployments;
mod error;
mod gates;
mod maturity;
mod monitors;
mod pipelines;
mod registry;
mod triggers;

pub use change_log::{ChangeDto, ChangesResponse};
pub use deployments::{
    CanaryDto, CanaryRunDto, DeploymentBody, DeploymentDto, DeploymentEventDto,
    DeploymentEventsResponse, DeploymentResponse, DeploymentsResponse, RolloutDto, ServingDto,
    ServingModelDto, StateDto,
};
pub use error::{ErrorBody, ErrorCode};
pub use gates::{
    ActionDto, AliasBody, AliasResponse, DecisionDto, GateEvaluationBody, GateEvaluationDto,
    GateEvaluationResponse, GateEvaluationsResponse, PinnedAliasDto, RuleOutcomeDto, RuleResultDto,
};
pub use maturity::{LevelDto, MaturityDto, MaturityListResponse, ModelLevelDto, ReachedDto};
pub use monitors::{
    AlertDto, AlertRuleDto, AlertsResponse, FeedbackBody, FeedbackResponse, LabelDto, MonitorBody,
    MonitorDto, MonitorResponse, MonitorsResponse, PredictionBatchResponse, ReferenceResponse,
    RunMonitorResponse, SnapshotDto, SnapshotResponse, SnapshotsResponse,
};
pub use pipelines::{
    FinishPipelineRunBody, MissingObjectsResponse, ObjectsBody, PipelineDto, PipelineResponse,
    PipelineRunDto, PipelineRunResponse, PipelineRunsResponse, PipelinesResponse,
    RegisterPipelineBody, SnapshotFileDto, StartPipelineRunBody,
};
pub use registry::{EventDto, EventsResponse};
pub use triggers::{
    FireBody, FireDto, FireResponse, TriggerDto, TriggerResponse, TriggersResponse,
};

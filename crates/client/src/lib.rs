//! A typed client of Cairn's native API: the requests and answers of `/api/cairn/v1` as the contract
//! (`cairn-contract`) defines them, so callers never parse JSON by hand. Used by the CLI and by serving
//! replicas following their deployment.

use std::time::Duration;

use cairn_contract::{
    AlertDto, AlertsResponse, FeedbackBody, FeedbackResponse, MonitorBody, MonitorDto,
    MonitorResponse, MonitorsResponse, PredictionBatchResponse, ReferenceResponse,
    RunMonitorResponse, SnapshotDto, SnapshotResponse, SnapshotsResponse,
};
use cairn_contract::{
    AliasBody, AliasResponse, ChangesResponse, DeploymentBody, DeploymentDto, DeploymentEventDto,
    DeploymentEventsResponse, DeploymentResponse, DeploymentsResponse, ErrorBody, ErrorCode,
    EventDto, EventsResponse, FinishPipelineRunBody, GateEvaluationBody, GateEvaluationDto,
    GateEvaluationResponse, GateEvaluationsResponse, MaturityDto, MaturityListResponse,
    MissingObjectsResponse, ObjectsBody, PipelineDto, PipelineResponse, PipelineRunDto,
    PipelineRunResponse, PipelinesResponse, RegisterPipelineBody, StartPipelineRunBody,
};
use cairn_contract::{FireBody, FireResponse, TriggerDto, TriggerResponse, TriggersResponse};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What a call can run into.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error of its API.
    #[error("{message} ({status})")]
    Api {
        status: StatusCode,
        code: Option<ErrorCode>,
        message: String,
    },
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach the Cairn server at {base}: {source}")]
    Transport {
        base: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered something that is not the API's JSON.
    #[error("{url} answered {status} with an unexpected body: {why}")]
    Decode {
        url: String,
        status: StatusCode,
        why: String,
    },
}

impl ClientError {
    /// Did a conditional write find the state moved on (409 `RESOURCE_CONFLICT`)?
    pub fn is_conflict(&self) -> bool {
        matches!(self, ClientError::Api { status, .. } if *status == StatusCode::CONFLICT)
    }

    /// Did the server refuse the principal (403 `PERMISSION_DENIED`: a missing grant, a protected
    /// alias, a policy's deny)?
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, ClientError::Api { status, .. } if *status == StatusCode::FORBIDDEN)
    }

    /// Did the server say there is no such thing?
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Api { status, .. } if *status == StatusCode::NOT_FOUND)
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

/// The API's path prefix.
const PREFIX: &str = "/api/cairn/v1";
/// How long an ordinary call may take.
const CALL: Duration = Duration::from_secs(30);
/// Calls that read whole tables (a monitor's reference, its window).
const LONG: Duration = Duration::from_secs(600);

/// The query of one page of a history: the largest page, from `token`.
fn page(token: &Option<String>) -> Vec<(&'static str, String)> {
    let mut query = vec![("max_results", "1000".to_owned())];
    if let Some(t) = token {
        query.push(("page_token", t.clone()));
    }
    query
}

/// A Cairn server's native API.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    /// HTTP basic-auth credentials, as the MLflow client sends them.
    auth: Option<(String, Option<String>)>,
    /// A bearer token (`MLFLOW_TRACKING_TOKEN`), used when there are no basic-auth credentials.
    token: Option<String>,
}

/// A path segment with the characters URLs reserve percent-encoded.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    pub fn new(base: &str) -> Self {
        Client {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            auth: None,
            token: None,
        }
    }

    /// Authenticates with a bearer token (an API token or an OIDC access token).
    pub fn with_token(mut self, token: String) -> Self {
        self.token = Some(token);
        self
    }

    /// Any call of the native API with a JSON body, answered as JSON: for endpoints whose answers are
    /// documents rather than contract types (governance).
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> ClientResult<serde_json::Value> {
        self.send(method, path, query, body, CALL).await
    }

    /// Identifies as `user` (HTTP basic auth).
    pub fn with_basic_auth(mut self, user: String, password: Option<String>) -> Self {
        self.auth = Some((user, password));
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        timeout: Duration,
    ) -> ClientResult<T> {
        self.send(method, path, query, None::<&()>, timeout).await
    }

    async fn send<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        timeout: Duration,
    ) -> ClientResult<T> {
        let mut req = self.request(method, path, query, timeout);
        if let Some(body) = body {
            req = req.json(body);
        }
        self.answer(path, req).await
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        let url = format!("{}{PREFIX}{path}", self.base);
        let req = self
            .http
            .request(method, &url)
            .query(query)
            .timeout(timeout);
        match (&self.auth, &self.token) {
            (Some((user, password)), _) => req.basic_auth(user, password.as_ref()),
            (None, Some(token)) => req.bearer_auth(token),
            (None, None) => req,
        }
    }

    /// Sends `req` and reads the API's JSON answer, or its error.
    async fn answer<T: DeserializeOwned>(
        &self,
        path: &str,
        req: reqwest::RequestBuilder,
    ) -> ClientResult<T> {
        let url = format!("{}{PREFIX}{path}", self.base);
        let resp = req.send().await.map_err(|source| ClientError::Transport {
            base: self.base.clone(),
            source,
        })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                base: self.base.clone(),
                source,
            })?;
        if !status.is_success() {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(e) => (Some(e.error_code), e.message),
                Err(_) => (None, String::from_utf8_lossy(&bytes).trim().to_owned()),
            };
            return Err(ClientError::Api {
                status,
                code,
                message,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url,
            status,
            why: e.to_string(),
        })
    }

    /// Every deployment, by name.
    pub async fn deployments(&self) -> ClientResult<Vec<DeploymentDto>> {
        let r: DeploymentsResponse = self.call(Method::GET, "/deployments", &[], CALL).await?;
        Ok(r.deployments)
    }

    /// One deployment; `None` when there is none of that name.
    pub async fn deployment(&self, name: &str) -> ClientResult<Option<DeploymentDto>> {
        let path = format!("/deployments/{}", encode_segment(name));
        match self
            .call::<DeploymentResponse>(Method::GET, &path, &[], CALL)
            .await
        {
            Ok(r) => Ok(Some(r.deployment)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a deployment (`body.name` names it).
    pub async fn create_deployment(&self, body: &DeploymentBody) -> ClientResult<DeploymentDto> {
        let r: DeploymentResponse = self
            .send(Method::POST, "/deployments", &[], Some(body), CALL)
            .await?;
        Ok(r.deployment)
    }

    /// Replaces a deployment's model and canary.
    pub async fn update_deployment(
        &self,
        name: &str,
        body: &DeploymentBody,
    ) -> ClientResult<DeploymentDto> {
        let path = format!("/deployments/{}", encode_segment(name));
        let r: DeploymentResponse = self.send(Method::PUT, &path, &[], Some(body), CALL).await?;
        Ok(r.deployment)
    }

    /// Returns a deployment to what it served before, pinned.
    pub async fn rollback_deployment(&self, name: &str) -> ClientResult<DeploymentDto> {
        let path = format!("/deployments/{}/rollback", encode_segment(name));
        let r: DeploymentResponse = self.call(Method::POST, &path, &[], CALL).await?;
        Ok(r.deployment)
    }

    pub async fn delete_deployment(&self, name: &str) -> ClientResult<()> {
        let path = format!("/deployments/{}", encode_segment(name));
        let _: serde_json::Value = self.call(Method::DELETE, &path, &[], CALL).await?;
        Ok(())
    }

    /// A deployment's whole history, oldest first.
    pub async fn deployment_history(&self, name: &str) -> ClientResult<Vec<DeploymentEventDto>> {
        let path = format!("/deployments/{}/history", encode_segment(name));
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let r: DeploymentEventsResponse =
                self.call(Method::GET, &path, &page(&token), CALL).await?;
            events.extend(r.events);
            match r.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(events),
            }
        }
    }

    /// A registered model's whole change history, oldest first.
    pub async fn model_history(&self, name: &str) -> ClientResult<Vec<EventDto>> {
        let path = format!("/registry/models/{}/history", encode_segment(name));
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let r: EventsResponse = self.call(Method::GET, &path, &page(&token), CALL).await?;
            events.extend(r.events);
            match r.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(events),
            }
        }
    }

    /// Change-log entries after `after`; the server holds the call up to `wait` until one arrives.
    pub async fn changes(&self, after: i64, wait: Duration) -> ClientResult<ChangesResponse> {
        let query = [
            ("after", after.to_string()),
            ("wait", wait.as_secs().to_string()),
        ];
        self.call(
            Method::GET,
            "/events",
            &query,
            wait + Duration::from_secs(30),
        )
        .await
    }

    /// Points `alias` of model `name` at `version` only if it still points at `expected` (`None`: only
    /// if unset). A lost race is `Err` with [`ClientError::is_conflict`].
    pub async fn compare_and_set_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
        expected: Option<&str>,
    ) -> ClientResult<AliasResponse> {
        let path = format!(
            "/models/{}/aliases/{}",
            encode_segment(name),
            encode_segment(alias)
        );
        let body = AliasBody {
            version: version.to_owned(),
            expected_version: Some(expected.map(str::to_owned)),
        };
        self.send(Method::PUT, &path, &[], Some(&body), CALL).await
    }

    /// Stores a gate evaluation.
    pub async fn record_gate_evaluation(
        &self,
        body: &GateEvaluationBody,
    ) -> ClientResult<GateEvaluationDto> {
        let r: GateEvaluationResponse = self
            .send(Method::POST, "/gate-evaluations", &[], Some(body), CALL)
            .await?;
        Ok(r.gate_evaluation)
    }

    /// One gate evaluation; `None` when there is none of that id.
    pub async fn gate_evaluation(&self, id: i64) -> ClientResult<Option<GateEvaluationDto>> {
        let path = format!("/gate-evaluations/{id}");
        match self
            .call::<GateEvaluationResponse>(Method::GET, &path, &[], CALL)
            .await
        {
            Ok(r) => Ok(Some(r.gate_evaluation)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A pipeline run's gate evaluations, newest first.
    pub async fn gate_evaluations(
        &self,
        pipeline_run_id: &str,
    ) -> ClientResult<Vec<GateEvaluationDto>> {
        let query = [("pipeline_run_id", pipeline_run_id.to_owned())];
        let r: GateEvaluationsResponse = self
            .call(Method::GET, "/gate-evaluations", &query, CALL)
            .await?;
        Ok(r.gate_evaluations)
    }

    /// Every model's maturity level, and the organisation roll-up.
    pub async fn maturity(&self) -> ClientResult<MaturityListResponse> {
        self.call(Method::GET, "/maturity", &[], Duration::from_secs(60))
            .await
    }

    /// One model's six rungs.
    pub async fn model_maturity(&self, model: &str) -> ClientResult<MaturityDto> {
        let path = format!("/maturity/{}", encode_segment(model));
        self.call(Method::GET, &path, &[], Duration::from_secs(60))
            .await
    }

    /// Which of these snapshot objects the server lacks.
    pub async fn missing_objects(&self, digests: Vec<String>) -> ClientResult<Vec<String>> {
        let body = ObjectsBody { digests };
        let r: MissingObjectsResponse = self
            .send(
                Method::POST,
                "/pipelines/objects/missing",
                &[],
                Some(&body),
                CALL,
            )
            .await?;
        Ok(r.missing)
    }

    /// Uploads a snapshot object (its BLAKE3 is `digest`).
    pub async fn put_object(&self, digest: &str, bytes: Vec<u8>) -> ClientResult<()> {
        let path = format!("/pipelines/objects/{}", encode_segment(digest));
        let req = self
            .request(Method::PUT, &path, &[], Duration::from_secs(600))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes);
        let _: serde_json::Value = self.answer(&path, req).await?;
        Ok(())
    }

    /// Writes the object `digest` to `to` (streamed); `false` when the server does not hold it.
    pub async fn download_object(&self, digest: &str, to: &std::path::Path) -> ClientResult<bool> {
        use std::io::Write;
        let path = format!("/pipelines/objects/{}", encode_segment(digest));
        let transport = |source| ClientError::Transport {
            base: self.base.clone(),
            source,
        };
        let mut resp = self
            .request(Method::GET, &path, &[], Duration::from_secs(600))
            .send()
            .await
            .map_err(transport)?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        if !resp.status().is_success() {
            let req = self.request(Method::GET, &path, &[], CALL);
            return self
                .answer::<serde_json::Value>(&path, req)
                .await
                .map(|_| false);
        }
        let write_err = |e: std::io::Error| ClientError::Decode {
            url: path.clone(),
            status: StatusCode::OK,
            why: format!("writing {}: {e}", to.display()),
        };
        let mut file = std::fs::File::create(to).map_err(write_err)?;
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            file.write_all(&chunk).map_err(write_err)?;
        }
        file.sync_all().map_err(write_err)?;
        Ok(true)
    }

    /// The shared output cache's entry for a stage key; `None` when there is none.
    pub async fn cache_entry(&self, key: &str) -> ClientResult<Option<serde_json::Value>> {
        let path = format!("/pipeline-cache/{}", encode_segment(key));
        match self.call(Method::GET, &path, &[], CALL).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stores the shared output cache's entry for a stage key.
    pub async fn put_cache_entry(&self, key: &str, entry: &serde_json::Value) -> ClientResult<()> {
        let path = format!("/pipeline-cache/{}", encode_segment(key));
        let _: serde_json::Value = self
            .send(Method::PUT, &path, &[], Some(entry), CALL)
            .await?;
        Ok(())
    }

    /// Registers a snapshot as the next version of pipeline `name`.
    pub async fn register_pipeline(
        &self,
        name: &str,
        body: &RegisterPipelineBody,
    ) -> ClientResult<PipelineResponse> {
        let path = format!("/pipelines/{}", encode_segment(name));
        self.send(Method::PUT, &path, &[], Some(body), CALL).await
    }

    /// Triggers of every registered pipeline (or one), with their latest firings.
    pub async fn triggers(&self, pipeline: Option<&str>) -> ClientResult<Vec<TriggerDto>> {
        let query: Vec<(&str, String)> = pipeline
            .map(|p| vec![("pipeline", p.to_owned())])
            .unwrap_or_default();
        let r: TriggersResponse = self.call(Method::GET, "/triggers", &query, CALL).await?;
        Ok(r.triggers)
    }

    /// Fires a trigger by hand; with a key, once per key across the cluster.
    pub async fn fire_trigger(
        &self,
        pipeline: &str,
        trigger: &str,
        idempotency_key: Option<&str>,
    ) -> ClientResult<FireResponse> {
        let path = format!(
            "/pipelines/{}/triggers/{}/fire",
            encode_segment(pipeline),
            encode_segment(trigger)
        );
        let body = FireBody {
            idempotency_key: idempotency_key.map(str::to_owned),
        };
        self.send(Method::POST, &path, &[], Some(&body), CALL).await
    }

    /// Pauses (`true`) or resumes a trigger.
    pub async fn pause_trigger(
        &self,
        pipeline: &str,
        trigger: &str,
        paused: bool,
    ) -> ClientResult<TriggerDto> {
        let path = format!(
            "/pipelines/{}/triggers/{}/{}",
            encode_segment(pipeline),
            encode_segment(trigger),
            if paused { "pause" } else { "resume" }
        );
        let r: TriggerResponse = self
            .send(Method::POST, &path, &[], None::<&()>, CALL)
            .await?;
        Ok(r.trigger)
    }

    /// Registered pipelines, the latest version of each.
    pub async fn pipelines(&self) -> ClientResult<Vec<PipelineDto>> {
        let r: PipelinesResponse = self.call(Method::GET, "/pipelines", &[], CALL).await?;
        Ok(r.pipelines)
    }

    /// Records a pipeline run as it starts.
    pub async fn start_pipeline_run(
        &self,
        body: &StartPipelineRunBody,
    ) -> ClientResult<PipelineRunDto> {
        let r: PipelineRunResponse = self
            .send(Method::POST, "/pipeline-runs", &[], Some(body), CALL)
            .await?;
        Ok(r.pipeline_run)
    }

    /// Ends a pipeline run.
    pub async fn finish_pipeline_run(
        &self,
        run_id: &str,
        body: &FinishPipelineRunBody,
    ) -> ClientResult<PipelineRunDto> {
        let path = format!("/pipeline-runs/{}/finish", encode_segment(run_id));
        let r: PipelineRunResponse = self
            .send(Method::POST, &path, &[], Some(body), CALL)
            .await?;
        Ok(r.pipeline_run)
    }
    /// Stores a reference table (CSV or Parquet bytes) for monitors to name.
    pub async fn upload_reference(&self, bytes: Vec<u8>) -> ClientResult<ReferenceResponse> {
        let path = "/monitor-references";
        let req = self
            .request(Method::POST, path, &[], Duration::from_secs(600))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes);
        self.answer(path, req).await
    }

    /// Creates a monitor (`body.name`), or with `replace` creates or replaces the one named `name`.
    pub async fn put_monitor(
        &self,
        name: &str,
        body: &MonitorBody,
        replace: bool,
    ) -> ClientResult<MonitorDto> {
        let r: MonitorResponse = if replace {
            let path = format!("/monitors/{}", encode_segment(name));
            self.send(Method::PUT, &path, &[], Some(body), LONG).await?
        } else {
            let mut body = body.clone();
            body.name = Some(name.to_owned());
            self.send(Method::POST, "/monitors", &[], Some(&body), LONG)
                .await?
        };
        Ok(r.monitor)
    }

    pub async fn monitors(&self) -> ClientResult<Vec<MonitorDto>> {
        let r: MonitorsResponse = self.call(Method::GET, "/monitors", &[], CALL).await?;
        Ok(r.monitors)
    }

    pub async fn monitor(&self, name: &str) -> ClientResult<MonitorDto> {
        let path = format!("/monitors/{}", encode_segment(name));
        let r: MonitorResponse = self.call(Method::GET, &path, &[], CALL).await?;
        Ok(r.monitor)
    }

    pub async fn delete_monitor(&self, name: &str) -> ClientResult<()> {
        let path = format!("/monitors/{}", encode_segment(name));
        let _: serde_json::Value = self.call(Method::DELETE, &path, &[], CALL).await?;
        Ok(())
    }

    /// Evaluates a monitor now.
    pub async fn run_monitor(&self, name: &str) -> ClientResult<RunMonitorResponse> {
        let path = format!("/monitors/{}/run", encode_segment(name));
        self.call(Method::POST, &path, &[], LONG).await
    }

    /// Newest first; with each snapshot's whole report when `report`.
    pub async fn snapshots(
        &self,
        name: &str,
        max_results: usize,
        report: bool,
    ) -> ClientResult<Vec<SnapshotDto>> {
        let path = format!("/monitors/{}/snapshots", encode_segment(name));
        let query = [
            ("max_results", max_results.to_string()),
            ("report", report.to_string()),
        ];
        let r: SnapshotsResponse = self.call(Method::GET, &path, &query, CALL).await?;
        Ok(r.snapshots)
    }

    pub async fn snapshot(&self, name: &str, id: i64) -> ClientResult<SnapshotDto> {
        let path = format!("/monitors/{}/snapshots/{id}", encode_segment(name));
        let r: SnapshotResponse = self.call(Method::GET, &path, &[], CALL).await?;
        Ok(r.snapshot)
    }

    /// Fired alerts, newest first; of one monitor when named.
    pub async fn alerts(
        &self,
        monitor: Option<&str>,
        max_results: usize,
    ) -> ClientResult<Vec<AlertDto>> {
        let mut query = vec![("max_results", max_results.to_string())];
        if let Some(m) = monitor {
            query.push(("monitor", m.to_owned()));
        }
        let r: AlertsResponse = self.call(Method::GET, "/alerts", &query, CALL).await?;
        Ok(r.alerts)
    }

    /// Sends delayed labels for a deployment's logged predictions.
    pub async fn feedback(&self, deployment: &str, body: &FeedbackBody) -> ClientResult<usize> {
        let path = format!("/deployments/{}/feedback", encode_segment(deployment));
        let r: FeedbackResponse = self
            .send(Method::POST, &path, &[], Some(body), CALL)
            .await?;
        Ok(r.accepted)
    }

    /// Uploads a batch of a deployment's logged predictions (what a serving replica does).
    pub async fn upload_predictions(
        &self,
        deployment: &str,
        file: &str,
        parquet: Vec<u8>,
    ) -> ClientResult<()> {
        let path = format!("/deployments/{}/predictions", encode_segment(deployment));
        let req = self
            .request(Method::POST, &path, &[("file", file.to_owned())], LONG)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(parquet);
        let _: PredictionBatchResponse = self.answer(&path, req).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_encoded() {
        assert_eq!(super::encode_segment("a b/c"), "a%20b%2Fc");
    }
}

//! The few Ray Jobs REST calls the executor makes (Ray 2.60's dashboard, `ray/dashboard/modules/job/`):
//! packages, submit, status, logs, stop. Every request says `User-Agent: cairn/<version>` and carries
//! no browser header, so the dashboard's browser guard never turns a POST into a 405.

use std::time::Duration;

use serde_json::Value;

/// Per request: a status or logs call that hangs must not stall the step's loop.
const TIMEOUT: Duration = Duration::from_secs(20);
/// A package upload may be large (Ray accepts up to 100 MiB).
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// What went wrong with a call.
#[derive(Debug)]
pub enum RayError {
    /// No answer: refused, reset, timed out.
    Unreachable(String),
    /// An answer with an error status.
    Status(u16, String),
}

impl std::fmt::Display for RayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RayError::Unreachable(e) => write!(f, "{e}"),
            RayError::Status(code, text) => write!(f, "HTTP {code}: {}", last_line(text)),
        }
    }
}

/// The innermost cause of a request error (`Connection refused`), not reqwest's wrapper that repeats
/// the URL.
fn cause(e: &reqwest::Error) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// The last non-empty line of an error body (Ray answers a 500 with a whole Python traceback).
fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && *l != ".")
        .unwrap_or("")
}

/// A job's status as `GET /api/jobs/{id}` tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobInfo {
    /// `PENDING`, `RUNNING`, `SUCCEEDED`, `FAILED`, `STOPPED`.
    pub status: String,
    pub error_type: Option<String>,
    pub driver_exit_code: Option<i32>,
    pub message: String,
}

impl JobInfo {
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED")
    }

    fn from_json(v: &Value) -> JobInfo {
        JobInfo {
            status: v["status"].as_str().unwrap_or("").to_owned(),
            error_type: v["error_type"].as_str().map(str::to_owned),
            driver_exit_code: v["driver_exit_code"]
                .as_i64()
                .and_then(|c| i32::try_from(c).ok()),
            message: v["message"].as_str().unwrap_or("").to_owned(),
        }
    }
}

/// How a submit ended.
#[derive(Debug, PartialEq)]
pub enum Submitted {
    New,
    /// The head already has a job with this submission id: ours, from an answer that was lost.
    AlreadyExists,
}

#[derive(Clone)]
pub struct RayClient {
    base: String,
    http: reqwest::Client,
}

impl RayClient {
    /// A client of the dashboard at `base` (`http://127.0.0.1:8265`).
    pub fn new(base: &str) -> RayClient {
        let http = reqwest::Client::builder()
            .user_agent(concat!("cairn/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        RayClient {
            base: base.trim_end_matches('/').to_owned(),
            http,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(u16, String), RayError> {
        let resp = req.send().await.map_err(|e| {
            RayError::Unreachable(format!(
                "cannot reach the Ray head at {} ({what}): {}",
                self.base,
                cause(&e)
            ))
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| {
            RayError::Unreachable(format!(
                "reading the Ray head's answer ({what}): {}",
                cause(&e)
            ))
        })?;
        Ok((status, text))
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .timeout(TIMEOUT)
    }

    fn ok(status: u16, text: String) -> Result<String, RayError> {
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(RayError::Status(status, text))
        }
    }

    /// `GET /api/packages/gcs/{name}`: whether the package is there (the call also pins it for a
    /// while, so it is made right before the submit).
    pub async fn has_package(&self, name: &str) -> Result<bool, RayError> {
        let (status, text) = self
            .send(
                self.get(&format!("/api/packages/gcs/{name}")),
                "package check",
            )
            .await?;
        match status {
            404 => Ok(false),
            _ => Self::ok(status, text).map(|_| true),
        }
    }

    /// `PUT /api/packages/gcs/{name}` with the zip.
    pub async fn put_package(&self, name: &str, zip: Vec<u8>) -> Result<(), RayError> {
        let req = self
            .http
            .put(format!("{}/api/packages/gcs/{name}", self.base))
            .timeout(UPLOAD_TIMEOUT)
            .body(zip);
        let (status, text) = self.send(req, "package upload").await?;
        Self::ok(status, text).map(drop)
    }

    /// `POST /api/jobs/` with a `JobSubmitRequest`.
    pub async fn submit(&self, body: &Value) -> Result<Submitted, RayError> {
        let req = self
            .http
            .post(format!("{}/api/jobs/", self.base))
            .timeout(TIMEOUT)
            .json(body);
        let (status, text) = self.send(req, "submit").await?;
        if status == 500 && text.contains("already exists") {
            return Ok(Submitted::AlreadyExists);
        }
        Self::ok(status, text).map(|_| Submitted::New)
    }

    /// `GET /api/jobs/{id}`; `None` when the head does not know the job (404).
    pub async fn job(&self, id: &str) -> Result<Option<JobInfo>, RayError> {
        let (status, text) = self
            .send(self.get(&format!("/api/jobs/{id}")), "status")
            .await?;
        if status == 404 {
            return Ok(None);
        }
        let v: Value = serde_json::from_str(&Self::ok(status, text)?)
            .map_err(|e| RayError::Status(status, format!("a job status that is not JSON: {e}")))?;
        Ok(Some(JobInfo::from_json(&v)))
    }

    /// `GET /api/jobs/{id}/logs`: the whole log so far (Ray sends all of it every time).
    pub async fn logs(&self, id: &str) -> Result<Option<String>, RayError> {
        let (status, text) = self
            .send(self.get(&format!("/api/jobs/{id}/logs")), "logs")
            .await?;
        if status == 404 {
            return Ok(None);
        }
        let v: Value = serde_json::from_str(&Self::ok(status, text)?).unwrap_or(Value::Null);
        Ok(v["logs"].as_str().map(str::to_owned))
    }

    /// `POST /api/jobs/{id}/stop`; a job already ended (or unknown) is not an error.
    pub async fn stop(&self, id: &str) -> Result<(), RayError> {
        let req = self
            .http
            .post(format!("{}/api/jobs/{id}/stop", self.base))
            .timeout(TIMEOUT);
        let (status, text) = self.send(req, "stop").await?;
        match status {
            404 => Ok(()),
            _ => Self::ok(status, text).map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceback_is_shown_by_its_last_line() {
        let text = "Traceback (most recent call last):\n  File \"x\"\nValueError: Job with submission_id a already exists.\n.\n";
        assert_eq!(
            RayError::Status(500, text.into()).to_string(),
            "HTTP 500: ValueError: Job with submission_id a already exists."
        );
    }

    #[test]
    fn job_info_from_the_head_answer() {
        let v: Value = serde_json::from_str(
            r#"{"status": "FAILED", "error_type": "JOB_ENTRYPOINT_COMMAND_ERROR", "driver_exit_code": 3, "message": "m"}"#,
        )
        .unwrap();
        let info = JobInfo::from_json(&v);
        assert!(info.is_terminal());
        assert_eq!(info.driver_exit_code, Some(3));
        assert_eq!(
            info.error_type.as_deref(),
            Some("JOB_ENTRYPOINT_COMMAND_ERROR")
        );
    }
}

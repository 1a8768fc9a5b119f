//! A typed client of Cairn's native API: the requests and answers of `/api/cairn/v1` as the contract
//! (`cairn-contract`) defines them, so callers never parse JSON by hand. Used by the CLI and by serving
//! replicas following their deployment.

use std::time::Duration;

use cairn_contract::{
    ChangesResponse, DeploymentDto, DeploymentResponse, DeploymentsResponse, ErrorBody, ErrorCode,
    MaturityDto, MaturityListResponse,
};
use reqwest::{Method, StatusCode};
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
    /// Did the server say there is no such thing?
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Api { status, .. } if *status == StatusCode::NOT_FOUND)
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

/// The API's path prefix.
const PREFIX: &str = "/api/cairn/v1";

/// A Cairn server's native API.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    /// HTTP basic-auth credentials, as the MLflow client sends them.
    auth: Option<(String, Option<String>)>,
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
        }
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
        let url = format!("{}{PREFIX}{path}", self.base);
        let mut req = self
            .http
            .request(method, &url)
            .query(query)
            .timeout(timeout);
        if let Some((user, password)) = &self.auth {
            req = req.basic_auth(user, password.as_ref());
        }
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
        let r: DeploymentsResponse = self
            .call(Method::GET, "/deployments", &[], Duration::from_secs(30))
            .await?;
        Ok(r.deployments)
    }

    /// One deployment; `None` when there is none of that name.
    pub async fn deployment(&self, name: &str) -> ClientResult<Option<DeploymentDto>> {
        let path = format!("/deployments/{}", encode_segment(name));
        match self
            .call::<DeploymentResponse>(Method::GET, &path, &[], Duration::from_secs(30))
            .await
        {
            Ok(r) => Ok(Some(r.deployment)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
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
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_encoded() {
        assert_eq!(super::encode_segment("a b/c"), "a%20b%2Fc");
    }
}

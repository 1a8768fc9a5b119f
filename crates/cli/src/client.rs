//! The HTTP client the CLI's commands share: which server, who we are, and errors in one line.

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::Value;

/// A Cairn server's API.
pub struct Api {
    pub base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(server: Option<&str>) -> Self {
        Api {
            base: server_url(server),
            http: reqwest::Client::new(),
        }
    }

    /// Sends a request to `path` (under the server root) and returns its JSON answer; an error status
    /// becomes an error carrying the server's message. Identifies as `MLFLOW_TRACKING_USERNAME` when set,
    /// as the MLflow client does.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .query(query);
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Ok(user) = std::env::var("MLFLOW_TRACKING_USERNAME") {
            req = req.basic_auth(user, std::env::var("MLFLOW_TRACKING_PASSWORD").ok());
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach the Cairn server at {}", self.base))?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .with_context(|| format!("{} answered {status} with no JSON", self.base))?;
        if !status.is_success() {
            let msg = body["message"].as_str().unwrap_or("request failed");
            bail!("{msg} ({status})");
        }
        Ok(body)
    }

    /// Every event of a paged change log at `path`.
    pub async fn all_events(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let mut events: Vec<Value> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("max_results", "1000")];
            if let Some(t) = &token {
                query.push(("page_token", t));
            }
            let body = self.call(Method::GET, path, &query, None).await?;
            if let Some(list) = body["events"].as_array() {
                events.extend(list.iter().cloned());
            }
            match body["next_page_token"].as_str() {
                Some(t) => token = Some(t.to_owned()),
                None => return Ok(events),
            }
        }
    }
}

/// The server to talk to: `--server` / `CAIRN_SERVER`, else `MLFLOW_TRACKING_URI` (what MLflow users
/// already have set), else the default.
pub fn server_url(server: Option<&str>) -> String {
    server
        .map(str::to_owned)
        .or_else(|| {
            std::env::var("MLFLOW_TRACKING_URI")
                .ok()
                .filter(|u| u.starts_with("http"))
        })
        .unwrap_or_else(|| "http://127.0.0.1:5000".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

pub use cairn_client::encode_segment;

/// Epoch milliseconds as an RFC 3339 time.
pub fn time(ms: Option<i64>) -> String {
    ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| "?".to_owned(), |t| format!("{t:.3}"))
}

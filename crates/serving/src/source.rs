//! Where a served model comes from: a plain `.onnx` file, an MLflow ONNX-flavour folder (`MLmodel` +
//! `model.onnx`), or a registered version or alias (`models:/name/3`, `models:/name@champion`) fetched from
//! a Cairn (or MLflow) server through its REST API.

use std::path::Path;

use anyhow::{Context, bail};
use async_trait::async_trait;
use cairn_domain::deployment::{ModelRef, Target};
use cairn_domain::mlmodel::{MlModel, NOT_ONNX};
use serde_json::Value;

/// A model's bytes and what its MLmodel says about it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub onnx: Vec<u8>,
    /// The MLmodel signature's input column names, in order, when it has a column-based signature.
    pub columns: Option<Vec<String>>,
    /// The registry version served, for `models:/` sources.
    pub version: Option<String>,
    /// What was loaded, for logs and metadata.
    pub description: String,
}

/// Reads what MLmodel says: the ONNX file's name and the input columns.
fn read_mlmodel(text: &str) -> anyhow::Result<(String, Option<Vec<String>>)> {
    let m = MlModel::parse(text)?;
    let Some(data) = m.onnx_data else {
        bail!("this model cannot be served: {NOT_ONNX}");
    };
    Ok((data, m.columns))
}

/// Loads from the local file system.
pub fn load_local(path: &Path) -> anyhow::Result<Loaded> {
    let (file, columns) = if path.is_dir() {
        let text = std::fs::read_to_string(path.join("MLmodel"))
            .with_context(|| format!("{} has no MLmodel file", path.display()))?;
        let (data, columns) = read_mlmodel(&text)?;
        (path.join(data), columns)
    } else {
        (path.to_path_buf(), None)
    };
    let onnx = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    Ok(Loaded {
        onnx,
        columns,
        version: None,
        description: file.display().to_string(),
    })
}

/// `models:/name/3` or `models:/name@alias`, as (name, version, alias).
pub fn parse_models_uri(uri: &str) -> anyhow::Result<(String, Option<String>, Option<String>)> {
    let r = ModelRef::parse(uri)?;
    Ok(match r.target {
        Target::Version(v) => (r.name, Some(v.to_string()), None),
        Target::Alias(a) => (r.name, None, Some(a)),
    })
}

/// GETs a JSON answer from the server's MLflow API; an error status becomes an error carrying MLflow's
/// message.
async fn get_json(
    http: &reqwest::Client,
    server: &str,
    path: &str,
    query: &[(&str, &str)],
) -> anyhow::Result<Value> {
    let url = format!("{}/api/2.0/mlflow/{path}", server.trim_end_matches('/'));
    let resp = http
        .get(&url)
        .query(query)
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .with_context(|| format!("{url} answered {status}"))?;
    if !status.is_success() {
        bail!(
            "{} ({status})",
            body["message"].as_str().unwrap_or("request failed")
        );
    }
    Ok(body)
}

/// The version an alias points to now, through the server's MLflow REST API.
pub async fn alias_version(server: &str, name: &str, alias: &str) -> anyhow::Result<String> {
    let body = get_json(
        &reqwest::Client::new(),
        server,
        "registered-models/alias",
        &[("name", name), ("alias", alias)],
    )
    .await?;
    body["model_version"]["version"]
        .as_str()
        .map(str::to_owned)
        .context("alias lookup returned no version")
}

/// Where a registered version's files are read from: the server's REST API (replicas, `cairn serve`),
/// or the server's own stores in-process (the serving `cairn server` embeds).
#[async_trait]
pub trait ModelFiles: Send + Sync + 'static {
    /// The artifact path under which the version's files are (its MLmodel's folder).
    async fn location(&self, name: &str, version: &str) -> anyhow::Result<String>;
    /// One file's bytes.
    async fn read(&self, path: &str) -> anyhow::Result<Vec<u8>>;
}

/// A registered version's files through a Cairn server's MLflow REST API: the version's location, then
/// its files through the proxied artifact API.
pub struct HttpModelFiles {
    server: String,
    http: reqwest::Client,
}

impl HttpModelFiles {
    pub fn new(server: &str) -> Self {
        Self {
            server: server.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }
}

#[async_trait]
impl ModelFiles for HttpModelFiles {
    async fn location(&self, name: &str, version: &str) -> anyhow::Result<String> {
        let location = get_json(
            &self.http,
            &self.server,
            "model-versions/get-download-uri",
            &[("name", name), ("version", version)],
        )
        .await?["artifact_uri"]
            .as_str()
            .context("no artifact_uri")?
            .to_owned();
        match location.strip_prefix("mlflow-artifacts:") {
            Some(path) => Ok(path.trim_matches('/').to_owned()),
            None => bail!(
                "version {version} of {name} is stored at {location}; cairn serve reads models stored \
                 through the server (mlflow-artifacts:)"
            ),
        }
    }

    async fn read(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts/{path}", self.server);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        if !resp.status().is_success() {
            bail!("{url} answered {}", resp.status());
        }
        Ok(resp.bytes().await?.to_vec())
    }
}

/// Fetches a registered version: its MLmodel, and the ONNX file MLmodel names.
pub async fn load_registered(
    files: &dyn ModelFiles,
    name: &str,
    version: &str,
) -> anyhow::Result<Loaded> {
    let root = files.location(name, version).await?;
    let mlmodel = String::from_utf8(files.read(&format!("{root}/MLmodel")).await?)
        .context("MLmodel is not UTF-8")?;
    let (data, columns) = read_mlmodel(&mlmodel)?;
    let onnx = files.read(&format!("{root}/{data}")).await?;
    Ok(Loaded {
        onnx,
        columns,
        version: Some(version.to_owned()),
        description: format!("models:/{name}/{version}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            parse_models_uri("models:/churn/3").unwrap(),
            ("churn".into(), Some("3".into()), None)
        );
        assert_eq!(
            parse_models_uri("models:/churn@champion").unwrap(),
            ("churn".into(), None, Some("champion".into()))
        );
        assert!(parse_models_uri("runs:/x/model").is_err());
        assert!(parse_models_uri("models:/churn").is_err());
    }

    #[test]
    fn mlmodel_columns() {
        let text = "flavors:\n  onnx:\n    data: model.onnx\nsignature:\n  inputs: '[{\"type\": \"double\", \"name\": \"a\"}, {\"type\": \"double\", \"name\": \"b\"}]'\n";
        let (data, cols) = read_mlmodel(text).unwrap();
        assert_eq!(data, "model.onnx");
        assert_eq!(cols.unwrap(), ["a", "b"]);
        assert!(read_mlmodel("flavors:\n  sklearn: {}\n").is_err());
    }
}

//! A monitor's reference: a file uploaded once (stored content-addressed in the artifact store) or a run's
//! artifact (`runs:/<run>/<path>`), CSV or Parquet. It is read and checked when the monitor is created,
//! then read again at each evaluation from the path stored with the monitor.

use cairn_monitoring::Table;

use super::Monitors;
use super::evaluate::parse_table;
use crate::{ServiceError, ServiceResult};

/// The largest reference file accepted (it is read whole at each evaluation).
pub const MAX_REFERENCE_BYTES: u64 = 512 << 20;

/// Where uploaded references live under the artifact root.
const UPLOADS: &str = "monitoring/_references";

/// An uploaded reference, as stored.
#[derive(Debug, Clone)]
pub struct StoredReference {
    /// What a monitor names it by: `upload:<blake3>.<csv|parquet>`.
    pub uri: String,
    pub rows: usize,
    pub columns: Vec<String>,
}

impl Monitors {
    /// Checks the bytes are a readable CSV or Parquet table, then stores them (idempotent: the path is
    /// the content's digest, so nothing is written half under a name in use).
    pub async fn upload_reference(&self, bytes: bytes::Bytes) -> ServiceResult<StoredReference> {
        if bytes.len() as u64 > MAX_REFERENCE_BYTES {
            return Err(ServiceError::InvalidArgument(format!(
                "the reference is {} bytes; at most {MAX_REFERENCE_BYTES} are accepted",
                bytes.len()
            )));
        }
        let ext = if bytes.starts_with(b"PAR1") {
            "parquet"
        } else {
            "csv"
        };
        let file = format!("{}.{ext}", blake3::hash(&bytes).to_hex());
        let parsed = bytes.clone();
        let table = tokio::task::spawn_blocking(move || parse_table(&parsed, "the reference"))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let chunk: Result<bytes::Bytes, std::convert::Infallible> = Ok(bytes);
        self.artifacts
            .upload(&format!("{UPLOADS}/{file}"), futures::stream::iter([chunk]))
            .await?;
        Ok(StoredReference {
            uri: format!("upload:{file}"),
            rows: table.rows(),
            columns: table.columns.iter().map(|c| c.name.clone()).collect(),
        })
    }

    /// The artifact-store path a reference URI names, and its table.
    pub(super) async fn resolve_reference(&self, uri: &str) -> ServiceResult<(String, Table)> {
        let path = if let Some(file) = uri.strip_prefix("upload:") {
            if file.contains('/') || !(file.ends_with(".csv") || file.ends_with(".parquet")) {
                return Err(bad_uri(uri));
            }
            format!("{UPLOADS}/{file}")
        } else if uri.starts_with("runs:/") {
            self.run_artifact_path(uri).await?
        } else if let Some(rest) = uri.strip_prefix("models:/") {
            self.training_data_path(uri, rest).await?
        } else {
            return Err(bad_uri(uri));
        };
        let table = self.read_table(&path, uri).await?;
        Ok((path, table))
    }

    /// `runs:/<run_id>/<path>`: the artifact's path in this server's store.
    async fn run_artifact_path(&self, uri: &str) -> ServiceResult<String> {
        let rest = uri.strip_prefix("runs:/").unwrap_or_default();
        let (run_id, artifact) = rest
            .split_once('/')
            .filter(|(r, p)| !r.is_empty() && !p.is_empty())
            .ok_or_else(|| bad_uri(uri))?;
        let run = self.tracking.get_run(run_id).await?;
        let root = run
            .info
            .artifact_uri
            .strip_prefix(self.artifact_scheme)
            .ok_or_else(|| {
                ServiceError::InvalidArgument(format!(
                    "run {run_id} stores its artifacts at {}, outside this server's artifact store",
                    run.info.artifact_uri
                ))
            })?;
        Ok(format!(
            "{}/{}",
            root.trim_matches('/'),
            artifact.trim_matches('/')
        ))
    }

    /// `models:/<name>/<version>`: the training dataset logged with the version's run
    /// (`mlflow.log_input(…, context="training")`), whose source is a file in this server's store.
    async fn training_data_path(&self, uri: &str, rest: &str) -> ServiceResult<String> {
        let (name, version) = rest.rsplit_once('/').ok_or_else(|| bad_uri(uri))?;
        let mv = self.registry.get_model_version(name, version).await?;
        let run_id = mv.run_id.filter(|r| !r.is_empty()).ok_or_else(|| {
            ServiceError::InvalidArgument(format!("{uri} was not registered from a run"))
        })?;
        let run = self.tracking.get_run(&run_id).await?;
        let inputs = &run.inputs.dataset_inputs;
        let training = inputs
            .iter()
            .find(|d| d.context() == Some("training"))
            .or(if inputs.len() == 1 {
                inputs.first()
            } else {
                None
            })
            .ok_or_else(|| {
                ServiceError::InvalidArgument(format!(
                    "run {run_id} of {uri} logged no training dataset (mlflow.log_input(dataset, \
                     context=\"training\"))"
                ))
            })?;
        // MLflow writes a source as JSON (`{"uri": "…"}`); a bare URI is taken as it is.
        let source = serde_json::from_str::<serde_json::Value>(&training.dataset.source)
            .ok()
            .and_then(|v| v["uri"].as_str().map(str::to_owned))
            .unwrap_or_else(|| training.dataset.source.clone());
        if source.starts_with("runs:/") {
            return self.run_artifact_path(&source).await;
        }
        match source.strip_prefix(self.artifact_scheme) {
            Some(path) => Ok(path.trim_matches('/').to_owned()),
            None => Err(ServiceError::InvalidArgument(format!(
                "the training dataset '{}' of {uri} is at {source}, outside this server's store: log \
                 the file as an artifact and make it the dataset's source, or give the file",
                training.dataset.name
            ))),
        }
    }

    /// A stored table, read and parsed off the async threads.
    pub(super) async fn read_table(&self, path: &str, what: &str) -> ServiceResult<Table> {
        let bytes = match self.artifacts.read(path, MAX_REFERENCE_BYTES).await {
            Err(ServiceError::NotFound(_)) => {
                return Err(ServiceError::InvalidArgument(format!(
                    "the reference {what} does not exist"
                )));
            }
            other => other?,
        };
        let what = what.to_owned();
        tokio::task::spawn_blocking(move || parse_table(&bytes, &what))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?
    }
}

fn bad_uri(uri: &str) -> ServiceError {
    ServiceError::InvalidArgument(format!(
        "unsupported reference '{uri}': give a CSV or Parquet file (the CLI uploads it), \
         runs:/<run_id>/<path> of a run's artifact, or models:/<name>/<version> for the training \
         dataset logged with the version's run"
    ))
}

//! The registry side of the MLflow tracker, for gates and promotion: resolving an alias (the pinned
//! baseline) and the metrics of its run, uploading a model out as run artifacts through the proxied
//! artifact API, registering it as a version, and setting the candidate alias.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_pipelines::tracker::TrackerError;
use serde_json::{Value, json};

use super::{ARTIFACTS_SCHEME, MlflowTracker};

/// What an alias pointed at when the gates started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    pub version: i64,
    pub run_id: Option<String>,
}

fn answered(endpoint: &str, (status, code, message): (u16, String, String)) -> TrackerError {
    TrackerError(format!("{endpoint} answered {status} {code}: {message}"))
}

impl MlflowTracker {
    /// The version behind `name@alias`; `None` when the model or the alias does not exist yet.
    pub async fn pin(&self, name: &str, alias: &str) -> Result<Option<Pinned>, TrackerError> {
        let got = self
            .call(
                reqwest::Method::GET,
                "registered-models/alias",
                None,
                &[("name", name), ("alias", alias)],
            )
            .await?;
        let v = match got {
            Ok(v) => v,
            // MLflow answers a missing model 404 and a missing alias 400/404 (by version).
            Err((404, _, _)) => return Ok(None),
            Err((400, code, _)) if code == "INVALID_PARAMETER_VALUE" => return Ok(None),
            Err(e) => return Err(answered("registered-models/alias", e)),
        };
        let mv = &v["model_version"];
        let version = mv["version"]
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| TrackerError("registered-models/alias answered no version".into()))?;
        Ok(Some(Pinned {
            version,
            run_id: mv["run_id"]
                .as_str()
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
        }))
    }

    /// A run's latest metrics.
    pub async fn run_metrics(&self, run_id: &str) -> Result<BTreeMap<String, f64>, TrackerError> {
        let run = self
            .call(
                reqwest::Method::GET,
                "runs/get",
                None,
                &[("run_id", run_id)],
            )
            .await?;
        let run = match run {
            Ok(r) => r,
            // The baseline's run was deleted: no baseline values.
            Err((404, _, _)) => return Ok(BTreeMap::new()),
            Err(e) => return Err(answered("runs/get", e)),
        };
        Ok(run["run"]["data"]["metrics"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| Some((m["key"].as_str()?.to_owned(), m["value"].as_f64()?)))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The proxied artifact root of a run (`mlflow-artifacts:/…`), without its scheme.
    async fn artifact_root(&self, run_id: &str) -> Result<(String, String), TrackerError> {
        let run = self
            .call(
                reqwest::Method::GET,
                "runs/get",
                None,
                &[("run_id", run_id)],
            )
            .await?
            .map_err(|e| answered("runs/get", e))?;
        let uri = run["run"]["info"]["artifact_uri"]
            .as_str()
            .unwrap_or("")
            .trim_end_matches('/')
            .to_owned();
        match uri.strip_prefix(ARTIFACTS_SCHEME) {
            Some(root) => Ok((uri.clone(), root.trim_matches('/').to_owned())),
            None => Err(TrackerError(format!(
                "run {run_id} stores artifacts at {uri}, which the tracking server does not proxy: \
                 promotion uploads through the server (run it with artifact serving)"
            ))),
        }
    }

    fn artifact_url(&self, root: &str, rel: &str) -> String {
        format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{root}/{}",
            self.base,
            rel.split('/')
                .map(cairn_client::encode_segment)
                .collect::<Vec<_>>()
                .join("/")
        )
    }

    /// Puts `bytes` at `rel` in `run_id`'s artifacts.
    pub async fn put_artifact(
        &self,
        run_id: &str,
        rel: &str,
        bytes: Vec<u8>,
    ) -> Result<(), TrackerError> {
        let (_, root) = self.artifact_root(run_id).await?;
        self.put_at(&root, rel, bytes).await
    }

    /// Puts `bytes` at `rel` under a proxied artifact root.
    pub(super) async fn put_at(
        &self,
        root: &str,
        rel: &str,
        bytes: Vec<u8>,
    ) -> Result<(), TrackerError> {
        let resp = self
            .request(reqwest::Method::PUT, &self.artifact_url(root, rel))
            .body(bytes)
            .send()
            .await
            .map_err(|e| TrackerError(format!("uploading {rel}: {e}")))?;
        if !resp.status().is_success() {
            return Err(TrackerError(format!(
                "uploading {rel} answered {}",
                resp.status()
            )));
        }
        Ok(())
    }

    /// The artifact `rel` of `run_id`; `None` when it has none there.
    pub async fn get_artifact(
        &self,
        run_id: &str,
        rel: &str,
    ) -> Result<Option<Vec<u8>>, TrackerError> {
        let (_, root) = self.artifact_root(run_id).await?;
        let resp = self
            .request(reqwest::Method::GET, &self.artifact_url(&root, rel))
            .send()
            .await
            .map_err(|e| TrackerError(format!("downloading {rel}: {e}")))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(TrackerError(format!(
                "downloading {rel} answered {}",
                resp.status()
            )));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| TrackerError(format!("downloading {rel}: {e}")))?;
        Ok(Some(bytes.to_vec()))
    }

    /// The ONNX model of `name` version `version` (its source a `.onnx` file, or a folder holding
    /// `model.onnx`, in the server's proxied artifacts); `Err` says why there is none.
    pub async fn version_onnx(
        &self,
        name: &str,
        version: i64,
    ) -> Result<Result<Vec<u8>, String>, TrackerError> {
        let v = self
            .call(
                reqwest::Method::GET,
                "model-versions/get",
                None,
                &[("name", name), ("version", &version.to_string())],
            )
            .await?
            .map_err(|e| answered("model-versions/get", e))?;
        let source = v["model_version"]["source"].as_str().unwrap_or("");
        let Some(path) = source.strip_prefix(ARTIFACTS_SCHEME) else {
            return Ok(Err(format!(
                "its source {source} is not in the server's artifacts"
            )));
        };
        let path = path.trim_matches('/');
        let file = if path.ends_with(".onnx") {
            path.to_owned()
        } else {
            format!("{path}/model.onnx")
        };
        let resp = self
            .request(
                reqwest::Method::GET,
                &format!("{}/api/2.0/mlflow-artifacts/artifacts/{file}", self.base),
            )
            .send()
            .await
            .map_err(|e| TrackerError(format!("downloading {file}: {e}")))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(Err(format!(
                "{name} v{version} has no ONNX model ({source})"
            )));
        }
        if !resp.status().is_success() {
            return Err(TrackerError(format!(
                "downloading {file} answered {}",
                resp.status()
            )));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| TrackerError(format!("downloading {file}: {e}")))?;
        Ok(Ok(bytes.to_vec()))
    }

    /// Uploads `local` (a model directory or file) into `run_id`'s artifacts under its own name, and
    /// returns the artifact URI of the upload (the version's source).
    pub async fn upload_model(&self, run_id: &str, local: &Path) -> Result<String, TrackerError> {
        let (uri, root) = self.artifact_root(run_id).await?;
        let name = local
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("model")
            .to_owned();
        let files: Vec<(String, std::path::PathBuf)> = if local.is_dir() {
            walkdir(local)?
                .into_iter()
                .map(|(rel, path)| (format!("{name}/{rel}"), path))
                .collect()
        } else {
            vec![(name.clone(), local.to_path_buf())]
        };
        for (rel, path) in files {
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| TrackerError(format!("{}: {e}", path.display())))?;
            self.put_at(&root, &rel, bytes).await?;
        }
        Ok(format!("{uri}/{name}"))
    }

    /// Registers `source` (in `run_id`'s artifacts) as a new version of `name`, creating the model
    /// when missing; returns the version number.
    pub async fn register_version(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
        tags: &[(&str, String)],
    ) -> Result<i64, TrackerError> {
        match self
            .call(
                reqwest::Method::POST,
                "registered-models/create",
                Some(json!({"name": name})),
                &[],
            )
            .await?
        {
            Ok(_) => {}
            Err((_, code, _)) if code == "RESOURCE_ALREADY_EXISTS" => {}
            Err(e) => return Err(answered("registered-models/create", e)),
        }
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let v = self
            .must(
                "model-versions/create",
                json!({"name": name, "source": source, "run_id": run_id, "tags": tags}),
            )
            .await?;
        v["model_version"]["version"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| TrackerError("model-versions/create answered no version".into()))
    }

    /// Points `alias` at `version` unconditionally (the candidate alias).
    pub async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
    ) -> Result<(), TrackerError> {
        self.must(
            "registered-models/alias",
            json!({"name": name, "alias": alias, "version": version.to_string()}),
        )
        .await
        .map(drop)
    }
}

/// Every file below `dir`, with its `/`-separated path relative to `dir`, sorted.
fn walkdir(dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, TrackerError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| TrackerError(format!("{}: {e}", d.display())))?;
        for entry in entries {
            let path = entry
                .map_err(|e| TrackerError(format!("{}: {e}", d.display())))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

//! Resolving a model version's `source` at registration: where its files are, and which run and logged
//! model it came from. Forms (as MLflow's server accepts them):
//!
//! - `models:/m-<id>`, with `model_id` naming the same model: a logged model; files at its artifact
//!   location, run from its source run;
//! - `models:/<name>/<version>`, `models:/<name>@<alias>`, `models:/<name>/latest`: another registered
//!   version, whose location, run and logged model are inherited; the source is stored as
//!   `models:/<name>/<version>`;
//! - `runs:/<run_id>/<path>`, with `run_id` naming the same run: a path in a run's artifacts;
//! - an artifact URI (`mlflow-artifacts:/…`, `s3://…`, `file://…`, a path): used as it is. A local path
//!   must lie inside the artifacts of the run (or logged model) named with it, so that registration
//!   cannot expose arbitrary server files; relative segments (`..`) are refused everywhere.

use cairn_domain::registry_rules::parse_version;
use cairn_domain::{LoggedModel, LoggedModelId};

use crate::registry::Registry;
use crate::{ServiceError, ServiceResult};

/// A source resolved for registration.
pub(crate) struct Resolved {
    pub source: String,
    pub storage_location: String,
    pub run_id: Option<String>,
    pub model_id: Option<String>,
}

fn invalid(source: &str, why: &str) -> ServiceError {
    ServiceError::InvalidArgument(format!("Invalid model version source: '{source}'. {why}"))
}

/// True when a path segment (after percent-decoding, repeatedly) is `..`.
fn has_parent_segment(uri: &str) -> bool {
    let mut s = uri.to_owned();
    for _ in 0..3 {
        let decoded = percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned();
        if decoded == s {
            break;
        }
        s = decoded;
    }
    s.split(['/', '\\']).any(|seg| seg == "..")
}

fn scheme(uri: &str) -> Option<&str> {
    let (s, _) = uri.split_once(':')?;
    (s.len() > 1
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
    .then_some(s)
}

fn is_local(uri: &str) -> bool {
    matches!(scheme(uri), None | Some("file"))
}

/// `file:///a/b` and `/a/b` → `/a/b`.
fn local_path(uri: &str) -> &str {
    uri.strip_prefix("file://").unwrap_or(uri)
}

/// True when `uri` is `root` or below it.
fn within(uri: &str, root: &str) -> bool {
    let (uri, root) = if is_local(uri) && is_local(root) {
        (local_path(uri), local_path(root))
    } else {
        (uri, root)
    };
    let root = root.trim_end_matches('/');
    uri == root || uri.starts_with(&format!("{root}/"))
}

impl Registry {
    pub(crate) async fn resolve_source(
        &self,
        source: &str,
        run_id: Option<String>,
        model_id: Option<String>,
    ) -> ServiceResult<Resolved> {
        if has_parent_segment(source) {
            return Err(invalid(
                source,
                "Relative path segments ('..') are not allowed.",
            ));
        }
        if let Some(rest) = source.strip_prefix("models:") {
            return self
                .resolve_models_uri(source, rest, run_id, model_id)
                .await;
        }
        if let Some(rest) = source.strip_prefix("runs:") {
            return self.resolve_runs_uri(source, rest, run_id, model_id).await;
        }
        // An artifact URI. Files reached through the server (local paths, the proxied
        // `mlflow-artifacts:` store) must belong to the run or logged model named with them.
        let guarded = is_local(source) || scheme(source) == Some("mlflow-artifacts");
        if guarded {
            let root = match (&model_id, &run_id) {
                (Some(m), _) => Some(self.logged_model(source, m).await?.artifact_uri),
                (None, Some(r)) => Some(self.run_root(source, r).await?),
                (None, None) => None,
            };
            if !root.is_some_and(|root| within(source, &root)) {
                return Err(invalid(
                    source,
                    "A local or mlflow-artifacts source must be given with the run_id (or model_id) \
                     whose artifacts contain it.",
                ));
            }
        } else if let Some(r) = &run_id {
            self.run_root(source, r).await?;
        }
        Ok(Resolved {
            source: source.to_owned(),
            storage_location: source.to_owned(),
            run_id,
            model_id,
        })
    }

    async fn run_root(&self, source: &str, run_id: &str) -> ServiceResult<String> {
        let id = cairn_domain::RunId::parse(run_id)
            .map_err(|_| invalid(source, &format!("Run '{run_id}' does not exist.")))?;
        match self.tracking.get_run(&id).await {
            Ok(run) => Ok(run.info.artifact_uri),
            Err(cairn_store::StoreError::NotFound(_)) => {
                Err(invalid(source, &format!("Run '{run_id}' does not exist.")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The logged model a source names; one that does not exist makes the source invalid.
    async fn logged_model(&self, source: &str, model_id: &str) -> ServiceResult<LoggedModel> {
        let missing = || {
            invalid(
                source,
                &format!("Logged model '{model_id}' does not exist."),
            )
        };
        let id = LoggedModelId::parse(model_id).map_err(|_| missing())?;
        match self.tracking.get_logged_model(&id).await {
            Ok(m) => Ok(m),
            Err(cairn_store::StoreError::NotFound(_)) => Err(missing()),
            Err(e) => Err(e.into()),
        }
    }

    async fn resolve_runs_uri(
        &self,
        source: &str,
        rest: &str,
        run_id: Option<String>,
        model_id: Option<String>,
    ) -> ServiceResult<Resolved> {
        // `runs:/<run_id>/<path>`; `runs://host/…` names another server.
        let Some(path) = rest.strip_prefix('/').filter(|p| !p.starts_with('/')) else {
            return Err(invalid(source, "Expected runs:/<run_id>/<path>."));
        };
        let (source_run, artifact_path) = path.split_once('/').unwrap_or((path, ""));
        // As MLflow: the run must be named explicitly, so a caller cannot register another run's files
        // by accident.
        if run_id.as_deref() != Some(source_run) {
            return Err(invalid(
                source,
                "The run_id request parameter must identify the resource that contains the source.",
            ));
        }
        let root = self.run_root(source, source_run).await?;
        let artifact_path = artifact_path.trim_matches('/');
        let storage_location = if artifact_path.is_empty() {
            root
        } else {
            format!("{}/{artifact_path}", root.trim_end_matches('/'))
        };
        Ok(Resolved {
            source: source.to_owned(),
            storage_location,
            run_id: Some(source_run.to_owned()),
            model_id,
        })
    }

    async fn resolve_models_uri(
        &self,
        source: &str,
        rest: &str,
        run_id: Option<String>,
        model_id: Option<String>,
    ) -> ServiceResult<Resolved> {
        let Some(path) = rest.strip_prefix('/').filter(|p| !p.starts_with('/')) else {
            return Err(invalid(
                source,
                "Registered model sources must use the active model registry.",
            ));
        };
        let path = path.trim_end_matches('/');
        // A logged model: `models:/m-<hex>`.
        if !path.contains('/') && !path.contains('@') && LoggedModelId::parse(path).is_ok() {
            if model_id.as_deref() != Some(path) {
                return Err(invalid(
                    source,
                    "The model_id request parameter must identify the resource that contains the \
                     source.",
                ));
            }
            let model = self.logged_model(source, path).await?;
            return Ok(Resolved {
                source: source.to_owned(),
                storage_location: model.artifact_uri,
                run_id: run_id.or(model.source_run_id),
                model_id: Some(path.to_owned()),
            });
        }
        // Another registered version.
        let version = if let Some((name, alias)) = path.split_once('@') {
            self.get_version_by_alias(name, alias).await?
        } else if let Some((name, v)) = path.rsplit_once('/') {
            if v.eq_ignore_ascii_case("latest") {
                self.get_version_by_alias(name, "latest").await?
            } else if let Ok(stage) = v.parse::<cairn_domain::Stage>() {
                self.get_latest_versions(name, &[stage.as_str().to_owned()])
                    .await?
                    .pop()
                    .ok_or_else(|| {
                        invalid(
                            source,
                            &format!("No version of '{name}' is in stage {stage}."),
                        )
                    })?
            } else {
                self.get_model_version(name, &parse_version(v)?.to_string())
                    .await?
            }
        } else {
            return Err(invalid(
                source,
                "Expected models:/<name>/<version>, models:/<name>@<alias> or models:/<model_id>.",
            ));
        };
        if run_id
            .as_deref()
            .is_some_and(|r| Some(r) != version.run_id.as_deref())
            || model_id
                .as_deref()
                .is_some_and(|m| Some(m) != version.model_id.as_deref())
        {
            return Err(invalid(
                source,
                "The run_id and model_id request parameters must match the referenced model version.",
            ));
        }
        Ok(Resolved {
            source: format!("models:/{}/{}", version.name, version.version),
            storage_location: version.storage_location,
            run_id: version.run_id,
            model_id: version.model_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_segments_are_found_however_encoded() {
        assert!(has_parent_segment("runs:/abc/../etc"));
        assert!(has_parent_segment("mlflow-artifacts:/1/%2e%2e/x"));
        assert!(has_parent_segment("s3://b/a/%252e%252e/x"));
        assert!(has_parent_segment("C:\\a\\..\\b"));
        assert!(!has_parent_segment("s3://b/a..b/x"));
    }

    #[test]
    fn containment() {
        assert!(within(
            "file:///data/1/abc/artifacts/model",
            "/data/1/abc/artifacts"
        ));
        assert!(within(
            "mlflow-artifacts:/1/abc/artifacts",
            "mlflow-artifacts:/1/abc/artifacts/"
        ));
        assert!(!within("/data/1/abcd", "/data/1/abc"));
        assert!(!within("mlflow-artifacts:/2/x", "mlflow-artifacts:/1"));
    }
}

//! Pipeline use cases: registering a project snapshot (its files content-addressed in the artifact
//! store under `_cairn/pipelines/objects/`, so identical files are stored once across versions and
//! pipelines) and recording pipeline runs. The CLI uploads the objects the server lacks, then registers
//! the file list; the server checks every object is there and hashes to its name.

use std::sync::Arc;

use bytes::Bytes;
use cairn_artifacts::ArtifactDownload;
use cairn_domain::pipeline::{
    PipelineRun, PipelineVersion, SnapshotFile, is_digest, validate_name, validate_snapshot,
};
use cairn_domain::time::now_millis;
use cairn_store::{NewPipelineRun, NewPipelineVersion, PipelineRunEnd, PipelineStore};

use crate::{Artifacts, ServiceError, ServiceResult};

/// Where snapshot objects and cached stage outputs live under the artifact root (one store: a file
/// in a snapshot and the same bytes as a stage's output are one object).
const OBJECTS: &str = "_cairn/pipelines/objects";
/// Where the shared cache's entries (stage key → its outs) live.
const CACHE: &str = "_cairn/pipelines/cache";
/// The largest cache entry accepted.
pub const MAX_CACHE_ENTRY_BYTES: usize = 4 * 1024 * 1024;
/// Runs a list page holds at most.
pub const MAX_PIPELINE_RUNS: usize = 1000;

/// The artifact path of the object named `digest`.
fn object_path(digest: &str) -> String {
    format!("{OBJECTS}/{}/{}", &digest[..2], &digest[2..])
}

fn check_digest(digest: &str) -> ServiceResult<()> {
    if is_digest(digest) {
        Ok(())
    } else {
        Err(ServiceError::InvalidArgument(format!(
            "'{digest}' is not a BLAKE3 digest (64 lowercase hex digits)"
        )))
    }
}

/// A snapshot to register.
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    pub name: String,
    pub file: String,
    pub files: Vec<SnapshotFile>,
    pub triggers: serde_json::Value,
}

#[derive(Clone)]
pub struct Pipelines {
    store: Arc<dyn PipelineStore>,
    artifacts: Artifacts,
}

impl Pipelines {
    pub fn new(store: Arc<dyn PipelineStore>, artifacts: Artifacts) -> Self {
        Self { store, artifacts }
    }

    /// Which of `digests` the server does not hold yet (the CLI uploads only those).
    pub async fn missing_objects(&self, digests: &[String]) -> ServiceResult<Vec<String>> {
        let mut missing = Vec::new();
        for d in digests {
            check_digest(d)?;
            if !self.has_object(d).await? {
                missing.push(d.clone());
            }
        }
        Ok(missing)
    }

    async fn has_object(&self, digest: &str) -> ServiceResult<bool> {
        match self.artifacts.download(&object_path(digest)).await {
            Ok(_) => Ok(true),
            Err(ServiceError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Stores `body` as the object `digest`, refusing bytes that hash to another name.
    pub async fn put_object(&self, digest: &str, body: Bytes) -> ServiceResult<()> {
        check_digest(digest)?;
        let actual = blake3::hash(&body).to_hex();
        if actual.as_str() != digest {
            return Err(ServiceError::InvalidArgument(format!(
                "the body hashes to {actual}, not {digest}"
            )));
        }
        let stream = futures::stream::iter([Ok::<_, std::convert::Infallible>(body)]);
        self.artifacts.upload(&object_path(digest), stream).await
    }

    /// An object's bytes, streamed.
    pub async fn object(&self, digest: &str) -> ServiceResult<ArtifactDownload> {
        check_digest(digest)?;
        Ok(self.artifacts.download(&object_path(digest)).await?.1)
    }

    /// Stores the shared cache's entry for a stage key: a JSON document naming the objects of the
    /// stage's outs (uploaded first).
    pub async fn put_cache_entry(&self, key: &str, body: Bytes) -> ServiceResult<()> {
        check_digest(key)?;
        if body.len() > MAX_CACHE_ENTRY_BYTES
            || !serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.is_object())
        {
            return Err(ServiceError::InvalidArgument(format!(
                "a cache entry is a JSON object of at most {MAX_CACHE_ENTRY_BYTES} bytes"
            )));
        }
        let stream = futures::stream::iter([Ok::<_, std::convert::Infallible>(body)]);
        self.artifacts
            .upload(&format!("{CACHE}/{key}.json"), stream)
            .await
    }

    /// The shared cache's entry for a stage key, as stored.
    pub async fn cache_entry(&self, key: &str) -> ServiceResult<Vec<u8>> {
        check_digest(key)?;
        self.artifacts
            .read(&format!("{CACHE}/{key}.json"), MAX_CACHE_ENTRY_BYTES as u64)
            .await
    }

    /// Registers a snapshot: a new version, or the latest one when nothing changed (`false`).
    pub async fn register(
        &self,
        req: RegisterRequest,
        actor: &str,
    ) -> ServiceResult<(PipelineVersion, bool)> {
        validate_name(&req.name)?;
        validate_snapshot(&req.file, &req.files)?;
        let triggers = crate::canonical_triggers(&req.triggers)?;
        let mut files = req.files;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut digests: Vec<String> = files.iter().map(|f| f.digest.clone()).collect();
        digests.dedup();
        let missing = self.missing_objects(&digests).await?;
        if !missing.is_empty() {
            return Err(ServiceError::InvalidArgument(format!(
                "{} of the snapshot's objects are not uploaded (first: {}): PUT them to \
                 /api/cairn/v1/pipelines/objects/<digest> first",
                missing.len(),
                missing[0]
            )));
        }
        let manifest =
            serde_json::json!({ "file": req.file, "files": files, "triggers": triggers });
        let digest = blake3::hash(manifest.to_string().as_bytes())
            .to_hex()
            .to_string();
        let new = NewPipelineVersion {
            name: req.name,
            file: req.file,
            files,
            digest,
            triggers,
        };
        Ok(self
            .store
            .register_pipeline(&new, actor, now_millis())
            .await?)
    }

    pub async fn get(&self, name: &str, version: Option<i64>) -> ServiceResult<PipelineVersion> {
        Ok(self.store.get_pipeline(name, version).await?)
    }

    pub async fn list(&self) -> ServiceResult<Vec<PipelineVersion>> {
        Ok(self.store.list_pipelines().await?)
    }

    /// A file of a registered snapshot, streamed from its object.
    pub async fn file(
        &self,
        name: &str,
        version: Option<i64>,
        path: &str,
    ) -> ServiceResult<(String, ArtifactDownload)> {
        let p = self.get(name, version).await?;
        let f = p.files.iter().find(|f| f.path == path).ok_or_else(|| {
            ServiceError::NotFound(cairn_domain::Missing::Artifact(format!(
                "{path} (in pipeline {name} v{})",
                p.version
            )))
        })?;
        let (_, download) = self.artifacts.download(&object_path(&f.digest)).await?;
        let base = path.rsplit('/').next().unwrap_or(path).to_owned();
        Ok((base, download))
    }

    pub async fn start_run(&self, new: NewPipelineRun, actor: &str) -> ServiceResult<PipelineRun> {
        validate_name(&new.pipeline)?;
        if new.run_id.is_empty() || new.run_id.len() > 64 {
            return Err(ServiceError::InvalidArgument(
                "run_id must be the pipeline run's MLflow run id".into(),
            ));
        }
        Ok(self
            .store
            .start_pipeline_run(&new, actor, now_millis())
            .await?)
    }

    /// Ends a run: `running` is not an end.
    pub async fn finish_run(
        &self,
        run_id: &str,
        end: PipelineRunEnd,
        actor: &str,
    ) -> ServiceResult<PipelineRun> {
        if end.status.is_active() {
            return Err(ServiceError::InvalidArgument(
                "status must be succeeded, failed or cancelled".into(),
            ));
        }
        Ok(self
            .store
            .finish_pipeline_run(run_id, &end, actor, now_millis())
            .await?)
    }

    pub async fn get_run(&self, run_id: &str) -> ServiceResult<PipelineRun> {
        Ok(self.store.get_pipeline_run(run_id).await?)
    }

    pub async fn list_runs(
        &self,
        pipeline: Option<&str>,
        page_token: Option<&str>,
        limit: usize,
    ) -> ServiceResult<Vec<PipelineRun>> {
        if limit == 0 || limit > MAX_PIPELINE_RUNS {
            return Err(ServiceError::InvalidArgument(format!(
                "max_results must be between 1 and {MAX_PIPELINE_RUNS}"
            )));
        }
        Ok(self
            .store
            .list_pipeline_runs(pipeline, page_token, limit)
            .await?)
    }
}

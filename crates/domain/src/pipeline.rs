//! Pipelines on the server (maturity level 4): a registered pipeline is a versioned, content-addressed
//! snapshot of a project — the pipeline file and every file a run needs, each named by its BLAKE3 hash —
//! so the server can run it without a checkout; a pipeline run is the record of one `cairn run` (or,
//! later, a trigger's run): its MLflow run, status, exit code and the report of its stages and gates.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// One file of a snapshot: where it goes in the project and what its bytes hash to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotFile {
    /// Project-relative, `/`-separated.
    pub path: String,
    /// BLAKE3 of the content, 64 lowercase hex digits: the object's name in the artifact store.
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub executable: bool,
}

/// A pipeline as registered: its snapshot, version and triggers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineVersion {
    pub name: String,
    /// 1, 2, … per name; registering an identical snapshot again keeps the version.
    pub version: i64,
    /// The pipeline file's path in the snapshot (`cairn.yaml`, `dvc.yaml`, `ml/cairn.yaml`).
    pub file: String,
    pub files: Vec<SnapshotFile>,
    /// BLAKE3 over the canonical manifest (file, sorted paths, digests, modes, triggers).
    pub digest: String,
    /// The file's `triggers:` as parsed, for the scheduler (an object; `{}` when none).
    pub triggers: serde_json::Value,
    pub actor: String,
    pub registered_ms: i64,
}

/// How a pipeline run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineRunStatus {
    /// Fired by a trigger, waiting for a server's executor to claim it.
    Queued,
    Running,
    Succeeded,
    Failed,
    /// Stopped before it ended (`concurrency: cancel_previous`).
    Cancelled,
}

impl PipelineRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Queued or running.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// One pipeline run, keyed by its MLflow run (the parent of its stages' runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineRun {
    pub run_id: String,
    pub pipeline: String,
    pub experiment_id: String,
    /// The registered version it ran, when it ran one.
    pub pipeline_version: Option<i64>,
    pub executor: String,
    /// What started it: `{"kind": "manual"}`, a cron slot, a dataset digest, an alert.
    pub cause: serde_json::Value,
    /// The stages and the upstream stages each needs (`[{"name", "needs": [...]}]`), for the DAG view.
    pub dag: serde_json::Value,
    pub status: PipelineRunStatus,
    /// `cairn run`'s exit code once finished (0 ok, 1 gate failed, 2 stage failed, 3 infrastructure).
    pub exit_code: Option<i32>,
    /// `cairn run --json`'s report once finished: stages, gates, promotion.
    pub report: Option<serde_json::Value>,
    pub actor: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    /// What a server's executor needs of a triggered run (absent for a run `cairn run` started).
    pub execution: Option<Execution>,
}

/// A triggered run's execution: its trigger and params, and the lease of the server running it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub trigger: String,
    /// `-P KEY=VALUE` overrides for the run.
    pub params: std::collections::BTreeMap<String, String>,
    /// How many times a server claimed it (more than 1: a claimant died and it was re-queued).
    pub attempts: i64,
    pub claimed_by: Option<String>,
    pub lease_until_ms: Option<i64>,
    /// Set by `cancel_previous`: the executor stops the run.
    pub cancel_requested: bool,
}

/// Checks a snapshot's file list: relative paths without `..`, unique, hex digests; the pipeline file
/// among them.
pub fn validate_snapshot(file: &str, files: &[SnapshotFile]) -> Result<(), DomainError> {
    let mut seen = std::collections::BTreeSet::new();
    for f in files {
        validate_path(&f.path)?;
        if !is_digest(&f.digest) {
            return Err(DomainError::invalid(format!(
                "file '{}': digest must be 64 lowercase hex digits (BLAKE3), not '{}'",
                f.path, f.digest
            )));
        }
        if !seen.insert(f.path.as_str()) {
            return Err(DomainError::invalid(format!(
                "file '{}' is listed twice",
                f.path
            )));
        }
    }
    if !seen.contains(file) {
        return Err(DomainError::invalid(format!(
            "the pipeline file '{file}' is not among the snapshot's files"
        )));
    }
    Ok(())
}

/// A project-relative path that cannot leave the project when the snapshot is unpacked.
pub fn validate_path(path: &str) -> Result<(), DomainError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..");
    if bad {
        return Err(DomainError::invalid(format!(
            "'{path}' is not a project-relative path (no leading '/', no '.', '..' or empty parts)"
        )));
    }
    Ok(())
}

/// 64 lowercase hex digits.
pub fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A registered pipeline's name: what a URL segment and a change-log subject can carry (`objects` is
/// the API's own segment).
pub fn validate_name(name: &str) -> Result<(), DomainError> {
    let ok = name != "objects"
        && !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Err(DomainError::invalid(format!(
            "pipeline name '{name}' must be 1 to 256 letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> SnapshotFile {
        SnapshotFile {
            path: path.into(),
            digest: "a".repeat(64),
            size: 1,
            executable: false,
        }
    }

    #[test]
    fn snapshot_paths_stay_inside_the_project() {
        assert!(validate_snapshot("cairn.yaml", &[file("cairn.yaml"), file("src/a.py")]).is_ok());
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\b",
            "",
        ] {
            assert!(
                validate_snapshot("cairn.yaml", &[file("cairn.yaml"), file(bad)]).is_err(),
                "{bad}"
            );
        }
        assert!(validate_snapshot("cairn.yaml", &[file("a.py")]).is_err());
        assert!(
            validate_snapshot("cairn.yaml", &[file("cairn.yaml"), file("cairn.yaml")]).is_err()
        );
        let mut upper = file("cairn.yaml");
        upper.digest = "A".repeat(64);
        assert!(validate_snapshot("cairn.yaml", &[upper]).is_err());
    }

    #[test]
    fn names() {
        assert!(validate_name("churn-train_v2.1").is_ok());
        for bad in ["", "a/b", "a b", "ü", "objects"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}

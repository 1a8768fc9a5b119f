//! The result of `cairn run`, as `--json FILE` writes it, and the exit code it maps to.

use std::collections::BTreeMap;

use serde::Serialize;

/// Exit codes of `cairn run` (and later `cairn ci`).
pub mod exit {
    pub const OK: u8 = 0;
    pub const GATE_FAILED: u8 = 1;
    pub const STAGE_FAILED: u8 = 2;
    pub const INFRASTRUCTURE: u8 = 3;
    pub const CONFIGURATION: u8 = 4;
    pub const INCONCLUSIVE: u8 = 5;
    /// Stopped by Ctrl-C, `cairn pipeline stop` or SIGTERM (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    Ran,
    Cached,
    Failed,
    Skipped,
}

impl StageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Ran => "ran",
            StageStatus::Cached => "cached",
            StageStatus::Failed => "failed",
            StageStatus::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StageResult {
    pub name: String,
    pub status: StageStatus,
    /// The stage's MLflow run (`None` for a skipped stage, or without a tracking server).
    pub run_id: Option<String>,
    pub duration_ms: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateResult {
    pub name: String,
    pub passed: bool,
    pub observed: Option<f64>,
    pub threshold: Option<f64>,
    pub baseline: Option<f64>,
    /// A confidence rule whose interval straddles the threshold: neither passed nor failed.
    #[serde(skip)]
    pub inconclusive: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Promotion {
    pub name: String,
    pub version: String,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct RunReport {
    pub pipeline_run_id: Option<String>,
    pub stages: Vec<StageResult>,
    pub gates: Vec<GateResult>,
    pub promotion: Option<Promotion>,
    /// Infrastructure that failed during the run (exit code 3).
    #[serde(skip)]
    pub infra_error: Option<String>,
    /// The run was stopped (exit code 130): its running steps were cancelled.
    #[serde(skip)]
    pub interrupted: bool,
    /// Every metric of every stage's metrics files (for the gates).
    #[serde(skip)]
    pub metrics: BTreeMap<String, f64>,
    /// A mistake in the project found after the stages (the promoted out holds no model): exit code 4.
    #[serde(skip)]
    pub configuration_error: Option<String>,
    /// Every gate passed but the alias could not be moved (it moved meanwhile): exit code 1.
    #[serde(skip)]
    pub promotion_refused: Option<String>,
    /// `--on-inconclusive neutral`: an inconclusive gate exits 5 instead of 1.
    #[serde(skip)]
    pub inconclusive_is_neutral: bool,
}

impl RunReport {
    /// 130 when interrupted, else 3 when infrastructure failed, else 4 for a configuration mistake
    /// found late, else 2 when a stage failed, else 1 when a gate failed or the promotion was refused
    /// (lost the alias race), else 5 (neutral) or 1 (fail) when a gate was inconclusive, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.interrupted {
            exit::INTERRUPTED
        } else if self.infra_error.is_some() {
            exit::INFRASTRUCTURE
        } else if self.configuration_error.is_some() {
            exit::CONFIGURATION
        } else if self.stages.iter().any(|s| s.status == StageStatus::Failed) {
            exit::STAGE_FAILED
        } else if self.gates.iter().any(|g| !g.passed && !g.inconclusive)
            || self.promotion_refused.is_some()
        {
            exit::GATE_FAILED
        } else if self.gates.iter().any(|g| g.inconclusive) {
            if self.inconclusive_is_neutral {
                exit::INCONCLUSIVE
            } else {
                exit::GATE_FAILED
            }
        } else {
            exit::OK
        }
    }

    /// The gates' decision: failed if any failed, else inconclusive if any was, else passed (also
    /// when there are none).
    pub fn decision(&self) -> &'static str {
        if self.gates.iter().any(|g| !g.passed && !g.inconclusive) {
            "failed"
        } else if self.gates.iter().any(|g| g.inconclusive) {
            "inconclusive"
        } else {
            "passed"
        }
    }
}

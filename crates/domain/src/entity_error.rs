//! What a request found missing, taken or clashing with stored state: the entity and its key, typed,
//! so that each protocol words the error itself (MLflow's words live in the MLflow adapter only). The
//! `Display` wording is Cairn's own, used by the native API and the CLI.

use std::fmt;

use crate::ExperimentId;

/// An entity that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Missing {
    Experiment(ExperimentId),
    ExperimentNamed(String),
    /// A lifecycle change found the experiment missing, or not in the stage it changes from.
    ExperimentInStage {
        id: ExperimentId,
        stage: String,
    },
    ActiveExperiment(ExperimentId),
    ExperimentTag {
        experiment: ExperimentId,
        key: String,
    },
    Run(String),
    RunTag {
        run: String,
        key: String,
    },
    LoggedModel(String),
    LoggedModelTag {
        model: String,
        key: String,
    },
    RegisteredModel(String),
    ModelVersion {
        model: String,
        version: i64,
    },
    /// The model has no version to be the latest.
    LatestVersion(String),
    Deployment(String),
    Pipeline(String),
    PipelineVersion {
        name: String,
        version: i64,
    },
    PipelineRun(String),
    /// An artifact, by its path under the artifact root (never the server's own file paths).
    Artifact(String),
    /// A stored gate evaluation, by id.
    GateEvaluation(i64),
    Monitor(String),
    Trigger {
        pipeline: String,
        name: String,
    },
    Snapshot {
        monitor: String,
        id: i64,
    },
    /// A governance record (a user, a token, a grant, a protection rule, a promotion request, a policy),
    /// by its kind and key.
    Governed {
        kind: &'static str,
        key: String,
    },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Experiment(id) => write!(f, "Experiment {id} not found."),
            Self::ExperimentNamed(name) => write!(f, "Experiment '{name}' not found."),
            Self::ExperimentInStage { id, stage } => write!(f, "No {stage} experiment {id}."),
            Self::ActiveExperiment(id) => write!(f, "No active experiment {id}."),
            Self::ExperimentTag { experiment, key } => {
                write!(f, "Experiment {experiment} has no tag '{key}'.")
            }
            Self::Run(id) => write!(f, "Run '{id}' not found."),
            Self::RunTag { run, key } => write!(f, "Run '{run}' has no tag '{key}'."),
            Self::LoggedModel(id) => write!(f, "Logged model '{id}' not found."),
            Self::LoggedModelTag { model, key } => {
                write!(f, "Logged model '{model}' has no tag '{key}'.")
            }
            Self::RegisteredModel(name) => write!(f, "Registered model '{name}' not found."),
            Self::ModelVersion { model, version } => {
                write!(f, "Version {version} of model '{model}' not found.")
            }
            Self::LatestVersion(model) => write!(f, "Model '{model}' has no versions."),
            Self::Deployment(name) => write!(f, "Deployment '{name}' not found."),
            Self::Pipeline(name) => write!(f, "Pipeline '{name}' not found."),
            Self::PipelineVersion { name, version } => {
                write!(f, "Version {version} of pipeline '{name}' not found.")
            }
            Self::PipelineRun(id) => write!(f, "Pipeline run '{id}' not found."),
            Self::Artifact(path) => write!(f, "Artifact '{path}' does not exist."),
            Self::GateEvaluation(id) => write!(f, "Gate evaluation {id} not found."),
            Self::Monitor(name) => write!(f, "Monitor '{name}' not found."),
            Self::Trigger { pipeline, name } => {
                write!(f, "Pipeline '{pipeline}' has no trigger '{name}'.")
            }
            Self::Snapshot { monitor, id } => {
                write!(f, "Monitor '{monitor}' has no snapshot {id}.")
            }
            Self::Governed { kind, key } => write!(f, "{kind} '{key}' not found."),
        }
    }
}

/// A unique name or key that is already taken.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Taken {
    Experiment(String),
    RegisteredModel(String),
    Deployment(String),
    PipelineRun(String),
    Monitor(String),
    /// A unique key the engine reported taken, in its own words; callers that know which entity it
    /// is turn it into one of the variants above.
    Key(String),
}

impl fmt::Display for Taken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Experiment(name) => write!(f, "Experiment '{name}' already exists."),
            Self::RegisteredModel(name) => write!(f, "Registered model '{name}' already exists."),
            Self::Deployment(name) => write!(f, "Deployment '{name}' already exists."),
            Self::PipelineRun(id) => write!(f, "Pipeline run '{id}' already exists."),
            Self::Monitor(name) => write!(f, "Monitor '{name}' already exists."),
            Self::Key(engine) => write!(f, "Already exists: {engine}"),
        }
    }
}

/// The kind of entity a [`Clash`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Experiment,
    Run,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Experiment => "experiment",
            Self::Run => "run",
        })
    }
}

/// A write that contradicts stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Clash {
    /// The entity must be active for this write, and is in `stage`.
    NotActive {
        holder: Holder,
        id: String,
        stage: String,
    },
    /// Params are immutable: `key` was logged with `old`, and the write sends `new`.
    ParamChanged {
        run: String,
        key: String,
        old: String,
        new: String,
    },
    /// A pipeline run ends once.
    PipelineRunFinished(String),
    /// A compare-and-set of an alias found it no longer where the caller pinned it (`None`: unset).
    AliasMoved {
        model: String,
        alias: String,
        expected: Option<i64>,
        actual: Option<i64>,
    },
    /// A governance record is not in a state that allows the write (a promotion request already
    /// decided, an approver voting twice), in Cairn's words.
    Governed(String),
}

impl fmt::Display for Clash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotActive { holder, id, stage } => {
                write!(f, "The {holder} {id} is {stage}; it must be active.")
            }
            Self::Governed(why) => f.write_str(why),
            Self::PipelineRunFinished(id) => {
                write!(f, "Pipeline run '{id}' has already finished.")
            }
            Self::ParamChanged { run, key, old, new } => write!(
                f,
                "Param '{key}' of run {run} is already '{old}' and cannot change to '{new}': \
                 params are immutable."
            ),
            Self::AliasMoved {
                model,
                alias,
                expected,
                actual,
            } => {
                let at = |v: &Option<i64>| v.map_or("unset".to_owned(), |v| format!("version {v}"));
                write!(
                    f,
                    "Alias '{alias}' of model '{model}' is {}, not {} as expected: it moved meanwhile.",
                    at(actual),
                    at(expected)
                )
            }
        }
    }
}

//! The store errors both engines raise, typed: the entity and its key. How they read is each protocol
//! adapter's business (MLflow's words are in `cairn-mlflow`).

use cairn_domain::{Clash, ExperimentId, Holder, LoggedModelId, Missing, RunId, Taken};
use cairn_store::StoreError;

pub fn experiment_not_found(id: ExperimentId) -> StoreError {
    StoreError::NotFound(Missing::Experiment(id))
}

pub fn experiment_name_not_found(name: &str) -> StoreError {
    StoreError::NotFound(Missing::ExperimentNamed(name.to_owned()))
}

/// A lifecycle change that finds the experiment missing or not in the stage it changes from.
pub fn experiment_not_in_stage(id: ExperimentId, stage: &str) -> StoreError {
    StoreError::NotFound(Missing::ExperimentInStage {
        id,
        stage: stage.to_owned(),
    })
}

pub(crate) fn experiment_not_active(id: ExperimentId, stage: &str) -> StoreError {
    not_active(Holder::Experiment, id.to_string(), stage)
}

pub fn no_active_experiment(id: ExperimentId) -> StoreError {
    StoreError::NotFound(Missing::ActiveExperiment(id))
}

/// A create or rename onto a name another experiment has.
pub fn experiment_name_taken(name: &str) -> StoreError {
    StoreError::AlreadyExists(Taken::Experiment(name.to_owned()))
}

pub fn experiment_tag_not_found(id: ExperimentId, key: &str) -> StoreError {
    StoreError::NotFound(Missing::ExperimentTag {
        experiment: id,
        key: key.to_owned(),
    })
}

pub fn run_not_found(id: &RunId) -> StoreError {
    StoreError::NotFound(Missing::Run(id.to_string()))
}

pub(crate) fn run_not_active(id: &RunId, stage: &str) -> StoreError {
    not_active(Holder::Run, id.to_string(), stage)
}

fn not_active(holder: Holder, id: String, stage: &str) -> StoreError {
    StoreError::Conflict(Clash::NotActive {
        holder,
        id,
        stage: stage.to_owned(),
    })
}

pub fn run_tag_not_found(id: &RunId, key: &str) -> StoreError {
    StoreError::NotFound(Missing::RunTag {
        run: id.to_string(),
        key: key.to_owned(),
    })
}

pub fn model_not_found(id: &LoggedModelId) -> StoreError {
    StoreError::NotFound(Missing::LoggedModel(id.to_string()))
}

pub fn model_tag_not_found(id: &LoggedModelId, key: &str) -> StoreError {
    StoreError::NotFound(Missing::LoggedModelTag {
        model: id.to_string(),
        key: key.to_owned(),
    })
}

pub fn registered_model_not_found(name: &str) -> StoreError {
    StoreError::NotFound(Missing::RegisteredModel(name.to_owned()))
}

pub fn version_not_found(name: &str, version: i64) -> StoreError {
    StoreError::NotFound(Missing::ModelVersion {
        model: name.to_owned(),
        version,
    })
}

pub fn registered_model_taken(name: &str) -> StoreError {
    StoreError::AlreadyExists(Taken::RegisteredModel(name.to_owned()))
}

pub fn deployment_not_found(name: &str) -> StoreError {
    StoreError::NotFound(Missing::Deployment(name.to_owned()))
}

pub fn deployment_taken(name: &str) -> StoreError {
    StoreError::AlreadyExists(Taken::Deployment(name.to_owned()))
}

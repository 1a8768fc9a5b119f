//! Errors both stores raise in the same words: the wording is MLflow's, and clients match on it.

use cairn_domain::{ExperimentId, LoggedModelId, RunId};
use cairn_store::StoreError;

pub fn experiment_not_found(id: ExperimentId) -> StoreError {
    StoreError::NotFound(format!("No Experiment with id={id} exists"))
}

pub fn experiment_name_not_found(name: &str) -> StoreError {
    StoreError::NotFound(format!("Could not find experiment with name '{name}'"))
}

/// A lifecycle change that finds the experiment missing or not in the stage it changes from.
pub fn experiment_not_in_stage(id: ExperimentId, stage: &str) -> StoreError {
    StoreError::NotFound(format!(
        "No Experiment with id={id} in the '{stage}' state exists"
    ))
}

pub(crate) fn experiment_not_active(id: ExperimentId, stage: &str) -> StoreError {
    StoreError::Conflict(format!(
        "The experiment {id} must be in the 'active' state. Current state is {stage}."
    ))
}

pub fn no_active_experiment(id: ExperimentId) -> StoreError {
    StoreError::NotFound(format!("No active Experiment with id={id} exists"))
}

/// A rename onto a name another experiment has.
pub fn experiment_name_taken(name: &str) -> StoreError {
    StoreError::AlreadyExists(format!("Experiment(name={name}) already exists."))
}

pub fn experiment_tag_not_found(id: ExperimentId, key: &str) -> StoreError {
    StoreError::NotFound(format!(
        "No tag with name: {key} in experiment with id {id}"
    ))
}

pub fn run_not_found(id: &RunId) -> StoreError {
    StoreError::NotFound(format!("Run with id={id} not found"))
}

pub(crate) fn run_not_active(id: &RunId, stage: &str) -> StoreError {
    StoreError::Conflict(format!(
        "The run {id} must be in the 'active' state. Current state is {stage}."
    ))
}

pub fn run_tag_not_found(id: &RunId, key: &str) -> StoreError {
    StoreError::NotFound(format!("No tag with name: {key} in run with id {id}"))
}

pub fn model_not_found(id: &LoggedModelId) -> StoreError {
    StoreError::NotFound(format!("Logged model with ID '{id}' not found."))
}

pub fn model_tag_not_found(id: &LoggedModelId, key: &str) -> StoreError {
    StoreError::NotFound(format!(
        "No tag with key '{key}' found for logged model with ID '{id}'"
    ))
}

//! MLflow's words for what was missing, taken or clashing — the one place they are written. Clients
//! and users match on them (`RESOURCE_DOES_NOT_EXIST` alone does not say which entity), so they are
//! MLflow's own, checked against a real `mlflow server` by the e2e suite's reference mode.

use cairn_domain::{Clash, Missing, Taken};

pub fn missing(m: &Missing) -> String {
    match m {
        Missing::Experiment(id) => format!("No Experiment with id={id} exists"),
        Missing::ExperimentNamed(name) => format!("Could not find experiment with name '{name}'"),
        Missing::ExperimentInStage { id, stage } => {
            format!("No Experiment with id={id} in the '{stage}' state exists")
        }
        Missing::ActiveExperiment(id) => format!("No active Experiment with id={id} exists"),
        Missing::ExperimentTag { experiment, key } => {
            format!("No tag with name: {key} in experiment with id {experiment}")
        }
        Missing::Run(id) => format!("Run with id={id} not found"),
        Missing::RunTag { run, key } => format!("No tag with name: {key} in run with id {run}"),
        Missing::LoggedModel(id) => format!("Logged model with ID '{id}' not found."),
        Missing::LoggedModelTag { model, key } => {
            format!("No tag with key '{key}' found for logged model with ID '{model}'")
        }
        Missing::RegisteredModel(name) => format!("Registered Model with name={name} not found"),
        Missing::ModelVersion { model, version } => {
            format!("Model Version (name={model}, version={version}) not found")
        }
        Missing::LatestVersion(model) => format!("Latest version not found for model {model}."),
        Missing::Artifact(path) => format!("Artifact '{path}' does not exist"),
        other => other.to_string(),
    }
}

pub fn taken(t: &Taken) -> String {
    match t {
        Taken::Experiment(name) => format!("Experiment(name={name}) already exists."),
        Taken::RegisteredModel(name) => format!("Registered Model (name={name}) already exists."),
        other => other.to_string(),
    }
}

pub fn clash(c: &Clash) -> String {
    match c {
        Clash::NotActive { holder, id, stage } => {
            format!("The {holder} {id} must be in the 'active' state. Current state is {stage}.")
        }
        Clash::ParamChanged { run, key, old, new } => format!(
            "Changing param values is not allowed. Param with key='{key}' was already logged with \
             value='{old}' for run ID='{run}'. Attempted logging new value '{new}'."
        ),
        other => other.to_string(),
    }
}

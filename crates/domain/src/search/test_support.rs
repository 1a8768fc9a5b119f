//! Hand-built entities for the search tests.

use crate::{
    Dataset, DatasetInput, Experiment, ExperimentId, LifecycleStage, LoggedModel, LoggedModelId,
    LoggedModelStatus, Metric, Param, Run, RunId, RunInfo, RunStatus, Tag,
};

pub fn metric(key: &str, value: f64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp: 0,
        step: 0,
        run_id: None,
        model_id: None,
        dataset_name: None,
        dataset_digest: None,
    }
}

pub fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.into(),
        value: value.into(),
    }
}

pub fn param(key: &str, value: &str) -> Param {
    Param {
        key: key.into(),
        value: value.into(),
    }
}

/// A run id made of one repeated hex digit, so tests can predict id order.
pub fn run_id(c: char) -> RunId {
    RunId::parse(&c.to_string().repeat(32)).unwrap()
}

/// A finished run with the given id digit and start time.
pub fn run(id: char, start_time: Option<i64>) -> Run {
    Run {
        info: RunInfo {
            run_id: run_id(id),
            experiment_id: ExperimentId(1),
            run_name: format!("run-{id}"),
            user_id: "alice".into(),
            status: RunStatus::Finished,
            start_time,
            end_time: None,
            artifact_uri: format!("file:///mlruns/1/{id}/artifacts"),
            lifecycle_stage: LifecycleStage::Active,
        },
        ..Run::default()
    }
}

pub fn with_metric(mut r: Run, key: &str, value: f64) -> Run {
    r.data.metrics.push(metric(key, value));
    r
}

pub fn with_param(mut r: Run, key: &str, value: &str) -> Run {
    r.data.params.push(param(key, value));
    r
}

pub fn with_tag(mut r: Run, key: &str, value: &str) -> Run {
    r.data.tags.push(tag(key, value));
    r
}

pub fn with_dataset(mut r: Run, name: &str, digest: &str, context: Option<&str>) -> Run {
    r.inputs.dataset_inputs.push(DatasetInput {
        tags: context
            .map(|c| vec![tag(DatasetInput::CONTEXT_TAG, c)])
            .unwrap_or_default(),
        dataset: Dataset {
            name: name.into(),
            digest: digest.into(),
            source_type: "local".into(),
            source: "{}".into(),
            schema: None,
            profile: None,
        },
    });
    r
}

pub fn experiment(id: i64, name: &str, creation_time: i64, last_update_time: i64) -> Experiment {
    Experiment {
        id: ExperimentId(id),
        name: name.into(),
        artifact_location: format!("file:///mlruns/{id}"),
        lifecycle_stage: LifecycleStage::Active,
        creation_time,
        last_update_time,
        tags: Vec::new(),
    }
}

/// A ready logged model whose id is `m-` and one repeated hex digit.
pub fn logged_model(id: char, name: &str, creation: i64) -> LoggedModel {
    LoggedModel {
        model_id: LoggedModelId::parse(&format!("m-{}", id.to_string().repeat(32))).unwrap(),
        experiment_id: ExperimentId(1),
        name: name.into(),
        artifact_uri: format!("file:///mlruns/1/models/{id}/artifacts"),
        creation_timestamp_ms: creation,
        last_updated_timestamp_ms: creation,
        status: LoggedModelStatus::Ready,
        status_message: None,
        model_type: None,
        source_run_id: None,
        lifecycle_stage: LifecycleStage::Active,
        tags: Vec::new(),
        params: Vec::new(),
        metrics: Vec::new(),
    }
}

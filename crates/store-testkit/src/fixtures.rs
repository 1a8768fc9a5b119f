//! What the checks share: fresh names, entity builders, and assertions on errors and metric lists.

use std::fmt::Debug;
use std::sync::Arc;

use cairn_domain::{Clash, ExperimentId, Metric, Missing, Param, Run, RunId, Tag, Taken};
use cairn_store::{NewExperiment, NewRun, StoreError, StoreResult, TrackingStore};

pub(crate) type Store = Arc<dyn TrackingStore>;

/// A fixed epoch (ms) the checks count from, so that expected values are exact.
pub(crate) const T0: i64 = 1_700_000_000_000;

/// `prefix-<32 random hex>`: a name no other check or earlier run of the suite has used.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", RunId::generate())
}

pub(crate) fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.to_string(),
        value: value.to_string(),
    }
}

pub(crate) fn param(key: &str, value: &str) -> Param {
    Param {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// A metric point as logged (no run, model or dataset).
pub(crate) fn point(key: &str, value: f64, step: i64, timestamp: i64) -> Metric {
    Metric {
        key: key.to_string(),
        value,
        timestamp,
        step,
        run_id: None,
        model_id: None,
        dataset_name: None,
        dataset_digest: None,
    }
}

/// The same point as read back from history: it names its run.
pub(crate) fn of_run(mut m: Metric, run: &RunId) -> Metric {
    m.run_id = Some(run.as_str().to_string());
    m
}

/// Creates an active experiment with a fresh name and the artifact location `file:///cairn-test/<name>`.
pub(crate) async fn experiment(store: &Store, prefix: &str) -> (ExperimentId, String) {
    let name = unique(prefix);
    let id = store
        .create_experiment(NewExperiment {
            name: name.clone(),
            artifact_location: Some(format!("file:///cairn-test/{name}")),
            default_artifact_root: "file:///unused".to_string(),
            tags: Vec::new(),
            creation_time: T0,
        })
        .await
        .expect("create_experiment");
    (id, name)
}

/// Creates a run named `name` with no tags.
pub(crate) async fn run(store: &Store, experiment: ExperimentId, name: &str) -> Run {
    store
        .create_run(NewRun {
            run_id: RunId::generate(),
            experiment_id: experiment,
            run_name: name.to_string(),
            user_id: "tester".to_string(),
            start_time: T0,
            tags: Vec::new(),
        })
        .await
        .expect("create_run")
}

#[track_caller]
pub(crate) fn not_found<T: Debug>(r: StoreResult<T>) -> Missing {
    match r {
        Err(StoreError::NotFound(m)) => m,
        other => panic!("expected StoreError::NotFound, got {other:?}"),
    }
}

#[track_caller]
pub(crate) fn conflict<T: Debug>(r: StoreResult<T>) -> Clash {
    match r {
        Err(StoreError::Conflict(m)) => m,
        other => panic!("expected StoreError::Conflict, got {other:?}"),
    }
}

#[track_caller]
pub(crate) fn already_exists<T: Debug>(r: StoreResult<T>) -> Taken {
    match r {
        Err(StoreError::AlreadyExists(m)) => m,
        other => panic!("expected StoreError::AlreadyExists, got {other:?}"),
    }
}

/// A metric as comparable data: NaN, which equals nothing, is written out as `NaN`.
type Shown = (
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn shown(m: &Metric) -> Shown {
    (
        m.key.clone(),
        if m.value.is_nan() {
            "NaN".to_string()
        } else {
            format!("{:?}", m.value)
        },
        m.step,
        m.timestamp,
        m.run_id.clone(),
        m.model_id.clone(),
        m.dataset_name.clone(),
        m.dataset_digest.clone(),
    )
}

/// Asserts two metric lists are equal, in order, treating NaN as equal to NaN.
#[track_caller]
pub(crate) fn assert_metrics(actual: &[Metric], expected: &[Metric]) {
    let actual: Vec<Shown> = actual.iter().map(shown).collect();
    let expected: Vec<Shown> = expected.iter().map(shown).collect();
    assert_eq!(actual, expected, "metric lists differ (actual, expected)");
}

/// Run ids of `runs`, sorted.
pub(crate) fn ids(runs: &[Run]) -> Vec<RunId> {
    let mut ids: Vec<RunId> = runs.iter().map(|r| r.info.run_id.clone()).collect();
    ids.sort();
    ids
}

/// `ids` sorted.
pub(crate) fn sorted(mut ids: Vec<RunId>) -> Vec<RunId> {
    ids.sort();
    ids
}

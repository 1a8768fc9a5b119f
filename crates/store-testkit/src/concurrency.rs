//! Invariants under concurrent writers. Each check spreads its tasks over the stores it is given, so an
//! engine that several server processes share can run it with one store per process.

use std::collections::BTreeSet;
use std::sync::Arc;

use cairn_domain::{ExperimentId, Metric, RunId};
use cairn_store::{HistoryOrder, MetricHistoryQuery, NewExperiment, StoreError};

use crate::fixtures::{Store, T0, experiment, param, point, run, tag, unique};

const TASKS: i64 = 16;
const BATCHES: i64 = 50;

/// 16 tasks × 50 log_batch calls into one run: every point is kept, the latest is the largest step, every
/// param and tag lands.
pub async fn concurrent_log_batch(store: Store) {
    concurrent_log_batch_across(&[store]).await;
}

/// [`concurrent_log_batch`], task `t` writing through `stores[t % stores.len()]`.
pub async fn concurrent_log_batch_across(stores: &[Store]) {
    let first = &stores[0];
    let (exp, _) = experiment(first, "concurrent").await;
    let id = run(first, exp, "hammered").await.info.run_id;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = stores[t as usize % stores.len()].clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..BATCHES {
                let step = t * BATCHES + i;
                store
                    .log_batch(
                        &id,
                        vec![
                            point("loss", step as f64, step, T0 + step),
                            point(&format!("own-{t}"), i as f64, i, T0 + i),
                        ],
                        vec![
                            param("shared", "same"),
                            param(&format!("p-{t}"), &t.to_string()),
                        ],
                        vec![tag("last", &format!("{t}-{i}"))],
                    )
                    .await
                    .unwrap_or_else(|e| panic!("task {t} batch {i}: {e:?}"));
            }
        }));
    }
    for task in tasks {
        task.await.expect("task panicked");
    }

    let history = first
        .metric_history(MetricHistoryQuery {
            run_ids: vec![id.clone()],
            key: "loss".to_string(),
            min_step: None,
            max_step: None,
            order: HistoryOrder::Step,
        })
        .await
        .expect("history");
    let steps: Vec<i64> = history.iter().map(|m| m.step).collect();
    assert_eq!(
        steps,
        (0..TASKS * BATCHES).collect::<Vec<_>>(),
        "every point, in order"
    );
    let got = first.get_run(&id).await.expect("get");
    let last = TASKS * BATCHES - 1;
    assert_eq!(
        got.data.metric("loss"),
        Some(&point("loss", last as f64, last, T0 + last)),
        "latest is the largest step"
    );
    for t in 0..TASKS {
        assert_eq!(
            got.data.metric(&format!("own-{t}")),
            Some(&point(
                &format!("own-{t}"),
                (BATCHES - 1) as f64,
                BATCHES - 1,
                T0 + BATCHES - 1
            ))
        );
        assert_eq!(
            got.data.param(&format!("p-{t}")),
            Some(t.to_string().as_str())
        );
    }
    assert_eq!(got.data.params.len(), TASKS as usize + 1);
    assert_eq!(got.data.param("shared"), Some("same"));
    let last_tag = got.data.tag("last").expect("tag");
    let (t, i) = last_tag.split_once('-').expect("t-i");
    assert!(
        t.parse::<i64>().is_ok_and(|t| (0..TASKS).contains(&t)),
        "{last_tag}"
    );
    assert!(
        i.parse::<i64>().is_ok_and(|i| (0..BATCHES).contains(&i)),
        "{last_tag}"
    );
    assert_eq!(got.data.metrics.len(), TASKS as usize + 1);
}

/// 16 tasks log one param key with 16 different values at once: exactly one succeeds, every other gets
/// Conflict, and the stored value is the winner's.
pub async fn concurrent_conflicting_params(store: Store) {
    concurrent_conflicting_params_across(&[store]).await;
}

/// [`concurrent_conflicting_params`] over several stores.
pub async fn concurrent_conflicting_params_across(stores: &[Store]) {
    let first = &stores[0];
    let (exp, _) = experiment(first, "param-race").await;
    let id = run(first, exp, "contested").await.info.run_id;
    let results = race(stores, &id, |store, id, t| async move {
        store
            .log_batch(
                &id,
                vec![point("m", t as f64, t, T0)],
                vec![param("winner", &t.to_string())],
                vec![],
            )
            .await
    })
    .await;
    let winners: Vec<i64> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one value wins: {results:?}");
    for (t, r) in &results {
        assert!(
            r.is_ok() || matches!(r, Err(StoreError::Conflict(_))),
            "task {t}: {r:?}"
        );
    }
    let winner = winners[0];
    let got = first.get_run(&id).await.expect("get");
    assert_eq!(got.data.param("winner"), Some(winner.to_string().as_str()));
    // The losers' metrics were rolled back with their params.
    let steps: BTreeSet<i64> = first
        .metric_history(MetricHistoryQuery {
            run_ids: vec![id],
            key: "m".to_string(),
            min_step: None,
            max_step: None,
            order: HistoryOrder::Step,
        })
        .await
        .expect("history")
        .iter()
        .map(|m: &Metric| m.step)
        .collect();
    assert_eq!(steps, BTreeSet::from([winner]));
}

/// 16 tasks create one experiment name at once: exactly one succeeds, every other gets AlreadyExists.
pub async fn concurrent_experiment_creation(store: Store) {
    concurrent_experiment_creation_across(&[store]).await;
}

/// [`concurrent_experiment_creation`] over several stores.
pub async fn concurrent_experiment_creation_across(stores: &[Store]) {
    let name = Arc::new(unique("name-race"));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = stores[t as usize % stores.len()].clone();
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            let r = store
                .create_experiment(NewExperiment {
                    name: name.to_string(),
                    artifact_location: None,
                    default_artifact_root: "file:///race".to_string(),
                    tags: vec![tag("creator", &t.to_string())],
                    creation_time: T0 + t,
                })
                .await;
            (t, r)
        }));
    }
    let mut results: Vec<(i64, Result<ExperimentId, StoreError>)> = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task panicked"));
    }
    let created: Vec<(i64, ExperimentId)> = results
        .iter()
        .filter_map(|(t, r)| r.as_ref().ok().map(|id| (*t, *id)))
        .collect();
    assert_eq!(created.len(), 1, "exactly one creator wins: {results:?}");
    for (t, r) in &results {
        assert!(
            r.is_ok() || matches!(r, Err(StoreError::AlreadyExists(_))),
            "task {t}: {r:?}"
        );
    }
    let (t, id) = created[0];
    for store in stores {
        let e = store.get_experiment_by_name(&name).await.expect("by name");
        assert_eq!(e.id, id);
        assert_eq!(e.creation_time, T0 + t);
        assert_eq!(e.tags, vec![tag("creator", &t.to_string())]);
        assert_eq!(e.artifact_location, format!("file:///race/{id}"));
    }
}

/// Runs `op` for tasks 0..16 at once (task `t` through `stores[t % len]`), returning each task's result.
async fn race<F, Fut>(stores: &[Store], id: &RunId, op: F) -> Vec<(i64, Result<(), StoreError>)>
where
    F: Fn(Store, RunId, i64) -> Fut,
    Fut: Future<Output = Result<(), StoreError>> + Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(TASKS as usize));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let fut = op(stores[t as usize % stores.len()].clone(), id.clone(), t);
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            (t, fut.await)
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task panicked"));
    }
    results
}

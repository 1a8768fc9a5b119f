//! log_batch atomicity and param immutability; metric points (NaN, duplicates), latest values, history.

use cairn_domain::{Clash, Metric, RunId};
use cairn_store::{HistoryOrder, MetricHistoryQuery};

use crate::fixtures::{
    Store, T0, assert_metrics, conflict, experiment, of_run, param, point, run, tag,
};

/// A history in bulk-interval order (run, step, timestamp, value).
async fn history(
    store: &Store,
    runs: &[&RunId],
    key: &str,
    min: Option<i64>,
    max: Option<i64>,
) -> Vec<Metric> {
    history_in(store, runs, key, min, max, HistoryOrder::Step).await
}

async fn history_in(
    store: &Store,
    runs: &[&RunId],
    key: &str,
    min: Option<i64>,
    max: Option<i64>,
    order: HistoryOrder,
) -> Vec<Metric> {
    store
        .metric_history(MetricHistoryQuery {
            run_ids: runs.iter().map(|r| (*r).clone()).collect(),
            key: key.to_string(),
            min_step: min,
            max_step: max,
            order,
        })
        .await
        .expect("metric_history")
}

/// A param may be logged again with its value but never changed; a batch with a changing param writes
/// nothing at all — no metric, no other param, no tag.
pub async fn log_batch_atomicity(store: Store) {
    let (exp, _) = experiment(&store, "atomic").await;
    let id = run(&store, exp, "r").await.info.run_id;
    store
        .log_batch(&id, vec![], vec![param("p", "1")], vec![])
        .await
        .expect("first param");

    let msg = conflict(
        store
            .log_batch(
                &id,
                vec![point("m", 1.0, 0, T0)],
                vec![param("q", "3"), param("p", "2")],
                vec![tag("t", "x")],
            )
            .await,
    );
    assert_eq!(
        msg,
        Clash::ParamChanged {
            run: id.to_string(),
            key: "p".to_string(),
            old: "1".to_string(),
            new: "2".to_string()
        }
    );
    let got = store.get_run(&id).await.expect("get");
    assert_eq!(got.data.params, vec![param("p", "1")]);
    assert_eq!(got.data.tags, vec![]);
    assert_eq!(got.data.metrics, vec![]);
    assert_eq!(history(&store, &[&id], "m", None, None).await, vec![]);

    store
        .log_batch(&id, vec![], vec![param("p", "1")], vec![])
        .await
        .expect("same value again");
    store
        .log_batch(
            &id,
            vec![point("m", 1.0, 0, T0)],
            vec![param("p", "1"), param("q", "3")],
            vec![tag("t", "x")],
        )
        .await
        .expect("full batch");
    let got = store.get_run(&id).await.expect("get");
    assert_eq!(got.data.params, vec![param("p", "1"), param("q", "3")]);
    assert_eq!(got.data.tags, vec![tag("t", "x")]);
    assert_eq!(got.data.metrics, vec![point("m", 1.0, 0, T0)]);
}

/// NaN round-trips; an identical point (within a batch or across batches) is stored once, and re-logging
/// it with a model id attaches the model; a different value at the same step and time is a new point.
pub async fn metrics_nan_and_dedup(store: Store) {
    let (exp, _) = experiment(&store, "nan").await;
    let id = run(&store, exp, "r").await.info.run_id;
    let model_id = format!("m-{}", RunId::generate());
    store
        .log_batch(
            &id,
            vec![
                point("loss", 0.5, 0, T0 + 100),
                point("loss", 0.5, 0, T0 + 100),
                point("loss", f64::NAN, 1, T0 + 200),
            ],
            vec![],
            vec![],
        )
        .await
        .expect("log");
    store
        .log_batch(
            &id,
            vec![
                point("loss", 0.5, 0, T0 + 100),
                point("loss", f64::NAN, 1, T0 + 200),
            ],
            vec![],
            vec![],
        )
        .await
        .expect("log again");
    assert_metrics(
        &history(&store, &[&id], "loss", None, None).await,
        &[
            of_run(point("loss", 0.5, 0, T0 + 100), &id),
            of_run(point("loss", f64::NAN, 1, T0 + 200), &id),
        ],
    );
    assert_metrics(
        &store.get_run(&id).await.expect("get").data.metrics,
        &[point("loss", f64::NAN, 1, T0 + 200)],
    );

    let with_model = Metric {
        model_id: Some(model_id.clone()),
        ..point("loss", 0.5, 0, T0 + 100)
    };
    store
        .log_batch(&id, vec![with_model.clone()], vec![], vec![])
        .await
        .expect("attach model");
    store
        .log_batch(&id, vec![point("loss", 0.5, 0, T0 + 100)], vec![], vec![])
        .await
        .expect("again without model");
    store
        .log_batch(&id, vec![point("loss", 0.7, 0, T0 + 100)], vec![], vec![])
        .await
        .expect("other value");
    assert_metrics(
        &history(&store, &[&id], "loss", None, None).await,
        &[
            of_run(with_model, &id),
            of_run(point("loss", 0.7, 0, T0 + 100), &id),
            of_run(point("loss", f64::NAN, 1, T0 + 200), &id),
        ],
    );

    // Duplicates inside one batch merge the same way: the model id named by a later copy is kept.
    let later = Metric {
        model_id: Some(model_id.clone()),
        ..point("acc", 1.0, 3, T0)
    };
    store
        .log_batch(
            &id,
            vec![point("acc", 1.0, 3, T0), later.clone()],
            vec![],
            vec![],
        )
        .await
        .expect("dup in batch");
    assert_metrics(
        &history(&store, &[&id], "acc", None, None).await,
        &[of_run(later, &id)],
    );
}

/// The latest value of a metric: largest step, then latest timestamp, then NaN over numbers, then largest
/// value — whatever order the points arrive in, within a batch or across batches.
pub async fn latest_metric_semantics(store: Store) {
    let (exp, _) = experiment(&store, "latest").await;
    let id = run(&store, exp, "r").await.info.run_id;
    let batches: Vec<Vec<Metric>> = vec![
        // a: the larger step wins though logged first and with an older timestamp.
        vec![point("a", 1.0, 5, 10)],
        vec![point("a", 9.0, 3, 20)],
        // b: the larger step wins though logged last.
        vec![point("b", 9.0, 3, 20)],
        vec![point("b", 1.0, 5, 10)],
        // c: same step, the later timestamp wins.
        vec![point("c", 1.0, 1, 10)],
        vec![point("c", 2.0, 1, 5)],
        // d: same step and timestamp, the larger value wins.
        vec![point("d", 1.0, 1, 10)],
        vec![point("d", 3.0, 1, 10)],
        vec![point("d", 2.0, 1, 10)],
        // e: same step and timestamp, NaN beats any number and stays.
        vec![point("e", 5.0, 1, 10)],
        vec![point("e", f64::NAN, 1, 10)],
        vec![point("e", 7.0, 1, 10)],
        // f: a NaN at a smaller step does not displace a number.
        vec![point("f", 2.0, 2, 10)],
        vec![point("f", f64::NAN, 1, 99)],
        // g: within one batch too.
        vec![point("g", 1.0, 10, 1), point("g", 5.0, 2, 2)],
        // h: negative steps order below zero.
        vec![point("h", 1.0, -1, 1)],
        vec![point("h", 2.0, 0, 0)],
    ];
    for batch in batches {
        store
            .log_batch(&id, batch, vec![], vec![])
            .await
            .expect("log");
    }
    assert_metrics(
        &store.get_run(&id).await.expect("get").data.metrics,
        &[
            point("a", 1.0, 5, 10),
            point("b", 1.0, 5, 10),
            point("c", 1.0, 1, 10),
            point("d", 3.0, 1, 10),
            point("e", f64::NAN, 1, 10),
            point("f", 2.0, 2, 10),
            point("g", 1.0, 10, 1),
            point("h", 2.0, 0, 0),
        ],
    );
}

/// Bulk-interval history is ordered by run, step, timestamp; step bounds are inclusive; model and dataset round-trip.
pub async fn metric_history_order_and_bounds(store: Store) {
    let (exp, _) = experiment(&store, "history").await;
    let r1 = run(&store, exp, "r1").await.info.run_id;
    let r2 = run(&store, exp, "r2").await.info.run_id;
    store
        .log_batch(
            &r1,
            vec![
                point("x", 2.0, 2, 20),
                point("x", 0.0, 0, 5),
                point("x", 1.5, 1, 15),
                point("x", 1.0, 1, 10),
                point("y", 99.0, 0, 0),
            ],
            vec![],
            vec![],
        )
        .await
        .expect("log r1");
    store
        .log_batch(&r2, vec![point("x", 10.0, 1, 1)], vec![], vec![])
        .await
        .expect("log r2");
    let s0 = of_run(point("x", 0.0, 0, 5), &r1);
    let s1a = of_run(point("x", 1.0, 1, 10), &r1);
    let s1b = of_run(point("x", 1.5, 1, 15), &r1);
    let s2 = of_run(point("x", 2.0, 2, 20), &r1);
    let other = of_run(point("x", 10.0, 1, 1), &r2);

    let only_r1 = [&r1];
    let h = |min, max| history(&store, &only_r1, "x", min, max);
    assert_metrics(
        &h(None, None).await,
        &[s0.clone(), s1a.clone(), s1b.clone(), s2.clone()],
    );
    assert_metrics(
        &h(Some(1), None).await,
        &[s1a.clone(), s1b.clone(), s2.clone()],
    );
    assert_metrics(
        &h(None, Some(1)).await,
        &[s0.clone(), s1a.clone(), s1b.clone()],
    );
    assert_metrics(&h(Some(1), Some(1)).await, &[s1a.clone(), s1b.clone()]);
    assert_metrics(&h(Some(3), None).await, &[]);

    let mut both = vec![s0, s1a, s1b, s2];
    if r2 < r1 {
        both.insert(0, other);
    } else {
        both.push(other);
    }
    assert_metrics(&history(&store, &[&r1, &r2], "x", None, None).await, &both);
    assert_metrics(&history(&store, &[], "x", None, None).await, &[]);
    assert_metrics(&history(&store, &[&r1], "absent", None, None).await, &[]);

    let tagged = Metric {
        model_id: Some(format!("m-{}", RunId::generate())),
        dataset_name: Some("ds".to_string()),
        dataset_digest: Some("abc".to_string()),
        ..point("z", 0.25, 4, 44)
    };
    store
        .log_batch(&r2, vec![tagged.clone()], vec![], vec![])
        .await
        .expect("log z");
    assert_metrics(
        &history(&store, &[&r2], "z", None, None).await,
        &[of_run(tagged, &r2)],
    );
}

/// `get_metric_history` order, as MLflow's SQL store: by timestamp, then step, then value (NaN, stored
/// as 0, sorts as 0), whatever order the points were logged in.
pub async fn metric_history_time_order(store: Store) {
    let (exp, _) = experiment(&store, "history-time").await;
    let r = run(&store, exp, "r").await.info.run_id;
    let logged = [
        point("t", 1.0, 0, T0 + 30),
        point("t", 2.0, 5, T0 + 10),
        point("t", 4.0, 1, T0 + 20),
        point("t", 3.0, 1, T0 + 20),
        point("t", f64::NAN, 1, T0 + 20),
        point("t", 0.5, 9, T0 + 20),
        point("t", 7.0, 2, T0),
    ];
    // One point per batch, in the order above, so nothing but the query can put them in order.
    for p in &logged {
        store
            .log_batch(&r, vec![p.clone()], vec![], vec![])
            .await
            .expect("log");
    }
    let want: Vec<Metric> = [
        point("t", 7.0, 2, T0),
        point("t", 2.0, 5, T0 + 10),
        point("t", f64::NAN, 1, T0 + 20),
        point("t", 3.0, 1, T0 + 20),
        point("t", 4.0, 1, T0 + 20),
        point("t", 0.5, 9, T0 + 20),
        point("t", 1.0, 0, T0 + 30),
    ]
    .into_iter()
    .map(|p| of_run(p, &r))
    .collect();
    assert_metrics(
        &history_in(&store, &[&r], "t", None, None, HistoryOrder::Time).await,
        &want,
    );
    // The bulk-interval order of the same points: by step first.
    let steps: Vec<(i64, i64)> = history(&store, &[&r], "t", None, None)
        .await
        .iter()
        .map(|m| (m.step, m.timestamp))
        .collect();
    assert_eq!(
        steps,
        [
            (0, T0 + 30),
            (1, T0 + 20),
            (1, T0 + 20),
            (1, T0 + 20),
            (2, T0),
            (5, T0 + 10),
            (9, T0 + 20)
        ]
    );
}

/// The summary pyramid charts read: after batches logged at different times (points out of order, a
/// NaN, a re-logged point, negative steps), each level holds what summarizing all points at once gives
/// (a re-logged identical point counts twice: counts only size reads); a step range selects the
/// buckets holding those steps.
pub async fn metric_summary_pyramid(store: Store) {
    use cairn_domain::metric_series::{SUMMARY_LEVELS, StepBucket, summarize};
    use cairn_store::SummaryQuery;

    let (exp, _) = experiment(&store, "pyramid").await;
    let id = run(&store, exp, "r").await.info.run_id;
    let other = run(&store, exp, "other").await.info.run_id;
    let batches = [
        vec![
            point("loss", 1.0, 0, T0 + 5),
            point("loss", 4.0, 70, T0 + 1),
        ],
        vec![
            point("loss", f64::NAN, 63, T0 + 9),
            point("loss", -2.0, -3, T0),
        ],
        (0..2000)
            .map(|s| point("loss", s as f64 * 0.5, s * 3, T0 + s))
            .collect(),
        vec![point("loss", 4.0, 70, T0 + 1), point("acc", 0.5, 1, T0)],
    ];
    for b in &batches {
        store
            .log_batch(&id, b.clone(), vec![], vec![])
            .await
            .expect("log_batch");
    }
    store
        .log_batch(&other, vec![point("loss", 99.0, 0, T0)], vec![], vec![])
        .await
        .expect("other run");
    let all: Vec<Metric> = batches
        .concat()
        .into_iter()
        .filter(|m| m.key == "loss")
        .collect();
    let expected = summarize(&all);
    for level in SUMMARY_LEVELS {
        let got = store
            .metric_summary(SummaryQuery {
                run_ids: vec![id.clone()],
                key: "loss".into(),
                level,
                steps: None,
            })
            .await
            .expect("metric_summary");
        let want: Vec<&StepBucket> = expected.values().filter(|b| b.level == level).collect();
        assert_eq!(got.len(), want.len(), "level {level}");
        // NaN never equals itself: compare with a newest NaN written as infinity (never stored).
        let comparable = |b: &StepBucket| StepBucket {
            last_value: if b.last_value.is_nan() {
                f64::INFINITY
            } else {
                b.last_value
            },
            ..b.clone()
        };
        for ((run, g), w) in got.iter().zip(want) {
            assert_eq!(run, id.as_str());
            assert_eq!(
                comparable(g),
                comparable(w),
                "level {level} bucket {}",
                w.index
            );
        }
    }
    // Two runs at once, over a step range: each run's buckets holding those steps, by run.
    let ranged = store
        .metric_summary(SummaryQuery {
            run_ids: vec![id.clone(), other.clone()],
            key: "loss".into(),
            level: 6,
            steps: Some((0, 200)),
        })
        .await
        .expect("ranged");
    let mut want = vec![(id.as_str().to_owned(), 0), (id.as_str().to_owned(), 1)];
    want.extend([(id.as_str().to_owned(), 2), (id.as_str().to_owned(), 3)]);
    want.push((other.as_str().to_owned(), 0));
    want.sort();
    assert_eq!(
        ranged
            .iter()
            .map(|(r, b)| (r.clone(), b.index))
            .collect::<Vec<_>>(),
        want
    );
    let none = store
        .metric_summary(SummaryQuery {
            run_ids: vec![id.clone()],
            key: "missing".into(),
            level: 6,
            steps: None,
        })
        .await
        .expect("missing key");
    assert!(none.is_empty());
}

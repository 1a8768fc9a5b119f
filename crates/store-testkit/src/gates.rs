//! The alias compare-and-set and the [`GateStore`](cairn_store::GateStore) contract: a CAS moves the alias
//! only from the version it expects (or from unset), two racing CAS calls with the same expectation have
//! exactly one winner, and a gate evaluation is stored with exactly one change-log entry naming it.

use std::collections::BTreeMap;

use cairn_domain::change_log::Topic;
use cairn_domain::gate_evaluation::{
    Action, Decision, GateEvaluationRecord, PinnedAlias, RuleOutcome, RuleResult,
};
use cairn_domain::{Change, Clash};
use cairn_store::{GateQuery, NewModelVersion, StoreError};

use crate::change_log::ControlPlane;
use crate::fixtures::{T0, unique};

fn who(at: i64) -> Change {
    Change {
        actor: "ci".to_owned(),
        at_ms: at,
    }
}

fn version(name: &str) -> NewModelVersion {
    NewModelVersion {
        name: name.to_owned(),
        source: format!("s3://bucket/{name}"),
        storage_location: format!("s3://bucket/{name}"),
        run_id: None,
        run_link: None,
        model_id: None,
        description: None,
        tags: Vec::new(),
        user_id: None,
    }
}

async fn alias(cp: &ControlPlane, model: &str) -> Option<i64> {
    cp.registry
        .get_version_by_alias(model, "champion")
        .await
        .expect("alias")
        .map(|v| v.version)
}

/// CAS from unset, from the pinned version, refused when it moved (nothing recorded), and a race.
pub async fn alias_compare_and_set(cp: ControlPlane) {
    let model = unique("cas-model");
    cp.registry
        .create_registered_model(&model, None, Vec::new(), &who(T0))
        .await
        .expect("model");
    for i in 1..=4 {
        cp.registry
            .create_model_version(version(&model), &who(T0 + i))
            .await
            .expect("version");
    }
    // Expected unset, and unset: set.
    cp.registry
        .compare_and_set_alias(&model, "champion", 1, None, &who(T0 + 10))
        .await
        .expect("from unset");
    assert_eq!(alias(&cp, &model).await, Some(1));
    // Expected unset, but set: refused, with where it is.
    let head = cp.log.head().await.expect("head");
    let refused = cp
        .registry
        .compare_and_set_alias(&model, "champion", 2, None, &who(T0 + 11))
        .await
        .expect_err("moved");
    match refused {
        StoreError::Conflict(Clash::AliasMoved {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (None, Some(1))),
        other => panic!("expected AliasMoved, got {other:?}"),
    }
    assert_eq!(
        cp.log.head().await.expect("head"),
        head,
        "a refused CAS records nothing"
    );
    assert_eq!(alias(&cp, &model).await, Some(1));
    // From the pinned version.
    cp.registry
        .compare_and_set_alias(&model, "champion", 2, Some(1), &who(T0 + 12))
        .await
        .expect("from v1");
    assert_eq!(alias(&cp, &model).await, Some(2));

    // Two pipelines pinned v2 and race to promote v3 and v4: exactly one wins.
    let (a, b) = (cp.registry.clone(), cp.registry.clone());
    let (m1, m2) = (model.clone(), model.clone());
    let one = tokio::spawn(async move {
        a.compare_and_set_alias(&m1, "champion", 3, Some(2), &who(T0 + 20))
            .await
    });
    let two = tokio::spawn(async move {
        b.compare_and_set_alias(&m2, "champion", 4, Some(2), &who(T0 + 21))
            .await
    });
    let results = [one.await.expect("task"), two.await.expect("task")];
    let winners: Vec<usize> = (0..2).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one CAS wins: {results:?}");
    let loser = &results[1 - winners[0]];
    assert!(
        matches!(loser, Err(StoreError::Conflict(Clash::AliasMoved { .. }))),
        "{loser:?}"
    );
    assert_eq!(alias(&cp, &model).await, Some(3 + winners[0] as i64));
}

fn record(run: &str, model: &str) -> GateEvaluationRecord {
    GateEvaluationRecord {
        pipeline_run_id: run.to_owned(),
        pipeline: "churn".to_owned(),
        model_name: Some(model.to_owned()),
        model_version: Some(2),
        metrics: BTreeMap::from([("accuracy".to_owned(), Some(0.9)), ("nan".to_owned(), None)]),
        baselines: vec![PinnedAlias {
            alias: "champion".to_owned(),
            version: Some(1),
        }],
        dataset_digest: Some("abc".to_owned()),
        rules: vec![RuleResult {
            name: "accuracy >= 0.8".to_owned(),
            metric: "accuracy".to_owned(),
            rule: ">= 0.8".to_owned(),
            observed: Some(0.9),
            baseline: None,
            threshold: Some(0.8),
            outcome: RuleOutcome::Passed,
            note: "0.9 >= 0.8".to_owned(),
        }],
        decision: Decision::Passed,
        action: Action::Promoted,
        action_detail: "promoted v2 to @champion".to_owned(),
    }
}

/// Stored, read back whole, listed by run and model (newest first), one change-log entry each.
pub async fn gate_evaluations_on_the_log(cp: ControlPlane) {
    let start = cp.log.head().await.expect("head");
    let (run, model) = (unique("gate-run"), unique("gate-model"));
    let first = cp
        .gates
        .record_gate_evaluation(&record(&run, &model), &who(T0))
        .await
        .expect("record");
    let mut second_record = record(&run, &model);
    second_record.decision = Decision::Failed;
    second_record.action = Action::NotPromoted;
    let second = cp
        .gates
        .record_gate_evaluation(&second_record, &who(T0 + 1))
        .await
        .expect("record");
    assert!(second.id > first.id);
    let read = cp.gates.get_gate_evaluation(first.id).await.expect("get");
    assert_eq!(read, first);
    assert_eq!(read.record, record(&run, &model));
    assert_eq!((read.actor.as_str(), read.created_ms), ("ci", T0));

    let by_run = cp
        .gates
        .list_gate_evaluations(&GateQuery {
            pipeline_run_id: Some(run.clone()),
            model_name: None,
            limit: 100,
        })
        .await
        .expect("list");
    assert_eq!(
        by_run.iter().map(|e| e.id).collect::<Vec<_>>(),
        [second.id, first.id]
    );
    let by_other = cp
        .gates
        .list_gate_evaluations(&GateQuery {
            pipeline_run_id: Some(run),
            model_name: Some(unique("other")),
            limit: 100,
        })
        .await
        .expect("list");
    assert!(by_other.is_empty());
    assert!(matches!(
        cp.gates.get_gate_evaluation(second.id + 1000).await,
        Err(StoreError::NotFound(_))
    ));

    let entries = cp.log.changes(start, 1000).await.expect("changes");
    let ours: Vec<_> = entries
        .iter()
        .filter(|e| e.topic == Topic::Gate && e.subject == model)
        .collect();
    assert_eq!(ours.len(), 2);
    assert_eq!(
        (ours[0].kind.as_str(), ours[0].topic_seq),
        ("gate_evaluated", first.id)
    );
    let detail = ours[1].detail.as_ref().expect("detail");
    assert_eq!(detail["decision"], "failed");
    assert_eq!(detail["action"], "not_promoted");
    assert_eq!(detail["version"], 2);
}

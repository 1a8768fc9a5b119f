//! The alias compare-and-set and gate evaluations through the typed client (`cairn-client`), as the
//! CLI's promotion uses them: a move from the pinned version, a refused one, racing moves with one
//! winner, and a gate record stored, read back by id and by pipeline run, and on the change log.

use std::collections::BTreeMap;
use std::time::Duration;

use cairn_client::Client;
use cairn_contract::{
    ActionDto, DecisionDto, GateEvaluationBody, PinnedAliasDto, RuleOutcomeDto, RuleResultDto,
};
use serde_json::json;

use crate::support::Server;

async fn model_with_versions(s: &Server, name: &str, versions: usize) {
    let (st, body) = s
        .post("registered-models/create", json!({"name": name}))
        .await;
    assert_eq!(st, 200, "{body}");
    for i in 0..versions {
        let (st, body) = s
            .post(
                "model-versions/create",
                json!({"name": name, "source": format!("s3://bucket/{name}/{i}")}),
            )
            .await;
        assert_eq!(st, 200, "{body}");
    }
}

#[tokio::test]
async fn the_client_moves_aliases_by_compare_and_set() {
    let s = Server::start().await;
    let client = Client::new(&s.base);
    model_with_versions(&s, "cas", 4).await;
    let set = client
        .compare_and_set_alias("cas", "champion", "1", None)
        .await
        .expect("from unset");
    assert_eq!(set.version, "1");
    let refused = client
        .compare_and_set_alias("cas", "champion", "2", None)
        .await
        .expect_err("it is set");
    assert!(refused.is_conflict(), "{refused}");
    client
        .compare_and_set_alias("cas", "champion", "2", Some("1"))
        .await
        .expect("from v1");

    // Two promotions that pinned v2, at once: exactly one wins.
    let (a, b) = (client.clone(), client.clone());
    let (one, two) = tokio::join!(
        a.compare_and_set_alias("cas", "champion", "3", Some("2")),
        b.compare_and_set_alias("cas", "champion", "4", Some("2")),
    );
    assert!(one.is_ok() != two.is_ok(), "{one:?} {two:?}");
    let loser = one.as_ref().err().or(two.as_ref().err()).expect("a loser");
    assert!(loser.is_conflict(), "{loser}");
    let missing = client
        .compare_and_set_alias("nope", "champion", "1", None)
        .await
        .expect_err("no such model");
    assert!(missing.is_not_found(), "{missing}");
}

#[tokio::test]
async fn the_client_stores_and_reads_gate_evaluations() {
    let s = Server::start().await;
    let client = Client::new(&s.base);
    model_with_versions(&s, "churn", 2).await;
    let body = GateEvaluationBody {
        pipeline_run_id: "run-1".into(),
        pipeline: "churn".into(),
        model_name: Some("churn".into()),
        model_version: Some("2".into()),
        metrics: BTreeMap::from([("accuracy".to_owned(), Some(0.91))]),
        baselines: vec![PinnedAliasDto {
            alias: "champion".into(),
            version: Some("1".into()),
        }],
        dataset_digest: None,
        rules: vec![RuleResultDto {
            name: "accuracy vs @champion".into(),
            metric: "accuracy".into(),
            rule: ">= @champion + 0".into(),
            observed: Some(0.91),
            baseline: Some(0.9),
            threshold: Some(0.9),
            outcome: RuleOutcomeDto::Passed,
            note: "0.91 vs @champion 0.9 + 0".into(),
        }],
        decision: DecisionDto::Passed,
        action: ActionDto::Promoted,
        action_detail: "promoted churn v2 to @champion".into(),
    };
    let stored = client.record_gate_evaluation(&body).await.expect("stored");
    assert_eq!(stored.evaluation, body);
    assert_eq!(
        client.gate_evaluation(stored.id).await.expect("read"),
        Some(stored.clone())
    );
    assert_eq!(
        client.gate_evaluations("run-1").await.expect("listed"),
        vec![stored.clone()]
    );
    assert!(
        client
            .gate_evaluations("run-2")
            .await
            .expect("listed")
            .is_empty()
    );
    assert_eq!(
        client.gate_evaluation(stored.id + 1).await.expect("read"),
        None
    );
    let log = client.changes(0, Duration::ZERO).await.expect("changes");
    let entry = log
        .events
        .iter()
        .find(|e| e.topic == "gate")
        .expect("a gate entry");
    assert_eq!(
        (entry.subject.as_str(), entry.kind.as_str(), entry.topic_seq),
        ("churn", "gate_evaluated", stored.id)
    );
}

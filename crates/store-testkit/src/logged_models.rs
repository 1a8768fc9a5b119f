//! Logged models: create/get/update/tags/delete/list, and the metrics linked to a model.

use cairn_domain::{
    ExperimentId, LifecycleStage, LoggedModel, LoggedModelId, LoggedModelStatus, Metric, Missing,
};
use cairn_store::{LoggedModelUpdate, NewLoggedModel};

use crate::fixtures::{Store, T0, assert_metrics, experiment, not_found, param, point, run, tag};

fn new_model(
    id: &LoggedModelId,
    experiment_id: ExperimentId,
    name: &str,
    at: i64,
) -> NewLoggedModel {
    NewLoggedModel {
        model_id: id.clone(),
        experiment_id,
        name: name.to_string(),
        model_type: None,
        source_run_id: None,
        params: Vec::new(),
        tags: Vec::new(),
        creation_timestamp_ms: at,
    }
}

/// A model's whole life: created pending with derived artifact URI, updated, tagged, listed, deleted.
pub async fn logged_models_lifecycle(store: Store) {
    let (exp, name) = experiment(&store, "models").await;
    let source = run(&store, exp, "trainer").await.info.run_id;
    let id = LoggedModelId::generate();
    let created = store
        .create_logged_model(NewLoggedModel {
            model_type: Some("sklearn".to_string()),
            source_run_id: Some(source.as_str().to_string()),
            params: vec![param("lr", "0.1"), param("depth", "3")],
            tags: vec![tag("k", "v")],
            ..new_model(&id, exp, "model-a", T0)
        })
        .await
        .expect("create");
    let mut expected = LoggedModel {
        model_id: id.clone(),
        experiment_id: exp,
        name: "model-a".to_string(),
        artifact_uri: format!("file:///cairn-test/{name}/models/{id}/artifacts"),
        creation_timestamp_ms: T0,
        last_updated_timestamp_ms: T0,
        status: LoggedModelStatus::Pending,
        status_message: None,
        model_type: Some("sklearn".to_string()),
        source_run_id: Some(source.as_str().to_string()),
        lifecycle_stage: LifecycleStage::Active,
        tags: vec![tag("k", "v")],
        params: vec![param("depth", "3"), param("lr", "0.1")],
        metrics: vec![],
    };
    assert_eq!(created, expected);
    assert_eq!(store.get_logged_model(&id).await.expect("get"), expected);

    let updated = store
        .update_logged_model(
            &id,
            LoggedModelUpdate {
                status: LoggedModelStatus::Ready,
                status_message: Some("done".to_string()),
                updated_ms: T0 + 5,
            },
        )
        .await
        .expect("update");
    expected.status = LoggedModelStatus::Ready;
    expected.status_message = Some("done".to_string());
    expected.last_updated_timestamp_ms = T0 + 5;
    assert_eq!(updated, expected);

    store
        .set_logged_model_tags(&id, vec![tag("k", "v2"), tag("k2", "x")])
        .await
        .expect("tags");
    store
        .delete_logged_model_tag(&id, "k2")
        .await
        .expect("delete tag");
    expected.tags = vec![tag("k", "v2")];
    assert_eq!(store.get_logged_model(&id).await.expect("get"), expected);
    assert_eq!(
        not_found(store.delete_logged_model_tag(&id, "k2").await),
        Missing::LoggedModelTag {
            model: id.to_string(),
            key: "k2".to_string()
        }
    );

    let missing_exp = ExperimentId(i64::MAX);
    assert_eq!(
        not_found(
            store
                .create_logged_model(new_model(&LoggedModelId::generate(), missing_exp, "x", T0))
                .await
        ),
        Missing::ActiveExperiment(missing_exp)
    );

    let second = LoggedModelId::generate();
    let second_model = store
        .create_logged_model(new_model(&second, exp, "model-b", T0 + 1))
        .await
        .expect("create second");
    assert_eq!(
        store.list_logged_models(&[exp]).await.expect("list"),
        vec![expected.clone(), second_model]
    );

    store
        .delete_logged_model(&second, T0 + 9)
        .await
        .expect("delete");
    let gone = Missing::LoggedModel(second.to_string());
    assert_eq!(not_found(store.get_logged_model(&second).await), gone);
    assert_eq!(
        not_found(
            store
                .update_logged_model(
                    &second,
                    LoggedModelUpdate {
                        status: LoggedModelStatus::Ready,
                        status_message: None,
                        updated_ms: T0 + 10,
                    },
                )
                .await
        ),
        gone
    );
    assert_eq!(
        not_found(
            store
                .set_logged_model_tags(&second, vec![tag("a", "b")])
                .await
        ),
        gone
    );
    assert_eq!(
        not_found(store.delete_logged_model_tag(&second, "a").await),
        gone
    );
    assert_eq!(
        not_found(store.delete_logged_model(&second, T0 + 11).await),
        gone
    );
    assert_eq!(
        store.list_logged_models(&[exp]).await.expect("list"),
        vec![expected]
    );
    assert_eq!(store.list_logged_models(&[]).await.expect("list"), vec![]);
    let missing = LoggedModelId::generate();
    assert_eq!(
        not_found(store.get_logged_model(&missing).await),
        Missing::LoggedModel(missing.to_string())
    );
}

/// Metrics logged with a model id appear in that model: the latest point per (key, dataset), naming run
/// and model.
pub async fn logged_model_metrics(store: Store) {
    let (exp, _) = experiment(&store, "model-metrics").await;
    let r = run(&store, exp, "r").await.info.run_id;
    let id = LoggedModelId::generate();
    store
        .create_logged_model(new_model(&id, exp, "m", T0))
        .await
        .expect("create");
    let linked = |m: Metric, ds: Option<(&str, &str)>| Metric {
        model_id: Some(id.as_str().to_string()),
        dataset_name: ds.map(|d| d.0.to_string()),
        dataset_digest: ds.map(|d| d.1.to_string()),
        ..m
    };
    store
        .log_batch(
            &r,
            vec![
                linked(point("acc", 0.9, 1, 2), None),
                linked(point("acc", 0.5, 0, 1), None),
                linked(point("loss", 0.3, 0, 1), Some(("ds", "d1"))),
                linked(point("loss", 0.2, 1, 1), Some(("ds2", "d2"))),
                point("other", 1.0, 0, 1),
            ],
            vec![],
            vec![],
        )
        .await
        .expect("log");
    let of_run = |m: Metric| Metric {
        run_id: Some(r.as_str().to_string()),
        ..m
    };
    let expected = [
        of_run(linked(point("acc", 0.9, 1, 2), None)),
        of_run(linked(point("loss", 0.3, 0, 1), Some(("ds", "d1")))),
        of_run(linked(point("loss", 0.2, 1, 1), Some(("ds2", "d2")))),
    ];
    assert_metrics(
        &store.get_logged_model(&id).await.expect("get").metrics,
        &expected,
    );
    let listed = store.list_logged_models(&[exp]).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_metrics(&listed[0].metrics, &expected);
    // They are ordinary run metrics as well.
    assert_metrics(
        &store.get_run(&r).await.expect("get run").data.metrics,
        &[
            point("acc", 0.9, 1, 2),
            point("loss", 0.2, 1, 1),
            point("other", 1.0, 0, 1),
        ],
    );
}

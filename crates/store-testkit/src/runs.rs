//! Runs: create/get/update, the run-name tag, lifecycle and refusal of writes to deleted runs, list views.

use cairn_domain::{
    Clash, Dataset, DatasetInput, ExperimentId, Holder, LifecycleStage, Missing, ModelInput,
    ModelOutput, Run, RunData, RunId, RunInfo, RunStatus, ViewType,
};
use cairn_store::{NewExperiment, NewRun, RunUpdate};

use crate::fixtures::{
    Store, T0, conflict, experiment, ids, not_found, param, point, run, sorted, tag, unique,
};

const RUN_NAME: &str = "mlflow.runName";

/// A run is created with its info derived from the experiment, read back identically, and updated field by
/// field.
pub async fn runs_create_get_update(store: Store) {
    let name = unique("runs");
    let exp = store
        .create_experiment(NewExperiment {
            name: name.clone(),
            artifact_location: Some(format!("file:///cairn-test/{name}/")),
            default_artifact_root: "file:///unused".to_string(),
            tags: Vec::new(),
            creation_time: T0,
        })
        .await
        .expect("create experiment");
    let run_id = RunId::generate();
    let created = store
        .create_run(NewRun {
            run_id: run_id.clone(),
            experiment_id: exp,
            run_name: "first".to_string(),
            user_id: "alice".to_string(),
            start_time: T0 + 1,
            tags: vec![
                tag("mlflow.user", "alice"),
                tag(RUN_NAME, "first"),
                tag("b", "2"),
            ],
        })
        .await
        .expect("create run");
    let info = RunInfo {
        run_id: run_id.clone(),
        experiment_id: exp,
        run_name: "first".to_string(),
        user_id: "alice".to_string(),
        status: RunStatus::Running,
        start_time: Some(T0 + 1),
        end_time: None,
        artifact_uri: format!("file:///cairn-test/{name}/{run_id}/artifacts"),
        lifecycle_stage: LifecycleStage::Active,
    };
    let expected = Run {
        info: info.clone(),
        data: RunData {
            metrics: vec![],
            params: vec![],
            tags: vec![
                tag("b", "2"),
                tag(RUN_NAME, "first"),
                tag("mlflow.user", "alice"),
            ],
        },
        ..Run::default()
    };
    assert_eq!(created, expected);
    assert_eq!(store.get_run(&run_id).await.expect("get"), expected);

    let missing_exp = ExperimentId(i64::MAX);
    assert_eq!(
        not_found(
            store
                .create_run(NewRun {
                    run_id: RunId::generate(),
                    experiment_id: missing_exp,
                    run_name: "x".to_string(),
                    user_id: "alice".to_string(),
                    start_time: T0,
                    tags: vec![],
                })
                .await
        ),
        Missing::Experiment(missing_exp)
    );
    let missing = RunId::generate();
    assert_eq!(
        not_found(store.get_run(&missing).await),
        Missing::Run(missing.to_string())
    );

    let finished = store
        .update_run(
            &run_id,
            RunUpdate {
                status: Some(RunStatus::Finished),
                end_time: Some(T0 + 10),
                run_name: None,
            },
        )
        .await
        .expect("update");
    let info = RunInfo {
        status: RunStatus::Finished,
        end_time: Some(T0 + 10),
        ..info
    };
    assert_eq!(finished, info);
    assert_eq!(
        store
            .update_run(&run_id, RunUpdate::default())
            .await
            .expect("empty update"),
        info
    );
    let renamed = store
        .update_run(
            &run_id,
            RunUpdate {
                run_name: Some("second".to_string()),
                ..RunUpdate::default()
            },
        )
        .await
        .expect("rename");
    assert_eq!(
        renamed,
        RunInfo {
            run_name: "second".to_string(),
            ..info
        }
    );
    let got = store.get_run(&run_id).await.expect("get");
    assert_eq!(got.info, renamed);
    assert_eq!(got.data.tag(RUN_NAME), Some("second"));
    assert_eq!(
        not_found(store.update_run(&missing, RunUpdate::default()).await),
        Missing::Run(missing.to_string())
    );
}

/// The `mlflow.runName` tag and the run's name follow each other whichever is written.
pub async fn run_name_sync(store: Store) {
    let (exp, _) = experiment(&store, "runname").await;
    let r = run(&store, exp, "orig").await;
    assert_eq!(r.info.run_name, "orig");
    assert_eq!(r.data.tags, vec![]);
    let id = r.info.run_id;

    store
        .log_batch(&id, vec![], vec![], vec![tag(RUN_NAME, "renamed")])
        .await
        .expect("tag");
    let got = store.get_run(&id).await.expect("get");
    assert_eq!(got.info.run_name, "renamed");
    assert_eq!(got.data.tags, vec![tag(RUN_NAME, "renamed")]);

    store
        .update_run(
            &id,
            RunUpdate {
                run_name: Some("again".to_string()),
                ..RunUpdate::default()
            },
        )
        .await
        .expect("update");
    let got = store.get_run(&id).await.expect("get");
    assert_eq!(got.info.run_name, "again");
    assert_eq!(got.data.tags, vec![tag(RUN_NAME, "again")]);

    // At creation the tag wins over the name.
    let created = store
        .create_run(NewRun {
            run_id: RunId::generate(),
            experiment_id: exp,
            run_name: "x".to_string(),
            user_id: "tester".to_string(),
            start_time: T0,
            tags: vec![tag(RUN_NAME, "y")],
        })
        .await
        .expect("create");
    assert_eq!(created.info.run_name, "y");
}

/// A deleted run stays readable but refuses every write with Conflict, and nothing of a refused write
/// lands; restored, it takes writes again.
pub async fn deleted_run_refuses_writes(store: Store) {
    let (exp, _) = experiment(&store, "deleted-run").await;
    let id = run(&store, exp, "doomed").await.info.run_id;
    store
        .log_batch(
            &id,
            vec![],
            vec![],
            vec![tag("keep", "1"), tag("drop", "1")],
        )
        .await
        .expect("tags");
    store.delete_run_tag(&id, "drop").await.expect("delete tag");
    assert_eq!(
        not_found(store.delete_run_tag(&id, "drop").await),
        Missing::RunTag {
            run: id.to_string(),
            key: "drop".to_string()
        }
    );

    store
        .set_run_lifecycle(&id, LifecycleStage::Deleted, T0 + 5)
        .await
        .expect("delete");
    let before = store.get_run(&id).await.expect("deleted runs are readable");
    assert_eq!(before.info.lifecycle_stage, LifecycleStage::Deleted);
    assert_eq!(before.data.tags, vec![tag("keep", "1")]);

    let msg = Clash::NotActive {
        holder: Holder::Run,
        id: id.to_string(),
        stage: "deleted".to_string(),
    };
    assert_eq!(
        conflict(
            store
                .log_batch(
                    &id,
                    vec![point("m", 1.0, 0, T0)],
                    vec![param("p", "1")],
                    vec![tag("t", "1")],
                )
                .await
        ),
        msg
    );
    assert_eq!(
        conflict(
            store
                .update_run(
                    &id,
                    RunUpdate {
                        status: Some(RunStatus::Failed),
                        ..RunUpdate::default()
                    },
                )
                .await
        ),
        msg
    );
    assert_eq!(conflict(store.delete_run_tag(&id, "keep").await), msg);
    let dataset = DatasetInput {
        tags: vec![],
        dataset: Dataset {
            name: "d".to_string(),
            digest: "x".to_string(),
            source_type: "local".to_string(),
            source: "file:///d".to_string(),
            schema: None,
            profile: None,
        },
    };
    assert_eq!(
        conflict(
            store
                .log_inputs(
                    &id,
                    vec![dataset],
                    vec![ModelInput {
                        model_id: "m-1".to_string()
                    }]
                )
                .await
        ),
        msg
    );
    assert_eq!(
        conflict(
            store
                .log_outputs(
                    &id,
                    vec![ModelOutput {
                        model_id: "m-1".to_string(),
                        step: 1
                    }]
                )
                .await
        ),
        msg
    );
    assert_eq!(store.get_run(&id).await.expect("get"), before);

    store
        .set_run_lifecycle(&id, LifecycleStage::Active, T0 + 6)
        .await
        .expect("restore");
    store
        .log_batch(&id, vec![point("m", 1.0, 0, T0)], vec![], vec![])
        .await
        .expect("restored run takes writes");
    let got = store.get_run(&id).await.expect("get");
    assert_eq!(got.info.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(got.data.metrics, vec![point("m", 1.0, 0, T0)]);

    let missing = RunId::generate();
    let msg = Missing::Run(missing.to_string());
    assert_eq!(
        not_found(
            store
                .set_run_lifecycle(&missing, LifecycleStage::Deleted, T0)
                .await
        ),
        msg
    );
    assert_eq!(
        not_found(
            store
                .log_batch(&missing, vec![point("m", 1.0, 0, T0)], vec![], vec![])
                .await
        ),
        msg
    );
    assert_eq!(not_found(store.delete_run_tag(&missing, "k").await), msg);
}

/// `list_runs` returns exactly the runs of the given experiments that the view admits, fully loaded.
pub async fn list_runs_views(store: Store) {
    let (a, _) = experiment(&store, "list-a").await;
    let (b, _) = experiment(&store, "list-b").await;
    let a1 = run(&store, a, "a1").await.info.run_id;
    let a2 = run(&store, a, "a2").await.info.run_id;
    let b1 = run(&store, b, "b1").await.info.run_id;
    store
        .log_batch(
            &a1,
            vec![point("acc", 0.5, 1, T0), point("acc", 0.7, 2, T0 + 1)],
            vec![param("lr", "0.1")],
            vec![tag("t", "v")],
        )
        .await
        .expect("log");
    store
        .log_inputs(
            &a1,
            vec![DatasetInput {
                tags: vec![tag("mlflow.data.context", "training")],
                dataset: Dataset {
                    name: "ds".to_string(),
                    digest: "d1".to_string(),
                    source_type: "local".to_string(),
                    source: "file:///ds".to_string(),
                    schema: None,
                    profile: None,
                },
            }],
            vec![ModelInput {
                model_id: "m-in".to_string(),
            }],
        )
        .await
        .expect("inputs");
    store
        .log_outputs(
            &a1,
            vec![ModelOutput {
                model_id: "m-out".to_string(),
                step: 2,
            }],
        )
        .await
        .expect("outputs");
    store
        .set_run_lifecycle(&a2, LifecycleStage::Deleted, T0)
        .await
        .expect("delete a2");

    let list = |exps: Vec<ExperimentId>, view| {
        let store = store.clone();
        async move { store.list_runs(&exps, view).await.expect("list_runs") }
    };
    assert_eq!(
        ids(&list(vec![a], ViewType::ActiveOnly).await),
        vec![a1.clone()]
    );
    assert_eq!(
        ids(&list(vec![a], ViewType::DeletedOnly).await),
        vec![a2.clone()]
    );
    assert_eq!(
        ids(&list(vec![a], ViewType::All).await),
        sorted(vec![a1.clone(), a2.clone()])
    );
    assert_eq!(
        ids(&list(vec![a, b], ViewType::ActiveOnly).await),
        sorted(vec![a1.clone(), b1.clone()])
    );
    assert_eq!(
        ids(&list(vec![a, b], ViewType::All).await),
        sorted(vec![a1.clone(), a2.clone(), b1.clone()])
    );
    assert_eq!(list(vec![], ViewType::All).await, vec![]);
    assert_eq!(
        list(vec![ExperimentId(i64::MAX)], ViewType::All).await,
        vec![]
    );

    let full = store.get_run(&a1).await.expect("get a1");
    assert_eq!(full.data.metrics, vec![point("acc", 0.7, 2, T0 + 1)]);
    assert_eq!(full.data.params, vec![param("lr", "0.1")]);
    assert_eq!(full.inputs.dataset_inputs.len(), 1);
    assert_eq!(full.inputs.model_inputs.len(), 1);
    assert_eq!(full.outputs.model_outputs.len(), 1);
    let listed = list(vec![a], ViewType::ActiveOnly).await;
    assert_eq!(listed, vec![full], "list_runs loads runs as get_run does");
}

/// `list_runs_for_search` loads only the named children (run info always); `get_runs` loads whole runs in
/// the order asked, skipping unknown ids.
pub async fn search_loading(store: Store) {
    let (exp, _) = experiment(&store, "search-load").await;
    let a = run(&store, exp, "a").await.info.run_id;
    let b = run(&store, exp, "b").await.info.run_id;
    for (id, v) in [(&a, 0.1), (&b, 0.9)] {
        store
            .log_batch(
                id,
                vec![point("acc", v, 1, T0), point("loss", 1.0 - v, 1, T0)],
                vec![param("lr", "0.1"), param("it's", "q")],
                vec![tag("team", "x")],
            )
            .await
            .expect("log");
    }
    let mut fields = cairn_domain::search::RunFields::default();
    fields.metrics.insert("acc".to_string());
    fields.params.insert("it's".to_string());
    let partial = store
        .list_runs_for_search(&[exp], ViewType::ActiveOnly, &fields)
        .await
        .expect("list_runs_for_search");
    assert_eq!(sorted(ids(&partial)), sorted(vec![a.clone(), b.clone()]));
    for r in &partial {
        let metric_keys: Vec<&str> = r.data.metrics.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(metric_keys, vec!["acc"], "only the named metric");
        assert_eq!(
            r.data.params,
            vec![param("it's", "q")],
            "only the named param (quote kept)"
        );
        assert!(r.data.tags.is_empty(), "no tag named, none loaded");
        assert_eq!(r.info.experiment_id, exp);
    }

    let unknown = RunId::generate();
    let whole = store
        .get_runs(&[b.clone(), unknown, a.clone()])
        .await
        .expect("get_runs");
    let in_order: Vec<RunId> = whole.iter().map(|r| r.info.run_id.clone()).collect();
    assert_eq!(
        in_order,
        vec![b.clone(), a.clone()],
        "order kept, unknown left out"
    );
    assert_eq!(whole[0].data.metrics.len(), 2);
    assert_eq!(whole[0].data.params.len(), 2);
    assert!(whole[0].data.tags.iter().any(|t| t.key == "team"));
    assert!(store.get_runs(&[]).await.expect("empty").is_empty());
}

//! Experiments: the Default experiment, create/get/list, rename, tags, and lifecycle cascading to runs.

use cairn_domain::{
    Clash, Experiment, ExperimentId, Holder, LifecycleStage, LoggedModelId, Missing, Taken,
    ViewType,
};
use cairn_store::{NewExperiment, NewLoggedModel};

use crate::fixtures::{
    Store, T0, already_exists, conflict, experiment, ids, not_found, point, run, sorted, tag,
    unique,
};

/// The store answers pings and holds the Default experiment `0` at `mlflow-artifacts:/0`.
pub async fn default_experiment_and_ping(store: Store) {
    store.ping().await.expect("ping");
    let default = store
        .get_experiment(ExperimentId::DEFAULT)
        .await
        .expect("get Default");
    assert_eq!(default.id, ExperimentId(0));
    assert_eq!(default.name, "Default");
    assert_eq!(default.artifact_location, "mlflow-artifacts:/0");
    assert_eq!(default.lifecycle_stage, LifecycleStage::Active);
    assert!(default.creation_time > 0, "{default:?}");
    assert!(default.last_update_time > 0, "{default:?}");
    let by_name = store
        .get_experiment_by_name("Default")
        .await
        .expect("get Default by name");
    assert_eq!(by_name, default);
    let active = store
        .list_experiments(ViewType::ActiveOnly)
        .await
        .expect("list");
    assert_eq!(active.first(), Some(&default), "Default comes first");
}

/// Creating, reading and listing experiments; duplicate names; missing ids and names.
pub async fn experiments_crud(store: Store) {
    let name = unique("crud");
    let id = store
        .create_experiment(NewExperiment {
            name: name.clone(),
            artifact_location: None,
            default_artifact_root: "file:///cairn-root/".to_string(),
            tags: vec![tag("b", "2"), tag("a", "1"), tag("b", "3")],
            creation_time: T0,
        })
        .await
        .expect("create");
    assert!(
        id.0 > 0,
        "new experiments get ids above the Default's: {id}"
    );
    let expected = Experiment {
        id,
        name: name.clone(),
        artifact_location: format!("file:///cairn-root/{id}"),
        lifecycle_stage: LifecycleStage::Active,
        creation_time: T0,
        last_update_time: T0,
        tags: vec![tag("a", "1"), tag("b", "3")],
    };
    assert_eq!(store.get_experiment(id).await.expect("get"), expected);
    assert_eq!(
        store.get_experiment_by_name(&name).await.expect("by name"),
        expected
    );

    let name2 = unique("crud");
    let id2 = store
        .create_experiment(NewExperiment {
            name: name2.clone(),
            artifact_location: Some("s3://bucket/place".to_string()),
            default_artifact_root: "file:///cairn-root".to_string(),
            tags: Vec::new(),
            creation_time: T0 + 1,
        })
        .await
        .expect("create with location");
    assert!(id2.0 > id.0, "ids grow: {id} then {id2}");
    let e2 = store.get_experiment(id2).await.expect("get 2");
    assert_eq!(e2.artifact_location, "s3://bucket/place");
    assert_eq!(e2.tags, vec![]);

    let dup = already_exists(
        store
            .create_experiment(NewExperiment {
                name: name.clone(),
                artifact_location: None,
                default_artifact_root: "file:///cairn-root".to_string(),
                tags: vec![tag("c", "3")],
                creation_time: T0 + 2,
            })
            .await,
    );
    assert_eq!(dup, Taken::Experiment(name.clone()));
    let all = store.list_experiments(ViewType::All).await.expect("list");
    assert_eq!(all.iter().filter(|e| e.name == name).count(), 1);
    assert_eq!(store.get_experiment(id).await.expect("get"), expected);

    let missing = ExperimentId(i64::MAX);
    assert_eq!(
        not_found(store.get_experiment(missing).await),
        Missing::Experiment(missing)
    );
    let nobody = unique("nobody");
    assert_eq!(
        not_found(store.get_experiment_by_name(&nobody).await),
        Missing::ExperimentNamed(nobody.clone())
    );

    let active = store
        .list_experiments(ViewType::ActiveOnly)
        .await
        .expect("list");
    assert!(active.windows(2).all(|w| w[0].id < w[1].id), "listed by id");
    assert_eq!(active.iter().find(|e| e.id == id), Some(&expected));
    assert_eq!(active.iter().find(|e| e.id == id2), Some(&e2));
    let deleted = store
        .list_experiments(ViewType::DeletedOnly)
        .await
        .expect("list");
    assert!(deleted.iter().all(|e| e.id != id && e.id != id2));
    assert!(
        deleted
            .iter()
            .all(|e| e.lifecycle_stage == LifecycleStage::Deleted)
    );
}

/// Renaming: the new name is found, the old one is not; a taken name is refused and changes nothing.
pub async fn experiment_rename(store: Store) {
    let (a, old) = experiment(&store, "rename").await;
    let (_, taken) = experiment(&store, "rename").await;
    let new = unique("renamed");
    store
        .rename_experiment(a, &new, T0 + 5)
        .await
        .expect("rename");
    let e = store.get_experiment(a).await.expect("get");
    assert_eq!(e.name, new);
    assert_eq!(e.creation_time, T0);
    assert_eq!(e.last_update_time, T0 + 5);
    assert_eq!(store.get_experiment_by_name(&new).await.expect("new").id, a);
    not_found(store.get_experiment_by_name(&old).await);

    let msg = already_exists(store.rename_experiment(a, &taken, T0 + 6).await);
    assert_eq!(msg, Taken::Experiment(taken.clone()));
    let e = store.get_experiment(a).await.expect("get");
    assert_eq!(
        (e.name.as_str(), e.last_update_time),
        (new.as_str(), T0 + 5)
    );

    let missing = ExperimentId(i64::MAX);
    assert_eq!(
        not_found(store.rename_experiment(missing, &unique("x"), T0).await),
        Missing::Experiment(missing)
    );
}

/// Experiment tags: set, overwrite, delete; missing tags and experiments.
pub async fn experiment_tags(store: Store) {
    let (id, _) = experiment(&store, "tags").await;
    store
        .set_experiment_tag(id, tag("k1", "v1"))
        .await
        .expect("set");
    store
        .set_experiment_tag(id, tag("k2", "v2"))
        .await
        .expect("set");
    store
        .set_experiment_tag(id, tag("k1", "v1b"))
        .await
        .expect("overwrite");
    let e = store.get_experiment(id).await.expect("get");
    assert_eq!(e.tags, vec![tag("k1", "v1b"), tag("k2", "v2")]);
    assert_eq!(e.last_update_time, T0, "tags leave last_update_time alone");

    store.delete_experiment_tag(id, "k2").await.expect("delete");
    assert_eq!(
        store.get_experiment(id).await.expect("get").tags,
        vec![tag("k1", "v1b")]
    );
    assert_eq!(
        not_found(store.delete_experiment_tag(id, "k2").await),
        Missing::ExperimentTag {
            experiment: id,
            key: "k2".to_string()
        }
    );

    let missing = ExperimentId(i64::MAX);
    let msg = Missing::Experiment(missing);
    assert_eq!(
        not_found(store.set_experiment_tag(missing, tag("k", "v")).await),
        msg
    );
    assert_eq!(
        not_found(store.delete_experiment_tag(missing, "k").await),
        msg
    );
}

/// Deleting an experiment deletes its runs and closes it to new runs and models; restoring brings all back.
pub async fn experiment_lifecycle_cascade(store: Store) {
    let (id, _) = experiment(&store, "cascade").await;
    let r1 = run(&store, id, "one").await.info.run_id;
    let r2 = run(&store, id, "two").await.info.run_id;
    let both = sorted(vec![r1.clone(), r2.clone()]);

    store
        .set_experiment_lifecycle(id, LifecycleStage::Deleted, T0 + 10)
        .await
        .expect("delete");
    let e = store.get_experiment(id).await.expect("get deleted");
    assert_eq!(e.lifecycle_stage, LifecycleStage::Deleted);
    assert_eq!(e.last_update_time, T0 + 10);
    let listed = |view| {
        let store = store.clone();
        async move {
            store
                .list_experiments(view)
                .await
                .expect("list")
                .iter()
                .any(|e| e.id == id)
        }
    };
    assert!(!listed(ViewType::ActiveOnly).await);
    assert!(listed(ViewType::DeletedOnly).await);
    assert!(listed(ViewType::All).await);

    for r in [&r1, &r2] {
        let got = store.get_run(r).await.expect("get run");
        assert_eq!(got.info.lifecycle_stage, LifecycleStage::Deleted);
    }
    let runs = |view| {
        let store = store.clone();
        async move { ids(&store.list_runs(&[id], view).await.expect("list_runs")) }
    };
    assert_eq!(runs(ViewType::ActiveOnly).await, vec![]);
    assert_eq!(runs(ViewType::DeletedOnly).await, both);
    assert_eq!(runs(ViewType::All).await, both);

    let msg = conflict(
        store
            .create_run(cairn_store::NewRun {
                run_id: cairn_domain::RunId::generate(),
                experiment_id: id,
                run_name: "late".to_string(),
                user_id: "tester".to_string(),
                start_time: T0,
                tags: Vec::new(),
            })
            .await,
    );
    assert_eq!(
        msg,
        Clash::NotActive {
            holder: Holder::Experiment,
            id: id.to_string(),
            stage: "deleted".to_string()
        }
    );
    conflict(
        store
            .log_batch(&r1, vec![point("m", 1.0, 0, T0)], vec![], vec![])
            .await,
    );
    let msg = not_found(
        store
            .create_logged_model(NewLoggedModel {
                model_id: LoggedModelId::generate(),
                experiment_id: id,
                name: "late".to_string(),
                model_type: None,
                source_run_id: None,
                params: Vec::new(),
                tags: Vec::new(),
                creation_timestamp_ms: T0,
            })
            .await,
    );
    assert_eq!(msg, Missing::ActiveExperiment(id));

    store
        .set_experiment_lifecycle(id, LifecycleStage::Active, T0 + 20)
        .await
        .expect("restore");
    let e = store.get_experiment(id).await.expect("get restored");
    assert_eq!(e.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(e.last_update_time, T0 + 20);
    assert_eq!(runs(ViewType::ActiveOnly).await, both);
    assert_eq!(runs(ViewType::DeletedOnly).await, vec![]);
    store
        .log_batch(&r1, vec![point("m", 1.0, 0, T0)], vec![], vec![])
        .await
        .expect("restored runs take writes");

    // Only an active experiment can be deleted and only a deleted one restored.
    assert_eq!(
        not_found(
            store
                .set_experiment_lifecycle(id, LifecycleStage::Active, T0 + 30)
                .await
        ),
        Missing::ExperimentInStage {
            id,
            stage: "deleted".to_string()
        }
    );
    store
        .set_experiment_lifecycle(id, LifecycleStage::Deleted, T0 + 40)
        .await
        .expect("delete again");
    assert_eq!(
        not_found(
            store
                .set_experiment_lifecycle(id, LifecycleStage::Deleted, T0 + 50)
                .await
        ),
        Missing::ExperimentInStage {
            id,
            stage: "active".to_string()
        }
    );
    let e = store.get_experiment(id).await.expect("get");
    assert_eq!(
        (e.lifecycle_stage, e.last_update_time),
        (LifecycleStage::Deleted, T0 + 40),
        "a refused lifecycle change changes nothing"
    );
    let missing = ExperimentId(i64::MAX);
    assert_eq!(
        not_found(
            store
                .set_experiment_lifecycle(missing, LifecycleStage::Deleted, T0)
                .await
        ),
        Missing::ExperimentInStage {
            id: missing,
            stage: "active".to_string()
        }
    );
}

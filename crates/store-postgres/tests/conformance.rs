//! `cairn-store-testkit`'s conformance suite against [`PostgresStore`], each check on a database of its
//! own; then what only a shared server database has to survive: two stores (two server processes) writing
//! at once, fail-fast opening, and connection loss.
//!
//! Needs PostgreSQL at `CAIRN_TEST_PG_ADMIN_URL` (default `postgresql://postgres@127.0.0.1:5432/postgres`)
//! with the right to create databases; without it these tests fail, they do not skip.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_domain::{ExperimentId, RunId};
use cairn_store::{NewExperiment, StoreError, TrackingStore};
use cairn_store_postgres::PostgresStore;
use support::{TestDb, admin_exec, admin_url, open_store, with_database};

cairn_store_testkit::conformance_tests!(open_store());

/// Every check in turn on one database, twice, through two successive stores: the suite does not need a
/// fresh database, and reopening (re-running migrations) is harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_suite_twice_on_one_database() {
    let db = TestDb::create().await;
    for _ in 0..2 {
        let store = db.open().await;
        cairn_store_testkit::run_conformance(Arc::new(store.clone())).await;
        store.close().await;
    }
}

fn new_experiment(name: &str) -> NewExperiment {
    NewExperiment {
        name: name.to_string(),
        artifact_location: None,
        default_artifact_root: "mlflow-artifacts:".to_string(),
        tags: Vec::new(),
        creation_time: 1,
    }
}

/// The migration creates the Default experiment as id 0; experiments created afterwards count from 1.
#[tokio::test]
async fn fresh_database_numbers_experiments_from_one() {
    let db = TestDb::create().await;
    let store = db.open().await;
    let default = store
        .get_experiment(ExperimentId(0))
        .await
        .expect("Default");
    assert_eq!(
        (default.name.as_str(), default.artifact_location.as_str()),
        ("Default", "mlflow-artifacts:/0")
    );
    assert_eq!(
        store
            .create_experiment(new_experiment("first"))
            .await
            .unwrap(),
        ExperimentId(1)
    );
    assert_eq!(
        store
            .create_experiment(new_experiment("second"))
            .await
            .unwrap(),
        ExperimentId(2)
    );
    assert_eq!(
        store
            .get_experiment(ExperimentId(1))
            .await
            .unwrap()
            .artifact_location,
        "mlflow-artifacts:/1"
    );
    store.close().await;
}

/// Two stores — two pools, as two server processes would have — opened at once on a fresh database
/// (migrations race) and hammered at once: all metrics of both land, one param value wins and the other
/// gets Conflict, one creator of a name wins and the other gets AlreadyExists.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_database_keep_the_invariants() {
    let db = TestDb::create().await;
    let (a, b) = tokio::join!(PostgresStore::open(&db.url), PostgresStore::open(&db.url));
    let stores: Vec<Arc<dyn TrackingStore>> =
        vec![Arc::new(a.expect("open a")), Arc::new(b.expect("open b"))];

    cairn_store_testkit::concurrent_log_batch_across(&stores).await;
    cairn_store_testkit::concurrent_conflicting_params_across(&stores).await;
    cairn_store_testkit::concurrent_experiment_creation_across(&stores).await;

    // Pairwise races, repeated: one store against the other, nothing else in the way.
    for round in 0..20 {
        let name = format!("pair-{round}");
        let (ra, rb) = tokio::join!(
            stores[0].create_experiment(new_experiment(&name)),
            stores[1].create_experiment(new_experiment(&name)),
        );
        match (&ra, &rb) {
            (Ok(_), Err(StoreError::AlreadyExists(_)))
            | (Err(StoreError::AlreadyExists(_)), Ok(_)) => {}
            other => {
                panic!("round {round}: expected one creation and one AlreadyExists, got {other:?}")
            }
        }
        let exp = ra.or(rb).unwrap();
        let run = stores[0]
            .create_run(cairn_store::NewRun {
                run_id: RunId::generate(),
                experiment_id: exp,
                run_name: "r".to_string(),
                user_id: "u".to_string(),
                start_time: 1,
                tags: Vec::new(),
            })
            .await
            .expect("run");
        let id = &run.info.run_id;
        let param = |v: &str| cairn_domain::Param {
            key: "lr".to_string(),
            value: v.to_string(),
        };
        let metric = |step: i64| cairn_domain::Metric {
            key: "loss".to_string(),
            value: step as f64,
            timestamp: step,
            step,
            run_id: None,
            model_id: None,
            dataset_name: None,
            dataset_digest: None,
        };
        let (pa, pb) = tokio::join!(
            stores[0].log_batch(id, vec![metric(1)], vec![param("0.1")], Vec::new()),
            stores[1].log_batch(id, vec![metric(2)], vec![param("0.2")], Vec::new()),
        );
        let winner = match (&pa, &pb) {
            (Ok(()), Err(StoreError::Conflict(_))) => "0.1",
            (Err(StoreError::Conflict(_)), Ok(())) => "0.2",
            other => {
                panic!("round {round}: expected one param write and one Conflict, got {other:?}")
            }
        };
        for store in &stores {
            let got = store.get_run(id).await.expect("get");
            assert_eq!(got.data.param("lr"), Some(winner));
            let step = if winner == "0.1" { 1 } else { 2 };
            assert_eq!(got.data.metric("loss").map(|m| m.step), Some(step));
        }
    }
}

/// Opening a port nobody listens on fails within seconds, as Unavailable naming host, port and database.
#[tokio::test]
async fn open_fails_fast_when_the_server_is_unreachable() {
    let started = Instant::now();
    let result = PostgresStore::open("postgresql://cairn:hunter2@127.0.0.1:1/tracking").await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    match result {
        Err(StoreError::Unavailable(msg)) => {
            assert!(msg.contains("127.0.0.1:1/tracking"), "{msg}");
            assert!(msg.to_lowercase().contains("refused"), "{msg}");
            assert!(!msg.contains("hunter2"), "the password leaked: {msg}");
        }
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("opened a store on a closed port"),
    }
}

/// Opening a database that does not exist fails within seconds, as Unavailable naming it.
#[tokio::test]
async fn open_fails_fast_when_the_database_is_missing() {
    let missing = format!("cairn_missing_{}", RunId::generate());
    let started = Instant::now();
    let result = PostgresStore::open(&with_database(&admin_url(), &missing)).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    match result {
        Err(StoreError::Unavailable(msg)) => {
            assert!(msg.contains(&missing), "{msg}");
            assert!(msg.contains("does not exist"), "{msg}");
        }
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("opened a store on a missing database"),
    }
}

/// URIs of other engines are refused outright.
#[tokio::test]
async fn open_refuses_other_schemes() {
    match PostgresStore::open("sqlite:///tmp/x.db").await {
        Err(StoreError::Internal(msg)) => assert!(msg.contains("postgresql://"), "{msg}"),
        Err(other) => panic!("expected Internal, got {other:?}"),
        Ok(_) => panic!("opened a sqlite URI"),
    }
}

/// Connections killed by the server are replaced unnoticed; while the database refuses connections every
/// operation fails fast as Unavailable; once it accepts them again the same store works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_loss_is_unavailable_and_recovers() {
    let db = TestDb::create().await;
    let store = db.open().await;
    let exp = store
        .create_experiment(new_experiment("outage"))
        .await
        .expect("create");
    let terminate = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{}' AND pid <> pg_backend_pid()",
        db.name
    );

    admin_exec(terminate.clone()).await;
    store
        .ping()
        .await
        .expect("a killed idle connection is replaced");
    assert_eq!(store.get_experiment(exp).await.expect("get").name, "outage");

    admin_exec(format!(
        "ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS false",
        db.name
    ))
    .await;
    admin_exec(terminate).await;
    let started = Instant::now();
    for result in [
        store.ping().await,
        store.get_experiment(exp).await.map(|_| ()),
        store
            .create_experiment(new_experiment("during"))
            .await
            .map(|_| ()),
    ] {
        match result {
            Err(StoreError::Unavailable(msg)) => assert!(msg.contains(&db.name), "{msg}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    admin_exec(format!(
        "ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS true",
        db.name
    ))
    .await;
    store.ping().await.expect("recovered");
    store
        .create_experiment(new_experiment("after"))
        .await
        .expect("writes work again");
    store.close().await;
    match store.ping().await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("a closed store is Unavailable, got {other:?}"),
    }
}

/// Two runs of one experiment (through two stores) logging the same new datasets in opposite orders at
/// once: neither fails nor waits for PostgreSQL's deadlock detection, and both runs see every dataset.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crosswise_dataset_logging_does_not_deadlock() {
    use cairn_domain::{Dataset, DatasetInput};

    let db = TestDb::create().await;
    let (a, b) = (db.open().await, db.open().await);
    let exp = a
        .create_experiment(new_experiment("crosswise"))
        .await
        .expect("create");
    let new_run = |name: &str| cairn_store::NewRun {
        run_id: RunId::generate(),
        experiment_id: exp,
        run_name: name.to_string(),
        user_id: "u".to_string(),
        start_time: 1,
        tags: Vec::new(),
    };
    let r1 = a.create_run(new_run("r1")).await.expect("r1").info.run_id;
    let r2 = a.create_run(new_run("r2")).await.expect("r2").info.run_id;
    let input = |name: String| DatasetInput {
        tags: Vec::new(),
        dataset: Dataset {
            name,
            digest: "d".to_string(),
            source_type: "local".to_string(),
            source: "file:///d".to_string(),
            schema: None,
            profile: None,
        },
    };
    const ROUNDS: usize = 40;
    let started = std::time::Instant::now();
    for round in 0..ROUNDS {
        let names: Vec<String> = (0..8).map(|i| format!("ds-{round}-{i}")).collect();
        let forward: Vec<DatasetInput> = names.iter().cloned().map(input).collect();
        let backward: Vec<DatasetInput> = names.iter().rev().cloned().map(input).collect();
        let (x, y) = tokio::join!(
            a.log_inputs(&r1, forward, Vec::new()),
            b.log_inputs(&r2, backward, Vec::new()),
        );
        x.unwrap_or_else(|e| panic!("round {round}, r1: {e:?}"));
        y.unwrap_or_else(|e| panic!("round {round}, r2: {e:?}"));
    }
    // A deadlock costs a second (deadlock_timeout) before one side is aborted and retried.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{ROUNDS} rounds took {:?}: writers deadlocked",
        started.elapsed()
    );
    for r in [&r1, &r2] {
        let got = a.get_run(r).await.expect("get");
        assert_eq!(got.inputs.dataset_inputs.len(), ROUNDS * 8);
    }
}

//! The [`ChangeLogStore`] contract: one log of every control-plane change, written in the same
//! transaction as the change. Entries follow commit order with strictly increasing sequence numbers across
//! the registry and deployments, each registry and deployment event has exactly one entry naming it, a
//! refused write leaves none, and a commit wakes this process's followers.
//!
//! Each check takes a [`ControlPlane`]: the log, the registry and deployments of one database, composed as
//! the server composes them (all three on one signalled engine). Checks only look at entries after the
//! head they start from and at subjects with fresh names, so they can share a database.

use std::sync::Arc;
use std::time::Duration;

use cairn_domain::change_log::{ChangeEntry, Topic};
use cairn_domain::deployment::{
    DeploymentEventKind, DeploymentSpec, DeploymentState, ModelRef, Resolved, Serving,
};
use cairn_domain::{Change, EventKind, RegistryEvent};
use cairn_store::{
    ChangeLogStore, DeploymentChange, DeploymentStore, EventQuery, GateStore, NewModelVersion,
    RegistryStore, StoreError,
};

use crate::fixtures::{T0, unique};

/// The log and the stores whose writes append to it, on one database.
#[derive(Clone)]
pub struct ControlPlane {
    pub log: Arc<dyn ChangeLogStore>,
    pub registry: Arc<dyn RegistryStore>,
    pub deployments: Arc<dyn DeploymentStore>,
    pub gates: Arc<dyn GateStore>,
}

fn who(actor: &str, at: i64) -> Change {
    Change {
        actor: actor.to_owned(),
        at_ms: at,
    }
}

fn dep_change(kind: DeploymentEventKind, actor: &str, at: i64) -> DeploymentChange {
    DeploymentChange {
        kind,
        actor: actor.to_owned(),
        timestamp_ms: at,
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

fn state(model: &str, version: i64) -> DeploymentState {
    let model_ref = ModelRef::parse(&format!("models:/{model}@champion")).expect("valid reference");
    DeploymentState {
        serving: Serving {
            primary: Resolved {
                name: model.to_owned(),
                version,
            },
            canary: None,
        },
        spec: DeploymentSpec {
            model: model_ref,
            canary: None,
            log_sample: Default::default(),
            rollout: None,
        },
        rollout: None,
    }
}

async fn after(log: &dyn ChangeLogStore, seq: i64) -> Vec<ChangeEntry> {
    log.changes(seq, 10_000).await.expect("changes")
}

async fn registry_history(reg: &dyn RegistryStore, after_seq: i64) -> Vec<RegistryEvent> {
    reg.events(EventQuery {
        model: None,
        after_seq,
        limit: 10_000,
    })
    .await
    .expect("registry events")
}

fn summary(entries: &[ChangeEntry]) -> Vec<(Topic, &str, &str)> {
    entries
        .iter()
        .map(|e| (e.topic, e.subject.as_str(), e.kind.as_str()))
        .collect()
}

fn assert_increasing(entries: &[ChangeEntry]) {
    assert!(
        entries.windows(2).all(|w| w[0].seq < w[1].seq),
        "sequence numbers not strictly increasing: {:?}",
        entries.iter().map(|e| e.seq).collect::<Vec<_>>()
    );
}

/// Registry and deployment writes interleaved: one entry each, in commit order, with strictly increasing
/// sequence numbers; each names its topic's event (`topic_seq`, kind, actor, time); paging and `head()`
/// agree with the entries.
pub async fn change_log_follows_commit_order(cp: ControlPlane) {
    use DeploymentEventKind::*;
    let start = cp.log.head().await.expect("head");
    let reg_start = registry_history(&*cp.registry, 0)
        .await
        .last()
        .map_or(0, |e| e.seq);
    let model = unique("clog-model");
    let dep = unique("clog-dep");

    cp.registry
        .create_registered_model(&model, None, Vec::new(), &who("alice", T0))
        .await
        .expect("create model");
    cp.registry
        .create_model_version(version(&model), &who("alice", T0 + 1))
        .await
        .expect("v1");
    cp.registry
        .set_alias(&model, "champion", 1, &who("alice", T0 + 2))
        .await
        .expect("alias");
    let d = cp
        .deployments
        .create_deployment(&dep, &state(&model, 1), &dep_change(Created, "bob", T0 + 3))
        .await
        .expect("create deployment");
    cp.registry
        .create_model_version(version(&model), &who("alice", T0 + 4))
        .await
        .expect("v2");
    cp.registry
        .set_alias(&model, "champion", 2, &who("carol", T0 + 5))
        .await
        .expect("move alias");
    let d = cp
        .deployments
        .update_deployment(
            &dep,
            d.revision,
            &state(&model, 2),
            &dep_change(RolledOut, "controller", T0 + 6),
        )
        .await
        .expect("roll out")
        .expect("at the revision read");
    assert_eq!(d.revision, 2);
    cp.deployments
        .delete_deployment(&dep, &dep_change(Deleted, "dave", T0 + 7))
        .await
        .expect("delete deployment");

    let entries = after(&*cp.log, start).await;
    use Topic::{Deployment as D, Registry as R};
    assert_eq!(
        summary(&entries),
        [
            (R, model.as_str(), "model_created"),
            (R, model.as_str(), "version_created"),
            (R, model.as_str(), "alias_set"),
            (D, dep.as_str(), "created"),
            (R, model.as_str(), "version_created"),
            (R, model.as_str(), "alias_moved"),
            (D, dep.as_str(), "rolled_out"),
            (D, dep.as_str(), "deleted"),
        ]
    );
    assert_increasing(&entries);
    assert!(entries[0].seq > start);
    let actors: Vec<(&str, i64)> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.timestamp_ms))
        .collect();
    assert_eq!(
        actors,
        [
            ("alice", T0),
            ("alice", T0 + 1),
            ("alice", T0 + 2),
            ("bob", T0 + 3),
            ("alice", T0 + 4),
            ("carol", T0 + 5),
            ("controller", T0 + 6),
            ("dave", T0 + 7),
        ]
    );

    // The head is the newest entry; paging by sequence and limit reads the same entries.
    assert_eq!(cp.log.head().await.unwrap(), entries.last().unwrap().seq);
    let first_three = cp.log.changes(start, 3).await.unwrap();
    assert_eq!(first_three, entries[..3]);
    let rest = cp.log.changes(entries[2].seq, 10_000).await.unwrap();
    assert_eq!(rest, entries[3..]);
    assert_eq!(
        cp.log
            .changes(entries.last().unwrap().seq, 10)
            .await
            .unwrap(),
        []
    );

    // Exactly one registry entry per registry event, naming it.
    let reg_events = registry_history(&*cp.registry, reg_start).await;
    let reg_entries: Vec<&ChangeEntry> = entries.iter().filter(|e| e.topic == R).collect();
    assert_eq!(
        reg_entries.len(),
        reg_events.len(),
        "one entry per registry event"
    );
    for (entry, event) in reg_entries.iter().zip(&reg_events) {
        assert_eq!(entry.topic_seq, event.seq, "{entry:?} names {event:?}");
        assert_eq!(entry.kind, event.kind.as_str());
        assert_eq!(entry.subject, event.model_name);
        assert_eq!(
            (entry.actor.as_str(), entry.timestamp_ms),
            (event.actor.as_str(), event.timestamp_ms)
        );
    }
    let moved = reg_entries
        .iter()
        .find(|e| e.kind == EventKind::AliasMoved.as_str())
        .unwrap();
    let detail = moved
        .detail
        .as_ref()
        .expect("an alias move names what moved");
    assert_eq!(detail["alias"], "champion", "{detail}");
    assert_eq!(detail["version"], 2, "{detail}");

    // Exactly one deployment entry per deployment event, naming it.
    let dep_events = cp
        .deployments
        .deployment_events(&dep, 0, 100)
        .await
        .unwrap();
    let dep_entries: Vec<&ChangeEntry> = entries.iter().filter(|e| e.topic == D).collect();
    assert_eq!(dep_entries.len(), dep_events.len());
    for (entry, event) in dep_entries.iter().zip(&dep_events) {
        assert_eq!(entry.topic_seq, event.seq, "{entry:?} names {event:?}");
        assert_eq!(entry.kind, event.kind.as_str());
        assert_eq!(entry.subject, event.deployment);
        assert_eq!(
            (entry.actor.as_str(), entry.timestamp_ms),
            (event.actor.as_str(), event.timestamp_ms)
        );
    }
    let rolled = dep_entries[1].detail.as_ref().expect("detail");
    assert_eq!(
        (&rolled["revision"], &rolled["version"]),
        (&2.into(), &2.into()),
        "{rolled}"
    );
    let revisions: Vec<Option<i64>> = dep_events.iter().map(|e| e.revision).collect();
    assert_eq!(revisions, [Some(1), Some(2), Some(3)]);
}

/// Writes refused by the store, and writes that change nothing, leave no entry (and a refused write
/// wakes no follower).
pub async fn change_log_failed_writes_leave_no_entry(cp: ControlPlane) {
    use DeploymentEventKind::*;
    let model = unique("clog-quiet");
    let dep = unique("clog-quiet-dep");
    let c = who("a", T0);
    cp.registry
        .create_registered_model(&model, None, Vec::new(), &c)
        .await
        .unwrap();
    cp.registry
        .create_model_version(version(&model), &c)
        .await
        .unwrap();
    cp.registry
        .set_alias(&model, "champion", 1, &c)
        .await
        .unwrap();
    cp.deployments
        .create_deployment(&dep, &state(&model, 1), &dep_change(Created, "a", T0))
        .await
        .unwrap();
    let head = cp.log.head().await.unwrap();
    let mut commits = cp.log.commits();
    commits.borrow_and_update();

    // Refused: each is an error (or a lost conditional write) and leaves the log as it was.
    assert!(matches!(
        cp.deployments
            .create_deployment(&dep, &state(&model, 1), &dep_change(Created, "b", T0 + 1))
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        cp.deployments
            .delete_deployment(&unique("absent"), &dep_change(Deleted, "b", T0 + 1))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        cp.registry.set_alias(&model, "champion", 9, &c).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        cp.registry
            .create_model_version(version(&unique("missing")), &c)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        cp.registry
            .create_registered_model(&model, None, Vec::new(), &c)
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        cp.registry.delete_model_version(&model, 9, &c).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        !commits.has_changed().unwrap(),
        "a refused write committed nothing, so it wakes no follower"
    );

    // A conditional write at a stale revision loses (it may still wake followers, who find nothing).
    assert_eq!(
        cp.deployments
            .update_deployment(
                &dep,
                7,
                &state(&model, 1),
                &dep_change(Updated, "b", T0 + 1)
            )
            .await
            .unwrap(),
        None,
        "a write at a stale revision loses"
    );

    // Changing nothing: an alias set to the version it has, an absent alias or tag removed.
    cp.registry
        .set_alias(&model, "champion", 1, &c)
        .await
        .unwrap();
    cp.registry
        .delete_alias(&model, "absent", &c)
        .await
        .unwrap();
    cp.registry
        .delete_registered_model_tag(&model, "absent", &c)
        .await
        .unwrap();

    assert_eq!(cp.log.head().await.unwrap(), head);
    assert_eq!(after(&*cp.log, head).await, []);
    assert_eq!(
        cp.deployments
            .deployment_events(&dep, 0, 100)
            .await
            .unwrap()
            .len(),
        1
    );

    // The next real write is the next entry.
    cp.registry
        .delete_alias(&model, "champion", &c)
        .await
        .unwrap();
    let entries = after(&*cp.log, head).await;
    assert_eq!(
        summary(&entries),
        [(Topic::Registry, model.as_str(), "alias_deleted")]
    );
}

/// `subject_changes` reads one topic's subject only (a model and a deployment may share a name), after a
/// sequence number, at most `limit`.
pub async fn change_log_subject_changes(cp: ControlPlane) {
    use DeploymentEventKind::*;
    let shared = unique("clog-shared");
    let other = unique("clog-other");
    let c = who("a", T0);
    let start = cp.log.head().await.unwrap();
    for name in [&shared, &other] {
        cp.registry
            .create_registered_model(name, None, Vec::new(), &c)
            .await
            .unwrap();
        cp.registry
            .create_model_version(version(name), &c)
            .await
            .unwrap();
    }
    // A deployment with the same name as a model.
    let d = cp
        .deployments
        .create_deployment(&shared, &state(&shared, 1), &dep_change(Created, "a", T0))
        .await
        .unwrap();
    cp.registry
        .set_alias(&shared, "champion", 1, &c)
        .await
        .unwrap();
    cp.deployments
        .update_deployment(
            &shared,
            d.revision,
            &state(&shared, 1),
            &dep_change(Updated, "a", T0 + 1),
        )
        .await
        .unwrap()
        .unwrap();
    cp.registry.set_alias(&other, "x", 1, &c).await.unwrap();

    let all = after(&*cp.log, start).await;
    assert_eq!(all.len(), 8, "{:?}", summary(&all));
    let of = |topic: Topic, subject: &str| -> Vec<ChangeEntry> {
        all.iter()
            .filter(|e| e.topic == topic && e.subject == subject)
            .cloned()
            .collect()
    };

    let model_entries = cp
        .log
        .subject_changes(Topic::Registry, &shared, start, 100)
        .await
        .unwrap();
    assert_eq!(model_entries, of(Topic::Registry, &shared));
    assert_eq!(
        summary(&model_entries),
        [
            (Topic::Registry, shared.as_str(), "model_created"),
            (Topic::Registry, shared.as_str(), "version_created"),
            (Topic::Registry, shared.as_str(), "alias_set"),
        ]
    );
    let dep_entries = cp
        .log
        .subject_changes(Topic::Deployment, &shared, 0, 100)
        .await
        .unwrap();
    assert_eq!(dep_entries, of(Topic::Deployment, &shared));
    assert_eq!(
        summary(&dep_entries),
        [
            (Topic::Deployment, shared.as_str(), "created"),
            (Topic::Deployment, shared.as_str(), "updated"),
        ]
    );
    assert_increasing(&model_entries);

    // After a sequence number, and at most `limit`.
    let later = cp
        .log
        .subject_changes(Topic::Registry, &shared, model_entries[0].seq, 1)
        .await
        .unwrap();
    assert_eq!(later, model_entries[1..2]);
    assert_eq!(
        cp.log
            .subject_changes(
                Topic::Registry,
                &shared,
                model_entries.last().unwrap().seq,
                100
            )
            .await
            .unwrap(),
        []
    );
    // Nothing for a subject that never changed, or for the other topic of a model-only name.
    assert_eq!(
        cp.log
            .subject_changes(Topic::Registry, &unique("never"), 0, 100)
            .await
            .unwrap(),
        []
    );
    assert_eq!(
        cp.log
            .subject_changes(Topic::Deployment, &other, 0, 100)
            .await
            .unwrap(),
        []
    );
}

/// `head()` is the newest entry's sequence (never lower after a write), and the `commits()` receiver
/// changes when a registry or a deployment write commits, so a follower waiting on it wakes.
pub async fn change_log_head_and_commits(cp: ControlPlane) {
    use DeploymentEventKind::*;
    let model = unique("clog-wake");
    let c = who("a", T0);
    let h0 = cp.log.head().await.unwrap();
    assert!(h0 >= 0);

    let mut commits = cp.log.commits();
    commits.borrow_and_update();
    assert!(!commits.has_changed().unwrap());

    // A follower already waiting wakes when a registry write commits.
    let mut waiting = cp.log.commits();
    waiting.borrow_and_update();
    let follower = tokio::spawn(async move {
        tokio::time::timeout(Duration::from_secs(10), waiting.changed())
            .await
            .expect("woken within 10 s")
            .expect("sender alive");
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    cp.registry
        .create_registered_model(&model, None, Vec::new(), &c)
        .await
        .unwrap();
    follower.await.expect("follower");
    assert!(commits.has_changed().unwrap(), "a registry commit signals");
    commits.borrow_and_update();
    let h1 = cp.log.head().await.unwrap();
    assert!(h1 > h0, "head {h1} after a write, was {h0}");
    assert_eq!(after(&*cp.log, h0).await.last().unwrap().seq, h1);

    // A deployment write signals too.
    cp.registry
        .create_model_version(version(&model), &c)
        .await
        .unwrap();
    commits.borrow_and_update();
    let dep = unique("clog-wake-dep");
    cp.deployments
        .create_deployment(&dep, &state(&model, 1), &dep_change(Created, "a", T0))
        .await
        .unwrap();
    assert!(
        commits.has_changed().unwrap(),
        "a deployment commit signals"
    );
    let h2 = cp.log.head().await.unwrap();
    assert!(h2 > h1);
    let newest = after(&*cp.log, h2 - 1).await;
    assert_eq!(
        summary(&newest),
        [(Topic::Deployment, dep.as_str(), "created")]
    );

    // Reads do not signal.
    commits.borrow_and_update();
    cp.log.changes(0, 10).await.unwrap();
    cp.deployments.get_deployment(&dep).await.unwrap();
    cp.registry.get_registered_model(&model).await.unwrap();
    assert!(!commits.has_changed().unwrap(), "reads commit nothing");
}

/// Two control planes on one database (two server processes): writes through either land in the one
/// log in commit order, each visible to the other's reads; a process's `commits()` signals its own
/// writes only (the other's are seen through `head()`).
pub async fn change_log_across_processes(a: ControlPlane, b: ControlPlane) {
    let model = unique("clog-two");
    let c = who("a", T0);
    let start = a.log.head().await.unwrap();
    a.registry
        .create_registered_model(&model, None, Vec::new(), &c)
        .await
        .unwrap();
    let mut a_commits = a.log.commits();
    a_commits.borrow_and_update();
    for i in 0..6 {
        let writer = if i % 2 == 0 { &b } else { &a };
        writer
            .registry
            .create_model_version(version(&model), &c)
            .await
            .unwrap();
        if i == 0 {
            assert!(
                !a_commits.has_changed().unwrap(),
                "the other process's commit does not signal here"
            );
        }
    }
    let seen_by_a = after(&*a.log, start).await;
    let seen_by_b = after(&*b.log, start).await;
    assert_eq!(seen_by_a, seen_by_b);
    assert_eq!(seen_by_a.len(), 7, "{:?}", summary(&seen_by_a));
    assert_increasing(&seen_by_a);
    let versions: Vec<i64> = seen_by_a[1..]
        .iter()
        .map(|e| e.detail.as_ref().unwrap()["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6], "commit order");
    assert_eq!(a.log.head().await.unwrap(), b.log.head().await.unwrap());
}

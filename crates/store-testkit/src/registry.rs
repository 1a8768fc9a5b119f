//! The [`RegistryStore`] contract: versions numbered once, aliases, stages, renames, deletes, and a
//! change log written with every change (and only with changes that happened).
//!
//! Each check takes the registry and the tracking store of one database (registration writes the
//! logged model's `mlflow.modelVersions` tag in the same transaction).

use std::sync::Arc;

use cairn_domain::{Change, EventKind, LoggedModelId, RegistryEvent, Stage, Tag};
use cairn_store::{
    EventQuery, NewLoggedModel, NewModelVersion, RegistryStore, StoreError, TrackingStore,
};

use crate::fixtures::{T0, experiment, unique};

pub type Registry = Arc<dyn RegistryStore>;

fn who(actor: &str, at: i64) -> Change {
    Change {
        actor: actor.to_owned(),
        at_ms: at,
    }
}

fn version(name: &str, source: &str) -> NewModelVersion {
    NewModelVersion {
        name: name.to_owned(),
        source: source.to_owned(),
        storage_location: source.to_owned(),
        run_id: None,
        run_link: None,
        model_id: None,
        description: None,
        tags: Vec::new(),
        user_id: None,
    }
}

async fn history(reg: &Registry, name: &str) -> Vec<RegistryEvent> {
    reg.events(EventQuery {
        model: Some(name.to_owned()),
        after_seq: 0,
        limit: 10_000,
    })
    .await
    .expect("history")
}

fn kinds(events: &[RegistryEvent]) -> Vec<(EventKind, Option<i64>, Option<String>)> {
    events
        .iter()
        .map(|e| (e.kind, e.version, e.alias.clone()))
        .collect()
}

fn not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    assert!(
        matches!(r, Err(StoreError::NotFound(_))),
        "expected NotFound, got {r:?}"
    );
}

/// A model's whole life, and the history it leaves: numbering that skips deleted versions, aliases set,
/// moved and removed (also by deleting their version), a rename the history follows, and a delete after
/// which the history stays readable by the old name.
pub async fn registry_lifecycle(reg: Registry, _tracking: Arc<dyn TrackingStore>) {
    let name = unique("model");
    let alice = who("alice", T0);
    let created = reg
        .create_registered_model(
            &name,
            Some("first"),
            vec![Tag {
                key: "team".into(),
                value: "ml".into(),
            }],
            &alice,
        )
        .await
        .expect("create");
    assert_eq!(
        (created.description.as_deref(), created.tags.len()),
        (Some("first"), 1)
    );
    assert!(matches!(
        reg.create_registered_model(&name, None, Vec::new(), &alice)
            .await,
        Err(StoreError::AlreadyExists(_))
    ));

    for i in 1..=3 {
        let v = reg
            .create_model_version(version(&name, &format!("s3://b/{i}")), &who("bob", T0 + i))
            .await
            .expect("version");
        assert_eq!(v.version, i);
        assert_eq!(v.current_stage, Stage::None);
    }
    reg.delete_model_version(&name, 3, &alice)
        .await
        .expect("delete v3");
    not_found(reg.get_model_version(&name, 3).await);
    let v4 = reg
        .create_model_version(version(&name, "s3://b/4"), &alice)
        .await
        .expect("v4");
    assert_eq!(v4.version, 4, "a deleted version's number is never reused");

    reg.set_alias(&name, "champion", 1, &alice)
        .await
        .expect("set");
    reg.set_alias(&name, "champion", 1, &alice)
        .await
        .expect("set again: no change");
    reg.set_alias(&name, "champion", 2, &alice)
        .await
        .expect("move");
    reg.set_alias(&name, "challenger", 4, &alice)
        .await
        .expect("set");
    not_found(reg.set_alias(&name, "ghost", 3, &alice).await);
    let by_alias = reg
        .get_version_by_alias(&name, "champion")
        .await
        .expect("alias")
        .expect("champion exists");
    assert_eq!(
        (by_alias.version, by_alias.aliases.clone()),
        (2, vec!["champion".to_owned()])
    );
    assert!(
        reg.get_version_by_alias(&name, "nope")
            .await
            .expect("lookup")
            .is_none()
    );
    reg.delete_model_version(&name, 4, &alice)
        .await
        .expect("delete v4");
    assert!(
        reg.get_version_by_alias(&name, "challenger")
            .await
            .expect("lookup")
            .is_none()
    );
    reg.delete_alias(&name, "missing", &alice)
        .await
        .expect("deleting nothing is fine");

    let renamed = unique("renamed");
    let m = reg
        .rename_registered_model(&name, &renamed, &alice)
        .await
        .expect("rename");
    assert_eq!(m.aliases.len(), 1);
    assert_eq!(m.tags.len(), 1);
    not_found(reg.get_registered_model(&name).await);
    let v2 = reg
        .get_model_version(&renamed, 2)
        .await
        .expect("versions follow");
    assert_eq!(
        (v2.name.as_str(), v2.aliases.clone()),
        (renamed.as_str(), vec!["champion".to_owned()])
    );
    let live: Vec<i64> = reg
        .list_model_versions(Some(&renamed))
        .await
        .expect("list")
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(live, [1, 2]);

    let events = history(&reg, &renamed).await;
    use EventKind::*;
    assert_eq!(
        kinds(&events),
        vec![
            (ModelCreated, None, None),
            (VersionCreated, Some(1), None),
            (VersionCreated, Some(2), None),
            (VersionCreated, Some(3), None),
            (VersionDeleted, Some(3), None),
            (VersionCreated, Some(4), None),
            (AliasSet, Some(1), Some("champion".into())),
            (AliasMoved, Some(2), Some("champion".into())),
            (AliasSet, Some(4), Some("challenger".into())),
            (AliasDeleted, Some(4), Some("challenger".into())),
            (VersionDeleted, Some(4), None),
            (ModelRenamed, None, None),
        ]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(events[1].actor, "bob");
    assert_eq!(events[0].actor, "alice");
    let moved = &events[7];
    assert_eq!(moved.before.as_ref().unwrap()["version"], "1");
    assert_eq!(moved.after.as_ref().unwrap()["version"], "2");
    let rename = events.last().unwrap();
    assert_eq!(rename.before.as_ref().unwrap()["name"], name.as_str());
    assert_eq!(rename.model_name, renamed);

    reg.delete_registered_model(&renamed, &who("carol", T0 + 9))
        .await
        .expect("delete");
    not_found(reg.get_registered_model(&renamed).await);
    let after = history(&reg, &renamed).await;
    assert_eq!(after.len(), events.len() + 1);
    let last = after.last().unwrap();
    assert_eq!((last.kind, last.actor.as_str()), (ModelDeleted, "carol"));
    not_found(
        reg.events(EventQuery {
            model: Some(unique("never")),
            after_seq: 0,
            limit: 10,
        })
        .await,
    );
    // A new model under an old name starts its own numbering and its own history.
    reg.create_registered_model(&renamed, None, Vec::new(), &alice)
        .await
        .expect("recreate");
    let v = reg
        .create_model_version(version(&renamed, "s3://b/x"), &alice)
        .await
        .expect("v1");
    assert_eq!(v.version, 1);
    assert_eq!(history(&reg, &renamed).await.len(), 2);
}

/// A failed write records nothing; a write that changes nothing records nothing.
pub async fn registry_failed_writes_leave_no_events(
    reg: Registry,
    _tracking: Arc<dyn TrackingStore>,
) {
    let name = unique("quiet");
    let c = who("a", T0);
    reg.create_registered_model(&name, None, Vec::new(), &c)
        .await
        .expect("create");
    reg.create_model_version(version(&name, "s3://b/1"), &c)
        .await
        .expect("v1");
    let before = history(&reg, &name).await.len();
    not_found(reg.set_alias(&name, "x", 9, &c).await);
    not_found(reg.update_model_version(&name, 9, Some("d"), &c).await);
    not_found(
        reg.create_model_version(version(&unique("missing"), "s3://b/1"), &c)
            .await,
    );
    let other = unique("other");
    reg.create_registered_model(&other, None, Vec::new(), &c)
        .await
        .expect("other");
    assert!(matches!(
        reg.rename_registered_model(&name, &other, &c).await,
        Err(StoreError::AlreadyExists(_))
    ));
    reg.set_registered_model_tag(
        &name,
        Tag {
            key: "k".into(),
            value: "v".into(),
        },
        &c,
    )
    .await
    .expect("tag");
    reg.set_registered_model_tag(
        &name,
        Tag {
            key: "k".into(),
            value: "v".into(),
        },
        &c,
    )
    .await
    .expect("same tag");
    reg.delete_registered_model_tag(&name, "absent", &c)
        .await
        .expect("no tag");
    reg.update_model_version(&name, 1, None, &c)
        .await
        .expect("same description");
    let events = history(&reg, &name).await;
    assert_eq!(events.len(), before + 1, "{:?}", kinds(&events));
    assert_eq!(events.last().unwrap().kind, EventKind::ModelTagSet);
    assert_eq!(
        reg.get_registered_model(&name).await.unwrap().aliases.len(),
        0
    );
}

/// Stages: latest version per stage, and `archive_existing` moving the others to Archived.
pub async fn registry_stages(reg: Registry, _tracking: Arc<dyn TrackingStore>) {
    let name = unique("staged");
    let c = who("a", T0);
    reg.create_registered_model(&name, None, Vec::new(), &c)
        .await
        .expect("create");
    for i in 1..=3 {
        reg.create_model_version(version(&name, &format!("s3://b/{i}")), &c)
            .await
            .expect("v");
    }
    reg.transition_model_version_stage(&name, 1, Stage::Production, false, &c)
        .await
        .expect("t1");
    reg.transition_model_version_stage(&name, 2, Stage::Production, false, &c)
        .await
        .expect("t2");
    let m = reg.get_registered_model(&name).await.unwrap();
    let latest: Vec<(Stage, i64)> = m
        .latest_versions
        .iter()
        .map(|v| (v.current_stage, v.version))
        .collect();
    assert_eq!(latest, [(Stage::None, 3), (Stage::Production, 2)]);
    let v3 = reg
        .transition_model_version_stage(&name, 3, Stage::Production, true, &c)
        .await
        .expect("t3");
    assert_eq!(v3.current_stage, Stage::Production);
    let stages: Vec<Stage> = reg
        .list_model_versions(Some(&name))
        .await
        .unwrap()
        .iter()
        .map(|v| v.current_stage)
        .collect();
    assert_eq!(
        stages,
        [Stage::Archived, Stage::Archived, Stage::Production]
    );
    let changed = history(&reg, &name)
        .await
        .iter()
        .filter(|e| e.kind == EventKind::VersionStageChanged)
        .count();
    assert_eq!(changed, 5);
}

/// Registering a logged model adds the version to the model's `mlflow.modelVersions` tag, spelled as
/// MLflow spells it.
pub async fn registry_tags_the_logged_model(reg: Registry, tracking: Arc<dyn TrackingStore>) {
    let (exp, _) = experiment(&tracking, "registered").await;
    let id = LoggedModelId::generate();
    tracking
        .create_logged_model(NewLoggedModel {
            model_id: id.clone(),
            experiment_id: exp,
            name: "model".into(),
            model_type: None,
            source_run_id: None,
            params: Vec::new(),
            tags: Vec::new(),
            creation_timestamp_ms: T0,
        })
        .await
        .expect("logged model");
    let name = unique("from-logged");
    let c = who("a", T0);
    reg.create_registered_model(&name, None, Vec::new(), &c)
        .await
        .expect("create");
    for _ in 0..2 {
        let mut v = version(&name, &format!("models:/{id}"));
        v.model_id = Some(id.to_string());
        reg.create_model_version(v, &c).await.expect("register");
    }
    let model = tracking.get_logged_model(&id).await.expect("get");
    let tag = model
        .tags
        .iter()
        .find(|t| t.key == "mlflow.modelVersions")
        .expect("tag");
    assert_eq!(
        tag.value,
        format!(r#"[{{"name": "{name}", "version": 1}}, {{"name": "{name}", "version": 2}}]"#)
    );
}

/// Versions registered at once on one model get distinct consecutive numbers, and their events follow
/// commit order. Pass several registries on one database to race servers.
pub async fn registry_concurrent_versions(registries: &[Registry]) {
    let name = unique("raced");
    let c = who("a", T0);
    registries[0]
        .create_registered_model(&name, None, Vec::new(), &c)
        .await
        .expect("create");
    let start = registries[0]
        .events(EventQuery {
            model: None,
            after_seq: 0,
            limit: 1_000_000,
        })
        .await
        .unwrap();
    let from = start.last().map_or(0, |e| e.seq);
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let reg = registries[i % registries.len()].clone();
            let name = name.clone();
            tokio::spawn(async move {
                reg.create_model_version(version(&name, &format!("s3://b/{i}")), &who("a", T0))
                    .await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.expect("task").expect("version").version);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=24).collect::<Vec<_>>());
    let feed = registries[0]
        .events(EventQuery {
            model: None,
            after_seq: from,
            limit: 1_000_000,
        })
        .await
        .unwrap();
    let mine: Vec<i64> = feed
        .iter()
        .filter(|e| e.model_name == name)
        .filter_map(|e| e.version)
        .collect();
    assert_eq!(mine, (1..=24).collect::<Vec<_>>(), "events in commit order");
}

/// Listings are never stale: a write through another store (another server on the same database) shows
/// in the next listing of this one, however its listings are cached.
pub async fn registry_lists_see_other_writers(a: Registry, b: Registry) {
    let name = unique("seen");
    let c = who("a", T0);
    a.create_registered_model(&name, None, Vec::new(), &c)
        .await
        .expect("create");
    let count = |reg: Registry, name: String| async move {
        reg.list_model_versions(Some(&name))
            .await
            .expect("list")
            .len()
    };
    for i in 1..=3 {
        assert_eq!(count(a.clone(), name.clone()).await, i - 1);
        b.create_model_version(version(&name, "s3://b/x"), &c)
            .await
            .expect("version");
        assert_eq!(count(a.clone(), name.clone()).await, i);
    }
    b.delete_model_version(&name, 2, &c).await.expect("delete");
    let live: Vec<i64> = a
        .list_model_versions(Some(&name))
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(live, [1, 3]);
    b.set_alias(&name, "x", 3, &c).await.expect("alias");
    let models = a.list_registered_models().await.unwrap();
    let m = models.iter().find(|m| m.name == name).expect("listed");
    assert_eq!(m.aliases.len(), 1);
    // Point reads too, through renames and deletes made elsewhere.
    assert_eq!(
        a.get_version_by_alias(&name, "x")
            .await
            .unwrap()
            .unwrap()
            .version,
        3
    );
    b.set_alias(&name, "x", 1, &c).await.expect("move");
    assert_eq!(
        a.get_version_by_alias(&name, "x")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    let renamed = unique("seen-renamed");
    b.rename_registered_model(&name, &renamed, &c)
        .await
        .expect("rename");
    not_found(a.get_registered_model(&name).await);
    not_found(a.get_model_version(&name, 1).await);
    assert_eq!(
        a.get_model_version(&renamed, 3)
            .await
            .expect("follows")
            .version,
        3
    );
    // A name given up and taken again between two reads: both models are right.
    let third = unique("seen-third");
    b.rename_registered_model(&renamed, &third, &c)
        .await
        .expect("rename again");
    b.create_registered_model(&renamed, Some("new"), Vec::new(), &c)
        .await
        .expect("retake");
    let retaken = a.get_registered_model(&renamed).await.unwrap();
    assert_eq!(retaken.description.as_deref(), Some("new"));
    assert_eq!(
        a.list_model_versions(Some(&renamed)).await.unwrap().len(),
        0
    );
    assert_eq!(a.list_model_versions(Some(&third)).await.unwrap().len(), 2);
    b.delete_registered_model(&third, &c).await.expect("delete");
    b.delete_registered_model(&renamed, &c)
        .await
        .expect("delete");
    not_found(a.get_registered_model(&renamed).await);
    // Many models changed at once (past the incremental limit): still exact.
    let many: Vec<String> = (0..70).map(|i| format!("{}-{i}", unique("bulk"))).collect();
    for n in &many {
        b.create_registered_model(n, None, Vec::new(), &c)
            .await
            .expect("bulk");
    }
    let listed: std::collections::HashSet<String> = a
        .list_registered_models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert!(many.iter().all(|n| listed.contains(n)));
    assert!(!listed.contains(&renamed));
}

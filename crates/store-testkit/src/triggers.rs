//! The [`TriggerStore`] contract, checked through several stores on one database (several servers):
//! registering replaces a pipeline's triggers and keeps a trigger paused; a slot fires once however
//! many callers race on it; a queued run is claimed by one server, and claimed again only once its
//! lease has lapsed; `skip`, `cancel_previous` and an alert's cooldown decide whether a firing queues
//! a run.

use std::sync::Arc;

use cairn_domain::pipeline::{PipelineRunStatus, SnapshotFile};
use cairn_domain::trigger::{Concurrency, FireOutcome};
use cairn_store::{
    Lease, NewFire, NewPipelineVersion, PipelineRunEnd, PipelineStore, TriggerStore,
};
use serde_json::json;

use crate::fixtures::{T0, unique};

fn version(name: &str, triggers: serde_json::Value) -> NewPipelineVersion {
    NewPipelineVersion {
        name: name.to_owned(),
        file: "cairn.yaml".into(),
        files: vec![SnapshotFile {
            path: "cairn.yaml".into(),
            digest: "a".repeat(64),
            size: 1,
            executable: false,
        }],
        digest: unique("digest"),
        triggers,
    }
}

fn fire(pipeline: &str, trigger: &str, slot: &str, run: &str) -> NewFire {
    NewFire {
        pipeline: pipeline.into(),
        trigger: trigger.into(),
        slot: slot.into(),
        cause: json!({ "kind": "cron", "trigger": trigger, "slot": slot }),
        run_id: run.into(),
        cooldown_ms: 0,
        concurrency: Concurrency::Queue,
        max_active_runs: 1,
        params: Default::default(),
    }
}

fn ended(status: PipelineRunStatus) -> PipelineRunEnd {
    PipelineRunEnd {
        status,
        exit_code: Some(0),
        report: None,
    }
}

/// `stores` are several stores on one database (at least two), as several servers see it.
pub async fn triggers_fire_once_and_runs_are_leased(
    pipelines: Arc<dyn PipelineStore>,
    stores: Vec<Arc<dyn TriggerStore>>,
) {
    assert!(
        stores.len() >= 2,
        "the check needs two stores on one database"
    );
    let name = unique("pipe");
    pipelines
        .register_pipeline(
            &version(&name, json!({ "tick": {"cron": "* * * * *"}, "hand": {} })),
            "ci",
            T0,
        )
        .await
        .expect("register");
    let listed = stores[0].list_triggers(Some(&name)).await.expect("list");
    assert_eq!(
        listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["hand", "tick"]
    );
    stores[1]
        .set_trigger_paused(&name, "tick", true, "ops", T0 + 1)
        .await
        .expect("pause");
    // Registering again: `hand` goes, `tick` stays paused, `new` arrives.
    pipelines
        .register_pipeline(
            &version(&name, json!({ "tick": {"cron": "* * * * *"}, "new": {} })),
            "ci",
            T0 + 2,
        )
        .await
        .expect("re-register");
    let listed = stores[0].list_triggers(Some(&name)).await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|t| (t.name.as_str(), t.paused))
            .collect::<Vec<_>>(),
        [("new", false), ("tick", true)]
    );
    assert!(stores[0].get_trigger(&name, "hand").await.is_err());

    // Eight callers over the stores race on one slot: one firing, one run.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = stores[i % stores.len()].clone();
        let f = fire(&name, "tick", "slot-1", &format!("{:0>32}", i + 1));
        tasks.push(tokio::spawn(
            async move { store.fire(&f, "s", T0 + 10).await },
        ));
    }
    let mut new = 0;
    let mut runs = std::collections::BTreeSet::new();
    for t in tasks {
        let fired = t.await.expect("task").expect("fire");
        new += usize::from(fired.new);
        runs.insert(fired.fire.run_id.clone().expect("a run"));
    }
    assert_eq!((new, runs.len()), (1, 1), "one slot, one firing, one run");
    let run_id = runs.into_iter().next().unwrap();
    assert_eq!(
        pipelines.get_pipeline_run(&run_id).await.unwrap().status,
        PipelineRunStatus::Queued
    );

    // Two servers claim at once: one gets it.
    let (a, b) = tokio::join!(
        stores[0].claim_run("a", T0 + 1_000, T0 + 20),
        stores[1].claim_run("b", T0 + 1_000, T0 + 20)
    );
    let claims: Vec<_> = [a.unwrap(), b.unwrap()]
        .into_iter()
        .flatten()
        .filter(|r| r.run_id == run_id)
        .collect();
    assert_eq!(claims.len(), 1, "one server claims a run");
    let holder = claims[0].execution.clone().unwrap().claimed_by.unwrap();
    let other = if holder == "a" { "b" } else { "a" };
    assert_eq!(
        stores[0]
            .renew_lease(&run_id, other, T0 + 2_000)
            .await
            .unwrap(),
        Lease::Lost
    );
    assert_eq!(
        stores[0]
            .renew_lease(&run_id, &holder, T0 + 2_000)
            .await
            .unwrap(),
        Lease::Held {
            cancel_requested: false
        }
    );
    // Its lease holds: nobody else claims it; once lapsed (the holder died), the other does.
    assert!(
        stores[1]
            .claim_run(other, T0 + 3_000, T0 + 1_500)
            .await
            .unwrap()
            .is_none()
    );
    let again = stores[1]
        .claim_run(other, T0 + 9_000, T0 + 2_500)
        .await
        .unwrap()
        .expect("re-claimed after the lease lapsed");
    let exec = again.execution.unwrap();
    assert_eq!((again.run_id.as_str(), exec.attempts), (run_id.as_str(), 2));
    assert_eq!(exec.claimed_by.as_deref(), Some(other));
    assert_eq!(
        stores[0]
            .renew_lease(&run_id, &holder, T0 + 9_000)
            .await
            .unwrap(),
        Lease::Lost,
        "the dead server's lease is gone"
    );

    // skip: the pipeline is busy, so no run.
    let mut f = fire(&name, "new", "k1", &format!("{:0>32}", 100));
    f.concurrency = Concurrency::Skip;
    let skipped = stores[0].fire(&f, "s", T0 + 3_000).await.unwrap();
    assert_eq!(skipped.fire.outcome, FireOutcome::Skipped);
    assert!(skipped.fire.run_id.is_none());
    assert!(skipped.fire.reason.unwrap().contains("active"));
    // cancel_previous: the running run is asked to stop, the new one queues.
    let mut f = fire(&name, "new", "k2", &format!("{:0>32}", 101));
    f.concurrency = Concurrency::CancelPrevious;
    let queued = stores[0].fire(&f, "s", T0 + 3_100).await.unwrap();
    assert_eq!(queued.fire.outcome, FireOutcome::Started);
    assert_eq!(
        stores[0]
            .renew_lease(&run_id, other, T0 + 9_500)
            .await
            .unwrap(),
        Lease::Held {
            cancel_requested: true
        }
    );
    pipelines
        .finish_pipeline_run(
            &run_id,
            &ended(PipelineRunStatus::Cancelled),
            "executor",
            T0 + 3_200,
        )
        .await
        .unwrap();
    let next = stores[0]
        .claim_run("a", T0 + 20_000, T0 + 3_300)
        .await
        .unwrap()
        .expect("the queued run");
    assert_eq!(next.run_id, format!("{:0>32}", 101));
    // A cooldown holds a second alert back while the first run is recent.
    let mut f = fire(&name, "new", "alert:1", &format!("{:0>32}", 102));
    f.cooldown_ms = 60_000;
    let held = stores[0].fire(&f, "s", T0 + 3_400).await.unwrap();
    assert_eq!(held.fire.outcome, FireOutcome::Skipped);
    assert!(held.fire.reason.unwrap().contains("cooldown"));
    // Firings are listed newest first.
    let fires = stores[1].list_fires(&name, "new", 10).await.unwrap();
    assert_eq!(
        fires.iter().map(|f| f.slot.as_str()).collect::<Vec<_>>(),
        ["alert:1", "k2", "k1"]
    );
    // A trigger that does not exist cannot fire.
    assert!(
        stores[0]
            .fire(&fire(&name, "nope", "x", &format!("{:0>32}", 103)), "s", T0)
            .await
            .is_err()
    );
}

//! The [`DeploymentStore`] contract: names unique, writes conditional on the revision read, every
//! change in the history (which outlives the deployment), and nothing written by a refused write.

use std::sync::Arc;

use cairn_domain::deployment::{
    DeploymentEventKind, DeploymentSpec, DeploymentState, ModelRef, Resolved, Serving,
};
use cairn_store::{DeploymentChange, DeploymentStore, StoreError};

use crate::fixtures::{T0, unique};

fn state(uri: &str, version: i64) -> DeploymentState {
    let model = ModelRef::parse(uri).expect("valid reference");
    DeploymentState {
        serving: Serving {
            primary: Resolved {
                name: model.name.clone(),
                version,
            },
            canary: None,
        },
        spec: DeploymentSpec {
            model,
            canary: None,
            log_sample: Default::default(),
            rollout: None,
        },
        rollout: None,
    }
}

fn change(kind: DeploymentEventKind, actor: &str, at: i64) -> DeploymentChange {
    DeploymentChange {
        kind,
        actor: actor.to_owned(),
        timestamp_ms: at,
    }
}

pub async fn deployments_lifecycle(store: Arc<dyn DeploymentStore>) {
    use DeploymentEventKind::*;
    let name = unique("dep");
    let v1 = state("models:/m@champion", 1);
    let created = store
        .create_deployment(&name, &v1, &change(Created, "alice", T0))
        .await
        .unwrap();
    assert_eq!((created.revision, created.created_ms), (1, T0));
    assert!(matches!(
        store
            .create_deployment(&name, &v1, &change(Created, "bob", T0 + 1))
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.get_deployment(&name).await.unwrap(), created);
    assert!(
        store
            .list_deployments()
            .await
            .unwrap()
            .iter()
            .any(|d| d == &created)
    );

    // A write at the revision read succeeds once; a second writer that read the same revision loses.
    let v2 = state("models:/m@champion", 2);
    let moved = store
        .update_deployment(&name, 1, &v2, &change(RolledOut, "carol", T0 + 2))
        .await
        .unwrap()
        .expect("at revision 1");
    assert_eq!(
        (moved.revision, moved.updated_ms, &moved.state),
        (2, T0 + 2, &v2)
    );
    assert_eq!(
        store
            .update_deployment(&name, 1, &v1, &change(RolledOut, "dave", T0 + 3))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_deployment(&name).await.unwrap(), moved);

    store
        .delete_deployment(&name, &change(Deleted, "erin", T0 + 4))
        .await
        .unwrap();
    assert!(matches!(
        store.get_deployment(&name).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .delete_deployment(&name, &change(Deleted, "erin", T0 + 5))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .update_deployment(&name, 3, &v1, &change(Updated, "erin", T0 + 5))
            .await,
        Err(StoreError::NotFound(_))
    ));

    // The history: every change, in order, with before and after; the lost write and refusals absent.
    let events = store.deployment_events(&name, 0, 100).await.unwrap();
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.kind, e.actor.as_str(), e.timestamp_ms))
        .collect();
    assert_eq!(
        summary,
        [
            (Created, "alice", T0),
            (RolledOut, "carol", T0 + 2),
            (Deleted, "erin", T0 + 4)
        ]
    );
    assert_eq!(
        (&events[0].before, &events[0].after),
        (&None, &Some(v1.clone()))
    );
    assert_eq!(
        (&events[1].before, &events[1].after),
        (&Some(v1), &Some(v2.clone()))
    );
    assert_eq!((&events[2].before, &events[2].after), (&Some(v2), &None));
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    // Paging: after a sequence number, at most `limit`.
    let rest = store
        .deployment_events(&name, events[0].seq, 1)
        .await
        .unwrap();
    assert_eq!(rest, events[1..2]);
    assert!(matches!(
        store.deployment_events(&unique("never"), 0, 10).await,
        Err(StoreError::NotFound(_))
    ));
}

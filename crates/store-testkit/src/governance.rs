//! The [`GovernanceStore`] contract, through several stores on one database (several servers): users,
//! grants and protections; a promotion request's life (one pending request per target, one verdict per
//! approver even when two servers race, the alias moved in the transaction that applies it, a request
//! ends once); and the audit chain — every change-log entry chained in its own transaction, contiguous
//! and verifying, however many writers race.

use std::sync::Arc;

use cairn_domain::governance::{
    Approval, GrantRecord, Promotion, PromotionState, Protection, User,
};
use cairn_domain::{Change, Clash};
use cairn_governance::audit::{Outcome, StoredEntry, Verifier};
use cairn_store::{GovernanceStore, NewModelVersion, PromotionEnd, RegistryStore, StoreError};
use serde_json::json;

use crate::fixtures::{T0, unique};

fn by(actor: &str) -> Change {
    Change {
        actor: actor.to_owned(),
        at_ms: T0,
    }
}

fn user(name: &str) -> User {
    User {
        name: name.to_owned(),
        password_hash: Some("$argon2id$test".into()),
        is_admin: false,
        created_ms: T0,
        updated_ms: T0,
    }
}

fn request(id: &str, model: &str) -> Promotion {
    Promotion {
        id: id.to_owned(),
        model: model.to_owned(),
        version: 1,
        alias: "production".into(),
        reason: "test".into(),
        state: PromotionState::Open,
        requested_by: "alice".into(),
        requested_via: "password".into(),
        version_creator: Some("alice".into()),
        artifact_digest: Some("blake3:00".into()),
        required_approvals: 2,
        approvals: Vec::new(),
        previous_version: None,
        decision_id: None,
        note: None,
        created_ms: T0,
        updated_ms: T0,
        expires_ms: T0 + 86_400_000,
    }
}

fn approval(who: &str) -> Approval {
    Approval {
        by: who.to_owned(),
        verdict: "approve".into(),
        comment: None,
        at_ms: T0,
        via: "token".into(),
    }
}

/// Checks the whole chain with the verifier: contiguous, every hash and link right.
async fn assert_chain_intact(store: &dyn GovernanceStore) -> u64 {
    let log_id = store.audit_log_id().await.expect("log id");
    let mut v = Verifier::new(&log_id, None, Vec::new());
    let mut after = 0;
    loop {
        let rows = store.audit_rows(after, 1000).await.expect("rows");
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for r in &rows {
            v.push(&StoredEntry {
                seq: r.seq,
                ts_ms: r.ts_ms,
                actor: r.actor.clone(),
                action: r.action.clone(),
                resource_kind: r.resource_kind.clone(),
                resource_id: r.resource_id.clone(),
                entry: r.entry.clone().into_bytes(),
                leaf_hash: hex_decode(&r.leaf_hash),
                chain_hash: hex_decode(&r.chain_hash),
            });
        }
    }
    let report = v.finish();
    assert!(
        !matches!(report.outcome, Outcome::Tampered { .. }),
        "the chain does not verify: {:?}",
        report.outcome
    );
    report.entries
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

pub async fn governance_records_and_chain(
    stores: Vec<Arc<dyn GovernanceStore>>,
    registry: Arc<dyn RegistryStore>,
) {
    let g = stores[0].clone();
    let before = assert_chain_intact(g.as_ref()).await;

    // Users and grants: a name once; a grant added and removed once.
    let alice = unique("alice");
    g.create_user(&user(&alice), &by("admin"))
        .await
        .expect("user");
    assert!(matches!(
        g.create_user(&user(&alice), &by("admin")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let grant = GrantRecord {
        user: alice.clone(),
        role: "scientist".into(),
        scope: "model:fraud*".into(),
        created_ms: T0,
        created_by: "admin".into(),
    };
    assert!(g.add_grant(&grant, &by("admin")).await.expect("grant"));
    assert!(!g.add_grant(&grant, &by("admin")).await.expect("again"));
    assert_eq!(
        g.grants(Some(&alice)).await.expect("grants"),
        vec![grant.clone()]
    );
    assert!(
        g.remove_grant(&alice, "scientist", "model:fraud*", &by("admin"))
            .await
            .expect("rm")
    );
    assert!(
        !g.remove_grant(&alice, "scientist", "model:fraud*", &by("admin"))
            .await
            .expect("rm2")
    );

    // Protections replace per (models, alias).
    let model = unique("fraud");
    let mut rule = Protection {
        models: model.clone(),
        alias: "production".into(),
        approvals: 1,
        created_ms: T0,
        created_by: "admin".into(),
    };
    g.set_protection(&rule, &by("admin"))
        .await
        .expect("protect");
    rule.approvals = 2;
    g.set_protection(&rule, &by("admin"))
        .await
        .expect("protect again");
    let mine: Vec<Protection> = g
        .protections()
        .await
        .expect("list")
        .into_iter()
        .filter(|p| p.models == model)
        .collect();
    assert_eq!(mine, vec![rule]);

    // A promotion request: one pending request per target.
    registry
        .create_registered_model(&model, None, Vec::new(), &by("alice"))
        .await
        .expect("model");
    registry
        .create_model_version(
            NewModelVersion {
                name: model.clone(),
                source: "s3://b/m".into(),
                storage_location: "s3://b/m".into(),
                run_id: None,
                run_link: None,
                model_id: None,
                description: None,
                tags: Vec::new(),
                user_id: Some("alice".into()),
            },
            &by("alice"),
        )
        .await
        .expect("version");
    let id = unique("pr");
    g.create_promotion(&request(&id, &model), &by("alice"))
        .await
        .expect("request");
    assert!(matches!(
        g.create_promotion(&request(&unique("pr"), &model), &by("alice"))
            .await,
        Err(StoreError::Conflict(Clash::Governed(_)))
    ));

    // The same approver through two servers at once: one verdict counts.
    let mut racers = Vec::new();
    for s in &stores {
        let (s, id) = (s.clone(), id.clone());
        racers.push(tokio::spawn(async move {
            s.add_verdict(
                &id,
                PromotionState::Open,
                &approval("bob"),
                PromotionState::Open,
                &by("bob"),
            )
            .await
        }));
    }
    let mut won = 0;
    for r in racers {
        match r.await.expect("join") {
            Ok(_) => won += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(won, 1, "one verdict per approver");
    let p = g
        .add_verdict(
            &id,
            PromotionState::Open,
            &approval("carol"),
            PromotionState::Approved,
            &by("carol"),
        )
        .await
        .expect("second approval");
    assert_eq!(p.approvers().collect::<Vec<_>>(), vec!["bob", "carol"]);

    // Applying moves the alias in the same transaction, and only once; a compare-and-set that finds the
    // alias elsewhere applies nothing.
    let moved_elsewhere = g
        .end_promotion(
            &id,
            PromotionEnd {
                state: PromotionState::Applied,
                note: None,
                move_alias: Some(Some(7)),
            },
            &by("carol"),
        )
        .await;
    assert!(matches!(
        moved_elsewhere,
        Err(StoreError::Conflict(Clash::AliasMoved { .. }))
    ));
    assert_eq!(
        g.promotion(&id).await.expect("get").state,
        PromotionState::Approved
    );
    let applied = g
        .end_promotion(
            &id,
            PromotionEnd {
                state: PromotionState::Applied,
                note: None,
                move_alias: Some(None),
            },
            &by("carol"),
        )
        .await
        .expect("apply");
    assert_eq!(applied.state, PromotionState::Applied);
    let v = registry
        .get_version_by_alias(&model, "production")
        .await
        .expect("alias")
        .expect("set");
    assert_eq!(v.version, 1);
    assert!(matches!(
        g.end_promotion(
            &id,
            PromotionEnd {
                state: PromotionState::Failed,
                note: None,
                move_alias: None
            },
            &by("x")
        )
        .await,
        Err(StoreError::Conflict(_))
    ));

    // Writers racing through every store: the chain stays contiguous and verifying.
    let mut writers = Vec::new();
    for i in 0..16 {
        let s = stores[i % stores.len()].clone();
        writers.push(tokio::spawn(async move {
            s.record_event("race", "denied", json!({ "i": i }), &by("mallory"))
                .await
        }));
    }
    for w in writers {
        w.await.expect("join").expect("event");
    }
    let after = assert_chain_intact(g.as_ref()).await;
    // users, grants ×2, protections ×2, model, version, request, verdicts ×2, apply (alias + request), races.
    assert!(after >= before + 16 + 11, "{before} → {after}");
    let rows = g.audit_rows(before as i64, 10_000).await.expect("rows");
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    for want in [
        "governance.user_created",
        "governance.grant_added",
        "governance.protection_set",
        "governance.promotion_requested",
        "governance.promotion_approved",
        "registry.alias_set",
        "governance.promotion_applied",
        "governance.denied",
    ] {
        assert!(actions.contains(&want), "{want} not chained: {actions:?}");
    }
    // The alias move and the request's end are chained one after the other (one transaction).
    let i = actions
        .iter()
        .position(|a| *a == "registry.alias_set")
        .expect("alias");
    assert_eq!(actions[i + 1], "governance.promotion_applied");
}

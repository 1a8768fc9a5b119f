//! Protected aliases, promotion requests with their verdicts, policy bundles and decisions, model cards.

use cairn_domain::governance::{
    Approval, CardRecord, PolicyBundleRecord, PolicyDecision, Promotion, PromotionState, Protection,
};
use cairn_domain::{Change, Clash, Missing};
use cairn_store::{PromotionEnd, StoreError, StoreResult};
use serde_json::{Value, json};

use super::{SqlGovernance, corrupt, log};
use crate::registry::{Row, Tx, move_alias};

const PROTECTION_COLUMNS: &str = "models, alias, approvals, created_ms, created_by";
const PROMOTION_COLUMNS: &str = "id, model, version, alias, reason, state, requested_by, version_creator, \
     artifact_digest, required_approvals, approvals_json, previous_version, decision_id, note, created_ms, \
     updated_ms, expires_ms, requested_via";
const DECISION_COLUMNS: &str =
    "id, promotion_id, action, bundle_hash, input_hash, input_json, result_json, allow, at_ms";

fn protection_row(r: &Row) -> StoreResult<Protection> {
    Ok(Protection {
        models: r.text(0)?,
        alias: r.text(1)?,
        approvals: r.int(2)?,
        created_ms: r.int(3)?,
        created_by: r.text(4)?,
    })
}

fn promotion_row(r: &Row) -> StoreResult<Promotion> {
    let state = r.text(5)?;
    Ok(Promotion {
        id: r.text(0)?,
        model: r.text(1)?,
        version: r.int(2)?,
        alias: r.text(3)?,
        reason: r.text(4)?,
        state: PromotionState::parse(&state).ok_or_else(|| corrupt("promotion state", &state))?,
        requested_by: r.text(6)?,
        version_creator: r.opt_text(7)?,
        artifact_digest: r.opt_text(8)?,
        required_approvals: r.int(9)?,
        approvals: serde_json::from_str(&r.text(10)?).map_err(|e| corrupt("approvals", e))?,
        previous_version: r.opt_int(11)?,
        decision_id: r.opt_text(12)?,
        note: r.opt_text(13)?,
        created_ms: r.int(14)?,
        updated_ms: r.int(15)?,
        expires_ms: r.int(16)?,
        requested_via: r.text(17)?,
    })
}

fn decision_row(r: &Row) -> StoreResult<PolicyDecision> {
    Ok(PolicyDecision {
        id: r.text(0)?,
        promotion_id: r.opt_text(1)?,
        action: r.text(2)?,
        bundle_hash: r.text(3)?,
        input_hash: r.text(4)?,
        input: serde_json::from_str(&r.text(5)?).map_err(|e| corrupt("decision input", e))?,
        result: serde_json::from_str(&r.text(6)?).map_err(|e| corrupt("decision result", e))?,
        allow: r.int(7)? != 0,
        at_ms: r.int(8)?,
    })
}

async fn fetch_promotion(tx: &mut dyn Tx, id: &str) -> StoreResult<Promotion> {
    tx.query(
        &format!("SELECT {PROMOTION_COLUMNS} FROM promotions WHERE id = $1"),
        vec![id.into()],
    )
    .await?
    .first()
    .map(promotion_row)
    .transpose()?
    .ok_or_else(|| {
        StoreError::NotFound(Missing::Governed {
            kind: "Promotion request",
            key: id.to_owned(),
        })
    })
}

/// What every promotion's change-log entry says about it.
fn promotion_detail(p: &Promotion) -> Value {
    json!({
        "promotion": p.id,
        "model": p.model,
        "version": p.version,
        "alias": p.alias,
        "state": p.state.as_str(),
        "approvals": p.approvers().collect::<Vec<_>>(),
        "required_approvals": p.required_approvals,
        "artifact_digest": p.artifact_digest,
        "decision_id": p.decision_id,
    })
}

impl SqlGovernance {
    pub(super) async fn set_protection_impl(
        &self,
        rule: &Protection,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO protections ({PROTECTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (models, alias) DO UPDATE SET approvals = excluded.approvals, \
                     created_ms = excluded.created_ms, created_by = excluded.created_by"
                ),
                vec![
                    (&rule.models).into(),
                    (&rule.alias).into(),
                    rule.approvals.into(),
                    rule.created_ms.into(),
                    (&rule.created_by).into(),
                ],
            )
            .await?;
            log(
                tx,
                &rule.models,
                "protection_set",
                json!({"models": rule.models, "alias": rule.alias, "approvals": rule.approvals}),
                change,
            )
            .await
        })
    }

    pub(super) async fn remove_protection_impl(
        &self,
        models: &str,
        alias: &str,
        change: &Change,
    ) -> StoreResult<bool> {
        write!(self, |tx| {
            let n = tx
                .execute(
                    "DELETE FROM protections WHERE models = $1 AND alias = $2",
                    vec![models.into(), alias.into()],
                )
                .await?;
            if n == 0 {
                return Ok(false);
            }
            log(
                tx,
                models,
                "protection_removed",
                json!({"models": models, "alias": alias}),
                change,
            )
            .await?;
            Ok(true)
        })
    }

    pub(super) async fn protections_impl(&self) -> StoreResult<Vec<Protection>> {
        read!(self, |tx| {
            tx.query(
                &format!("SELECT {PROTECTION_COLUMNS} FROM protections ORDER BY models, alias"),
                vec![],
            )
            .await?
            .iter()
            .map(protection_row)
            .collect()
        })
    }

    pub(super) async fn create_promotion_impl(
        &self,
        p: &Promotion,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            let pending = tx
                .query(
                    "SELECT id FROM promotions WHERE model = $1 AND alias = $2 AND version = $3 \
                     AND state IN ('open', 'approved')",
                    vec![(&p.model).into(), (&p.alias).into(), p.version.into()],
                )
                .await?;
            if let Some(r) = pending.first() {
                return Err(StoreError::Conflict(Clash::Governed(format!(
                    "promotion request {} already asks for version {} of '{}' at @{}",
                    r.text(0)?,
                    p.version,
                    p.model,
                    p.alias
                ))));
            }
            let seq = tx
                .query("SELECT COALESCE(MAX(seq), 0) + 1 FROM promotions", vec![])
                .await?
                .first()
                .map(|r| r.int(0))
                .transpose()?
                .unwrap_or(1);
            tx.execute(
                &format!(
                    "INSERT INTO promotions (seq, {PROMOTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, \
                     $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
                ),
                vec![
                    seq.into(),
                    (&p.id).into(),
                    (&p.model).into(),
                    p.version.into(),
                    (&p.alias).into(),
                    (&p.reason).into(),
                    p.state.as_str().into(),
                    (&p.requested_by).into(),
                    (&p.version_creator).into(),
                    (&p.artifact_digest).into(),
                    p.required_approvals.into(),
                    serde_json::to_string(&p.approvals)
                        .map_err(|e| corrupt("approvals", e))?
                        .into(),
                    p.previous_version.into(),
                    (&p.decision_id).into(),
                    (&p.note).into(),
                    p.created_ms.into(),
                    p.updated_ms.into(),
                    p.expires_ms.into(),
                    (&p.requested_via).into(),
                ],
            )
            .await?;
            let mut detail = promotion_detail(p);
            detail["reason"] = p.reason.clone().into();
            log(tx, &p.id, "promotion_requested", detail, change).await
        })
    }

    pub(super) async fn promotion_impl(&self, id: &str) -> StoreResult<Promotion> {
        read!(self, |tx| { fetch_promotion(tx, id).await })
    }

    pub(super) async fn promotions_impl(
        &self,
        state: Option<PromotionState>,
        model: Option<&str>,
    ) -> StoreResult<Vec<Promotion>> {
        read!(self, |tx| {
            let rows = tx
                .query(
                    &format!(
                        "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE ($1 IS NULL OR state = $1) \
                         AND ($2 IS NULL OR model = $2) ORDER BY seq DESC"
                    ),
                    vec![state.map(|s| s.as_str()).into(), model.into()],
                )
                .await?;
            rows.iter().map(promotion_row).collect()
        })
    }

    pub(super) async fn add_verdict_impl(
        &self,
        id: &str,
        expect: PromotionState,
        verdict: &Approval,
        state: PromotionState,
        change: &Change,
    ) -> StoreResult<Promotion> {
        write!(self, |tx| {
            let mut p = fetch_promotion(tx, id).await?;
            if p.state != expect {
                return Err(StoreError::Conflict(Clash::Governed(format!(
                    "promotion request {id} is {}",
                    p.state.as_str()
                ))));
            }
            if p.approvals.iter().any(|a| a.by == verdict.by) {
                return Err(StoreError::Conflict(Clash::Governed(format!(
                    "{} already gave a verdict on promotion request {id}",
                    verdict.by
                ))));
            }
            p.approvals.push(verdict.clone());
            p.state = state;
            p.updated_ms = change.at_ms;
            if verdict.verdict == "reject" {
                p.note = verdict
                    .comment
                    .clone()
                    .or(Some(format!("rejected by {}", verdict.by)));
            }
            tx.execute(
                "UPDATE promotions SET approvals_json = $2, state = $3, updated_ms = $4, note = $5 \
                 WHERE id = $1",
                vec![
                    id.into(),
                    serde_json::to_string(&p.approvals)
                        .map_err(|e| corrupt("approvals", e))?
                        .into(),
                    p.state.as_str().into(),
                    p.updated_ms.into(),
                    (&p.note).into(),
                ],
            )
            .await?;
            let mut detail = promotion_detail(&p);
            detail["verdict"] = verdict.verdict.clone().into();
            detail["comment"] = verdict.comment.clone().into();
            let kind = if verdict.verdict == "reject" {
                "promotion_rejected"
            } else {
                "promotion_approved"
            };
            log(tx, id, kind, detail, change).await?;
            Ok(p)
        })
    }

    pub(super) async fn end_promotion_impl(
        &self,
        id: &str,
        end: PromotionEnd,
        change: &Change,
    ) -> StoreResult<Promotion> {
        write!(self, |tx| {
            let mut p = fetch_promotion(tx, id).await?;
            if !p.state.is_pending() {
                return Err(StoreError::Conflict(Clash::Governed(format!(
                    "promotion request {id} is already {}",
                    p.state.as_str()
                ))));
            }
            if let Some(expected) = end.move_alias {
                move_alias(tx, &p.model, &p.alias, p.version, Some(expected), change).await?;
                p.previous_version = expected;
            }
            p.state = end.state;
            p.note = end.note.or(p.note);
            p.updated_ms = change.at_ms;
            tx.execute(
                "UPDATE promotions SET state = $2, note = $3, updated_ms = $4, previous_version = $5 \
                 WHERE id = $1",
                vec![
                    id.into(),
                    p.state.as_str().into(),
                    (&p.note).into(),
                    p.updated_ms.into(),
                    p.previous_version.into(),
                ],
            )
            .await?;
            let mut detail = promotion_detail(&p);
            detail["note"] = p.note.clone().into();
            detail["previous_version"] = p.previous_version.into();
            log(
                tx,
                id,
                &format!("promotion_{}", p.state.as_str()),
                detail,
                change,
            )
            .await?;
            Ok(p)
        })
    }

    pub(super) async fn record_decision_impl(
        &self,
        d: &PolicyDecision,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            let seq = tx
                .query(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM policy_decisions",
                    vec![],
                )
                .await?
                .first()
                .map(|r| r.int(0))
                .transpose()?
                .unwrap_or(1);
            tx.execute(
                &format!(
                    "INSERT INTO policy_decisions (seq, {DECISION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, \
                     $6, $7, $8, $9, $10)"
                ),
                vec![
                    seq.into(),
                    (&d.id).into(),
                    (&d.promotion_id).into(),
                    (&d.action).into(),
                    (&d.bundle_hash).into(),
                    (&d.input_hash).into(),
                    d.input.to_string().into(),
                    d.result.to_string().into(),
                    i64::from(d.allow).into(),
                    d.at_ms.into(),
                ],
            )
            .await?;
            if let Some(pid) = &d.promotion_id {
                tx.execute(
                    "UPDATE promotions SET decision_id = $2 WHERE id = $1",
                    vec![pid.into(), (&d.id).into()],
                )
                .await?;
            }
            log(
                tx,
                d.promotion_id.as_deref().unwrap_or(&d.id),
                "policy_decision",
                json!({
                    "decision_id": d.id,
                    "promotion": d.promotion_id,
                    "action": d.action,
                    "bundle": d.bundle_hash,
                    "input_hash": d.input_hash,
                    "allow": d.allow,
                }),
                change,
            )
            .await
        })
    }

    pub(super) async fn decisions_impl(
        &self,
        promotion_id: Option<&str>,
    ) -> StoreResult<Vec<PolicyDecision>> {
        read!(self, |tx| {
            tx.query(
                &format!(
                    "SELECT {DECISION_COLUMNS} FROM policy_decisions WHERE ($1 IS NULL OR promotion_id = $1) \
                     ORDER BY seq DESC LIMIT 500"
                ),
                vec![promotion_id.into()],
            )
            .await?
            .iter()
            .map(decision_row)
            .collect()
        })
    }

    pub(super) async fn activate_policy_impl(
        &self,
        b: &PolicyBundleRecord,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            tx.execute("UPDATE policy_bundles SET active = 0", vec![])
                .await?;
            tx.execute(
                "INSERT INTO policy_bundles (hash, files_json, entrypoint, active, created_ms, created_by) \
                 VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (hash) DO UPDATE SET active = 1, \
                 entrypoint = excluded.entrypoint",
                vec![
                    (&b.hash).into(),
                    b.files.to_string().into(),
                    (&b.entrypoint).into(),
                    b.created_ms.into(),
                    (&b.created_by).into(),
                ],
            )
            .await?;
            let paths: Vec<Value> = b
                .files
                .as_array()
                .map(|fs| fs.iter().filter_map(|f| f.get("path").cloned()).collect())
                .unwrap_or_default();
            log(
                tx,
                "policy",
                "policy_activated",
                json!({"bundle": b.hash, "entrypoint": b.entrypoint, "files": paths}),
                change,
            )
            .await
        })
    }

    pub(super) async fn clear_policy_impl(&self, change: &Change) -> StoreResult<()> {
        write!(self, |tx| {
            let n = tx
                .execute(
                    "UPDATE policy_bundles SET active = 0 WHERE active = 1",
                    vec![],
                )
                .await?;
            if n > 0 {
                log(tx, "policy", "policy_cleared", json!({}), change).await?;
            }
            Ok(())
        })
    }

    pub(super) async fn active_policy_impl(&self) -> StoreResult<Option<PolicyBundleRecord>> {
        read!(self, |tx| {
            tx.query(
                "SELECT hash, files_json, entrypoint, created_ms, created_by FROM policy_bundles \
                 WHERE active = 1",
                vec![],
            )
            .await?
            .first()
            .map(|r| {
                Ok(PolicyBundleRecord {
                    hash: r.text(0)?,
                    files: serde_json::from_str(&r.text(1)?).map_err(|e| corrupt("policy", e))?,
                    entrypoint: r.text(2)?,
                    created_ms: r.int(3)?,
                    created_by: r.text(4)?,
                })
            })
            .transpose()
        })
    }

    pub(super) async fn put_card_impl(&self, c: &CardRecord, change: &Change) -> StoreResult<()> {
        write!(self, |tx| {
            tx.execute(
                "INSERT INTO model_cards (model, version, status, authored_json, updated_by, updated_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (model, version) DO UPDATE SET \
                 status = excluded.status, authored_json = excluded.authored_json, \
                 updated_by = excluded.updated_by, updated_ms = excluded.updated_ms",
                vec![
                    (&c.model).into(),
                    c.version.into(),
                    (&c.status).into(),
                    c.authored.to_string().into(),
                    (&c.updated_by).into(),
                    c.updated_ms.into(),
                ],
            )
            .await?;
            log(
                tx,
                &c.model,
                "card_updated",
                json!({"model": c.model, "version": c.version, "status": c.status,
                       "sections": c.authored.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>())}),
                change,
            )
            .await
        })
    }

    pub(super) async fn card_impl(
        &self,
        model: &str,
        version: i64,
    ) -> StoreResult<Option<CardRecord>> {
        read!(self, |tx| {
            tx.query(
                "SELECT model, version, status, authored_json, updated_by, updated_ms FROM model_cards \
                 WHERE model = $1 AND version = $2",
                vec![model.into(), version.into()],
            )
            .await?
            .first()
            .map(|r| {
                Ok(CardRecord {
                    model: r.text(0)?,
                    version: r.int(1)?,
                    status: r.text(2)?,
                    authored: serde_json::from_str(&r.text(3)?).map_err(|e| corrupt("card", e))?,
                    updated_by: r.text(4)?,
                    updated_ms: r.int(5)?,
                })
            })
            .transpose()
        })
    }
}

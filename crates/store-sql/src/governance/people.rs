//! Users, API tokens and grants.

use async_trait::async_trait;
use cairn_domain::governance::{ApiToken, GrantRecord, User};
use cairn_domain::{Change, Missing, Taken};
use cairn_store::{StoreError, StoreResult};
use serde_json::json;

use super::{SqlGovernance, log};
use crate::registry::{Row, Tx};

const USER_COLUMNS: &str = "name, password_hash, is_admin, created_ms, updated_ms";
const TOKEN_COLUMNS: &str = "id, user_name, name, secret_hash, created_ms, expires_ms, revoked_ms";
const GRANT_COLUMNS: &str = "user_name, role, scope, created_ms, created_by";

fn user_row(r: &Row) -> StoreResult<User> {
    Ok(User {
        name: r.text(0)?,
        password_hash: r.opt_text(1)?,
        is_admin: r.int(2)? != 0,
        created_ms: r.int(3)?,
        updated_ms: r.int(4)?,
    })
}

fn token_row(r: &Row) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: r.text(0)?,
        user: r.text(1)?,
        name: r.text(2)?,
        secret_hash: r.text(3)?,
        created_ms: r.int(4)?,
        expires_ms: r.opt_int(5)?,
        revoked_ms: r.opt_int(6)?,
    })
}

fn grant_row(r: &Row) -> StoreResult<GrantRecord> {
    Ok(GrantRecord {
        user: r.text(0)?,
        role: r.text(1)?,
        scope: r.text(2)?,
        created_ms: r.int(3)?,
        created_by: r.text(4)?,
    })
}

fn no_user(name: &str) -> StoreError {
    StoreError::NotFound(Missing::Governed {
        kind: "User",
        key: name.to_owned(),
    })
}

async fn fetch_user(tx: &mut dyn Tx, name: &str) -> StoreResult<Option<User>> {
    tx.query(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1"),
        vec![name.into()],
    )
    .await?
    .first()
    .map(user_row)
    .transpose()
}

impl SqlGovernance {
    pub(super) async fn create_user_impl(&self, user: &User, change: &Change) -> StoreResult<()> {
        write!(self, |tx| {
            if fetch_user(tx, &user.name).await?.is_some() {
                return Err(StoreError::AlreadyExists(Taken::Key(format!(
                    "User '{}' already exists.",
                    user.name
                ))));
            }
            tx.execute(
                &format!("INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"),
                vec![
                    (&user.name).into(),
                    user.password_hash.clone().into(),
                    i64::from(user.is_admin).into(),
                    user.created_ms.into(),
                    user.updated_ms.into(),
                ],
            )
            .await?;
            log(
                tx,
                &user.name,
                "user_created",
                json!({"user": user.name, "is_admin": user.is_admin}),
                change,
            )
            .await
        })
    }

    pub(super) async fn user_impl(&self, name: &str) -> StoreResult<Option<User>> {
        read!(self, |tx| { fetch_user(tx, name).await })
    }

    pub(super) async fn users_impl(&self) -> StoreResult<Vec<User>> {
        read!(self, |tx| {
            tx.query(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"),
                vec![],
            )
            .await?
            .iter()
            .map(user_row)
            .collect()
        })
    }

    pub(super) async fn update_user_impl(
        &self,
        name: &str,
        password_hash: Option<&str>,
        is_admin: Option<bool>,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            let user = fetch_user(tx, name).await?.ok_or_else(|| no_user(name))?;
            tx.execute(
                "UPDATE users SET password_hash = $2, is_admin = $3, updated_ms = $4 WHERE name = $1",
                vec![
                    name.into(),
                    password_hash
                        .map(str::to_owned)
                        .or(user.password_hash)
                        .into(),
                    i64::from(is_admin.unwrap_or(user.is_admin)).into(),
                    change.at_ms.into(),
                ],
            )
            .await?;
            let mut detail = json!({"user": name});
            if password_hash.is_some() {
                detail["password_changed"] = true.into();
            }
            if let Some(a) = is_admin {
                detail["is_admin"] = a.into();
            }
            log(tx, name, "user_updated", detail, change).await
        })
    }

    pub(super) async fn delete_user_impl(&self, name: &str, change: &Change) -> StoreResult<()> {
        write!(self, |tx| {
            fetch_user(tx, name).await?.ok_or_else(|| no_user(name))?;
            for sql in [
                "DELETE FROM api_tokens WHERE user_name = $1",
                "DELETE FROM grants WHERE user_name = $1",
                "DELETE FROM users WHERE name = $1",
            ] {
                tx.execute(sql, vec![name.into()]).await?;
            }
            log(tx, name, "user_deleted", json!({"user": name}), change).await
        })
    }

    pub(super) async fn create_token_impl(&self, t: &ApiToken, change: &Change) -> StoreResult<()> {
        write!(self, |tx| {
            fetch_user(tx, &t.user)
                .await?
                .ok_or_else(|| no_user(&t.user))?;
            tx.execute(
                &format!(
                    "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ),
                vec![
                    (&t.id).into(),
                    (&t.user).into(),
                    (&t.name).into(),
                    (&t.secret_hash).into(),
                    t.created_ms.into(),
                    t.expires_ms.into(),
                    t.revoked_ms.into(),
                ],
            )
            .await?;
            log(
                tx,
                &t.id,
                "token_created",
                json!({"token": t.id, "user": t.user, "name": t.name, "expires_ms": t.expires_ms}),
                change,
            )
            .await
        })
    }

    pub(super) async fn token_impl(&self, id: &str) -> StoreResult<Option<ApiToken>> {
        read!(self, |tx| {
            tx.query(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"),
                vec![id.into()],
            )
            .await?
            .first()
            .map(token_row)
            .transpose()
        })
    }

    pub(super) async fn tokens_impl(&self, user: Option<&str>) -> StoreResult<Vec<ApiToken>> {
        read!(self, |tx| {
            tx.query(
                &format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE ($1 IS NULL OR user_name = $1) \
                     ORDER BY created_ms"
                ),
                vec![user.into()],
            )
            .await?
            .iter()
            .map(token_row)
            .collect()
        })
    }

    pub(super) async fn revoke_token_impl(&self, id: &str, change: &Change) -> StoreResult<()> {
        write!(self, |tx| {
            let t = tx
                .query(
                    &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"),
                    vec![id.into()],
                )
                .await?
                .first()
                .map(token_row)
                .transpose()?
                .ok_or_else(|| {
                    StoreError::NotFound(Missing::Governed {
                        kind: "Token",
                        key: id.to_owned(),
                    })
                })?;
            if t.revoked_ms.is_some() {
                return Ok(());
            }
            tx.execute(
                "UPDATE api_tokens SET revoked_ms = $2 WHERE id = $1",
                vec![id.into(), change.at_ms.into()],
            )
            .await?;
            log(
                tx,
                id,
                "token_revoked",
                json!({"token": id, "user": t.user, "name": t.name}),
                change,
            )
            .await
        })
    }

    pub(super) async fn add_grant_impl(
        &self,
        g: &GrantRecord,
        change: &Change,
    ) -> StoreResult<bool> {
        write!(self, |tx| {
            fetch_user(tx, &g.user)
                .await?
                .ok_or_else(|| no_user(&g.user))?;
            let held = !tx
                .query(
                    "SELECT 1 FROM grants WHERE user_name = $1 AND role = $2 AND scope = $3",
                    vec![(&g.user).into(), (&g.role).into(), (&g.scope).into()],
                )
                .await?
                .is_empty();
            if held {
                return Ok(false);
            }
            tx.execute(
                &format!("INSERT INTO grants ({GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"),
                vec![
                    (&g.user).into(),
                    (&g.role).into(),
                    (&g.scope).into(),
                    g.created_ms.into(),
                    (&g.created_by).into(),
                ],
            )
            .await?;
            log(
                tx,
                &g.user,
                "grant_added",
                json!({"user": g.user, "role": g.role, "scope": g.scope}),
                change,
            )
            .await?;
            Ok(true)
        })
    }

    pub(super) async fn remove_grant_impl(
        &self,
        user: &str,
        role: &str,
        scope: &str,
        change: &Change,
    ) -> StoreResult<bool> {
        write!(self, |tx| {
            let n = tx
                .execute(
                    "DELETE FROM grants WHERE user_name = $1 AND role = $2 AND scope = $3",
                    vec![user.into(), role.into(), scope.into()],
                )
                .await?;
            if n == 0 {
                return Ok(false);
            }
            log(
                tx,
                user,
                "grant_removed",
                json!({"user": user, "role": role, "scope": scope}),
                change,
            )
            .await?;
            Ok(true)
        })
    }

    pub(super) async fn grants_impl(&self, user: Option<&str>) -> StoreResult<Vec<GrantRecord>> {
        read!(self, |tx| {
            tx.query(
                &format!(
                    "SELECT {GRANT_COLUMNS} FROM grants WHERE ($1 IS NULL OR user_name = $1) \
                     ORDER BY user_name, role, scope"
                ),
                vec![user.into()],
            )
            .await?
            .iter()
            .map(grant_row)
            .collect()
        })
    }
}

#[async_trait]
impl cairn_store::GovernanceStore for SqlGovernance {
    async fn create_user(&self, user: &User, change: &Change) -> StoreResult<()> {
        self.create_user_impl(user, change).await
    }
    async fn user(&self, name: &str) -> StoreResult<Option<User>> {
        self.user_impl(name).await
    }
    async fn users(&self) -> StoreResult<Vec<User>> {
        self.users_impl().await
    }
    async fn update_user(
        &self,
        name: &str,
        password_hash: Option<&str>,
        is_admin: Option<bool>,
        change: &Change,
    ) -> StoreResult<()> {
        self.update_user_impl(name, password_hash, is_admin, change)
            .await
    }
    async fn delete_user(&self, name: &str, change: &Change) -> StoreResult<()> {
        self.delete_user_impl(name, change).await
    }
    async fn create_token(&self, token: &ApiToken, change: &Change) -> StoreResult<()> {
        self.create_token_impl(token, change).await
    }
    async fn token(&self, id: &str) -> StoreResult<Option<ApiToken>> {
        self.token_impl(id).await
    }
    async fn tokens(&self, user: Option<&str>) -> StoreResult<Vec<ApiToken>> {
        self.tokens_impl(user).await
    }
    async fn revoke_token(&self, id: &str, change: &Change) -> StoreResult<()> {
        self.revoke_token_impl(id, change).await
    }
    async fn add_grant(&self, grant: &GrantRecord, change: &Change) -> StoreResult<bool> {
        self.add_grant_impl(grant, change).await
    }
    async fn remove_grant(
        &self,
        user: &str,
        role: &str,
        scope: &str,
        change: &Change,
    ) -> StoreResult<bool> {
        self.remove_grant_impl(user, role, scope, change).await
    }
    async fn grants(&self, user: Option<&str>) -> StoreResult<Vec<GrantRecord>> {
        self.grants_impl(user).await
    }
    async fn set_protection(
        &self,
        rule: &cairn_domain::governance::Protection,
        change: &Change,
    ) -> StoreResult<()> {
        self.set_protection_impl(rule, change).await
    }
    async fn remove_protection(
        &self,
        models: &str,
        alias: &str,
        change: &Change,
    ) -> StoreResult<bool> {
        self.remove_protection_impl(models, alias, change).await
    }
    async fn protections(&self) -> StoreResult<Vec<cairn_domain::governance::Protection>> {
        self.protections_impl().await
    }
    async fn create_promotion(
        &self,
        p: &cairn_domain::governance::Promotion,
        change: &Change,
    ) -> StoreResult<()> {
        self.create_promotion_impl(p, change).await
    }
    async fn promotion(&self, id: &str) -> StoreResult<cairn_domain::governance::Promotion> {
        self.promotion_impl(id).await
    }
    async fn promotions(
        &self,
        state: Option<cairn_domain::governance::PromotionState>,
        model: Option<&str>,
    ) -> StoreResult<Vec<cairn_domain::governance::Promotion>> {
        self.promotions_impl(state, model).await
    }
    async fn add_verdict(
        &self,
        id: &str,
        expect: cairn_domain::governance::PromotionState,
        verdict: &cairn_domain::governance::Approval,
        state: cairn_domain::governance::PromotionState,
        change: &Change,
    ) -> StoreResult<cairn_domain::governance::Promotion> {
        self.add_verdict_impl(id, expect, verdict, state, change)
            .await
    }
    async fn end_promotion(
        &self,
        id: &str,
        end: cairn_store::PromotionEnd,
        change: &Change,
    ) -> StoreResult<cairn_domain::governance::Promotion> {
        self.end_promotion_impl(id, end, change).await
    }
    async fn record_decision(
        &self,
        decision: &cairn_domain::governance::PolicyDecision,
        change: &Change,
    ) -> StoreResult<()> {
        self.record_decision_impl(decision, change).await
    }
    async fn decisions(
        &self,
        promotion_id: Option<&str>,
    ) -> StoreResult<Vec<cairn_domain::governance::PolicyDecision>> {
        self.decisions_impl(promotion_id).await
    }
    async fn activate_policy(
        &self,
        bundle: &cairn_domain::governance::PolicyBundleRecord,
        change: &Change,
    ) -> StoreResult<()> {
        self.activate_policy_impl(bundle, change).await
    }
    async fn clear_policy(&self, change: &Change) -> StoreResult<()> {
        self.clear_policy_impl(change).await
    }
    async fn active_policy(
        &self,
    ) -> StoreResult<Option<cairn_domain::governance::PolicyBundleRecord>> {
        self.active_policy_impl().await
    }
    async fn put_card(
        &self,
        card: &cairn_domain::governance::CardRecord,
        change: &Change,
    ) -> StoreResult<()> {
        self.put_card_impl(card, change).await
    }
    async fn card(
        &self,
        model: &str,
        version: i64,
    ) -> StoreResult<Option<cairn_domain::governance::CardRecord>> {
        self.card_impl(model, version).await
    }
    async fn audit_log_id(&self) -> StoreResult<String> {
        self.audit_log_id_impl().await
    }
    async fn audit_rows(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<cairn_domain::governance::AuditRow>> {
        self.audit_rows_impl(after_seq, limit).await
    }
    async fn audit_checkpoints(
        &self,
    ) -> StoreResult<Vec<cairn_domain::governance::AuditCheckpoint>> {
        self.audit_checkpoints_impl().await
    }
    async fn add_checkpoint(
        &self,
        checkpoint: &cairn_domain::governance::AuditCheckpoint,
    ) -> StoreResult<()> {
        self.add_checkpoint_impl(checkpoint).await
    }
    async fn record_event(
        &self,
        subject: &str,
        kind: &str,
        detail: serde_json::Value,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| { log(tx, subject, kind, detail, change).await })
    }
}

//! The governance store contract: users, API tokens, grants, protected aliases, promotion requests and
//! their approvals, policy bundles and decisions, model cards, and the audit chain.
//!
//! Every write appends its change-log entry (topic `governance`, or `registry` for the alias a promotion
//! moves) in the same transaction, and every change-log entry is chained into the audit log by the same
//! append — so the audit chain holds exactly the control plane's history.

use async_trait::async_trait;
use cairn_domain::Change;
use cairn_domain::governance::{
    ApiToken, Approval, AuditCheckpoint, AuditRow, CardRecord, GrantRecord, PolicyBundleRecord,
    PolicyDecision, Promotion, PromotionState, Protection, User,
};

use crate::StoreResult;

/// How a request ends, and (when applied) the alias move made in the same transaction.
#[derive(Debug, Clone)]
pub struct PromotionEnd {
    pub state: PromotionState,
    pub note: Option<String>,
    /// Applying moves the alias: only if it still points at `expected` (`None`: unset).
    pub move_alias: Option<Option<i64>>,
}

#[async_trait]
pub trait GovernanceStore: Send + Sync + 'static {
    // --- users ---
    /// `AlreadyExists` when the name is taken.
    async fn create_user(&self, user: &User, change: &Change) -> StoreResult<()>;
    async fn user(&self, name: &str) -> StoreResult<Option<User>>;
    async fn users(&self) -> StoreResult<Vec<User>>;
    /// Changes the password hash and/or the admin flag; `NotFound` for an unknown user.
    async fn update_user(
        &self,
        name: &str,
        password_hash: Option<&str>,
        is_admin: Option<bool>,
        change: &Change,
    ) -> StoreResult<()>;
    /// Deletes the user with its tokens and grants.
    async fn delete_user(&self, name: &str, change: &Change) -> StoreResult<()>;

    // --- tokens ---
    async fn create_token(&self, token: &ApiToken, change: &Change) -> StoreResult<()>;
    async fn token(&self, id: &str) -> StoreResult<Option<ApiToken>>;
    async fn tokens(&self, user: Option<&str>) -> StoreResult<Vec<ApiToken>>;
    /// `NotFound` for an unknown id; revoking twice changes nothing.
    async fn revoke_token(&self, id: &str, change: &Change) -> StoreResult<()>;

    // --- grants ---
    /// Adds the grant; false when the user already held it.
    async fn add_grant(&self, grant: &GrantRecord, change: &Change) -> StoreResult<bool>;
    /// Removes the grant; false when the user did not hold it.
    async fn remove_grant(
        &self,
        user: &str,
        role: &str,
        scope: &str,
        change: &Change,
    ) -> StoreResult<bool>;
    async fn grants(&self, user: Option<&str>) -> StoreResult<Vec<GrantRecord>>;

    // --- protected aliases ---
    /// Creates or replaces the rule for (models, alias).
    async fn set_protection(&self, rule: &Protection, change: &Change) -> StoreResult<()>;
    /// False when there was no such rule.
    async fn remove_protection(
        &self,
        models: &str,
        alias: &str,
        change: &Change,
    ) -> StoreResult<bool>;
    async fn protections(&self) -> StoreResult<Vec<Protection>>;

    // --- promotion requests ---
    /// `Conflict` when a pending request for the same (model, alias, version) exists.
    async fn create_promotion(&self, p: &Promotion, change: &Change) -> StoreResult<()>;
    async fn promotion(&self, id: &str) -> StoreResult<Promotion>;
    /// Newest first; filtered by state and model when given.
    async fn promotions(
        &self,
        state: Option<PromotionState>,
        model: Option<&str>,
    ) -> StoreResult<Vec<Promotion>>;
    /// Adds a verdict and sets the state, if the request is still in `expect` (else `Conflict`); an
    /// approver who already gave a verdict is `Conflict` too.
    async fn add_verdict(
        &self,
        id: &str,
        expect: PromotionState,
        verdict: &Approval,
        state: PromotionState,
        change: &Change,
    ) -> StoreResult<Promotion>;
    /// Ends a pending request (applied, failed, withdrawn, expired…); when applying, the alias moves in
    /// the same transaction (a compare-and-set against `move_alias`), recorded under `change`.
    async fn end_promotion(
        &self,
        id: &str,
        end: PromotionEnd,
        change: &Change,
    ) -> StoreResult<Promotion>;
    /// Records which policy decision a request last got.
    async fn record_decision(&self, decision: &PolicyDecision, change: &Change) -> StoreResult<()>;
    async fn decisions(&self, promotion_id: Option<&str>) -> StoreResult<Vec<PolicyDecision>>;

    // --- policy bundles ---
    async fn activate_policy(
        &self,
        bundle: &PolicyBundleRecord,
        change: &Change,
    ) -> StoreResult<()>;
    /// Deactivates every bundle: promotions are then decided by approvals alone.
    async fn clear_policy(&self, change: &Change) -> StoreResult<()>;
    async fn active_policy(&self) -> StoreResult<Option<PolicyBundleRecord>>;

    // --- model cards ---
    async fn put_card(&self, card: &CardRecord, change: &Change) -> StoreResult<()>;
    async fn card(&self, model: &str, version: i64) -> StoreResult<Option<CardRecord>>;

    // --- audit ---
    /// The chain's id (fixed when the database was created): part of every entry and checkpoint.
    async fn audit_log_id(&self) -> StoreResult<String>;
    /// Rows after `after_seq` in sequence order, at most `limit`.
    async fn audit_rows(&self, after_seq: i64, limit: usize) -> StoreResult<Vec<AuditRow>>;
    async fn audit_checkpoints(&self) -> StoreResult<Vec<AuditCheckpoint>>;
    /// Stores a signed checkpoint (idempotent per size).
    async fn add_checkpoint(&self, checkpoint: &AuditCheckpoint) -> StoreResult<()>;
    /// Records a governance event that changes no table (a request refused by authorization, coalesced
    /// by the caller; a rollback's justification): a change-log entry of topic `governance`, chained.
    async fn record_event(
        &self,
        subject: &str,
        kind: &str,
        detail: serde_json::Value,
        change: &Change,
    ) -> StoreResult<()>;
}

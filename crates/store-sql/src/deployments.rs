//! Deployments on SQL, written once for both engines on the registry's transactions ([`RegistryDb`]):
//! a deployment's state is one JSON document; each write checks the revision and records its event in
//! the same transaction.

use std::sync::Arc;

use async_trait::async_trait;
use cairn_domain::change_log::{NewChange, Topic};
use cairn_domain::deployment::{Deployment, DeploymentEvent, DeploymentEventKind, DeploymentState};
use cairn_store::{DeploymentChange, DeploymentStore, StoreError, StoreResult};

use crate::change_log::append;
use crate::errors::{deployment_not_found, deployment_taken};
use crate::registry::{RegistryDb, Row, Tx};

/// Deployments on a SQL engine.
#[derive(Clone)]
pub struct SqlDeployments {
    db: Arc<dyn RegistryDb>,
}

impl SqlDeployments {
    pub fn new(db: Arc<dyn RegistryDb>) -> Self {
        Self { db }
    }
}

const COLUMNS: &str = "name, state_json, revision, created_ms, updated_ms";

fn to_json(state: &DeploymentState) -> StoreResult<String> {
    serde_json::to_string(state).map_err(|e| StoreError::Internal(e.to_string()))
}

fn from_json(text: Option<String>) -> StoreResult<Option<DeploymentState>> {
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| StoreError::Internal(format!("corrupt deployment state: {e}")))
    })
    .transpose()
}

fn deployment(r: &Row) -> StoreResult<Deployment> {
    let state = serde_json::from_str(&r.text(1)?)
        .map_err(|e| StoreError::Internal(format!("corrupt deployment state: {e}")))?;
    Ok(Deployment {
        name: r.text(0)?,
        state,
        revision: r.int(2)?,
        created_ms: r.int(3)?,
        updated_ms: r.int(4)?,
    })
}

const EVENT_COLUMNS: &str =
    "seq, deployment, kind, actor, timestamp_ms, before_json, after_json, revision";

fn event(r: &Row) -> StoreResult<DeploymentEvent> {
    let kind = r.text(2)?;
    Ok(DeploymentEvent {
        seq: r.int(0)?,
        deployment: r.text(1)?,
        kind: DeploymentEventKind::parse(&kind)
            .ok_or_else(|| StoreError::Internal(format!("corrupt deployment event kind {kind}")))?,
        actor: r.text(3)?,
        timestamp_ms: r.int(4)?,
        before: from_json(r.opt_text(5)?)?,
        after: from_json(r.opt_text(6)?)?,
        revision: r.opt_int(7)?,
    })
}

async fn fetch(tx: &mut dyn Tx, name: &str) -> StoreResult<Option<Deployment>> {
    tx.query(
        &format!("SELECT {COLUMNS} FROM deployments WHERE name = $1"),
        vec![name.into()],
    )
    .await?
    .first()
    .map(deployment)
    .transpose()
}

/// Records a deployment event (with the revision the change leaves it at) and its change-log entry.
async fn record(
    tx: &mut dyn Tx,
    name: &str,
    change: &DeploymentChange,
    revision: i64,
    before: Option<&DeploymentState>,
    after: Option<&DeploymentState>,
) -> StoreResult<()> {
    let seq = tx
        .query(
            "INSERT INTO deployment_events (deployment, kind, actor, timestamp_ms, before_json, after_json, \
             revision) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
            vec![
                name.into(),
                change.kind.as_str().into(),
                (&change.actor).into(),
                change.timestamp_ms.into(),
                before.map(to_json).transpose()?.into(),
                after.map(to_json).transpose()?.into(),
                revision.into(),
            ],
        )
        .await?
        .first()
        .map(|r| r.int(0))
        .transpose()?
        .ok_or_else(|| StoreError::Internal("deployment event insert returned no seq".into()))?;
    let serving = after.map(|s| &s.serving);
    let mut detail = serde_json::json!({
        "revision": revision,
        "model": serving.map(|s| s.primary.name.as_str()),
        "version": serving.map(|s| s.primary.version),
    });
    // A roll-out's canary carries what it started from; its decision, the numbers it used.
    let rollout = after.and_then(|s| s.rollout.as_ref());
    let extra = match change.kind {
        DeploymentEventKind::CanaryStarted => rollout
            .and_then(|r| r.canary.as_ref())
            .map(|c| ("canary", serde_json::to_value(c))),
        DeploymentEventKind::CanaryPromoted | DeploymentEventKind::CanaryRolledBack => rollout
            .and_then(|r| r.last.as_ref())
            .map(|d| ("decision", serde_json::to_value(d))),
        _ => None,
    };
    if let Some((key, value)) = extra {
        let value = value.map_err(|e| StoreError::Internal(e.to_string()))?;
        detail[key] = value;
    }
    append(
        tx,
        NewChange {
            topic: Topic::Deployment,
            subject: name,
            kind: change.kind.as_str(),
            topic_seq: seq,
            actor: &change.actor,
            timestamp_ms: change.timestamp_ms,
            detail: Some(detail),
        },
    )
    .await
}

#[async_trait]
impl DeploymentStore for SqlDeployments {
    async fn create_deployment(
        &self,
        name: &str,
        state: &DeploymentState,
        change: &DeploymentChange,
    ) -> StoreResult<Deployment> {
        write!(self, |tx| {
            let now = change.timestamp_ms;
            let inserted = tx
                .execute(
                    "INSERT INTO deployments (name, state_json, revision, created_ms, updated_ms) \
                     VALUES ($1, $2, 1, $3, $3) ON CONFLICT (name) DO NOTHING",
                    vec![name.into(), to_json(state)?.into(), now.into()],
                )
                .await?;
            if inserted == 0 {
                return Err(deployment_taken(name));
            }
            record(tx, name, change, 1, None, Some(state)).await?;
            Ok(Deployment {
                name: name.to_owned(),
                state: state.clone(),
                revision: 1,
                created_ms: now,
                updated_ms: now,
            })
        })
    }

    async fn get_deployment(&self, name: &str) -> StoreResult<Deployment> {
        read!(self, |tx| {
            fetch(tx, name)
                .await?
                .ok_or_else(|| deployment_not_found(name))
        })
    }

    async fn list_deployments(&self) -> StoreResult<Vec<Deployment>> {
        read!(self, |tx| {
            tx.query(
                &format!("SELECT {COLUMNS} FROM deployments ORDER BY name"),
                vec![],
            )
            .await?
            .iter()
            .map(deployment)
            .collect()
        })
    }

    async fn update_deployment(
        &self,
        name: &str,
        revision: i64,
        state: &DeploymentState,
        change: &DeploymentChange,
    ) -> StoreResult<Option<Deployment>> {
        write!(self, |tx| {
            let current = fetch(tx, name)
                .await?
                .ok_or_else(|| deployment_not_found(name))?;
            if current.revision != revision {
                return Ok(None);
            }
            tx.execute(
                "UPDATE deployments SET state_json = $2, revision = $3, updated_ms = $4 WHERE name = $1",
                vec![
                    name.into(),
                    to_json(state)?.into(),
                    (revision + 1).into(),
                    change.timestamp_ms.into(),
                ],
            )
            .await?;
            record(
                tx,
                name,
                change,
                revision + 1,
                Some(&current.state),
                Some(state),
            )
            .await?;
            Ok(Some(Deployment {
                state: state.clone(),
                revision: revision + 1,
                updated_ms: change.timestamp_ms,
                ..current
            }))
        })
    }

    async fn delete_deployment(&self, name: &str, change: &DeploymentChange) -> StoreResult<()> {
        write!(self, |tx| {
            let current = fetch(tx, name)
                .await?
                .ok_or_else(|| deployment_not_found(name))?;
            tx.execute("DELETE FROM deployments WHERE name = $1", vec![name.into()])
                .await?;
            record(
                tx,
                name,
                change,
                current.revision + 1,
                Some(&current.state),
                None,
            )
            .await
        })
    }

    async fn deployment_events(
        &self,
        name: &str,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<DeploymentEvent>> {
        read!(self, |tx| {
            let rows = tx
                .query(
                    &format!(
                        "SELECT {EVENT_COLUMNS} FROM deployment_events \
                         WHERE deployment = $1 AND seq > $2 ORDER BY seq LIMIT $3"
                    ),
                    vec![
                        name.into(),
                        after_seq.into(),
                        i64::try_from(limit).unwrap_or(i64::MAX).into(),
                    ],
                )
                .await?;
            if rows.is_empty() && after_seq == 0 {
                return Err(deployment_not_found(name));
            }
            rows.iter().map(event).collect()
        })
    }

    async fn deployment_events_of_kind(
        &self,
        kind: DeploymentEventKind,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<DeploymentEvent>> {
        read!(self, |tx| {
            tx.query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM deployment_events \
                     WHERE kind = $1 AND seq > $2 ORDER BY seq LIMIT $3"
                ),
                vec![
                    kind.as_str().into(),
                    after_seq.into(),
                    i64::try_from(limit).unwrap_or(i64::MAX).into(),
                ],
            )
            .await?
            .iter()
            .map(event)
            .collect()
        })
    }
}

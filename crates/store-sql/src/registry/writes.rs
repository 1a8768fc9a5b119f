//! What the registry's reads and writes share: key and alias lookups, event records, upserts, and the
//! JSON the events carry.

use cairn_domain::change_log::{NewChange, Topic};
use cairn_domain::{Change, ModelVersion, NewEvent, Tag};
use cairn_store::{StoreError, StoreResult};
use serde_json::{Value, json};

use super::catalog::Catalog;
use super::db::Tx;
use crate::errors::{registered_model_not_found, version_not_found};

/// A live version from the catalog, or the not-found error for the model or the version.
pub(super) fn cached_version(
    catalog: &Catalog,
    name: &str,
    version: i64,
) -> StoreResult<ModelVersion> {
    if !catalog.models.contains_key(name) {
        return Err(registered_model_not_found(name));
    }
    catalog
        .versions
        .get(name)
        .and_then(|vs| vs.iter().find(|v| v.version == version))
        .cloned()
        .ok_or_else(|| version_not_found(name, version))
}

/// The model's change-log key, or MLflow's not-found error.
pub(super) async fn model_key(tx: &mut dyn Tx, name: &str) -> StoreResult<String> {
    tx.query(
        "SELECT model_key FROM registered_models WHERE name = $1",
        vec![name.into()],
    )
    .await?
    .first()
    .map(|r| r.text(0))
    .transpose()?
    .ok_or_else(|| registered_model_not_found(name))
}

/// The version an alias points at, if the model has that alias.
pub(super) async fn alias_version(
    tx: &mut dyn Tx,
    name: &str,
    alias: &str,
) -> StoreResult<Option<i64>> {
    tx.query(
        "SELECT version FROM registered_model_aliases WHERE name = $1 AND alias = $2",
        vec![name.into(), alias.into()],
    )
    .await?
    .first()
    .map(|r| r.int(0))
    .transpose()
}

/// Records a registry event and its entry in the control plane's change log, in the caller's transaction.
pub(super) async fn record(
    tx: &mut dyn Tx,
    key: &str,
    name: &str,
    change: &Change,
    e: NewEvent,
) -> StoreResult<()> {
    let kind = e.kind.as_str();
    let mut detail = serde_json::Map::new();
    if let Some(v) = e.version {
        detail.insert("version".into(), v.into());
    }
    if let Some(a) = &e.alias {
        detail.insert("alias".into(), a.as_str().into());
    }
    let seq = tx
        .query(
            "INSERT INTO registry_events (model_key, model_name, kind, version, alias, actor, timestamp_ms, \
             before_json, after_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq",
            vec![
                key.into(),
                name.into(),
                kind.into(),
                e.version.into(),
                e.alias.into(),
                change.actor.as_str().into(),
                change.at_ms.into(),
                e.before.map(|v| v.to_string()).into(),
                e.after.map(|v| v.to_string()).into(),
            ],
        )
        .await?
        .first()
        .map(|r| r.int(0))
        .transpose()?
        .ok_or_else(|| StoreError::Internal("registry event insert returned no seq".into()))?;
    crate::change_log::append(
        tx,
        NewChange {
            topic: Topic::Registry,
            subject: name,
            kind,
            topic_seq: seq,
            actor: &change.actor,
            timestamp_ms: change.at_ms,
            detail: (!detail.is_empty()).then_some(Value::Object(detail)),
        },
    )
    .await
}

pub(super) async fn touch_model(tx: &mut dyn Tx, name: &str, at: i64) -> StoreResult<()> {
    tx.execute(
        "UPDATE registered_models SET last_updated_timestamp = $2 WHERE name = $1",
        vec![name.into(), at.into()],
    )
    .await?;
    Ok(())
}

pub(super) fn tags_json(tags: &[Tag]) -> Value {
    Value::Object(
        tags.iter()
            .map(|t| (t.key.clone(), Value::String(t.value.clone())))
            .collect(),
    )
}

pub(super) fn version_json(v: &ModelVersion) -> Value {
    json!({
        "source": v.source,
        "storage_location": v.storage_location,
        "run_id": v.run_id,
        "model_id": v.model_id,
        "stage": v.current_stage.as_str(),
        "description": v.description,
    })
}

pub(super) fn parse_json(s: Option<String>) -> StoreResult<Option<Value>> {
    s.map(|s| {
        serde_json::from_str(&s)
            .map_err(|e| StoreError::Internal(format!("corrupt registry event JSON: {e}")))
    })
    .transpose()
}

pub(super) async fn upsert_model_tag(tx: &mut dyn Tx, name: &str, tag: &Tag) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
        vec![name.into(), (&tag.key).into(), (&tag.value).into()],
    )
    .await?;
    Ok(())
}

pub(super) async fn upsert_version_tag(
    tx: &mut dyn Tx,
    name: &str,
    version: i64,
    tag: &Tag,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
        vec![
            name.into(),
            version.into(),
            (&tag.key).into(),
            (&tag.value).into(),
        ],
    )
    .await?;
    Ok(())
}

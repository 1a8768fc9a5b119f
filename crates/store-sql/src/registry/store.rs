//! [`RegistryStore`] over any [`RegistryDb`]: each write is one transaction that checks stored state,
//! changes it and records its events. A write that would change nothing writes nothing, so every change
//! of state has an event: reads are served from a catalog that the change log keeps exact
//! (`catalog.rs`).

use std::sync::Arc;

use async_trait::async_trait;
use cairn_domain::{
    Change, EventKind, ModelVersion, NewEvent, RegisteredModel, RegistryEvent, Stage, Tag,
};
use cairn_store::{EventQuery, NewModelVersion, RegistryStore, StoreError, StoreResult};
use serde_json::{Value, json};

use super::catalog::{Catalog, CatalogCache};
use super::db::{RegistryDb, Tx, Val};
use super::load::{
    Versions, load_model, load_version, load_versions, model_not_found, version_not_found,
};
use super::model_versions_tag::append_model_version;

/// Runs `body` in a write transaction and commits it; on error the transaction is dropped (rolled
/// back).
macro_rules! write {
    ($self:ident, |$tx:ident| $body:block) => {{
        let mut boxed = $self.db.begin_write().await?;
        let result = {
            let $tx: &mut dyn Tx = &mut *boxed;
            async { $body }.await
        };
        match result {
            Ok(v) => {
                boxed.commit().await?;
                Ok(v)
            }
            Err(e) => Err(e),
        }
    }};
}

/// Runs `body` on a read snapshot.
macro_rules! read {
    ($self:ident, |$tx:ident| $body:block) => {{
        let mut boxed = $self.db.begin_read().await?;
        let $tx: &mut dyn Tx = &mut *boxed;
        let result = async { $body }.await;
        drop(boxed);
        result
    }};
}

/// The registry on a SQL engine.
#[derive(Clone)]
pub struct SqlRegistry {
    db: Arc<dyn RegistryDb>,
    /// The registry in memory, validated against the change log on every read.
    catalog: CatalogCache,
}

impl SqlRegistry {
    pub fn new(db: Arc<dyn RegistryDb>) -> Self {
        Self {
            db,
            catalog: CatalogCache::default(),
        }
    }

    /// The current catalog, checked (and brought up to date) in one read snapshot.
    async fn catalog(&self) -> StoreResult<Arc<Catalog>> {
        read!(self, |tx| { self.catalog.current(tx).await })
    }
}

/// A live version from the catalog, or the not-found error for the model or the version.
fn cached_version(catalog: &Catalog, name: &str, version: i64) -> StoreResult<ModelVersion> {
    if !catalog.models.contains_key(name) {
        return Err(model_not_found(name));
    }
    catalog
        .versions
        .get(name)
        .and_then(|vs| vs.iter().find(|v| v.version == version))
        .cloned()
        .ok_or_else(|| version_not_found(name, version))
}

/// The model's change-log key, or MLflow's not-found error.
async fn model_key(tx: &mut dyn Tx, name: &str) -> StoreResult<String> {
    tx.query(
        "SELECT model_key FROM registered_models WHERE name = $1",
        vec![name.into()],
    )
    .await?
    .first()
    .map(|r| r.text(0))
    .transpose()?
    .ok_or_else(|| model_not_found(name))
}

/// The version an alias points at, if the model has that alias.
async fn alias_version(tx: &mut dyn Tx, name: &str, alias: &str) -> StoreResult<Option<i64>> {
    tx.query(
        "SELECT version FROM registered_model_aliases WHERE name = $1 AND alias = $2",
        vec![name.into(), alias.into()],
    )
    .await?
    .first()
    .map(|r| r.int(0))
    .transpose()
}

async fn record(
    tx: &mut dyn Tx,
    key: &str,
    name: &str,
    change: &Change,
    e: NewEvent,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO registry_events (model_key, model_name, kind, version, alias, actor, timestamp_ms, \
         before_json, after_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        vec![
            key.into(),
            name.into(),
            e.kind.as_str().into(),
            e.version.into(),
            e.alias.into(),
            change.actor.as_str().into(),
            change.at_ms.into(),
            e.before.map(|v| v.to_string()).into(),
            e.after.map(|v| v.to_string()).into(),
        ],
    )
    .await?;
    Ok(())
}

async fn touch_model(tx: &mut dyn Tx, name: &str, at: i64) -> StoreResult<()> {
    tx.execute(
        "UPDATE registered_models SET last_updated_timestamp = $2 WHERE name = $1",
        vec![name.into(), at.into()],
    )
    .await?;
    Ok(())
}

fn tags_json(tags: &[Tag]) -> Value {
    Value::Object(
        tags.iter()
            .map(|t| (t.key.clone(), Value::String(t.value.clone())))
            .collect(),
    )
}

fn version_json(v: &ModelVersion) -> Value {
    json!({
        "source": v.source,
        "storage_location": v.storage_location,
        "run_id": v.run_id,
        "model_id": v.model_id,
        "stage": v.current_stage.as_str(),
        "description": v.description,
    })
}

fn parse_json(s: Option<String>) -> StoreResult<Option<Value>> {
    s.map(|s| {
        serde_json::from_str(&s)
            .map_err(|e| StoreError::Internal(format!("corrupt registry event JSON: {e}")))
    })
    .transpose()
}

async fn upsert_model_tag(tx: &mut dyn Tx, name: &str, tag: &Tag) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
        vec![name.into(), (&tag.key).into(), (&tag.value).into()],
    )
    .await?;
    Ok(())
}

async fn upsert_version_tag(
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

#[async_trait]
impl RegistryStore for SqlRegistry {
    async fn create_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: Vec<Tag>,
        change: &Change,
    ) -> StoreResult<RegisteredModel> {
        write!(self, |tx| {
            let key = format!("{:032x}", rand::random::<u128>());
            let n = tx
                .execute(
                    "INSERT INTO registered_models (name, model_key, creation_timestamp, \
                     last_updated_timestamp, description) VALUES ($1, $2, $3, $3, $4) \
                     ON CONFLICT (name) DO NOTHING",
                    vec![
                        name.into(),
                        (&key).into(),
                        change.at_ms.into(),
                        description.into(),
                    ],
                )
                .await?;
            if n == 0 {
                return Err(StoreError::AlreadyExists(format!(
                    "Registered Model (name={name}) already exists."
                )));
            }
            for t in &tags {
                upsert_model_tag(tx, name, t).await?;
            }
            let after = json!({"description": description, "tags": tags_json(&tags)});
            record(
                tx,
                &key,
                name,
                change,
                NewEvent::new(EventKind::ModelCreated).after(after),
            )
            .await?;
            load_model(tx, name).await
        })
    }

    async fn get_registered_model(&self, name: &str) -> StoreResult<RegisteredModel> {
        let catalog = self.catalog().await?;
        catalog
            .models
            .get(name)
            .map(|m| RegisteredModel::clone(m))
            .ok_or_else(|| model_not_found(name))
    }

    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
        change: &Change,
    ) -> StoreResult<RegisteredModel> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            if name != new_name {
                let taken = !tx
                    .query(
                        "SELECT 1 FROM registered_models WHERE name = $1",
                        vec![new_name.into()],
                    )
                    .await?
                    .is_empty();
                if taken {
                    return Err(StoreError::AlreadyExists(format!(
                        "Registered Model (name={new_name}) already exists."
                    )));
                }
                tx.execute(
                    "UPDATE registered_models SET name = $2, last_updated_timestamp = $3 WHERE name = $1",
                    vec![name.into(), new_name.into(), change.at_ms.into()],
                )
                .await?;
                tx.execute(
                    "UPDATE model_versions SET last_updated_timestamp = $2 WHERE name = $1",
                    vec![new_name.into(), change.at_ms.into()],
                )
                .await?;
                let e = NewEvent::new(EventKind::ModelRenamed)
                    .before(json!({"name": name}))
                    .after(json!({"name": new_name}));
                record(tx, &key, new_name, change, e).await?;
            }
            load_model(tx, new_name).await
        })
    }

    async fn update_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        change: &Change,
    ) -> StoreResult<RegisteredModel> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            let current = load_model(tx, name).await?;
            if current.description.as_deref() == description {
                return Ok(current);
            }
            let before = current.description;
            tx.execute(
                "UPDATE registered_models SET description = $2, last_updated_timestamp = $3 WHERE name = $1",
                vec![name.into(), description.into(), change.at_ms.into()],
            )
            .await?;
            let e = NewEvent::new(EventKind::ModelUpdated)
                .before(json!({"description": before}))
                .after(json!({"description": description}));
            record(tx, &key, name, change, e).await?;
            load_model(tx, name).await
        })
    }

    async fn delete_registered_model(&self, name: &str, change: &Change) -> StoreResult<()> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            let model = load_model(tx, name).await?;
            let versions: Vec<String> = load_versions(tx, Versions::OfModel(name))
                .await?
                .iter()
                .map(|v| v.version.to_string())
                .collect();
            let aliases: serde_json::Map<String, Value> = model
                .aliases
                .iter()
                .map(|a| (a.alias.clone(), Value::String(a.version.to_string())))
                .collect();
            // Version tags hang off versions, which hang off the model: one delete cascades to all.
            tx.execute(
                "DELETE FROM model_version_tags WHERE name = $1",
                vec![name.into()],
            )
            .await?;
            tx.execute(
                "DELETE FROM registered_models WHERE name = $1",
                vec![name.into()],
            )
            .await?;
            let e = NewEvent::new(EventKind::ModelDeleted).before(json!({
                "description": model.description,
                "versions": versions,
                "aliases": aliases,
            }));
            record(tx, &key, name, change, e).await
        })
    }

    async fn list_registered_models(&self) -> StoreResult<Vec<RegisteredModel>> {
        Ok(self
            .catalog()
            .await?
            .models
            .values()
            .map(|m| RegisteredModel::clone(m))
            .collect())
    }

    async fn set_registered_model_tag(
        &self,
        name: &str,
        tag: Tag,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            let before = load_model(tx, name).await?.tag(&tag.key).map(str::to_owned);
            if before.as_deref() == Some(tag.value.as_str()) {
                return Ok(());
            }
            upsert_model_tag(tx, name, &tag).await?;
            let mut e = NewEvent::new(EventKind::ModelTagSet)
                .after(json!({"key": tag.key, "value": tag.value}));
            if let Some(b) = before {
                e = e.before(json!({"key": tag.key, "value": b}));
            }
            record(tx, &key, name, change, e).await
        })
    }

    async fn delete_registered_model_tag(
        &self,
        name: &str,
        key_name: &str,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            let Some(before) = load_model(tx, name).await?.tag(key_name).map(str::to_owned) else {
                return Ok(());
            };
            tx.execute(
                "DELETE FROM registered_model_tags WHERE name = $1 AND key = $2",
                vec![name.into(), key_name.into()],
            )
            .await?;
            let e = NewEvent::new(EventKind::ModelTagDeleted)
                .before(json!({"key": key_name, "value": before}));
            record(tx, &key, name, change, e).await
        })
    }

    async fn create_model_version(
        &self,
        new: NewModelVersion,
        change: &Change,
    ) -> StoreResult<ModelVersion> {
        write!(self, |tx| {
            let name = new.name.as_str();
            let key = model_key(tx, name).await?;
            // Deleted versions keep their rows, so numbers are never reused.
            let version = tx
                .query(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = $1",
                    vec![name.into()],
                )
                .await?[0]
                .int(0)?;
            tx.execute(
                "INSERT INTO model_versions (name, version, creation_timestamp, last_updated_timestamp, \
                 description, user_id, current_stage, source, storage_location, run_id, run_link, \
                 model_id, status, status_message) \
                 VALUES ($1, $2, $3, $3, $4, $5, 'None', $6, $7, $8, $9, $10, 'READY', NULL)",
                vec![
                    name.into(),
                    version.into(),
                    change.at_ms.into(),
                    (&new.description).into(),
                    (&new.user_id).into(),
                    (&new.source).into(),
                    (&new.storage_location).into(),
                    (&new.run_id).into(),
                    (&new.run_link).into(),
                    (&new.model_id).into(),
                ],
            )
            .await?;
            for t in &new.tags {
                upsert_version_tag(tx, name, version, t).await?;
            }
            touch_model(tx, name, change.at_ms).await?;
            if let Some(model_id) = &new.model_id {
                append_model_version(tx, model_id, name, version).await?;
            }
            let created = load_version(tx, name, version).await?;
            let e = NewEvent::new(EventKind::VersionCreated)
                .version(version)
                .after(version_json(&created));
            record(tx, &key, name, change, e).await?;
            Ok(created)
        })
    }

    async fn get_model_version(&self, name: &str, version: i64) -> StoreResult<ModelVersion> {
        let catalog = self.catalog().await?;
        cached_version(&catalog, name, version)
    }

    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: Option<&str>,
        change: &Change,
    ) -> StoreResult<ModelVersion> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            let before = load_version(tx, name, version).await?;
            if before.description.as_deref() == description {
                return Ok(before);
            }
            tx.execute(
                "UPDATE model_versions SET description = $3, last_updated_timestamp = $4 \
                 WHERE name = $1 AND version = $2",
                vec![
                    name.into(),
                    version.into(),
                    description.into(),
                    change.at_ms.into(),
                ],
            )
            .await?;
            let e = NewEvent::new(EventKind::VersionUpdated)
                .version(version)
                .before(json!({"description": before.description}))
                .after(json!({"description": description}));
            record(tx, &key, name, change, e).await?;
            load_version(tx, name, version).await
        })
    }

    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
        change: &Change,
    ) -> StoreResult<ModelVersion> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            let target = load_version(tx, name, version).await?;
            let mut moves = vec![(version, target.current_stage, stage)];
            if archive_existing {
                for v in load_versions(tx, Versions::OfModel(name)).await? {
                    if v.version != version && v.current_stage == stage {
                        moves.push((v.version, v.current_stage, Stage::Archived));
                    }
                }
            }
            moves.retain(|(_, from, to)| from != to);
            if moves.is_empty() {
                return Ok(target);
            }
            for (v, from, to) in moves {
                tx.execute(
                    "UPDATE model_versions SET current_stage = $3, last_updated_timestamp = $4 \
                     WHERE name = $1 AND version = $2",
                    vec![
                        name.into(),
                        v.into(),
                        to.as_str().into(),
                        change.at_ms.into(),
                    ],
                )
                .await?;
                let e = NewEvent::new(EventKind::VersionStageChanged)
                    .version(v)
                    .before(json!({"stage": from.as_str()}))
                    .after(json!({"stage": to.as_str()}));
                record(tx, &key, name, change, e).await?;
            }
            touch_model(tx, name, change.at_ms).await?;
            load_version(tx, name, version).await
        })
    }

    async fn delete_model_version(
        &self,
        name: &str,
        version: i64,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            let doomed = load_version(tx, name, version).await?;
            for alias in &doomed.aliases {
                tx.execute(
                    "DELETE FROM registered_model_aliases WHERE name = $1 AND alias = $2",
                    vec![name.into(), alias.into()],
                )
                .await?;
                let e = NewEvent::new(EventKind::AliasDeleted)
                    .version(version)
                    .alias(alias)
                    .before(json!({"version": version.to_string()}));
                record(tx, &key, name, change, e).await?;
            }
            tx.execute(
                "UPDATE model_versions SET deleted = 1, last_updated_timestamp = $3 \
                 WHERE name = $1 AND version = $2",
                vec![name.into(), version.into(), change.at_ms.into()],
            )
            .await?;
            touch_model(tx, name, change.at_ms).await?;
            let e = NewEvent::new(EventKind::VersionDeleted)
                .version(version)
                .before(version_json(&doomed));
            record(tx, &key, name, change, e).await
        })
    }

    async fn list_model_versions(&self, name: Option<&str>) -> StoreResult<Vec<ModelVersion>> {
        let catalog = self.catalog().await?;
        Ok(match name {
            Some(n) => catalog
                .versions
                .get(n)
                .map(|vs| vs.to_vec())
                .unwrap_or_default(),
            None => catalog
                .versions
                .values()
                .flat_map(|vs| vs.iter().cloned())
                .collect(),
        })
    }

    async fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        tag: Tag,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            let before = load_version(tx, name, version)
                .await?
                .tag(&tag.key)
                .map(str::to_owned);
            if before.as_deref() == Some(tag.value.as_str()) {
                return Ok(());
            }
            upsert_version_tag(tx, name, version, &tag).await?;
            let mut e = NewEvent::new(EventKind::VersionTagSet)
                .version(version)
                .after(json!({"key": tag.key, "value": tag.value}));
            if let Some(b) = before {
                e = e.before(json!({"key": tag.key, "value": b}));
            }
            record(tx, &key, name, change, e).await
        })
    }

    async fn delete_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key_name: &str,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            let Some(before) = load_version(tx, name, version)
                .await?
                .tag(key_name)
                .map(str::to_owned)
            else {
                return Ok(());
            };
            tx.execute(
                "DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3",
                vec![name.into(), version.into(), key_name.into()],
            )
            .await?;
            let e = NewEvent::new(EventKind::VersionTagDeleted)
                .version(version)
                .before(json!({"key": key_name, "value": before}));
            record(tx, &key, name, change, e).await
        })
    }

    async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
        change: &Change,
    ) -> StoreResult<()> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            load_version(tx, name, version).await?;
            let before = alias_version(tx, name, alias).await?;
            if before == Some(version) {
                return Ok(());
            }
            tx.execute(
                "INSERT INTO registered_model_aliases (name, alias, version) VALUES ($1, $2, $3) \
                 ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                vec![name.into(), alias.into(), version.into()],
            )
            .await?;
            let after = json!({"version": version.to_string()});
            let e = match before {
                None => NewEvent::new(EventKind::AliasSet).after(after),
                Some(b) => NewEvent::new(EventKind::AliasMoved)
                    .before(json!({"version": b.to_string()}))
                    .after(after),
            };
            record(tx, &key, name, change, e.version(version).alias(alias)).await
        })
    }

    async fn delete_alias(&self, name: &str, alias: &str, change: &Change) -> StoreResult<()> {
        write!(self, |tx| {
            let key = model_key(tx, name).await?;
            let before = alias_version(tx, name, alias).await?;
            let Some(before) = before else {
                return Ok(());
            };
            tx.execute(
                "DELETE FROM registered_model_aliases WHERE name = $1 AND alias = $2",
                vec![name.into(), alias.into()],
            )
            .await?;
            let e = NewEvent::new(EventKind::AliasDeleted)
                .version(before)
                .alias(alias)
                .before(json!({"version": before.to_string()}));
            record(tx, &key, name, change, e).await
        })
    }

    async fn get_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> StoreResult<Option<ModelVersion>> {
        let catalog = self.catalog().await?;
        let model = catalog
            .models
            .get(name)
            .ok_or_else(|| model_not_found(name))?;
        match model.aliases.iter().find(|a| a.alias == alias) {
            Some(a) => cached_version(&catalog, name, a.version).map(Some),
            None => Ok(None),
        }
    }

    async fn events(&self, query: EventQuery) -> StoreResult<Vec<RegistryEvent>> {
        read!(self, |tx| {
            let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
            let (cond, mut args): (&str, Vec<Val>) = match &query.model {
                Some(name) => {
                    let current = tx
                        .query(
                            "SELECT model_key FROM registered_models WHERE name = $1",
                            vec![name.into()],
                        )
                        .await?;
                    let key = match current.first() {
                        Some(r) => r.text(0)?,
                        None => tx
                            .query(
                                "SELECT model_key FROM registry_events WHERE model_name = $1 \
                                 ORDER BY seq DESC LIMIT 1",
                                vec![name.into()],
                            )
                            .await?
                            .first()
                            .map(|r| r.text(0))
                            .transpose()?
                            .ok_or_else(|| model_not_found(name))?,
                    };
                    ("model_key = $3 AND", vec![key.into()])
                }
                None => ("", vec![]),
            };
            let mut all = vec![query.after_seq.into(), limit.into()];
            all.append(&mut args);
            let rows = tx
                .query(
                    &format!(
                        "SELECT seq, model_name, kind, version, alias, actor, timestamp_ms, before_json, \
                         after_json FROM registry_events WHERE {cond} seq > $1 ORDER BY seq LIMIT $2"
                    ),
                    all,
                )
                .await?;
            rows.into_iter()
                .map(|r| {
                    Ok(RegistryEvent {
                        seq: r.int(0)?,
                        model_name: r.text(1)?,
                        kind: r.text(2)?.parse().map_err(|e| {
                            StoreError::Internal(format!("corrupt event kind: {e}"))
                        })?,
                        version: r.opt_int(3)?,
                        alias: r.opt_text(4)?,
                        actor: r.text(5)?,
                        timestamp_ms: r.int(6)?,
                        before: parse_json(r.opt_text(7)?)?,
                        after: parse_json(r.opt_text(8)?)?,
                    })
                })
                .collect()
        })
    }
}

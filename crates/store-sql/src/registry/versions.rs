//! Model versions: register (numbers never reused), read, describe, move between stages, delete, tag.

use cairn_domain::{Change, EventKind, ModelVersion, NewEvent, Stage, Tag};
use cairn_store::{NewModelVersion, StoreResult};
use serde_json::json;

use super::db::Tx;
use super::load::{Versions, load_version, load_versions};
use super::model_versions_tag::append_model_version;
use super::store::SqlRegistry;
use super::writes::*;

impl SqlRegistry {
    pub(super) async fn create_model_version_impl(
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

    pub(super) async fn get_model_version_impl(
        &self,
        name: &str,
        version: i64,
    ) -> StoreResult<ModelVersion> {
        let catalog = self.catalog().await?;
        cached_version(&catalog, name, version)
    }

    pub(super) async fn update_model_version_impl(
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

    pub(super) async fn transition_model_version_stage_impl(
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

    pub(super) async fn delete_model_version_impl(
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

    pub(super) async fn list_model_versions_impl(
        &self,
        name: Option<&str>,
    ) -> StoreResult<Vec<ModelVersion>> {
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

    pub(super) async fn set_model_version_tag_impl(
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

    pub(super) async fn delete_model_version_tag_impl(
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
}

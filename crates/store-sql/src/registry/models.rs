//! Registered models: create, read, rename, describe, delete, tag — each write with its event.

use cairn_domain::{Change, EventKind, NewEvent, RegisteredModel, Tag};
use cairn_store::StoreResult;
use serde_json::{Value, json};

use super::db::Tx;
use super::load::{Versions, load_model, load_versions};
use super::store::SqlRegistry;
use super::writes::*;
use crate::errors::{registered_model_not_found, registered_model_taken};

impl SqlRegistry {
    pub(super) async fn create_registered_model_impl(
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
                return Err(registered_model_taken(name));
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

    pub(super) async fn get_registered_model_impl(
        &self,
        name: &str,
    ) -> StoreResult<RegisteredModel> {
        let catalog = self.catalog().await?;
        catalog
            .models
            .get(name)
            .map(|m| RegisteredModel::clone(m))
            .ok_or_else(|| registered_model_not_found(name))
    }

    pub(super) async fn rename_registered_model_impl(
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
                    return Err(registered_model_taken(new_name));
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

    pub(super) async fn update_registered_model_impl(
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

    pub(super) async fn delete_registered_model_impl(
        &self,
        name: &str,
        change: &Change,
    ) -> StoreResult<()> {
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

    pub(super) async fn list_registered_models_impl(&self) -> StoreResult<Vec<RegisteredModel>> {
        Ok(self
            .catalog()
            .await?
            .models
            .values()
            .map(|m| RegisteredModel::clone(m))
            .collect())
    }

    pub(super) async fn set_registered_model_tag_impl(
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

    pub(super) async fn delete_registered_model_tag_impl(
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
}

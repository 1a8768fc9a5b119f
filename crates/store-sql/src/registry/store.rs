//! [`RegistryStore`] over any [`RegistryDb`]: each write is one transaction that checks stored state,
//! changes it and records its events. A write that would change nothing writes nothing, so every change
//! of state has an event: reads are served from a catalog that the change log keeps exact
//! (`catalog.rs`).

use std::sync::Arc;

use async_trait::async_trait;
use cairn_domain::{Change, ModelVersion, RegisteredModel, RegistryEvent, Stage, Tag};
use cairn_store::{EventQuery, NewModelVersion, RegistryStore, StoreResult};

use super::catalog::{Catalog, CatalogCache};
use super::db::{RegistryDb, Tx};

/// The registry on a SQL engine.
#[derive(Clone)]
pub struct SqlRegistry {
    pub(super) db: Arc<dyn RegistryDb>,
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
    pub(super) async fn catalog(&self) -> StoreResult<Arc<Catalog>> {
        read!(self, |tx| { self.catalog.current(tx).await })
    }
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
        self.create_registered_model_impl(name, description, tags, change)
            .await
    }

    async fn get_registered_model(&self, name: &str) -> StoreResult<RegisteredModel> {
        self.get_registered_model_impl(name).await
    }

    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
        change: &Change,
    ) -> StoreResult<RegisteredModel> {
        self.rename_registered_model_impl(name, new_name, change)
            .await
    }

    async fn update_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        change: &Change,
    ) -> StoreResult<RegisteredModel> {
        self.update_registered_model_impl(name, description, change)
            .await
    }

    async fn delete_registered_model(&self, name: &str, change: &Change) -> StoreResult<()> {
        self.delete_registered_model_impl(name, change).await
    }

    async fn list_registered_models(&self) -> StoreResult<Vec<RegisteredModel>> {
        self.list_registered_models_impl().await
    }

    async fn set_registered_model_tag(
        &self,
        name: &str,
        tag: Tag,
        change: &Change,
    ) -> StoreResult<()> {
        self.set_registered_model_tag_impl(name, tag, change).await
    }

    async fn delete_registered_model_tag(
        &self,
        name: &str,
        key_name: &str,
        change: &Change,
    ) -> StoreResult<()> {
        self.delete_registered_model_tag_impl(name, key_name, change)
            .await
    }

    async fn create_model_version(
        &self,
        new: NewModelVersion,
        change: &Change,
    ) -> StoreResult<ModelVersion> {
        self.create_model_version_impl(new, change).await
    }

    async fn get_model_version(&self, name: &str, version: i64) -> StoreResult<ModelVersion> {
        self.get_model_version_impl(name, version).await
    }

    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: Option<&str>,
        change: &Change,
    ) -> StoreResult<ModelVersion> {
        self.update_model_version_impl(name, version, description, change)
            .await
    }

    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
        change: &Change,
    ) -> StoreResult<ModelVersion> {
        self.transition_model_version_stage_impl(name, version, stage, archive_existing, change)
            .await
    }

    async fn delete_model_version(
        &self,
        name: &str,
        version: i64,
        change: &Change,
    ) -> StoreResult<()> {
        self.delete_model_version_impl(name, version, change).await
    }

    async fn list_model_versions(&self, name: Option<&str>) -> StoreResult<Vec<ModelVersion>> {
        self.list_model_versions_impl(name).await
    }

    async fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        tag: Tag,
        change: &Change,
    ) -> StoreResult<()> {
        self.set_model_version_tag_impl(name, version, tag, change)
            .await
    }

    async fn delete_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key_name: &str,
        change: &Change,
    ) -> StoreResult<()> {
        self.delete_model_version_tag_impl(name, version, key_name, change)
            .await
    }

    async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
        change: &Change,
    ) -> StoreResult<()> {
        self.set_alias_impl(name, alias, version, None, change)
            .await
    }

    async fn compare_and_set_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
        expected: Option<i64>,
        change: &Change,
    ) -> StoreResult<()> {
        self.set_alias_impl(name, alias, version, Some(expected), change)
            .await
    }

    async fn delete_alias(&self, name: &str, alias: &str, change: &Change) -> StoreResult<()> {
        self.delete_alias_impl(name, alias, change).await
    }

    async fn get_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> StoreResult<Option<ModelVersion>> {
        self.get_version_by_alias_impl(name, alias).await
    }

    async fn events(&self, query: EventQuery) -> StoreResult<Vec<RegistryEvent>> {
        self.events_impl(query).await
    }
}

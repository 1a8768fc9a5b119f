//! The registry store contract: registered models, versions, aliases, tags and the change log.
//!
//! Every write takes a [`Change`] (who, when) and records its [`RegistryEvent`]s in the same transaction
//! as the change, so the log holds exactly what happened. Registry writes are serialised, so event
//! sequence numbers follow commit order and a reader polling "events after N" never misses one.
//! Validation of names and values is the domain's; stores enforce what needs stored state.

use async_trait::async_trait;
use cairn_domain::{Change, ModelVersion, RegisteredModel, RegistryEvent, Stage, Tag};

use crate::StoreResult;

/// A version to register; the store allocates its number (one more than any the model ever had).
#[derive(Debug, Clone)]
pub struct NewModelVersion {
    pub name: String,
    pub source: String,
    pub storage_location: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub model_id: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
    pub user_id: Option<String>,
}

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only the history of the model now (or last) called this; `None` reads the whole log.
    pub model: Option<String>,
    /// Only events with a larger sequence number.
    pub after_seq: i64,
    pub limit: usize,
}

#[async_trait]
pub trait RegistryStore: Send + Sync + 'static {
    // --- registered models ---
    /// Fails with `AlreadyExists` when the name is taken.
    async fn create_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: Vec<Tag>,
        change: &Change,
    ) -> StoreResult<RegisteredModel>;
    async fn get_registered_model(&self, name: &str) -> StoreResult<RegisteredModel>;
    /// Renames the model and its versions; aliases and history follow.
    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
        change: &Change,
    ) -> StoreResult<RegisteredModel>;
    async fn update_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        change: &Change,
    ) -> StoreResult<RegisteredModel>;
    /// Deletes the model with its versions, tags and aliases (the history stays).
    async fn delete_registered_model(&self, name: &str, change: &Change) -> StoreResult<()>;
    /// Every registered model, fully loaded.
    async fn list_registered_models(&self) -> StoreResult<Vec<RegisteredModel>>;
    async fn set_registered_model_tag(
        &self,
        name: &str,
        tag: Tag,
        change: &Change,
    ) -> StoreResult<()>;
    /// Deleting a tag that is not there is not an error (MLflow's behaviour).
    async fn delete_registered_model_tag(
        &self,
        name: &str,
        key: &str,
        change: &Change,
    ) -> StoreResult<()>;

    // --- model versions ---
    /// Registers a version. When `model_id` names a logged model, its `mlflow.modelVersions` tag gains
    /// this version in the same transaction.
    async fn create_model_version(
        &self,
        new: NewModelVersion,
        change: &Change,
    ) -> StoreResult<ModelVersion>;
    async fn get_model_version(&self, name: &str, version: i64) -> StoreResult<ModelVersion>;
    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: Option<&str>,
        change: &Change,
    ) -> StoreResult<ModelVersion>;
    /// Moves a version to `stage`; with `archive_existing`, the model's other versions in that stage
    /// move to Archived.
    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
        change: &Change,
    ) -> StoreResult<ModelVersion>;
    /// Deletes a version and the aliases pointing at it. Its number is never reused.
    async fn delete_model_version(
        &self,
        name: &str,
        version: i64,
        change: &Change,
    ) -> StoreResult<()>;
    /// Live versions, of one model or of all.
    async fn list_model_versions(&self, name: Option<&str>) -> StoreResult<Vec<ModelVersion>>;
    async fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        tag: Tag,
        change: &Change,
    ) -> StoreResult<()>;
    async fn delete_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        change: &Change,
    ) -> StoreResult<()>;

    // --- aliases ---
    /// Points `alias` at `version`, creating or moving it.
    async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
        change: &Change,
    ) -> StoreResult<()>;
    /// Points `alias` at `version` only if it still points at `expected` (`None`: only if unset): the
    /// check and the move are one transaction. When it moved, `Conflict(Clash::AliasMoved)` and nothing
    /// changes. Setting it where it already is records nothing.
    async fn compare_and_set_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
        expected: Option<i64>,
        change: &Change,
    ) -> StoreResult<()>;
    /// Removing an alias that is not there is not an error (MLflow's behaviour); nothing is recorded.
    async fn delete_alias(&self, name: &str, alias: &str, change: &Change) -> StoreResult<()>;
    /// The version an alias points at; `None` when the model has no such alias (an unknown model is
    /// `NotFound`).
    async fn get_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> StoreResult<Option<ModelVersion>>;

    // --- change log ---
    /// Events oldest first. With `model`, the history of the model now called that (through renames),
    /// or, if none is, of the last model deleted under that name; `NotFound` if the name never existed.
    async fn events(&self, query: EventQuery) -> StoreResult<Vec<RegistryEvent>>;
}

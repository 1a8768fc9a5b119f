//! The model registry's entities: registered models, their numbered versions, aliases and tags, and the
//! change events the registry records about them. Names and rules follow MLflow's registry so that its
//! clients see what they expect; the change log is Cairn's own.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{DomainError, Tag};

/// MLflow's legacy deployment stages. Still accepted and reported; aliases replace them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Stage {
    #[default]
    None,
    Staging,
    Production,
    Archived,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::None,
        Stage::Staging,
        Stage::Production,
        Stage::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }

    /// Staging and Production: the stages `archive_existing_versions` may empty.
    pub fn is_active(self) -> bool {
        matches!(self, Stage::Staging | Stage::Production)
    }
}

impl FromStr for Stage {
    type Err = DomainError;
    /// Case-insensitive, as MLflow's `get_canonical_stage`.
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                DomainError::invalid(format!(
                    "Invalid Model Version stage: {s}. Value must be one of None, Staging, Production, Archived."
                ))
            })
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version's registration status. Cairn registers synchronously, so versions are born `READY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VersionStatus {
    PendingRegistration,
    FailedRegistration,
    #[default]
    Ready,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::PendingRegistration => "PENDING_REGISTRATION",
            VersionStatus::FailedRegistration => "FAILED_REGISTRATION",
            VersionStatus::Ready => "READY",
        }
    }
}

impl FromStr for VersionStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        match s {
            "PENDING_REGISTRATION" => Ok(Self::PendingRegistration),
            "FAILED_REGISTRATION" => Ok(Self::FailedRegistration),
            "READY" => Ok(Self::Ready),
            _ => Err(DomainError::invalid(format!(
                "Invalid model version status '{s}'"
            ))),
        }
    }
}

/// An alias of a registered model and the version it points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelAlias {
    pub alias: String,
    pub version: i64,
}

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    pub name: String,
    pub version: i64,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub description: Option<String>,
    pub user_id: Option<String>,
    pub current_stage: Stage,
    /// The source as the client registered it (`models:/m-…`, `runs:/…`, an artifact URI).
    pub source: String,
    /// Where the files are: `source` resolved to an artifact URI at registration.
    pub storage_location: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub model_id: Option<String>,
    pub status: VersionStatus,
    pub status_message: Option<String>,
    pub tags: Vec<Tag>,
    /// The aliases pointing at this version.
    pub aliases: Vec<String>,
}

/// The value of the tag `key` in a list of tags.
pub fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

/// True when the tags mark an MLflow prompt, which shares the registry but is hidden from model searches.
pub fn is_prompt(tags: &[Tag]) -> bool {
    tag_value(tags, PROMPT_TAG).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

impl ModelVersion {
    pub fn tag(&self, key: &str) -> Option<&str> {
        tag_value(&self.tags, key)
    }
}

/// A named model: its versions live apart and are loaded on demand.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredModel {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
    pub aliases: Vec<ModelAlias>,
    /// The newest live version in each stage, by stage (MLflow's `latest_versions`).
    pub latest_versions: Vec<ModelVersion>,
}

impl RegisteredModel {
    pub fn tag(&self, key: &str) -> Option<&str> {
        tag_value(&self.tags, key)
    }
}

/// The tag that marks a registered model (or version) as an MLflow prompt.
pub const PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

/// What a registry event records. The names are a stable public vocabulary: deployments follow
/// `alias_*` events, governance audits all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ModelCreated,
    ModelRenamed,
    ModelUpdated,
    ModelDeleted,
    ModelTagSet,
    ModelTagDeleted,
    VersionCreated,
    VersionUpdated,
    VersionStageChanged,
    VersionDeleted,
    VersionTagSet,
    VersionTagDeleted,
    AliasSet,
    AliasMoved,
    AliasDeleted,
}

impl EventKind {
    pub const ALL: [EventKind; 15] = [
        EventKind::ModelCreated,
        EventKind::ModelRenamed,
        EventKind::ModelUpdated,
        EventKind::ModelDeleted,
        EventKind::ModelTagSet,
        EventKind::ModelTagDeleted,
        EventKind::VersionCreated,
        EventKind::VersionUpdated,
        EventKind::VersionStageChanged,
        EventKind::VersionDeleted,
        EventKind::VersionTagSet,
        EventKind::VersionTagDeleted,
        EventKind::AliasSet,
        EventKind::AliasMoved,
        EventKind::AliasDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ModelCreated => "model_created",
            EventKind::ModelRenamed => "model_renamed",
            EventKind::ModelUpdated => "model_updated",
            EventKind::ModelDeleted => "model_deleted",
            EventKind::ModelTagSet => "model_tag_set",
            EventKind::ModelTagDeleted => "model_tag_deleted",
            EventKind::VersionCreated => "version_created",
            EventKind::VersionUpdated => "version_updated",
            EventKind::VersionStageChanged => "version_stage_changed",
            EventKind::VersionDeleted => "version_deleted",
            EventKind::VersionTagSet => "version_tag_set",
            EventKind::VersionTagDeleted => "version_tag_deleted",
            EventKind::AliasSet => "alias_set",
            EventKind::AliasMoved => "alias_moved",
            EventKind::AliasDeleted => "alias_deleted",
        }
    }
}

impl FromStr for EventKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| DomainError::invalid(format!("Invalid registry event kind '{s}'")))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change to the registry, written in the same transaction as the change itself.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryEvent {
    /// Position in the registry-wide change log: strictly increasing, never reused.
    pub seq: i64,
    /// The model's name when the event happened (a later rename does not rewrite history).
    pub model_name: String,
    pub kind: EventKind,
    pub version: Option<i64>,
    pub alias: Option<String>,
    /// Who made the change, as the request identified itself.
    pub actor: String,
    pub timestamp_ms: i64,
    /// The changed fields before and after, as JSON objects; `None` where the thing did not exist.
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// An event a store writes; it assigns `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub version: Option<i64>,
    pub alias: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl NewEvent {
    pub fn new(kind: EventKind) -> Self {
        NewEvent {
            kind,
            version: None,
            alias: None,
            before: None,
            after: None,
        }
    }
    pub fn version(mut self, v: i64) -> Self {
        self.version = Some(v);
        self
    }
    pub fn alias(mut self, a: &str) -> Self {
        self.alias = Some(a.to_owned());
        self
    }
    pub fn before(mut self, v: serde_json::Value) -> Self {
        self.before = Some(v);
        self
    }
    pub fn after(mut self, v: serde_json::Value) -> Self {
        self.after = Some(v);
        self
    }
}

/// Who and when, for every registry write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub actor: String,
    pub at_ms: i64,
}

/// The actor recorded when a request names none.
pub const ANONYMOUS: &str = "anonymous";

//! Model registry use cases: registered models, versions, stages, aliases, tags, search and the change
//! history. Every write names its actor; the store records the change and its event together.

use std::collections::HashSet;
use std::sync::Arc;

use cairn_domain::registry::ANONYMOUS;
use cairn_domain::registry_rules::{
    DEFAULT_MAX_RESULTS_MODEL_VERSIONS, DEFAULT_MAX_RESULTS_REGISTERED_MODELS,
    MAX_RESULTS_MODEL_VERSIONS, MAX_RESULTS_REGISTERED_MODELS, parse_version, validate_alias,
    validate_model_name, validate_model_name_as, validate_registry_tag, validate_settable_alias,
};
use cairn_domain::search::{
    ModelVersionFilter, ModelVersionOrder, PageToken, RegisteredModelFilter, RegisteredModelOrder,
    version_is_prompt,
};
use cairn_domain::time::now_millis;
use cairn_domain::validation::{validate_no_nul, validate_no_nul_opt};
use cairn_domain::{Change, Missing, ModelVersion, RegisteredModel, RegistryEvent, Stage, Tag};
use cairn_store::{EventQuery, GovernanceStore, NewModelVersion, RegistryStore, TrackingStore};

use crate::search::{Page, paginate};
use crate::{ServiceError, ServiceResult};

/// Registry use cases over the registry store (and the tracking store, which registration reads to
/// resolve `runs:/` and `models:/m-…` sources).
#[derive(Clone)]
pub struct Registry {
    pub(crate) store: Arc<dyn RegistryStore>,
    pub(crate) tracking: Arc<dyn TrackingStore>,
    /// Protected aliases, when governance is on: a protected alias moves only by a promotion request.
    guard: Option<Arc<dyn GovernanceStore>>,
}

/// A version to register, as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct NewVersionRequest {
    pub name: String,
    pub source: String,
    pub run_id: Option<String>,
    pub model_id: Option<String>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
}

/// A search over registered models or model versions.
#[derive(Debug, Clone, Default)]
pub struct RegistrySearch {
    pub filter: String,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

/// A page of the change log.
#[derive(Debug, Clone, Default)]
pub struct HistoryRequest {
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

const DEFAULT_MAX_EVENTS: i64 = 100;
const MAX_EVENTS: i64 = 1000;

fn change(actor: &str) -> Change {
    Change {
        actor: if actor.is_empty() { ANONYMOUS } else { actor }.to_owned(),
        at_ms: now_millis(),
    }
}

fn validate_tags(tags: &[Tag]) -> ServiceResult<()> {
    for t in tags {
        validate_registry_tag(&t.key, &t.value)?;
    }
    Ok(())
}

fn max_results(value: Option<i64>, default: i64, max: i64) -> ServiceResult<i64> {
    let v = value.unwrap_or(default);
    if v < 1 {
        return Err(ServiceError::InvalidArgument(format!(
            "Invalid value for max_results. It must be a positive integer, but got {v}"
        )));
    }
    if v > max {
        return Err(ServiceError::InvalidArgument(format!(
            "Invalid value for request parameter max_results. It must be at most {max}, but got value {v}"
        )));
    }
    Ok(v)
}

/// `None` for an absent or empty string, as proto3 reads it.
fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// A description as stored: `None` when empty; one holding a NUL character is refused.
fn checked_description(d: Option<String>) -> ServiceResult<Option<String>> {
    validate_no_nul_opt("description", d.as_deref())?;
    Ok(non_empty(d))
}

impl Registry {
    pub fn new(store: Arc<dyn RegistryStore>, tracking: Arc<dyn TrackingStore>) -> Self {
        Self {
            store,
            tracking,
            guard: None,
        }
    }

    /// This registry, refusing direct moves of protected aliases and stages.
    pub fn guarded(mut self, governance: Arc<dyn GovernanceStore>) -> Self {
        self.guard = Some(governance);
        self
    }

    /// `PermissionDenied` naming the way when `alias` (or a stage) of `name` is protected.
    pub(crate) async fn check_unprotected(&self, name: &str, alias: &str) -> ServiceResult<()> {
        let Some(guard) = &self.guard else {
            return Ok(());
        };
        let rules = guard.protections().await?;
        match crate::governance::protection_for(&rules, name, alias) {
            Some(rule) => Err(ServiceError::PermissionDenied(format!(
                "alias '{alias}' of '{name}' is protected ({} approval(s) needed): request it with \
                 `cairn promote request {name} VERSION --alias {alias} --reason TEXT`",
                rule.approvals
            ))),
            None => Ok(()),
        }
    }

    // --- registered models ---

    pub async fn create_registered_model(
        &self,
        name: &str,
        description: Option<String>,
        tags: Vec<Tag>,
        actor: &str,
    ) -> ServiceResult<RegisteredModel> {
        validate_model_name(name)?;
        validate_tags(&tags)?;
        let description = checked_description(description)?;
        Ok(self
            .store
            .create_registered_model(name, description.as_deref(), tags, &change(actor))
            .await?)
    }

    pub async fn get_registered_model(&self, name: &str) -> ServiceResult<RegisteredModel> {
        validate_model_name(name)?;
        Ok(self.store.get_registered_model(name).await?)
    }

    pub async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
        actor: &str,
    ) -> ServiceResult<RegisteredModel> {
        validate_model_name(name)?;
        validate_model_name_as(new_name, "new_name")?;
        Ok(self
            .store
            .rename_registered_model(name, new_name, &change(actor))
            .await?)
    }

    pub async fn update_registered_model(
        &self,
        name: &str,
        description: Option<String>,
        actor: &str,
    ) -> ServiceResult<RegisteredModel> {
        validate_model_name(name)?;
        Ok(self
            .store
            .update_registered_model(
                name,
                checked_description(description)?.as_deref(),
                &change(actor),
            )
            .await?)
    }

    pub async fn delete_registered_model(&self, name: &str, actor: &str) -> ServiceResult<()> {
        validate_model_name(name)?;
        Ok(self
            .store
            .delete_registered_model(name, &change(actor))
            .await?)
    }

    pub async fn set_registered_model_tag(
        &self,
        name: &str,
        tag: Tag,
        actor: &str,
    ) -> ServiceResult<()> {
        validate_model_name(name)?;
        validate_registry_tag(&tag.key, &tag.value)?;
        Ok(self
            .store
            .set_registered_model_tag(name, tag, &change(actor))
            .await?)
    }

    pub async fn delete_registered_model_tag(
        &self,
        name: &str,
        key: &str,
        actor: &str,
    ) -> ServiceResult<()> {
        validate_model_name(name)?;
        validate_registry_tag(key, "")?;
        Ok(self
            .store
            .delete_registered_model_tag(name, key, &change(actor))
            .await?)
    }

    pub async fn search_registered_models(
        &self,
        q: RegistrySearch,
    ) -> ServiceResult<Page<RegisteredModel>> {
        let max = max_results(
            q.max_results,
            DEFAULT_MAX_RESULTS_REGISTERED_MODELS,
            MAX_RESULTS_REGISTERED_MODELS,
        )?;
        let filter = RegisteredModelFilter::parse(&q.filter)?;
        let order = RegisteredModelOrder::parse(&q.order_by)?;
        let mut models: Vec<RegisteredModel> = self
            .store
            .list_registered_models()
            .await?
            .into_iter()
            .filter(|m| filter.matches(m))
            .collect();
        models.sort_by(|a, b| order.compare(a, b));
        paginate(models, max, q.page_token.as_deref())
    }

    /// The newest version in each of `stages` (all stages when empty).
    pub async fn get_latest_versions(
        &self,
        name: &str,
        stages: &[String],
    ) -> ServiceResult<Vec<ModelVersion>> {
        let wanted = stages
            .iter()
            .map(|s| s.parse::<Stage>())
            .collect::<Result<HashSet<_>, _>>()?;
        let model = self.get_registered_model(name).await?;
        Ok(model
            .latest_versions
            .into_iter()
            .filter(|v| wanted.is_empty() || wanted.contains(&v.current_stage))
            .collect())
    }

    // --- model versions ---

    pub async fn create_model_version(
        &self,
        req: NewVersionRequest,
        actor: &str,
    ) -> ServiceResult<ModelVersion> {
        validate_model_name(&req.name)?;
        if req.source.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "Missing value for required parameter 'source'.".into(),
            ));
        }
        validate_tags(&req.tags)?;
        validate_no_nul("source", &req.source)?;
        validate_no_nul_opt("run_id", req.run_id.as_deref())?;
        validate_no_nul_opt("model_id", req.model_id.as_deref())?;
        validate_no_nul_opt("run_link", req.run_link.as_deref())?;
        let description = checked_description(req.description)?;
        let resolved = self
            .resolve_source(&req.source, non_empty(req.run_id), non_empty(req.model_id))
            .await?;
        let new = NewModelVersion {
            name: req.name,
            source: resolved.source,
            storage_location: resolved.storage_location,
            run_id: resolved.run_id,
            run_link: non_empty(req.run_link),
            model_id: resolved.model_id,
            description,
            tags: req.tags,
            user_id: (!actor.is_empty() && actor != ANONYMOUS).then(|| actor.to_owned()),
        };
        Ok(self.store.create_model_version(new, &change(actor)).await?)
    }

    pub async fn get_model_version(
        &self,
        name: &str,
        version: &str,
    ) -> ServiceResult<ModelVersion> {
        validate_model_name(name)?;
        let version = parse_version(version)?;
        Ok(self.store.get_model_version(name, version).await?)
    }

    pub async fn update_model_version(
        &self,
        name: &str,
        version: &str,
        description: Option<String>,
        actor: &str,
    ) -> ServiceResult<ModelVersion> {
        validate_model_name(name)?;
        let version = parse_version(version)?;
        Ok(self
            .store
            .update_model_version(
                name,
                version,
                checked_description(description)?.as_deref(),
                &change(actor),
            )
            .await?)
    }

    pub async fn transition_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing: bool,
        actor: &str,
    ) -> ServiceResult<ModelVersion> {
        validate_model_name(name)?;
        let version = parse_version(version)?;
        let stage: Stage = stage.parse()?;
        if archive_existing && !stage.is_active() {
            return Err(ServiceError::InvalidArgument(format!(
                "Model version transition cannot archive existing model versions because '{stage}' \
                 is not an Active stage. Valid stages are ['Staging', 'Production']"
            )));
        }
        self.check_unprotected(name, stage.as_str()).await?;
        // Leaving a protected stage (Production → Archived) moves it too.
        if self.guard.is_some() {
            let current = self
                .store
                .get_model_version(name, version)
                .await?
                .current_stage;
            if current != stage {
                self.check_unprotected(name, current.as_str()).await?;
            }
        }
        Ok(self
            .store
            .transition_model_version_stage(name, version, stage, archive_existing, &change(actor))
            .await?)
    }

    pub async fn delete_model_version(
        &self,
        name: &str,
        version: &str,
        actor: &str,
    ) -> ServiceResult<()> {
        validate_model_name(name)?;
        let version = parse_version(version)?;
        // Deleting the version a protected alias (or stage) points at would move it without approval.
        if self.guard.is_some() {
            let v = self.store.get_model_version(name, version).await?;
            for alias in v
                .aliases
                .iter()
                .map(String::as_str)
                .chain([v.current_stage.as_str()])
            {
                self.check_unprotected(name, alias).await?;
            }
        }
        Ok(self
            .store
            .delete_model_version(name, version, &change(actor))
            .await?)
    }

    pub async fn set_model_version_tag(
        &self,
        name: &str,
        version: &str,
        tag: Tag,
        actor: &str,
    ) -> ServiceResult<()> {
        validate_model_name(name)?;
        let version = parse_version(version)?;
        validate_registry_tag(&tag.key, &tag.value)?;
        Ok(self
            .store
            .set_model_version_tag(name, version, tag, &change(actor))
            .await?)
    }

    pub async fn delete_model_version_tag(
        &self,
        name: &str,
        version: &str,
        key: &str,
        actor: &str,
    ) -> ServiceResult<()> {
        validate_model_name(name)?;
        let version = parse_version(version)?;
        validate_registry_tag(key, "")?;
        Ok(self
            .store
            .delete_model_version_tag(name, version, key, &change(actor))
            .await?)
    }

    /// Where a version's files are (the source resolved at registration).
    pub async fn get_download_uri(&self, name: &str, version: &str) -> ServiceResult<String> {
        Ok(self
            .get_model_version(name, version)
            .await?
            .storage_location)
    }

    pub async fn search_model_versions(
        &self,
        q: RegistrySearch,
    ) -> ServiceResult<Page<ModelVersion>> {
        let max = max_results(
            q.max_results,
            DEFAULT_MAX_RESULTS_MODEL_VERSIONS,
            MAX_RESULTS_MODEL_VERSIONS,
        )?;
        let filter = ModelVersionFilter::parse(&q.filter)?;
        let order = ModelVersionOrder::parse(&q.order_by)?;
        let candidates = self.store.list_model_versions(filter.only_name()).await?;
        // MLflow hides every version of a model any version of which is a prompt.
        let prompts: HashSet<&str> = if filter.wants_prompts() {
            HashSet::new()
        } else {
            candidates
                .iter()
                .filter(|v| version_is_prompt(v))
                .map(|v| v.name.as_str())
                .collect()
        };
        let mut versions: Vec<ModelVersion> = candidates
            .iter()
            .filter(|v| !prompts.contains(v.name.as_str()) && filter.matches(v))
            .cloned()
            .collect();
        versions.sort_by(|a, b| order.compare(a, b));
        paginate(versions, max, q.page_token.as_deref())
    }

    // --- aliases ---

    pub async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
        actor: &str,
    ) -> ServiceResult<()> {
        validate_model_name(name)?;
        validate_settable_alias(alias)?;
        let version = parse_version(version)?;
        self.check_unprotected(name, alias).await?;
        Ok(self
            .store
            .set_alias(name, alias, version, &change(actor))
            .await?)
    }

    /// Moves `alias` to `version` only if it still points at `expected` (`None`: only if unset); when
    /// it moved meanwhile, `Conflict(AliasMoved)` and nothing changes.
    pub async fn compare_and_set_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
        expected: Option<&str>,
        actor: &str,
    ) -> ServiceResult<()> {
        validate_model_name(name)?;
        validate_settable_alias(alias)?;
        let version = parse_version(version)?;
        let expected = expected.map(parse_version).transpose()?;
        self.check_unprotected(name, alias).await?;
        Ok(self
            .store
            .compare_and_set_alias(name, alias, version, expected, &change(actor))
            .await?)
    }

    pub async fn delete_alias(&self, name: &str, alias: &str, actor: &str) -> ServiceResult<()> {
        validate_model_name(name)?;
        validate_alias(alias)?;
        self.check_unprotected(name, alias).await?;
        Ok(self.store.delete_alias(name, alias, &change(actor)).await?)
    }

    /// The version an alias points at; `latest` (any case) is the newest live version.
    pub async fn get_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> ServiceResult<ModelVersion> {
        validate_model_name(name)?;
        validate_alias(alias)?;
        if alias.eq_ignore_ascii_case("latest") {
            self.store.get_registered_model(name).await?;
            return self
                .store
                .list_model_versions(Some(name))
                .await?
                .into_iter()
                .max_by_key(|v| v.version)
                .ok_or_else(|| ServiceError::NotFound(Missing::LatestVersion(name.to_owned())));
        }
        self.store
            .get_version_by_alias(name, alias)
            .await?
            .ok_or_else(|| {
                ServiceError::InvalidArgument(format!("Registered model alias {alias} not found."))
            })
    }

    // --- change history ---

    /// A model's history, oldest first, a page at a time (through renames; after a delete, the last
    /// model of that name).
    pub async fn history(
        &self,
        name: &str,
        req: HistoryRequest,
    ) -> ServiceResult<Page<RegistryEvent>> {
        validate_model_name(name)?;
        self.event_page(Some(name.to_owned()), req, false).await
    }

    /// The registry-wide change log, oldest first: what deployments and auditors follow. Every page
    /// carries a token, the last one included, so that a follower can poll for what comes next.
    pub async fn events(&self, req: HistoryRequest) -> ServiceResult<Page<RegistryEvent>> {
        self.event_page(None, req, true).await
    }

    async fn event_page(
        &self,
        model: Option<String>,
        req: HistoryRequest,
        feed: bool,
    ) -> ServiceResult<Page<RegistryEvent>> {
        let (after_seq, limit) = event_window(&req)?;
        let mut items = self
            .store
            .events(EventQuery {
                model,
                after_seq,
                limit: limit + 1,
            })
            .await?;
        let more = items.len() > limit;
        items.truncate(limit);
        let resume = items.last().map_or(after_seq, |e| e.seq);
        let next_page_token = (more || feed).then(|| event_token(resume));
        Ok(Page {
            items,
            next_page_token,
        })
    }
}

/// Where a page of a change log starts (after this sequence number) and how many events it holds.
pub(crate) fn event_window(req: &HistoryRequest) -> ServiceResult<(i64, usize)> {
    let max = max_results(req.max_results, DEFAULT_MAX_EVENTS, MAX_EVENTS)?;
    let after_seq = match req.page_token.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => i64::try_from(PageToken::decode(t)?.offset).unwrap_or(i64::MAX),
        None => 0,
    };
    Ok((after_seq, usize::try_from(max).unwrap_or(usize::MAX)))
}

/// The page token that resumes a change log after `seq`.
pub(crate) fn event_token(seq: i64) -> String {
    PageToken {
        offset: usize::try_from(seq).unwrap_or(0),
    }
    .encode()
}

/// Who makes a request, as the transport identified them; recorded on every registry change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn anonymous() -> Self {
        Actor(ANONYMOUS.to_owned())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

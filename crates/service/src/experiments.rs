//! Experiment use cases.

use cairn_domain::search::{ExperimentFilter, ExperimentOrder};
use cairn_domain::time::now_millis;
use cairn_domain::validation::{
    KeyKind, MAX_RESULTS_SEARCH_EXPERIMENTS, validate_experiment_name, validate_key,
    validate_max_results, validate_no_nul, validate_no_nul_opt, validate_value_length,
};
use cairn_domain::{Experiment, ExperimentId, LifecycleStage, Tag, ViewType};
use cairn_store::NewExperiment;

use crate::search::{Page, paginate};
use crate::{ServiceError, ServiceResult, Tracking};

/// A search over experiments.
#[derive(Debug, Clone, Default)]
pub struct ExperimentSearch {
    pub filter: String,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
    pub view: ViewType,
}

impl Tracking {
    /// Active run counts and last activity of these experiments (those without runs are left out).
    pub async fn run_activity(
        &self,
        experiments: &[ExperimentId],
    ) -> ServiceResult<Vec<cairn_store::RunActivity>> {
        Ok(self.store.run_activity(experiments).await?)
    }

    pub async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<String>,
        tags: Vec<Tag>,
    ) -> ServiceResult<ExperimentId> {
        validate_experiment_name(name)?;
        validate_tags(&tags)?;
        validate_no_nul_opt("artifact_location", artifact_location.as_deref())?;
        if let Some(loc) = &artifact_location
            && loc.trim().is_empty()
        {
            return Err(ServiceError::InvalidArgument(
                "artifact_location must not be empty when given".into(),
            ));
        }
        Ok(self
            .store
            .create_experiment(NewExperiment {
                name: name.to_string(),
                artifact_location: artifact_location.filter(|l| !l.is_empty()),
                default_artifact_root: self.default_artifact_root.clone(),
                tags,
                creation_time: now_millis(),
            })
            .await?)
    }

    pub async fn get_experiment(&self, id: &str) -> ServiceResult<Experiment> {
        Ok(self.store.get_experiment(parse_experiment_id(id)?).await?)
    }

    pub async fn get_experiment_by_name(&self, name: &str) -> ServiceResult<Experiment> {
        if name.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "Missing value for required parameter 'experiment_name'.".into(),
            ));
        }
        validate_no_nul("experiment_name", name)?;
        Ok(self.store.get_experiment_by_name(name).await?)
    }

    pub async fn search_experiments(&self, q: ExperimentSearch) -> ServiceResult<Page<Experiment>> {
        let max = q.max_results.unwrap_or(1000);
        validate_max_results(max, MAX_RESULTS_SEARCH_EXPERIMENTS)?;
        let filter = ExperimentFilter::parse(&q.filter)?;
        let order = ExperimentOrder::parse(&q.order_by)?;
        let mut found: Vec<Experiment> = self
            .store
            .list_experiments(q.view)
            .await?
            .into_iter()
            .filter(|e| filter.matches(e))
            .collect();
        found.sort_by(|a, b| order.compare(a, b));
        paginate(found, max, q.page_token.as_deref())
    }

    pub async fn rename_experiment(&self, id: &str, new_name: &str) -> ServiceResult<()> {
        validate_experiment_name(new_name)?;
        let id = parse_experiment_id(id)?;
        let exp = self.store.get_experiment(id).await?;
        if exp.lifecycle_stage != LifecycleStage::Active {
            return Err(ServiceError::InvalidArgument(format!(
                "Cannot rename a non-active experiment {id}."
            )));
        }
        Ok(self
            .store
            .rename_experiment(id, new_name, now_millis())
            .await?)
    }

    pub async fn delete_experiment(&self, id: &str) -> ServiceResult<()> {
        self.set_experiment_stage(id, LifecycleStage::Deleted).await
    }

    pub async fn restore_experiment(&self, id: &str) -> ServiceResult<()> {
        self.set_experiment_stage(id, LifecycleStage::Active).await
    }

    async fn set_experiment_stage(&self, id: &str, stage: LifecycleStage) -> ServiceResult<()> {
        let id = parse_experiment_id(id)?;
        Ok(self
            .store
            .set_experiment_lifecycle(id, stage, now_millis())
            .await?)
    }

    pub async fn set_experiment_tag(&self, id: &str, tag: Tag) -> ServiceResult<()> {
        validate_tags(std::slice::from_ref(&tag))?;
        let id = parse_experiment_id(id)?;
        Ok(self.store.set_experiment_tag(id, tag).await?)
    }

    pub async fn delete_experiment_tag(&self, id: &str, key: &str) -> ServiceResult<()> {
        let id = parse_experiment_id(id)?;
        Ok(self.store.delete_experiment_tag(id, key).await?)
    }
}

pub(crate) fn parse_experiment_id(id: &str) -> ServiceResult<ExperimentId> {
    if id.is_empty() {
        return Err(ServiceError::InvalidArgument(
            "Missing value for required parameter 'experiment_id'.".into(),
        ));
    }
    Ok(ExperimentId::parse(id)?)
}

pub(crate) fn validate_tags(tags: &[Tag]) -> ServiceResult<()> {
    for t in tags {
        validate_key(KeyKind::Tag, &t.key)?;
        validate_value_length(KeyKind::Tag, &t.key, &t.value)?;
    }
    Ok(())
}

//! Logged-model use cases (MLflow 3.x models as first-class entities).

use cairn_domain::search::{LoggedModelFilter, LoggedModelOrder, LoggedModelOrderBy};
use cairn_domain::time::now_millis;
use cairn_domain::validation::{validate_max_results, validate_no_nul, validate_no_nul_opt};
use cairn_domain::{LoggedModel, LoggedModelId, LoggedModelStatus, Missing, Param, Tag};
use cairn_store::{LoggedModelUpdate, NewLoggedModel};

use crate::experiments::{parse_experiment_id, validate_tags};
use crate::runs::parse_run_id;
use crate::search::{Page, paginate};
use crate::{ServiceError, ServiceResult, Tracking};

const MAX_RESULTS_SEARCH_LOGGED_MODELS: i64 = 50_000;

/// A logged model to create.
#[derive(Debug, Clone, Default)]
pub struct NewModel {
    pub experiment_id: String,
    pub name: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

/// A search over logged models.
#[derive(Debug, Clone, Default)]
pub struct LoggedModelSearch {
    pub experiment_ids: Vec<String>,
    pub filter: String,
    pub max_results: Option<i64>,
    pub order_by: Vec<LoggedModelOrderBy>,
    pub page_token: Option<String>,
}

impl Tracking {
    pub async fn create_logged_model(&self, req: NewModel) -> ServiceResult<LoggedModel> {
        let experiment_id = parse_experiment_id(&req.experiment_id)?;
        validate_tags(&req.tags)?;
        for p in &req.params {
            validate_no_nul("param key", &p.key)?;
            validate_no_nul(&format!("param '{}' value", p.key), &p.value)?;
        }
        validate_no_nul_opt("name", req.name.as_deref())?;
        validate_no_nul_opt("model_type", req.model_type.as_deref())?;
        if let Some(run) = req.source_run_id.as_deref().filter(|r| !r.is_empty()) {
            parse_run_id(run)?;
        }
        let name = req
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(cairn_domain::names::generate_run_name);
        Ok(self
            .store
            .create_logged_model(NewLoggedModel {
                model_id: LoggedModelId::generate(),
                experiment_id,
                name,
                model_type: req.model_type.filter(|t| !t.is_empty()),
                source_run_id: req.source_run_id.filter(|r| !r.is_empty()),
                params: req.params,
                tags: req.tags,
                creation_timestamp_ms: now_millis(),
            })
            .await?)
    }

    pub async fn get_logged_model(&self, id: &str) -> ServiceResult<LoggedModel> {
        Ok(self.store.get_logged_model(&parse_model_id(id)?).await?)
    }

    pub async fn finalize_logged_model(
        &self,
        id: &str,
        status: LoggedModelStatus,
    ) -> ServiceResult<LoggedModel> {
        let id = parse_model_id(id)?;
        let update = LoggedModelUpdate {
            status,
            status_message: None,
            updated_ms: now_millis(),
        };
        Ok(self.store.update_logged_model(&id, update).await?)
    }

    pub async fn set_logged_model_tags(&self, id: &str, tags: Vec<Tag>) -> ServiceResult<()> {
        validate_tags(&tags)?;
        Ok(self
            .store
            .set_logged_model_tags(&parse_model_id(id)?, tags)
            .await?)
    }

    pub async fn delete_logged_model_tag(&self, id: &str, key: &str) -> ServiceResult<()> {
        Ok(self
            .store
            .delete_logged_model_tag(&parse_model_id(id)?, key)
            .await?)
    }

    pub async fn delete_logged_model(&self, id: &str) -> ServiceResult<()> {
        Ok(self
            .store
            .delete_logged_model(&parse_model_id(id)?, now_millis())
            .await?)
    }

    pub async fn search_logged_models(
        &self,
        q: LoggedModelSearch,
    ) -> ServiceResult<Page<LoggedModel>> {
        let max = q.max_results.unwrap_or(100);
        validate_max_results(max, MAX_RESULTS_SEARCH_LOGGED_MODELS)?;
        if q.experiment_ids.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "At least one experiment ID must be specified.".into(),
            ));
        }
        let ids = q
            .experiment_ids
            .iter()
            .map(|id| parse_experiment_id(id))
            .collect::<ServiceResult<Vec<_>>>()?;
        let filter = LoggedModelFilter::parse(&q.filter)?;
        let order = LoggedModelOrder::parse(&q.order_by)?;
        let mut models: Vec<LoggedModel> = self
            .store
            .list_logged_models(&ids)
            .await?
            .into_iter()
            .filter(|m| filter.matches(m))
            .collect();
        models.sort_by(|a, b| order.compare(a, b));
        paginate(models, max, q.page_token.as_deref())
    }
}

fn parse_model_id(id: &str) -> ServiceResult<LoggedModelId> {
    LoggedModelId::parse(id)
        .map_err(|_| ServiceError::NotFound(Missing::LoggedModel(id.to_owned())))
}

//! Run lifecycle use cases.

use cairn_domain::time::now_millis;
use cairn_domain::{LifecycleStage, Missing, Run, RunId, RunInfo, RunStatus, Tag};
use cairn_store::{NewRun, RunUpdate};

use crate::experiments::{parse_experiment_id, validate_tags};
use crate::{ServiceError, ServiceResult, Tracking};
use cairn_domain::names::generate_run_name;

/// The tag MLflow keeps equal to a run's name.
pub(crate) const RUN_NAME_TAG: &str = "mlflow.runName";

/// A run to start.
#[derive(Debug, Clone, Default)]
pub struct NewRunRequest {
    pub experiment_id: Option<String>,
    pub user_id: String,
    pub run_name: Option<String>,
    pub start_time: Option<i64>,
    pub tags: Vec<Tag>,
}

impl Tracking {
    pub async fn create_run(&self, req: NewRunRequest) -> ServiceResult<Run> {
        self.create_run_as(RunId::generate(), req).await
    }

    /// Creates a run under an id chosen beforehand (a triggered pipeline run's, known before the run
    /// exists).
    pub async fn create_run_as(&self, run_id: RunId, req: NewRunRequest) -> ServiceResult<Run> {
        let experiment_id = parse_experiment_id(req.experiment_id.as_deref().unwrap_or("0"))?;
        validate_tags(&req.tags)?;
        let mut tags = req.tags;
        let tag_name = tags
            .iter()
            .find(|t| t.key == RUN_NAME_TAG)
            .map(|t| t.value.clone());
        let given = req.run_name.filter(|n| !n.is_empty());
        if let Some(name) = &given {
            validate_run_name(name)?;
        }
        cairn_domain::validation::validate_no_nul("user_id", &req.user_id)?;
        if let (Some(a), Some(b)) = (&given, &tag_name)
            && a != b
        {
            return Err(ServiceError::InvalidArgument(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different \
                 values (run_name='{a}', mlflow.runName='{b}')."
            )));
        }
        let run_name = given.or(tag_name.clone()).unwrap_or_else(generate_run_name);
        if tag_name.is_none() {
            tags.push(Tag {
                key: RUN_NAME_TAG.into(),
                value: run_name.clone(),
            });
        }
        Ok(self
            .store
            .create_run(NewRun {
                run_id,
                experiment_id,
                run_name,
                user_id: req.user_id,
                start_time: req.start_time.unwrap_or_else(now_millis),
                tags,
            })
            .await?)
    }

    pub async fn get_run(&self, id: &str) -> ServiceResult<Run> {
        Ok(self.store.get_run(&parse_run_id(id)?).await?)
    }

    pub async fn update_run(
        &self,
        id: &str,
        status: Option<RunStatus>,
        end_time: Option<i64>,
        run_name: Option<String>,
    ) -> ServiceResult<RunInfo> {
        let id = parse_run_id(id)?;
        let run_name = run_name.filter(|n| !n.is_empty());
        if let Some(name) = &run_name {
            validate_run_name(name)?;
        }
        Ok(self
            .store
            .update_run(
                &id,
                RunUpdate {
                    status,
                    end_time,
                    run_name,
                },
            )
            .await?)
    }

    pub async fn delete_run(&self, id: &str) -> ServiceResult<()> {
        let id = parse_run_id(id)?;
        Ok(self
            .store
            .set_run_lifecycle(&id, LifecycleStage::Deleted, now_millis())
            .await?)
    }

    pub async fn restore_run(&self, id: &str) -> ServiceResult<()> {
        let id = parse_run_id(id)?;
        Ok(self
            .store
            .set_run_lifecycle(&id, LifecycleStage::Active, now_millis())
            .await?)
    }
}

/// A run name is stored as the `mlflow.runName` tag too, so it follows a tag value's rules.
fn validate_run_name(name: &str) -> ServiceResult<()> {
    cairn_domain::validation::validate_no_nul("run_name", name)?;
    validate_tags(&[Tag {
        key: RUN_NAME_TAG.into(),
        value: name.to_owned(),
    }])
}

/// Parses a run id; one that cannot name a run is reported as not found, like MLflow's stores do.
pub(crate) fn parse_run_id(id: &str) -> ServiceResult<RunId> {
    if id.is_empty() {
        return Err(ServiceError::InvalidArgument(
            "Missing value for required parameter 'run_id'.".into(),
        ));
    }
    RunId::parse(id).map_err(|_| ServiceError::NotFound(Missing::Run(id.to_owned())))
}

//! Logged models (MLflow 3.x): the model entity, its params, tags and the metrics linked to it.

use async_trait::async_trait;
use cairn_domain::{LoggedModel, LoggedModelId, Tag};
use cairn_store::{LoggedModelUpdate, NewLoggedModel, StoreResult};
use cairn_store_sql::{
    EngineLoggedModels, load_model, model_artifact_uri, model_not_found, no_active_experiment,
};
use sqlx::{PgConnection, Row};

use crate::PostgresDb;
use crate::errors::TxResult;
use crate::key_values::{self, key_value_rows, last_per_key};
use crate::load::Loader;

#[async_trait]
impl EngineLoggedModels for PostgresDb {
    async fn create_logged_model(&self, new: NewLoggedModel) -> StoreResult<LoggedModel> {
        let new = &new;
        self.write(|| async move {
            let mut tx = self.begin().await?;
            let location: String = sqlx::query(
                "SELECT artifact_location FROM experiments \
                 WHERE experiment_id = $1 AND lifecycle_stage = 'active' FOR SHARE",
            )
            .bind(new.experiment_id.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| no_active_experiment(new.experiment_id))?
            .get(0);
            sqlx::query(
                "INSERT INTO logged_models (model_id, experiment_id, name, artifact_uri, \
                 creation_timestamp_ms, last_updated_timestamp_ms, status, model_type, source_run_id) \
                 VALUES ($1, $2, $3, $4, $5, $5, 'LOGGED_MODEL_PENDING', $6, $7)",
            )
            .bind(new.model_id.as_str())
            .bind(new.experiment_id.0)
            .bind(&new.name)
            .bind(model_artifact_uri(&location, &new.model_id))
            .bind(new.creation_timestamp_ms)
            .bind(&new.model_type)
            .bind(&new.source_run_id)
            .execute(&mut *tx)
            .await?;
            if !new.params.is_empty() {
                let params = new.params.iter();
                let last = last_per_key(params.map(|p| (p.key.as_str(), p.value.as_str())));
                let id = new.model_id.as_str().to_string();
                let mut b = key_value_rows("logged_model_params", "model_id", id, &last);
                b.build().execute(&mut *tx).await?;
            }
            upsert_tags(&mut tx, &new.model_id, &new.tags).await?;
            let model = load_model(&mut Loader(&mut tx), &new.model_id).await?;
            tx.commit().await?;
            Ok(model)
        })
        .await
    }

    async fn update_logged_model(
        &self,
        id: &LoggedModelId,
        update: LoggedModelUpdate,
    ) -> StoreResult<LoggedModel> {
        let update = &update;
        self.write(|| async move {
            let mut tx = self.begin().await?;
            let r = sqlx::query(
                "UPDATE logged_models SET status = $1, status_message = $2, \
                 last_updated_timestamp_ms = $3 WHERE model_id = $4 AND lifecycle_stage = 'active'",
            )
            .bind(update.status.as_str())
            .bind(&update.status_message)
            .bind(update.updated_ms)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 0 {
                return Err(model_not_found(id).into());
            }
            let model = load_model(&mut Loader(&mut tx), id).await?;
            tx.commit().await?;
            Ok(model)
        })
        .await
    }

    async fn set_logged_model_tags(&self, id: &LoggedModelId, tags: Vec<Tag>) -> StoreResult<()> {
        let tags = &tags;
        self.write(|| async move {
            let mut tx = self.begin().await?;
            lock_active(&mut tx, id).await?;
            upsert_tags(&mut tx, id, tags).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

/// Locks the model's row for the rest of the transaction; fails unless the model exists and is active.
async fn lock_active(conn: &mut PgConnection, id: &LoggedModelId) -> TxResult<()> {
    sqlx::query(
        "SELECT 1 FROM logged_models WHERE model_id = $1 AND lifecycle_stage = 'active' FOR UPDATE",
    )
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .map(|_| ())
    .ok_or_else(|| model_not_found(id).into())
}

/// Sets model tags; the last of repeated keys wins.
async fn upsert_tags(conn: &mut PgConnection, id: &LoggedModelId, tags: &[Tag]) -> TxResult<()> {
    let id = id.as_str().to_string();
    key_values::upsert_tags(conn, "logged_model_tags", "model_id", id, tags).await
}

//! Logged models (MLflow 3.x): the model entity, its params, tags and the metrics linked to it.

use async_trait::async_trait;
use cairn_domain::{LoggedModel, LoggedModelId, Tag};
use cairn_store::{LoggedModelUpdate, NewLoggedModel, StoreResult};
use cairn_store_sql::{
    EngineLoggedModels, load_model, model_artifact_uri, model_not_found, no_active_experiment,
};
use sqlx::{Row, SqliteConnection};

use crate::SqliteDb;
use crate::errors::db;
use crate::load::Loader;

#[async_trait]
impl EngineLoggedModels for SqliteDb {
    async fn create_logged_model(&self, new: NewLoggedModel) -> StoreResult<LoggedModel> {
        let mut tx = self.begin_write().await?;
        let location: String = sqlx::query(
            "SELECT artifact_location FROM experiments WHERE experiment_id = ?1 AND lifecycle_stage = 'active'",
        )
        .bind(new.experiment_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .ok_or_else(|| no_active_experiment(new.experiment_id))?
        .get(0);
        sqlx::query(
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_uri, creation_timestamp_ms, \
             last_updated_timestamp_ms, status, model_type, source_run_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, 'LOGGED_MODEL_PENDING', ?6, ?7)",
        )
        .bind(new.model_id.as_str())
        .bind(new.experiment_id.0)
        .bind(&new.name)
        .bind(model_artifact_uri(&location, &new.model_id))
        .bind(new.creation_timestamp_ms)
        .bind(&new.model_type)
        .bind(&new.source_run_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for p in &new.params {
            sqlx::query("INSERT OR REPLACE INTO logged_model_params (model_id, key, value) VALUES (?1, ?2, ?3)")
                .bind(new.model_id.as_str())
                .bind(&p.key)
                .bind(&p.value)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        for t in &new.tags {
            upsert_tag(&mut tx, &new.model_id, t).await?;
        }
        let model = load_model(&mut Loader(&mut tx), &new.model_id).await?;
        tx.commit().await.map_err(db)?;
        Ok(model)
    }

    async fn update_logged_model(
        &self,
        id: &LoggedModelId,
        update: LoggedModelUpdate,
    ) -> StoreResult<LoggedModel> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE logged_models SET status = ?1, status_message = ?2, last_updated_timestamp_ms = ?3 \
             WHERE model_id = ?4 AND lifecycle_stage = 'active'",
        )
        .bind(update.status.as_str())
        .bind(&update.status_message)
        .bind(update.updated_ms)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(model_not_found(id));
        }
        let model = load_model(&mut Loader(&mut tx), id).await?;
        tx.commit().await.map_err(db)?;
        Ok(model)
    }

    async fn set_logged_model_tags(&self, id: &LoggedModelId, tags: Vec<Tag>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        require_model(&mut tx, id).await?;
        for t in &tags {
            upsert_tag(&mut tx, id, t).await?;
        }
        tx.commit().await.map_err(db)
    }
}

async fn require_model(conn: &mut SqliteConnection, id: &LoggedModelId) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM logged_models WHERE model_id = ?1 AND lifecycle_stage = 'active'")
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .map(|_| ())
        .ok_or_else(|| model_not_found(id))
}

async fn upsert_tag(conn: &mut SqliteConnection, id: &LoggedModelId, t: &Tag) -> StoreResult<()> {
    sqlx::query(
        "INSERT OR REPLACE INTO logged_model_tags (model_id, key, value) VALUES (?1, ?2, ?3)",
    )
    .bind(id.as_str())
    .bind(&t.key)
    .bind(&t.value)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

//! Logged models (MLflow 3.x): the model entity, its params, tags and the metrics linked to it.

use std::collections::HashMap;

use cairn_domain::{ExperimentId, LoggedModel, LoggedModelId, Metric, Param, Tag};
use cairn_store::{LoggedModelUpdate, NewLoggedModel, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, SqliteConnection};

use crate::SqliteStore;
use crate::errors::db;
use crate::load::{metric_value, parse_col};

impl SqliteStore {
    pub(crate) async fn create_logged_model_impl(
        &self,
        new: NewLoggedModel,
    ) -> StoreResult<LoggedModel> {
        let mut tx = self.begin_write().await?;
        let location: String = sqlx::query(
            "SELECT artifact_location FROM experiments WHERE experiment_id = ?1 AND lifecycle_stage = 'active'",
        )
        .bind(new.experiment_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .ok_or_else(|| {
            StoreError::NotFound(format!("No active Experiment with id={} exists", new.experiment_id))
        })?
        .get(0);
        let artifact_uri = format!(
            "{}/models/{}/artifacts",
            location.trim_end_matches('/'),
            new.model_id
        );
        sqlx::query(
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_uri, creation_timestamp_ms, \
             last_updated_timestamp_ms, status, model_type, source_run_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, 'LOGGED_MODEL_PENDING', ?6, ?7)",
        )
        .bind(new.model_id.as_str())
        .bind(new.experiment_id.0)
        .bind(&new.name)
        .bind(&artifact_uri)
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
        let model = load_models(&mut tx, "m.model_id = ?1", Some(new.model_id.as_str()))
            .await?
            .pop()
            .ok_or_else(|| not_found(&new.model_id))?;
        tx.commit().await.map_err(db)?;
        Ok(model)
    }

    pub(crate) async fn get_logged_model_impl(
        &self,
        id: &LoggedModelId,
    ) -> StoreResult<LoggedModel> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        load_models(
            &mut conn,
            "m.model_id = ?1 AND m.lifecycle_stage = 'active'",
            Some(id.as_str()),
        )
        .await?
        .pop()
        .ok_or_else(|| not_found(id))
    }

    pub(crate) async fn update_logged_model_impl(
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
            return Err(not_found(id));
        }
        let model = load_models(&mut tx, "m.model_id = ?1", Some(id.as_str()))
            .await?
            .pop()
            .ok_or_else(|| not_found(id))?;
        tx.commit().await.map_err(db)?;
        Ok(model)
    }

    pub(crate) async fn set_logged_model_tags_impl(
        &self,
        id: &LoggedModelId,
        tags: Vec<Tag>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        require_model(&mut tx, id).await?;
        for t in &tags {
            upsert_tag(&mut tx, id, t).await?;
        }
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn delete_logged_model_tag_impl(
        &self,
        id: &LoggedModelId,
        key: &str,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        require_model(&mut tx, id).await?;
        let r = sqlx::query("DELETE FROM logged_model_tags WHERE model_id = ?1 AND key = ?2")
            .bind(id.as_str())
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "No tag with key '{key}' found for logged model with ID '{id}'"
            )));
        }
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn delete_logged_model_impl(
        &self,
        id: &LoggedModelId,
        now: i64,
    ) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = ?1 \
             WHERE model_id = ?2 AND lifecycle_stage = 'active'",
        )
        .bind(now)
        .bind(id.as_str())
        .execute(&self.write)
        .await
        .map_err(db)?;
        if r.rows_affected() == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }

    pub(crate) async fn list_logged_models_impl(
        &self,
        experiments: &[ExperimentId],
    ) -> StoreResult<Vec<LoggedModel>> {
        if experiments.is_empty() {
            return Ok(Vec::new());
        }
        let ids = experiments
            .iter()
            .map(|e| e.0.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let mut conn = self.read.acquire().await.map_err(db)?;
        load_models(
            &mut conn,
            &format!("m.experiment_id IN ({ids}) AND m.lifecycle_stage = 'active'"),
            None,
        )
        .await
    }
}

async fn require_model(conn: &mut SqliteConnection, id: &LoggedModelId) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM logged_models WHERE model_id = ?1 AND lifecycle_stage = 'active'")
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .map(|_| ())
        .ok_or_else(|| not_found(id))
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

/// Loads the models matching `condition` (over `logged_models m`, with an optional bound `?1`).
async fn load_models(
    conn: &mut SqliteConnection,
    condition: &str,
    bind: Option<&str>,
) -> StoreResult<Vec<LoggedModel>> {
    let fetch = |sql: String| {
        let q = sqlx::query(AssertSqlSafe(sql));
        match bind {
            Some(b) => q.bind(b.to_string()),
            None => q,
        }
    };
    let rows = fetch(format!(
        "SELECT m.model_id, m.experiment_id, m.name, m.artifact_uri, m.creation_timestamp_ms, \
         m.last_updated_timestamp_ms, m.status, m.status_message, m.model_type, m.source_run_id, \
         m.lifecycle_stage FROM logged_models m WHERE {condition} ORDER BY m.creation_timestamp_ms"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut models = rows.iter().map(model).collect::<StoreResult<Vec<_>>>()?;
    if models.is_empty() {
        return Ok(models);
    }
    let index: HashMap<String, usize> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.model_id.as_str().to_string(), i))
        .collect();
    let sub = format!("SELECT m.model_id FROM logged_models m WHERE {condition}");
    for row in fetch(format!(
        "SELECT model_id, key, value FROM logged_model_params WHERE model_id IN ({sub}) ORDER BY key"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    {
        if let Some(&i) = index.get(row.get::<&str, _>(0)) {
            models[i].params.push(Param { key: row.get(1), value: row.get(2) });
        }
    }
    for row in fetch(format!(
        "SELECT model_id, key, value FROM logged_model_tags WHERE model_id IN ({sub}) ORDER BY key"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    {
        if let Some(&i) = index.get(row.get::<&str, _>(0)) {
            models[i].tags.push(Tag {
                key: row.get(1),
                value: row.get(2),
            });
        }
    }
    for row in fetch(format!(
        "SELECT model_id, run_id, key, value, is_nan, step, timestamp, dataset_name, dataset_digest \
         FROM metrics WHERE model_id IN ({sub}) ORDER BY key, step, timestamp"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    {
        if let Some(&i) = index.get(row.get::<&str, _>(0)) {
            let m = Metric {
                model_id: Some(row.get(0)),
                run_id: Some(row.get(1)),
                key: row.get(2),
                value: metric_value(&row, 3, 4),
                step: row.get(5),
                timestamp: row.get(6),
                dataset_name: row.get(7),
                dataset_digest: row.get(8),
            };
            keep_latest(&mut models[i].metrics, m);
        }
    }
    Ok(models)
}

/// Keeps one point per (key, dataset): the latest.
fn keep_latest(list: &mut Vec<Metric>, m: Metric) {
    let same = |x: &Metric| {
        x.key == m.key && x.dataset_name == m.dataset_name && x.dataset_digest == m.dataset_digest
    };
    match list.iter_mut().find(|x| same(x)) {
        Some(cur) if m.is_newer_than(cur) => *cur = m,
        Some(_) => {}
        None => list.push(m),
    }
}

fn model(row: &SqliteRow) -> StoreResult<LoggedModel> {
    let id: String = row.get(0);
    Ok(LoggedModel {
        model_id: LoggedModelId::parse(&id).map_err(|e| StoreError::Internal(e.to_string()))?,
        experiment_id: ExperimentId(row.get(1)),
        name: row.get(2),
        artifact_uri: row.get(3),
        creation_timestamp_ms: row.get(4),
        last_updated_timestamp_ms: row.get(5),
        status: parse_col(row, 6)?,
        status_message: row.get(7),
        model_type: row.get(8),
        source_run_id: row.get(9),
        lifecycle_stage: parse_col(row, 10)?,
        tags: Vec::new(),
        params: Vec::new(),
        metrics: Vec::new(),
    })
}

fn not_found(id: &LoggedModelId) -> StoreError {
    StoreError::NotFound(format!("Logged model with ID '{id}' not found."))
}

//! The logged-model tag `mlflow.modelVersions`: the registered versions made from a logged model, which
//! MLflow's UI and client read. Written in the registration's transaction, in the JSON spelling Python's
//! `json.dumps` gives it (MLflow writes it that way, and clients append to it textually).

use cairn_store::StoreResult;
use serde_json::{Value, json};

use super::db::Tx;

pub(crate) const MODEL_VERSIONS_TAG: &str = "mlflow.modelVersions";

/// Adds `{"name": name, "version": version}` to the logged model's tag, unless it is there already. A
/// logged model that does not exist (or is deleted) is left alone, as MLflow's registry does not require
/// one.
pub(crate) async fn append_model_version(
    tx: &mut dyn Tx,
    model_id: &str,
    name: &str,
    version: i64,
) -> StoreResult<()> {
    let live = !tx
        .query(
            "SELECT 1 FROM logged_models WHERE model_id = $1 AND lifecycle_stage = 'active'",
            vec![model_id.into()],
        )
        .await?
        .is_empty();
    if !live {
        return Ok(());
    }
    let current = tx
        .query(
            "SELECT value FROM logged_model_tags WHERE model_id = $1 AND key = $2",
            vec![model_id.into(), MODEL_VERSIONS_TAG.into()],
        )
        .await?
        .first()
        .map(|r| r.text(0))
        .transpose()?;
    let entry = json!({"name": name, "version": version});
    let mut list = match current.as_deref().map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Array(items))) => items,
        _ => Vec::new(),
    };
    if list.contains(&entry) {
        return Ok(());
    }
    list.push(entry);
    tx.execute(
        "INSERT INTO logged_model_tags (model_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
        vec![
            model_id.into(),
            MODEL_VERSIONS_TAG.into(),
            python_json(&Value::Array(list)).into(),
        ],
    )
    .await?;
    Ok(())
}

/// `json.dumps` with its default separators (`", "` and `": "`), keys in the order held.
fn python_json(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_json).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), python_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelled_as_python_does() {
        let v = json!([{"name": "m", "version": 1}, {"name": "n", "version": "2"}]);
        assert_eq!(
            python_json(&v),
            r#"[{"name": "m", "version": 1}, {"name": "n", "version": "2"}]"#
        );
    }
}

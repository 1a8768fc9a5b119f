//! Delayed labels ("feedback"): ground truth for logged predictions, sent hours or days later by
//! request id (and row within the request) or by a key column the model's input carries; joined to the
//! logged rows when a monitor evaluates.

use cairn_domain::time::now_millis;
use cairn_store::Label;
use serde_json::Value;

use super::Monitors;
use crate::{ServiceError, ServiceResult};

/// The most labels one request may carry.
pub const MAX_LABELS: usize = 100_000;

/// One label as sent.
#[derive(Debug, Clone)]
pub struct LabelRequest {
    pub request_id: Option<String>,
    pub row: Option<i64>,
    pub key: Option<Value>,
    pub label: Value,
}

impl Monitors {
    /// Stores the labels (all or none); `key_column` names the input column `key`s are values of.
    pub async fn add_labels(
        &self,
        deployment: &str,
        key_column: Option<&str>,
        labels: Vec<LabelRequest>,
    ) -> ServiceResult<usize> {
        self.deployments.get(deployment).await?;
        let bad = |m: String| Err(ServiceError::InvalidArgument(m));
        if labels.is_empty() {
            return bad("'labels' is empty: send at least one label".into());
        }
        if labels.len() > MAX_LABELS {
            return bad(format!(
                "{} labels in one request; at most {MAX_LABELS}",
                labels.len()
            ));
        }
        let now = now_millis();
        let mut rows = Vec::with_capacity(labels.len());
        for (i, l) in labels.into_iter().enumerate() {
            if !(l.label.is_number() || l.label.is_string() || l.label.is_boolean()) {
                return bad(format!(
                    "labels[{i}].label must be a number, a string or a boolean"
                ));
            }
            let key = match (&l.request_id, &l.key, key_column) {
                (Some(id), None, _) if !id.is_empty() => None,
                (None, Some(k), Some(_)) => Some(key_text(k).ok_or_else(|| {
                    ServiceError::InvalidArgument(format!(
                        "labels[{i}].key must be a string or a number"
                    ))
                })?),
                (None, Some(_), None) => {
                    return bad(format!(
                        "labels[{i}] has a 'key' but the request names no 'key_column'"
                    ));
                }
                _ => {
                    return bad(format!(
                        "labels[{i}] needs exactly one of 'request_id' or 'key'"
                    ));
                }
            };
            let row = l.row.unwrap_or(0);
            if row < 0 {
                return bad(format!("labels[{i}].row must be >= 0"));
            }
            rows.push(Label {
                request_id: l.request_id,
                row,
                key_column: key.as_ref().and(key_column.map(str::to_owned)),
                key,
                label: l.label,
                received_ms: now,
            });
        }
        self.store.add_labels(deployment, &rows).await?;
        Ok(rows.len())
    }
}

/// A key as the text it is matched by: strings as they are, numbers in their shortest form (`17`,
/// not `17.0`, so an integer id matches however it was logged).
pub(super) fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => n.as_f64().map(number_text),
        _ => None,
    }
}

pub(super) fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

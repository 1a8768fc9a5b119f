//! `logged-models/search` filters and ordering (MLflow 3.x `SearchLoggedModelsUtils` and SQL store).
//!
//! - Filter identifiers: attributes `name`, `model_id`, `model_type`, `status`, `source_run_id` (string
//!   comparators, and `IN` / `NOT IN` as MLflow's in-memory search allows), `creation_timestamp` /
//!   `last_updated_timestamp` (aliases `creation_time` / `last_updated_time`; numeric comparators);
//!   `metrics.<key>` (numeric), `params.<key>` and `tags.<key>` (string comparators and `IS [NOT] NULL`).
//! - `status` compares MLflow's status names `PENDING`, `READY`, `FAILED`.
//! - An unset `model_type` / `source_run_id` matches no comparison (SQL `NULL`).
//! - A metric clause matches when any of the model's metrics with that key satisfies it (the SQL store
//!   joins the metric rows; `LoggedModel::metrics` holds the latest per key and dataset). SQLite stores a
//!   NaN as `NULL`, so a NaN metric matches nothing and sorts with the missing values.
//! - Order keys: the attributes above or `metrics.<key>` (optionally restricted to one dataset name and
//!   digest, latest by timestamp then step). Missing values sort last in both directions. Unless named,
//!   `creation_timestamp DESC` and then `model_id ASC` are appended as tiebreaks.

use std::cmp::Ordering;

use super::lexer::Ident;
use super::order::{directed, nulls_last, numbers_nan_nulls_last};
use super::parser::{Clause, list_repr, parse_filter, set_repr};
use super::predicate::{
    KEY_VALUE_OPS, KeyTest, Lists, NumTest, STRING_LIST_OPS, StrTest, StringRules, numeric_test,
    required_string_test, string_test,
};
use crate::{DomainError, LoggedModel, LoggedModelStatus, Metric};

const ATTRIBUTE_KEYS: &[&str] = &[
    "name",
    "model_id",
    "model_type",
    "status",
    "source_run_id",
    "creation_timestamp",
    "creation_time",
    "last_updated_timestamp",
    "last_updated_time",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModelAttr {
    Name,
    ModelId,
    ModelType,
    Status,
    SourceRunId,
    CreationTimestamp,
    LastUpdatedTimestamp,
}

impl ModelAttr {
    fn from_key(key: &str) -> Option<ModelAttr> {
        Some(match key {
            "name" => ModelAttr::Name,
            "model_id" => ModelAttr::ModelId,
            "model_type" => ModelAttr::ModelType,
            "status" => ModelAttr::Status,
            "source_run_id" => ModelAttr::SourceRunId,
            "creation_timestamp" | "creation_time" => ModelAttr::CreationTimestamp,
            "last_updated_timestamp" | "last_updated_time" => ModelAttr::LastUpdatedTimestamp,
            _ => return None,
        })
    }

    fn timestamp_of(self, m: &LoggedModel) -> Option<i64> {
        match self {
            ModelAttr::CreationTimestamp => Some(m.creation_timestamp_ms),
            ModelAttr::LastUpdatedTimestamp => Some(m.last_updated_timestamp_ms),
            _ => None,
        }
    }

    /// The value of a string attribute, `None` when unset (or for the timestamps).
    fn string_of(self, m: &LoggedModel) -> Option<&str> {
        match self {
            ModelAttr::Name => Some(&m.name),
            ModelAttr::ModelId => Some(m.model_id.as_str()),
            ModelAttr::ModelType => m.model_type.as_deref(),
            ModelAttr::Status => Some(status_name(m.status)),
            ModelAttr::SourceRunId => m.source_run_id.as_deref(),
            ModelAttr::CreationTimestamp | ModelAttr::LastUpdatedTimestamp => None,
        }
    }
}

/// MLflow's `LoggedModelStatus` value names, which its filters see.
fn status_name(s: LoggedModelStatus) -> &'static str {
    match s {
        LoggedModelStatus::Pending => "PENDING",
        LoggedModelStatus::Ready => "READY",
        LoggedModelStatus::UploadFailed => "FAILED",
    }
}

/// The integer the SQL store keeps for a status (the proto enum number), which it sorts by.
fn status_code(s: LoggedModelStatus) -> u8 {
    match s {
        LoggedModelStatus::Pending => 1,
        LoggedModelStatus::Ready => 2,
        LoggedModelStatus::UploadFailed => 3,
    }
}

fn param_of<'a>(m: &'a LoggedModel, key: &str) -> Option<&'a str> {
    m.params
        .iter()
        .find(|p| p.key == key)
        .map(|p| p.value.as_str())
}

fn tag_of<'a>(m: &'a LoggedModel, key: &str) -> Option<&'a str> {
    m.tags
        .iter()
        .find(|t| t.key == key)
        .map(|t| t.value.as_str())
}

enum Field {
    Attr(ModelAttr),
    Metric(String),
    Param(String),
    Tag(String),
}

fn resolve(ident: &Ident) -> Result<Field, DomainError> {
    let key = ident.key();
    Ok(match ident.entity() {
        None | Some("attributes" | "attribute" | "attr") => {
            Field::Attr(ModelAttr::from_key(key).ok_or_else(|| {
                DomainError::invalid(format!(
                    "Invalid attribute key '{key}' specified. Valid keys are '{}'",
                    set_repr(ATTRIBUTE_KEYS)
                ))
            })?)
        }
        Some("metrics" | "metric") => Field::Metric(key.to_owned()),
        Some("params" | "param" | "parameters" | "parameter") => Field::Param(key.to_owned()),
        Some("tags" | "tag") => Field::Tag(key.to_owned()),
        Some(other) => {
            return Err(DomainError::invalid(format!(
                "Invalid entity type: '{other}'. Expected one of {}.",
                list_repr(&["attributes", "metrics", "params", "tags"])
            )));
        }
    })
}

/// A parsed `logged-models/search` filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoggedModelFilter {
    clauses: Vec<ModelClause>,
}

#[derive(Debug, Clone, PartialEq)]
enum ModelClause {
    Str(ModelAttr, StrTest),
    Time(ModelAttr, NumTest),
    Metric(String, NumTest),
    Param(String, KeyTest),
    Tag(String, KeyTest),
}

impl LoggedModelFilter {
    /// Parses a filter string. An empty or blank filter matches every model.
    pub fn parse(filter: &str) -> Result<LoggedModelFilter, DomainError> {
        let clauses = parse_filter(filter)?
            .iter()
            .map(compile)
            .collect::<Result<_, _>>()?;
        Ok(LoggedModelFilter { clauses })
    }

    pub fn matches(&self, model: &LoggedModel) -> bool {
        self.clauses.iter().all(|c| match c {
            ModelClause::Str(attr, t) => attr.string_of(model).is_some_and(|v| t.test(v)),
            ModelClause::Time(attr, t) => attr.timestamp_of(model).is_some_and(|v| t.test_i64(v)),
            ModelClause::Metric(key, t) => model
                .metrics
                .iter()
                .any(|m| m.key == *key && !m.value.is_nan() && t.test_f64(m.value)),
            ModelClause::Param(key, t) => t.test(param_of(model, key)),
            ModelClause::Tag(key, t) => t.test(tag_of(model, key)),
        })
    }
}

fn compile(clause: &Clause) -> Result<ModelClause, DomainError> {
    let key_value = |noun: &str| {
        let not_string =
            format!("Expected a quoted string value for {noun} (e.g. 'my-value'). Got value");
        string_test(
            clause,
            &StringRules {
                ops: KEY_VALUE_OPS,
                lists: Lists::NotAString,
                not_string: &not_string,
            },
        )
    };
    Ok(match resolve(&clause.ident)? {
        Field::Attr(attr @ (ModelAttr::CreationTimestamp | ModelAttr::LastUpdatedTimestamp)) => {
            let test = numeric_test(clause, |v| {
                format!(
                    "Expected numeric value type for numeric attribute: {}. Found {v}",
                    clause.ident.key()
                )
            })?;
            ModelClause::Time(attr, test)
        }
        Field::Attr(attr) => {
            let rules = StringRules {
                ops: STRING_LIST_OPS,
                lists: Lists::Allowed,
                not_string: "Expected a quoted string value for attributes. Got value",
            };
            ModelClause::Str(attr, required_string_test(clause, &rules)?)
        }
        Field::Metric(key) => {
            let test = numeric_test(clause, |v| {
                format!("Expected numeric value type for metric. Found {v}")
            })?;
            ModelClause::Metric(key, test)
        }
        Field::Param(key) => ModelClause::Param(key, key_value("param")?),
        Field::Tag(key) => ModelClause::Tag(key, key_value("tag")?),
    })
}

/// One `order_by` entry of `logged-models/search`, as the request carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedModelOrderBy {
    /// An attribute (`creation_timestamp`, `name`, ...) or `metrics.<key>`.
    pub field_name: String,
    pub ascending: bool,
    /// For a metric: only values logged against this dataset name...
    pub dataset_name: Option<String>,
    /// ...and digest (which requires the name).
    pub dataset_digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum OrderField {
    Attr(ModelAttr),
    Metric {
        key: String,
        dataset_name: Option<String>,
        dataset_digest: Option<String>,
    },
}

/// A parsed `order_by` for logged models, with MLflow's tiebreaks appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedModelOrder {
    keys: Vec<(OrderField, bool)>,
}

impl Default for LoggedModelOrder {
    /// `creation_timestamp DESC, model_id ASC`.
    fn default() -> Self {
        Self::with_tiebreaks(Vec::new())
    }
}

impl LoggedModelOrder {
    pub fn parse(order_by: &[LoggedModelOrderBy]) -> Result<LoggedModelOrder, DomainError> {
        let mut keys = Vec::with_capacity(order_by.len() + 2);
        for ob in order_by {
            let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
            let (dataset_name, dataset_digest) =
                (non_empty(&ob.dataset_name), non_empty(&ob.dataset_digest));
            if dataset_digest.is_some() && dataset_name.is_none() {
                return Err(DomainError::invalid(
                    "`dataset_digest` can only be specified if `dataset_name` is also specified.",
                ));
            }
            let field = match ob.field_name.split_once('.') {
                Some(("metrics", key)) => OrderField::Metric {
                    key: key.to_owned(),
                    dataset_name,
                    dataset_digest,
                },
                Some((entity, _)) => {
                    return Err(DomainError::invalid(format!(
                        "Invalid order by field name: {entity}, only `metrics.<name>` is allowed."
                    )));
                }
                None => OrderField::Attr(ModelAttr::from_key(ob.field_name.trim()).ok_or_else(
                    || {
                        DomainError::invalid(format!(
                            "Invalid order by field name: {}.",
                            ob.field_name.trim()
                        ))
                    },
                )?),
            };
            keys.push((field, ob.ascending));
        }
        Ok(Self::with_tiebreaks(keys))
    }

    fn with_tiebreaks(mut keys: Vec<(OrderField, bool)>) -> Self {
        for (attr, ascending) in [
            (ModelAttr::CreationTimestamp, false),
            (ModelAttr::ModelId, true),
        ] {
            if !keys.iter().any(|(f, _)| *f == OrderField::Attr(attr)) {
                keys.push((OrderField::Attr(attr), ascending));
            }
        }
        LoggedModelOrder { keys }
    }

    /// Compares two models: `Less` means `a` comes first.
    pub fn compare(&self, a: &LoggedModel, b: &LoggedModel) -> Ordering {
        for (field, ascending) in &self.keys {
            let ascending = *ascending;
            let ord = match field {
                OrderField::Attr(ModelAttr::Status) => {
                    directed(status_code(a.status).cmp(&status_code(b.status)), ascending)
                }
                OrderField::Attr(
                    attr @ (ModelAttr::CreationTimestamp | ModelAttr::LastUpdatedTimestamp),
                ) => nulls_last(attr.timestamp_of(a), attr.timestamp_of(b), ascending),
                OrderField::Attr(attr) => {
                    nulls_last(attr.string_of(a), attr.string_of(b), ascending)
                }
                OrderField::Metric {
                    key,
                    dataset_name,
                    dataset_digest,
                } => {
                    let value = |m: &LoggedModel| {
                        latest_metric(m, key, dataset_name.as_deref(), dataset_digest.as_deref())
                    };
                    numbers_nan_nulls_last(value(a), value(b), ascending)
                }
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

/// The latest value (by timestamp, then step) of metric `key` on the given dataset, `None` when there is
/// none or it is NaN (which SQLite stores as `NULL`).
fn latest_metric(
    model: &LoggedModel,
    key: &str,
    dataset_name: Option<&str>,
    dataset_digest: Option<&str>,
) -> Option<f64> {
    let on_dataset = |m: &&Metric| {
        m.key == key
            && dataset_name.is_none_or(|n| m.dataset_name.as_deref() == Some(n))
            && dataset_digest.is_none_or(|d| m.dataset_digest.as_deref() == Some(d))
    };
    model
        .metrics
        .iter()
        .filter(on_dataset)
        .fold(None::<&Metric>, |best, m| match best {
            Some(b) if (b.timestamp, b.step) >= (m.timestamp, m.step) => Some(b),
            _ => Some(m),
        })
        .map(|m| m.value)
        .filter(|v| !v.is_nan())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::test_support::*;

    fn sample() -> LoggedModel {
        let mut m = logged_model('a', "model", 1_000);
        m.last_updated_timestamp_ms = 2_000;
        m.model_type = Some("sklearn".into());
        m.source_run_id = Some("0123456789abcdef0123456789abcdef".into());
        m.params.push(param("alpha", "0.5"));
        m.tags.push(tag("stage", "Candidate"));
        m.metrics.push(metric("acc", 0.8));
        let mut on_eval = metric("acc", 0.95);
        on_eval.dataset_name = Some("eval".into());
        m.metrics.push(on_eval);
        m
    }

    fn matches(filter: &str, m: &LoggedModel) -> bool {
        LoggedModelFilter::parse(filter)
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
            .matches(m)
    }

    fn err(filter: &str) -> String {
        LoggedModelFilter::parse(filter).unwrap_err().to_string()
    }

    #[test]
    fn client_filters() {
        let m = sample();
        assert!(matches("name = 'model'", &m));
        assert!(!matches("name = 'other'", &m));
        assert!(matches(
            "source_run_id = '0123456789abcdef0123456789abcdef'",
            &m
        ));
        assert!(matches(
            &format!("attributes.model_id = '{}'", m.model_id.as_str()),
            &m
        ));
    }

    #[test]
    fn string_attributes() {
        let m = sample();
        for (f, want) in [
            ("name LIKE 'mod%'", true),
            ("name ILIKE 'MOD%'", true),
            ("name != 'model'", false),
            ("model_type = 'sklearn'", true),
            ("status = 'READY'", true),
            ("status != 'PENDING'", true),
            ("status IN ('PENDING', 'FAILED')", false),
            ("name IN ('a', 'model')", true),
            ("name NOT IN ('model')", false),
            ("source_run_id LIKE '0123%'", true),
        ] {
            assert_eq!(matches(f, &m), want, "{f}");
        }
        let bare = logged_model('b', "m", 1);
        assert!(!matches("model_type = 'x'", &bare));
        assert!(!matches("model_type != 'x'", &bare));
        assert!(!matches("source_run_id NOT IN ('x')", &bare));
    }

    #[test]
    fn timestamps() {
        let m = sample();
        for (f, want) in [
            ("creation_timestamp = 1000", true),
            ("creation_time > 999", true),
            ("creation_timestamp < 1000", false),
            ("last_updated_timestamp >= 2000", true),
            ("last_updated_time != 2000", false),
        ] {
            assert_eq!(matches(f, &m), want, "{f}");
        }
    }

    #[test]
    fn metrics_params_tags() {
        let m = sample();
        for (f, want) in [
            ("metrics.acc > 0.9", true),
            ("metrics.acc < 0.85", true),
            ("metrics.acc > 0.99", false),
            ("metric.acc = 0.8", true),
            ("metrics.f1 > 0", false),
            ("params.alpha = '0.5'", true),
            ("params.alpha != '0.5'", false),
            ("params.beta IS NULL", true),
            ("tags.stage ILIKE 'cand%'", true),
            ("tags.stage IS NOT NULL", true),
            ("tags.other = 'x'", false),
            (
                "name = 'model' AND metrics.acc >= 0.95 AND tags.stage = 'Candidate'",
                true,
            ),
        ] {
            assert_eq!(matches(f, &m), want, "{f}");
        }
        let mut nan = logged_model('c', "n", 1);
        nan.metrics.push(metric("acc", f64::NAN));
        assert!(!matches("metrics.acc != 1", &nan));
        assert!(!matches("metrics.acc = 0", &nan));
    }

    #[test]
    fn filter_errors() {
        assert_eq!(
            err("dataset.name = 'x'"),
            "Invalid entity type: 'dataset'. Expected one of ['attributes', 'metrics', 'params', \
             'tags']."
        );
        assert!(err("artifact_uri = 'x'").starts_with("Invalid attribute key 'artifact_uri'"));
        assert_eq!(
            err("metrics.acc > 'x'"),
            "Expected numeric value type for metric. Found 'x'"
        );
        assert_eq!(
            err("name > 'x'"),
            "Invalid comparator '>' not one of '{'=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}'"
        );
        assert!(err("creation_timestamp LIKE 'x'").starts_with("Expected numeric value type"));
        assert!(err("params.a = 1").starts_with("Expected a quoted string value for param"));
        assert!(err("name IS NULL").starts_with("Invalid comparator 'IS NULL'"));
    }

    fn ob(field: &str, ascending: bool) -> LoggedModelOrderBy {
        LoggedModelOrderBy {
            field_name: field.into(),
            ascending,
            dataset_name: None,
            dataset_digest: None,
        }
    }

    fn sorted(order: &[LoggedModelOrderBy], mut ms: Vec<LoggedModel>) -> String {
        let o = LoggedModelOrder::parse(order).unwrap();
        ms.sort_by(|a, b| o.compare(a, b));
        ms.iter()
            .map(|m| m.model_id.as_str().chars().nth(2).unwrap())
            .collect()
    }

    #[test]
    fn default_order_is_newest_first_then_model_id() {
        let ms = vec![
            logged_model('2', "x", 10),
            logged_model('3', "x", 30),
            logged_model('1', "x", 10),
        ];
        assert_eq!(sorted(&[], ms.clone()), "312");
        let mut v = ms;
        v.sort_by(|a, b| LoggedModelOrder::default().compare(a, b));
        assert_eq!(v[0].name, "x");
        assert_eq!(v[0].creation_timestamp_ms, 30);
    }

    #[test]
    fn attribute_orders() {
        let mut ms = vec![
            logged_model('1', "b", 10),
            logged_model('2', "a", 20),
            logged_model('3', "c", 20),
        ];
        ms[0].status = LoggedModelStatus::UploadFailed;
        ms[1].status = LoggedModelStatus::Pending;
        ms[2].model_type = Some("pytorch".into());
        ms[0].model_type = Some("keras".into());
        assert_eq!(sorted(&[ob("name", true)], ms.clone()), "213");
        assert_eq!(sorted(&[ob("name", false)], ms.clone()), "312");
        assert_eq!(sorted(&[ob("creation_timestamp", true)], ms.clone()), "123");
        assert_eq!(sorted(&[ob("creation_time", true)], ms.clone()), "123");
        assert_eq!(sorted(&[ob("status", true)], ms.clone()), "231");
        // Unset model types last in both directions.
        assert_eq!(sorted(&[ob("model_type", true)], ms.clone()), "132");
        assert_eq!(sorted(&[ob("model_type", false)], ms), "312");
    }

    #[test]
    fn metric_order_with_datasets_and_missing_values() {
        let with = |id: char, v: Option<f64>, dataset: Option<&str>, ts: i64| {
            let mut m = logged_model(id, "m", 0);
            if let Some(v) = v {
                let mut met = metric("acc", v);
                met.dataset_name = dataset.map(Into::into);
                met.dataset_digest = dataset.map(|d| format!("{d}-digest"));
                met.timestamp = ts;
                m.metrics.push(met);
            }
            m
        };
        let mut m4 = with('4', Some(0.1), Some("eval"), 5);
        let mut newer = metric("acc", 0.99);
        newer.dataset_name = Some("eval".into());
        newer.dataset_digest = Some("eval-digest".into());
        newer.timestamp = 6;
        m4.metrics.push(newer);
        let ms = vec![
            with('1', Some(0.5), Some("eval"), 1),
            with('2', Some(0.7), Some("train"), 1),
            with('3', None, None, 0),
            m4,
            with('5', Some(f64::NAN), Some("eval"), 1),
        ];
        assert_eq!(sorted(&[ob("metrics.acc", true)], ms.clone()), "12435");
        assert_eq!(sorted(&[ob("metrics.acc", false)], ms.clone()), "42135");
        let on_eval = LoggedModelOrderBy {
            dataset_name: Some("eval".into()),
            ..ob("metrics.acc", false)
        };
        assert_eq!(sorted(std::slice::from_ref(&on_eval), ms.clone()), "41235");
        let on_eval_digest = LoggedModelOrderBy {
            dataset_digest: Some("eval-digest".into()),
            ..on_eval
        };
        assert_eq!(sorted(&[on_eval_digest], ms), "41235");
    }

    #[test]
    fn order_errors() {
        let e = |o: LoggedModelOrderBy| LoggedModelOrder::parse(&[o]).unwrap_err().to_string();
        assert_eq!(
            e(ob("params.alpha", true)),
            "Invalid order by field name: params, only `metrics.<name>` is allowed."
        );
        assert_eq!(
            e(ob("artifact_uri", true)),
            "Invalid order by field name: artifact_uri."
        );
        assert_eq!(
            e(LoggedModelOrderBy {
                dataset_digest: Some("d".into()),
                ..ob("metrics.acc", true)
            }),
            "`dataset_digest` can only be specified if `dataset_name` is also specified."
        );
    }
}

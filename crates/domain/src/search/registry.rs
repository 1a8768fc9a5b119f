//! `registered-models/search` and `model-versions/search` filters and ordering (MLflow's SQL registry
//! store).
//!
//! - Registered models filter on `name` (`= != LIKE ILIKE IN NOT IN`) and `tags.<key>` (`= != LIKE
//!   ILIKE`); they order by `name`, `timestamp` / `last_updated_timestamp` (both the update time), with
//!   `name ASC` appended unless named.
//! - Model versions filter on `name` and `run_id` (strings, with lists), `source_path` (strings),
//!   `version_number` (integers) and `tags.<key>`; they order by `name`, `version_number`,
//!   `creation_timestamp`, `last_updated_timestamp`, with `name ASC, version_number DESC` appended unless
//!   named. With no `order_by` the order is `last_updated_timestamp DESC` first.
//! - A tag clause needs the tag to exist (`!=` does not match a missing tag).
//! - Prompts share the registry: unless a filter asks for them (``tags.`mlflow.prompt.is_prompt` = 'true'``
//!   or `!= 'false'`), models tagged as prompts, and every version of such a model, are left out, and a
//!   clause on that tag is otherwise ignored (the client appends `!= 'true'` to every model search).

use std::cmp::Ordering;

use super::lexer::{Ident, Number};
use super::order::by_keys;
use super::parser::{Clause, Op, Value, parse_filter, parse_order_item, set_repr};
use super::predicate::{
    KeyTest, Lists, NumTest, STRING_LIST_OPS, STRING_OPS, StrTest, StringRules, numeric_test,
    required_string_test, string_test,
};
use crate::registry::{PROMPT_TAG, is_prompt, tag_value};
use crate::{DomainError, ModelVersion, RegisteredModel};

const TAG_OPS: &[&str] = &["=", "!=", "LIKE", "ILIKE"];
const MODEL_ORDER_KEYS: &[&str] = &["name", "timestamp"];
const VERSION_FILTER_KEYS: &[&str] = &["name", "version_number", "run_id", "source_path"];
const VERSION_ORDER_KEYS: &[&str] = &[
    "name",
    "version_number",
    "creation_timestamp",
    "last_updated_timestamp",
];

/// Splits an identifier into attribute or tag, refusing other entity prefixes.
fn tag_or_attr(ident: &Ident) -> Result<Result<&str, String>, DomainError> {
    match ident.entity() {
        None | Some("attribute" | "attributes" | "attr") => Ok(Ok(ident.key())),
        Some("tag" | "tags") => Ok(Err(ident.key().to_owned())),
        Some(other) => Err(DomainError::invalid(format!(
            "Invalid entity type '{other}'. Valid entity types are ('attribute', 'tag', 'tags')"
        ))),
    }
}

fn tag_test(clause: &Clause) -> Result<KeyTest, DomainError> {
    string_test(
        clause,
        &StringRules {
            ops: TAG_OPS,
            lists: Lists::NotAString,
            not_string: "Expected a quoted string value for tag (e.g. 'my-value'). Got value",
        },
    )
}

fn attr_string_test(clause: &Clause, lists: bool) -> Result<StrTest, DomainError> {
    required_string_test(
        clause,
        &StringRules {
            ops: if lists { STRING_LIST_OPS } else { STRING_OPS },
            lists: if lists {
                Lists::Allowed
            } else {
                Lists::Refused(
                    "Only the 'name' and 'run_id' attributes support comparison with a list of \
                     quoted string values.",
                )
            },
            not_string: "Expected a quoted string value for attributes. Got value",
        },
    )
}

/// Whether the clauses ask for prompts, and the clauses with the prompt-tag clause taken out otherwise.
fn split_prompt_clause(clauses: Vec<Clause>) -> (bool, Vec<Clause>) {
    let asks = clauses.iter().any(|c| {
        c.ident.entity().is_some_and(|e| e == "tag" || e == "tags")
            && c.ident.key() == PROMPT_TAG
            && match (&c.op, &c.value) {
                (Op::Eq, Value::Str(v)) => v.eq_ignore_ascii_case("true"),
                (Op::Ne, Value::Str(v)) => v.eq_ignore_ascii_case("false"),
                _ => false,
            }
    });
    if asks {
        return (true, clauses);
    }
    let rest = clauses
        .into_iter()
        .filter(|c| {
            !(c.ident.entity().is_some_and(|e| e == "tag" || e == "tags")
                && c.ident.key() == PROMPT_TAG)
        })
        .collect();
    (false, rest)
}

// ------------------------------------------------------------------------------------------------
// Registered models
// ------------------------------------------------------------------------------------------------

/// A parsed `registered-models/search` filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegisteredModelFilter {
    name: Vec<StrTest>,
    tags: Vec<(String, KeyTest)>,
    prompts: bool,
}

impl RegisteredModelFilter {
    pub fn parse(filter: &str) -> Result<RegisteredModelFilter, DomainError> {
        let (prompts, clauses) = split_prompt_clause(parse_filter(filter)?);
        let mut f = RegisteredModelFilter {
            prompts,
            ..Default::default()
        };
        for c in &clauses {
            match tag_or_attr(&c.ident)? {
                Ok("name") => f.name.push(attr_string_test(c, true)?),
                Ok(key) => {
                    return Err(DomainError::invalid(format!(
                        "Invalid attribute key '{key}' specified. Valid keys are '{}'",
                        set_repr(&["name"])
                    )));
                }
                Err(key) => f.tags.push((key, tag_test(c)?)),
            }
        }
        Ok(f)
    }

    pub fn matches(&self, m: &RegisteredModel) -> bool {
        if !self.prompts && is_prompt(&m.tags) {
            return false;
        }
        self.name.iter().all(|t| t.test(&m.name))
            && self.tags.iter().all(|(k, t)| t.test(tag_value(&m.tags, k)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModelKey {
    Name,
    LastUpdated,
}

/// A parsed `order_by` for registered models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredModelOrder {
    keys: Vec<(ModelKey, bool)>,
}

impl RegisteredModelOrder {
    pub fn parse(order_by: &[String]) -> Result<RegisteredModelOrder, DomainError> {
        let mut keys: Vec<(ModelKey, bool)> = Vec::new();
        for item in order_by {
            let (ident, ascending) = parse_order_item(item)?;
            let key = match ident.raw.trim() {
                "name" => ModelKey::Name,
                "timestamp" | "last_updated_timestamp" => ModelKey::LastUpdated,
                other => {
                    return Err(DomainError::invalid(format!(
                        "Invalid order by key '{other}' specified.Valid keys are '{}'",
                        set_repr(MODEL_ORDER_KEYS)
                    )));
                }
            };
            if keys.iter().any(|(k, _)| *k == key) {
                return Err(DomainError::invalid(format!(
                    "`order_by` contains duplicate fields: {}",
                    super::parser::list_repr(order_by)
                )));
            }
            keys.push((key, ascending));
        }
        if !keys.iter().any(|(k, _)| *k == ModelKey::Name) {
            keys.push((ModelKey::Name, true));
        }
        Ok(RegisteredModelOrder { keys })
    }

    pub fn compare(&self, a: &RegisteredModel, b: &RegisteredModel) -> Ordering {
        by_keys(&self.keys, |key| match key {
            ModelKey::Name => a.name.cmp(&b.name),
            ModelKey::LastUpdated => a.last_updated_timestamp.cmp(&b.last_updated_timestamp),
        })
    }
}

// ------------------------------------------------------------------------------------------------
// Model versions
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum VersionClause {
    Name(StrTest),
    RunId(StrTest),
    Source(StrTest),
    Version(NumTest),
    Tag(String, KeyTest),
}

/// A parsed `model-versions/search` filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelVersionFilter {
    clauses: Vec<VersionClause>,
    prompts: bool,
}

impl ModelVersionFilter {
    pub fn parse(filter: &str) -> Result<ModelVersionFilter, DomainError> {
        let (prompts, clauses) = split_prompt_clause(parse_filter(filter)?);
        let mut out = Vec::with_capacity(clauses.len());
        for c in &clauses {
            out.push(match tag_or_attr(&c.ident)? {
                Ok("name") => VersionClause::Name(attr_string_test(c, true)?),
                Ok("run_id") => VersionClause::RunId(attr_string_test(c, true)?),
                Ok("source_path") => VersionClause::Source(attr_string_test(c, false)?),
                Ok("version_number") => {
                    // MLflow also takes the number quoted (`version_number = '2'`).
                    let quoted;
                    let c = match &c.value {
                        Value::Str(s) => match s.trim().parse::<i64>() {
                            Ok(i) => {
                                quoted = Clause {
                                    value: Value::Num(Number {
                                        value: i as f64,
                                        int: Some(i),
                                    }),
                                    ..c.clone()
                                };
                                &quoted
                            }
                            Err(_) => {
                                return Err(DomainError::invalid(format!(
                                    "Invalid value for numeric attribute 'version_number': {}",
                                    c.value_text
                                )));
                            }
                        },
                        _ => c,
                    };
                    if let Value::Num(n) = &c.value
                        && n.int.is_none()
                    {
                        return Err(DomainError::invalid(format!(
                            "Invalid value for numeric attribute 'version_number': {}",
                            c.value_text
                        )));
                    }
                    VersionClause::Version(numeric_test(c, |v| {
                        format!("Invalid value for numeric attribute 'version_number': {v}")
                    })?)
                }
                Ok(key) => {
                    return Err(DomainError::invalid(format!(
                        "Invalid attribute key '{key}' specified. Valid keys are '{}'",
                        set_repr(VERSION_FILTER_KEYS)
                    )));
                }
                Err(key) => VersionClause::Tag(key, tag_test(c)?),
            });
        }
        Ok(ModelVersionFilter {
            clauses: out,
            prompts,
        })
    }

    /// The one model name the filter pins with `name = '…'`, so that a store need load only its
    /// versions.
    pub fn only_name(&self) -> Option<&str> {
        self.clauses.iter().find_map(|c| match c {
            VersionClause::Name(StrTest::Eq(n)) => Some(n.as_str()),
            _ => None,
        })
    }

    /// Whether versions of prompt models are wanted too.
    pub fn wants_prompts(&self) -> bool {
        self.prompts
    }

    /// Tests one version. Prompt versions are excluded by the caller, who knows which models are prompts
    /// (see [`ModelVersionFilter::wants_prompts`] and [`version_is_prompt`]).
    pub fn matches(&self, v: &ModelVersion) -> bool {
        self.clauses.iter().all(|c| match c {
            VersionClause::Name(t) => t.test(&v.name),
            VersionClause::RunId(t) => v.run_id.as_deref().is_some_and(|r| t.test(r)),
            VersionClause::Source(t) => t.test(&v.source),
            VersionClause::Version(t) => t.test_i64(v.version),
            VersionClause::Tag(k, t) => t.test(v.tag(k)),
        })
    }
}

/// True when a version carries the prompt tag; MLflow hides every version of a model any of whose
/// versions does.
pub fn version_is_prompt(v: &ModelVersion) -> bool {
    is_prompt(&v.tags)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VersionKey {
    Name,
    Version,
    Created,
    LastUpdated,
}

/// A parsed `order_by` for model versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelVersionOrder {
    keys: Vec<(VersionKey, bool)>,
}

impl ModelVersionOrder {
    pub fn parse(order_by: &[String]) -> Result<ModelVersionOrder, DomainError> {
        let default;
        let items = if order_by.is_empty() {
            default = ["last_updated_timestamp DESC".to_owned()];
            &default[..]
        } else {
            order_by
        };
        let mut keys: Vec<(VersionKey, bool)> = Vec::new();
        for item in items {
            let (ident, ascending) = parse_order_item(item)?;
            let key = match tag_or_attr(&ident)? {
                Ok("name") => VersionKey::Name,
                Ok("version_number") => VersionKey::Version,
                Ok("creation_timestamp") => VersionKey::Created,
                Ok("last_updated_timestamp") => VersionKey::LastUpdated,
                Ok(other) => {
                    return Err(DomainError::invalid(format!(
                        "Invalid order by key '{other}' specified. Valid keys are {}",
                        set_repr(VERSION_ORDER_KEYS)
                    )));
                }
                Err(_) => return Err(DomainError::invalid("Invalid order_by entity: tag")),
            };
            if keys.iter().any(|(k, _)| *k == key) {
                return Err(DomainError::invalid(format!(
                    "`order_by` contains duplicate fields: {}",
                    super::parser::list_repr(order_by)
                )));
            }
            keys.push((key, ascending));
        }
        if !keys.iter().any(|(k, _)| *k == VersionKey::Name) {
            keys.push((VersionKey::Name, true));
        }
        if !keys.iter().any(|(k, _)| *k == VersionKey::Version) {
            keys.push((VersionKey::Version, false));
        }
        Ok(ModelVersionOrder { keys })
    }

    pub fn compare(&self, a: &ModelVersion, b: &ModelVersion) -> Ordering {
        by_keys(&self.keys, |key| match key {
            VersionKey::Name => a.name.cmp(&b.name),
            VersionKey::Version => a.version.cmp(&b.version),
            VersionKey::Created => a.creation_timestamp.cmp(&b.creation_timestamp),
            VersionKey::LastUpdated => a.last_updated_timestamp.cmp(&b.last_updated_timestamp),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::test_support::tag;
    use crate::{Stage, VersionStatus};

    fn model(name: &str, updated: i64, tags: &[(&str, &str)]) -> RegisteredModel {
        RegisteredModel {
            name: name.into(),
            creation_timestamp: 1,
            last_updated_timestamp: updated,
            description: None,
            tags: tags.iter().map(|(k, v)| tag(k, v)).collect(),
            aliases: vec![],
            latest_versions: vec![],
        }
    }

    fn version(name: &str, v: i64, run: Option<&str>, tags: &[(&str, &str)]) -> ModelVersion {
        ModelVersion {
            name: name.into(),
            version: v,
            creation_timestamp: v,
            last_updated_timestamp: 100 - v,
            description: None,
            user_id: None,
            current_stage: Stage::None,
            source: format!("models:/m-{v}"),
            storage_location: String::new(),
            run_id: run.map(Into::into),
            run_link: None,
            model_id: None,
            status: VersionStatus::Ready,
            status_message: None,
            tags: tags.iter().map(|(k, v)| tag(k, v)).collect(),
            aliases: vec![],
        }
    }

    #[test]
    fn model_filters() {
        let m = model("Churn", 5, &[("team", "growth")]);
        let f = |s: &str| RegisteredModelFilter::parse(s).unwrap().matches(&m);
        assert!(f(""));
        assert!(f("name = 'Churn'"));
        assert!(!f("name = 'churn'"));
        assert!(f("name ILIKE 'ch%'"));
        assert!(f("name IN ('a', 'Churn')"));
        assert!(f("tags.team = 'growth' AND name LIKE 'C%'"));
        assert!(!f("tags.team != 'growth'"));
        assert!(!f("tags.missing != 'x'"));
        assert!(f("tag.`mlflow.prompt.is_prompt` != 'true'"));
    }

    #[test]
    fn prompts_are_hidden_unless_asked_for() {
        let p = model("p", 5, &[(PROMPT_TAG, "true")]);
        let f = |s: &str| RegisteredModelFilter::parse(s).unwrap().matches(&p);
        assert!(!f(""));
        assert!(!f("tags.`mlflow.prompt.is_prompt` != 'true'"));
        assert!(f("tags.`mlflow.prompt.is_prompt` = 'true'"));
        assert!(!ModelVersionFilter::parse("").unwrap().wants_prompts());
        assert!(
            ModelVersionFilter::parse("tags.`mlflow.prompt.is_prompt` = 'true'")
                .unwrap()
                .wants_prompts()
        );
    }

    #[test]
    fn model_filter_errors() {
        let e = |s: &str| RegisteredModelFilter::parse(s).unwrap_err().to_string();
        assert!(e("run_id = 'x'").starts_with("Invalid attribute key 'run_id'"));
        assert!(e("params.x = 'a'").starts_with("Invalid entity type 'params'"));
        assert!(e("name > 'a'").starts_with("Invalid comparator '>'"));
        assert!(e("tags.x = 3").starts_with("Expected a quoted string value for tag"));
    }

    #[test]
    fn model_order() {
        let a = model("a", 2, &[]);
        let b = model("b", 1, &[]);
        let o = |s: &[&str]| {
            RegisteredModelOrder::parse(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>())
                .unwrap()
        };
        assert_eq!(o(&[]).compare(&a, &b), Ordering::Less);
        assert_eq!(o(&["name DESC"]).compare(&a, &b), Ordering::Greater);
        assert_eq!(o(&["timestamp"]).compare(&a, &b), Ordering::Greater);
        assert_eq!(
            o(&["last_updated_timestamp DESC"]).compare(&a, &b),
            Ordering::Less
        );
        assert!(RegisteredModelOrder::parse(&["creation".into()]).is_err());
        assert!(RegisteredModelOrder::parse(&["name".into(), "name DESC".into()]).is_err());
    }

    #[test]
    fn version_filters() {
        let v = version("m", 3, Some("abc"), &[("k", "v")]);
        let f = |s: &str| ModelVersionFilter::parse(s).unwrap().matches(&v);
        assert!(f("name = 'm' AND version_number >= 3"));
        assert!(f("version_number = '3'"));
        assert!(!f("version_number > 3"));
        assert!(f("run_id IN ('abc', 'def')"));
        assert!(!f("run_id NOT IN ('abc')"));
        assert!(f("source_path LIKE 'models:/%'"));
        assert!(f("tags.k = 'v'"));
        assert!(!f("tags.k = 'w'"));
        assert_eq!(
            ModelVersionFilter::parse("name='m'").unwrap().only_name(),
            Some("m")
        );
        assert_eq!(
            ModelVersionFilter::parse("name LIKE 'm'")
                .unwrap()
                .only_name(),
            None
        );
        let e = |s: &str| ModelVersionFilter::parse(s).unwrap_err().to_string();
        assert!(e("version_number = 1.5").contains("numeric attribute 'version_number'"));
        assert!(e("source_path IN ('a')").starts_with("Only the 'name' and 'run_id'"));
        assert!(e("stage = 'x'").starts_with("Invalid attribute key 'stage'"));
    }

    #[test]
    fn version_order() {
        let mut vs = [
            version("b", 1, None, &[]),
            version("a", 1, None, &[]),
            version("a", 2, None, &[]),
        ];
        let o = ModelVersionOrder::parse(&[]).unwrap();
        vs.sort_by(|x, y| o.compare(x, y));
        // last_updated DESC: version 1 (99) before version 2 (98); then name, version DESC.
        let got: Vec<_> = vs.iter().map(|v| (v.name.as_str(), v.version)).collect();
        assert_eq!(got, [("a", 1), ("b", 1), ("a", 2)]);
        let o = ModelVersionOrder::parse(&["name".into()]).unwrap();
        vs.sort_by(|x, y| o.compare(x, y));
        let got: Vec<_> = vs.iter().map(|v| (v.name.as_str(), v.version)).collect();
        assert_eq!(got, [("a", 2), ("a", 1), ("b", 1)]);
        assert!(ModelVersionOrder::parse(&["tags.x".into()]).is_err());
    }
}

//! `experiments/search` filters and ordering (MLflow's `SearchExperimentsUtils` and SQL store).
//!
//! - Filters: `name` (`= != LIKE ILIKE`), `creation_time` and `last_update_time` (numeric comparators),
//!   `tags.<key>` (`= != LIKE ILIKE`, plus `IS NULL` / `IS NOT NULL` as MLflow 3.x documents), joined by
//!   `AND`. Identifiers may carry an `attribute.` (or `attributes.` / `attr.`) prefix.
//! - Ordering: `name`, `experiment_id`, `creation_time`, `last_update_time`, ASC by default. With no
//!   `order_by` the order is `creation_time DESC, experiment_id ASC`. When an `order_by` is given without
//!   `experiment_id`, MLflow appends `experiment_id` **descending** as the tiebreak (its SQL store and its
//!   in-memory sort both do), and so does this.

use std::cmp::Ordering;

use super::lexer::Ident;
use super::order::by_keys;
use super::parser::{Clause, parse_filter, parse_order_item, set_repr};
use super::predicate::{
    KEY_VALUE_OPS, KeyTest, Lists, NumTest, STRING_OPS, StrTest, StringRules, numeric_test,
    required_string_test, string_test,
};
use crate::{DomainError, Experiment};

const FILTER_KEYS: &[&str] = &["name", "creation_time", "last_update_time"];
const ORDER_KEYS: &[&str] = &["name", "experiment_id", "creation_time", "last_update_time"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExperimentAttr {
    Name,
    ExperimentId,
    CreationTime,
    LastUpdateTime,
}

enum Field {
    Attr(ExperimentAttr),
    Tag(String),
}

fn resolve(ident: &Ident, valid: &[&str]) -> Result<Field, DomainError> {
    let key = ident.key();
    match ident.entity() {
        None | Some("attribute" | "attributes" | "attr") => {}
        Some("tag" | "tags") => return Ok(Field::Tag(key.to_owned())),
        Some(other) => {
            return Err(DomainError::invalid(format!(
                "Invalid entity type '{other}'. Valid entity types are ('attribute', 'tag', 'tags')"
            )));
        }
    }
    let attr = match key {
        "name" => Some(ExperimentAttr::Name),
        "experiment_id" => Some(ExperimentAttr::ExperimentId),
        "creation_time" => Some(ExperimentAttr::CreationTime),
        "last_update_time" => Some(ExperimentAttr::LastUpdateTime),
        _ => None,
    };
    let attr = attr.filter(|_| valid.contains(&key)).ok_or_else(|| {
        DomainError::invalid(format!(
            "Invalid attribute key '{key}' specified. Valid keys are '{}'",
            set_repr(valid)
        ))
    })?;
    Ok(Field::Attr(attr))
}

fn tag_of<'a>(e: &'a Experiment, key: &str) -> Option<&'a str> {
    e.tags
        .iter()
        .find(|t| t.key == key)
        .map(|t| t.value.as_str())
}

/// A parsed `experiments/search` filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExperimentFilter {
    clauses: Vec<ExperimentClause>,
}

#[derive(Debug, Clone, PartialEq)]
enum ExperimentClause {
    Name(StrTest),
    CreationTime(NumTest),
    LastUpdateTime(NumTest),
    Tag(String, KeyTest),
}

impl ExperimentFilter {
    /// Parses a filter string. An empty or blank filter matches every experiment.
    pub fn parse(filter: &str) -> Result<ExperimentFilter, DomainError> {
        let clauses = parse_filter(filter)?
            .iter()
            .map(compile)
            .collect::<Result<_, _>>()?;
        Ok(ExperimentFilter { clauses })
    }

    pub fn matches(&self, experiment: &Experiment) -> bool {
        self.clauses.iter().all(|c| match c {
            ExperimentClause::Name(t) => t.test(&experiment.name),
            ExperimentClause::CreationTime(t) => t.test_i64(experiment.creation_time),
            ExperimentClause::LastUpdateTime(t) => t.test_i64(experiment.last_update_time),
            ExperimentClause::Tag(key, t) => t.test(tag_of(experiment, key)),
        })
    }
}

fn compile(clause: &Clause) -> Result<ExperimentClause, DomainError> {
    Ok(match resolve(&clause.ident, FILTER_KEYS)? {
        Field::Attr(ExperimentAttr::Name) => {
            let rules = StringRules {
                ops: STRING_OPS,
                lists: Lists::Refused(
                    "Only the 'run_id' attribute supports comparison with a list of quoted string \
                     values.",
                ),
                not_string: "Expected a quoted string value for attributes. Got value",
            };
            ExperimentClause::Name(required_string_test(clause, &rules)?)
        }
        Field::Attr(attr) => {
            let test = numeric_test(clause, |v| {
                format!(
                    "Expected numeric value type for numeric attribute: {}. Found {v}",
                    clause.ident.key()
                )
            })?;
            if attr == ExperimentAttr::CreationTime {
                ExperimentClause::CreationTime(test)
            } else {
                ExperimentClause::LastUpdateTime(test)
            }
        }
        Field::Tag(key) => {
            let rules = StringRules {
                ops: KEY_VALUE_OPS,
                lists: Lists::NotAString,
                not_string: "Expected a quoted string value for tag (e.g. 'my-value'). Got value",
            };
            ExperimentClause::Tag(key, string_test(clause, &rules)?)
        }
    })
}

/// A parsed `order_by` for experiments, with MLflow's tiebreak appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentOrder {
    keys: Vec<(ExperimentAttr, bool)>,
}

impl Default for ExperimentOrder {
    /// `creation_time DESC, experiment_id ASC`.
    fn default() -> Self {
        ExperimentOrder {
            keys: vec![
                (ExperimentAttr::CreationTime, false),
                (ExperimentAttr::ExperimentId, true),
            ],
        }
    }
}

impl ExperimentOrder {
    pub fn parse(order_by: &[String]) -> Result<ExperimentOrder, DomainError> {
        if order_by.is_empty() {
            return Ok(Self::default());
        }
        let mut keys = Vec::with_capacity(order_by.len() + 1);
        for item in order_by {
            let (ident, ascending) = parse_order_item(item)?;
            match resolve(&ident, ORDER_KEYS)? {
                Field::Attr(attr) => keys.push((attr, ascending)),
                Field::Tag(_) => return Err(DomainError::invalid("Invalid order_by entity: tag")),
            }
        }
        if !keys.iter().any(|(a, _)| *a == ExperimentAttr::ExperimentId) {
            keys.push((ExperimentAttr::ExperimentId, false));
        }
        Ok(ExperimentOrder { keys })
    }

    /// Compares two experiments: `Less` means `a` comes first.
    pub fn compare(&self, a: &Experiment, b: &Experiment) -> Ordering {
        by_keys(&self.keys, |attr| match attr {
            ExperimentAttr::Name => a.name.cmp(&b.name),
            ExperimentAttr::ExperimentId => a.id.cmp(&b.id),
            ExperimentAttr::CreationTime => a.creation_time.cmp(&b.creation_time),
            ExperimentAttr::LastUpdateTime => a.last_update_time.cmp(&b.last_update_time),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::test_support::*;

    fn exp_with_tag(id: i64, name: &str, key: &str, value: &str) -> Experiment {
        let mut e = experiment(id, name, 100, 200);
        e.tags.push(tag(key, value));
        e
    }

    fn matches(filter: &str, e: &Experiment) -> bool {
        ExperimentFilter::parse(filter)
            .unwrap_or_else(|err| panic!("{filter}: {err}"))
            .matches(e)
    }

    fn err(filter: &str) -> String {
        ExperimentFilter::parse(filter).unwrap_err().to_string()
    }

    #[test]
    fn name_comparators() {
        let e = experiment(1, "Fraud-Detection", 100, 200);
        for (f, want) in [
            ("name = 'Fraud-Detection'", true),
            ("attributes.name = 'fraud-detection'", false),
            ("attribute.name != 'x'", true),
            ("name LIKE 'Fraud%'", true),
            ("name LIKE 'fraud%'", false),
            ("name ILIKE 'fraud%'", true),
            (r#"name = "Fraud-Detection""#, true),
        ] {
            assert_eq!(matches(f, &e), want, "{f}");
        }
    }

    #[test]
    fn time_comparators() {
        let e = experiment(1, "e", 100, 200);
        for (f, want) in [
            ("creation_time = 100", true),
            ("creation_time > 100", false),
            ("creation_time >= 100", true),
            ("last_update_time < 201", true),
            ("last_update_time <= 199", false),
            ("attributes.last_update_time != 200", false),
            ("creation_time > 99.5", true),
        ] {
            assert_eq!(matches(f, &e), want, "{f}");
        }
    }

    #[test]
    fn tag_comparators_and_presence() {
        let e = exp_with_tag(1, "e", "group", "Alpha");
        for (f, want) in [
            ("tags.group = 'Alpha'", true),
            ("tag.group != 'Alpha'", false),
            ("tags.group LIKE 'A%'", true),
            ("tags.group ILIKE 'a%'", true),
            ("tags.missing != 'x'", false),
            ("tags.group IS NOT NULL", true),
            ("tags.deprecated IS NULL", true),
            ("tags.group IS NULL", false),
            (
                "name = 'e' AND tags.group = 'Alpha' and creation_time = 100",
                true,
            ),
        ] {
            assert_eq!(matches(f, &e), want, "{f}");
        }
    }

    #[test]
    fn filter_errors() {
        assert_eq!(
            err("experiment_id = '1'"),
            "Invalid attribute key 'experiment_id' specified. Valid keys are '{'name', \
             'creation_time', 'last_update_time'}'"
        );
        assert_eq!(
            err("metrics.a > 1"),
            "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')"
        );
        assert_eq!(
            err("name > 'a'"),
            "Invalid comparator '>' not one of '{'=', '!=', 'LIKE', 'ILIKE'}'"
        );
        assert_eq!(
            err("name IN ('a')"),
            "Only the 'run_id' attribute supports comparison with a list of quoted string values."
        );
        assert_eq!(
            err("creation_time > 'x'"),
            "Expected numeric value type for numeric attribute: creation_time. Found 'x'"
        );
        assert!(err("creation_time LIKE 1").starts_with("Invalid comparator 'LIKE'"));
        assert!(err("name IS NULL").starts_with("Invalid comparator 'IS NULL'"));
        assert_eq!(
            err("tags.a = 1"),
            "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1"
        );
        assert!(err("name = 'a' OR name = 'b'").starts_with("Invalid clause(s)"));
    }

    fn sorted(order: &[&str], mut es: Vec<Experiment>) -> Vec<i64> {
        let order: Vec<String> = order.iter().map(|s| s.to_string()).collect();
        let o = ExperimentOrder::parse(&order).unwrap();
        es.sort_by(|a, b| o.compare(a, b));
        es.iter().map(|e| e.id.0).collect()
    }

    fn sample() -> Vec<Experiment> {
        vec![
            experiment(3, "b", 10, 50),
            experiment(1, "a", 20, 50),
            experiment(2, "c", 20, 40),
            experiment(10, "a", 5, 60),
        ]
    }

    #[test]
    fn default_order() {
        assert_eq!(sorted(&[], sample()), [1, 2, 3, 10]);
        let mut es = sample();
        es.sort_by(|a, b| ExperimentOrder::default().compare(a, b));
        assert_eq!(es.iter().map(|e| e.id.0).collect::<Vec<_>>(), [1, 2, 3, 10]);
    }

    #[test]
    fn explicit_orders_tiebreak_on_experiment_id_descending() {
        assert_eq!(sorted(&["name"], sample()), [10, 1, 3, 2]);
        assert_eq!(sorted(&["name DESC"], sample()), [2, 3, 10, 1]);
        assert_eq!(sorted(&["last_update_time"], sample()), [2, 3, 1, 10]);
        assert_eq!(sorted(&["creation_time DESC"], sample()), [2, 1, 3, 10]);
        assert_eq!(sorted(&["experiment_id DESC"], sample()), [10, 3, 2, 1]);
        // An explicit experiment_id replaces the tiebreak.
        assert_eq!(
            sorted(&["name", "experiment_id ASC"], sample()),
            [1, 10, 3, 2]
        );
        assert_eq!(
            sorted(
                &["attributes.creation_time", "last_update_time DESC"],
                sample()
            ),
            [10, 3, 1, 2]
        );
    }

    #[test]
    fn order_errors() {
        let parse = |items: &[&str]| {
            let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
            ExperimentOrder::parse(&items).unwrap_err().to_string()
        };
        assert_eq!(parse(&["tags.a"]), "Invalid order_by entity: tag");
        assert!(parse(&["artifact_location"]).starts_with("Invalid attribute key"));
        assert_eq!(
            parse(&["name sideways"]),
            "Invalid ordering key in order_by clause 'name sideways'."
        );
    }
}

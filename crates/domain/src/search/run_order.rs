//! `runs/search` ordering, as MLflow's SQL store sorts (`_get_orderby_clauses`).
//!
//! - Each `order_by` item is `<identifier> [ASC|DESC]` with the filter's identifier grammar; ascending by
//!   default. Naming the same field twice (aliases included: `created` is `start_time`) is an error.
//! - Missing values sort last in both directions. For metrics (latest value), NaN sorts after every number
//!   and before missing values, also in both directions: so under `DESC` a NaN comes after the numbers, not
//!   first. NaNs tie with each other and fall through to the next key.
//! - Strings compare by bytes (SQLite's binary collation); `status` compares its MLflow name.
//! - After the requested keys: `start_time DESC` unless `start_time` was requested, then `run_id ASC`.
//!   With no `order_by` at all, that is the whole order.

use std::cmp::Ordering;

use super::order::{directed, nulls_last, numbers_nan_nulls_last};
use super::parser::{list_repr, parse_order_item};
use super::runs::{RunAttr, RunField, resolve_run_field};
use crate::{DomainError, Run};

/// A parsed `order_by` for runs, with MLflow's implicit tiebreaks appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOrder {
    keys: Vec<(RunField, bool)>,
}

impl Default for RunOrder {
    /// `start_time DESC, run_id ASC`.
    fn default() -> Self {
        Self::with_tiebreaks(Vec::new())
    }
}

impl RunOrder {
    pub fn parse(order_by: &[String]) -> Result<RunOrder, DomainError> {
        let mut keys: Vec<(RunField, bool)> = Vec::with_capacity(order_by.len() + 2);
        for item in order_by {
            let (ident, ascending) = parse_order_item(item)?;
            let field = resolve_run_field(&ident)?;
            if let RunField::Dataset(_) = field {
                return Err(DomainError::invalid("Invalid identifier type 'dataset'"));
            }
            if keys.iter().any(|(f, _)| *f == field) {
                return Err(DomainError::invalid(format!(
                    "`order_by` contains duplicate fields: {}",
                    list_repr(order_by)
                )));
            }
            keys.push((field, ascending));
        }
        Ok(Self::with_tiebreaks(keys))
    }

    fn with_tiebreaks(mut keys: Vec<(RunField, bool)>) -> Self {
        let start_time = RunField::Attr(RunAttr::StartTime);
        if !keys.iter().any(|(f, _)| *f == start_time) {
            keys.push((start_time, false));
        }
        keys.push((RunField::Attr(RunAttr::RunId), true));
        RunOrder { keys }
    }

    /// The sort keys in order, each with whether it ascends; ends with the implicit tiebreaks, so that
    /// the last key is `run_id` and the order is total.
    pub fn keys(&self) -> &[(RunField, bool)] {
        &self.keys
    }

    /// The fields the order reads.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &RunField> {
        self.keys.iter().map(|(f, _)| f)
    }

    /// Compares two runs: `Less` means `a` comes first.
    pub fn compare(&self, a: &Run, b: &Run) -> Ordering {
        for (field, ascending) in &self.keys {
            let ord = compare_field(field, *ascending, a, b);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

fn compare_field(field: &RunField, ascending: bool, a: &Run, b: &Run) -> Ordering {
    match field {
        RunField::Metric(key) => numbers_nan_nulls_last(
            a.data.metric(key).map(|m| m.value),
            b.data.metric(key).map(|m| m.value),
            ascending,
        ),
        RunField::Param(key) => nulls_last(a.data.param(key), b.data.param(key), ascending),
        RunField::Tag(key) => nulls_last(a.data.tag(key), b.data.tag(key), ascending),
        RunField::Attr(attr) if attr.is_numeric() => {
            nulls_last(attr.time_of(a), attr.time_of(b), ascending)
        }
        RunField::Attr(attr) => directed(attr.string_of(a).cmp(&attr.string_of(b)), ascending),
        // Refused by `parse`.
        RunField::Dataset(_) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunStatus;
    use crate::search::test_support::*;

    fn order(items: &[&str]) -> RunOrder {
        let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        RunOrder::parse(&items).unwrap_or_else(|e| panic!("{items:?}: {e}"))
    }

    fn err(items: &[&str]) -> String {
        let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        RunOrder::parse(&items).unwrap_err().to_string()
    }

    /// Sorts the runs and returns their id digits in order.
    fn sorted(o: &RunOrder, mut runs: Vec<Run>) -> String {
        runs.sort_by(|a, b| o.compare(a, b));
        runs.iter()
            .map(|r| r.info.run_id.as_str().chars().next().unwrap())
            .collect()
    }

    #[test]
    fn default_is_start_time_desc_then_run_id() {
        let runs = vec![
            run('1', Some(10)),
            run('3', Some(30)),
            run('2', Some(30)),
            run('4', None),
        ];
        assert_eq!(sorted(&order(&[]), runs.clone()), "2314");
        assert_eq!(sorted(&RunOrder::default(), runs), "2314");
    }

    #[test]
    fn metric_order_with_nan_and_missing_in_both_directions() {
        let runs = vec![
            with_metric(run('1', Some(1)), "m", 2.0),
            with_metric(run('2', Some(2)), "m", f64::NAN),
            run('3', Some(3)),
            with_metric(run('4', Some(4)), "m", -1.0),
            with_metric(run('5', Some(5)), "m", 10.0),
            with_metric(run('6', Some(6)), "m", f64::NAN),
            run('7', Some(7)),
        ];
        // NaNs and missing ones tie within their group and fall back to start_time DESC.
        assert_eq!(sorted(&order(&["metrics.m"]), runs.clone()), "4156273");
        assert_eq!(sorted(&order(&["metrics.m ASC"]), runs.clone()), "4156273");
        assert_eq!(sorted(&order(&["metrics.m DESC"]), runs), "5146273");
    }

    #[test]
    fn param_tag_and_attribute_orders_put_missing_last() {
        let runs = vec![
            with_param(run('1', Some(1)), "p", "b"),
            run('2', Some(2)),
            with_param(run('3', Some(3)), "p", "a"),
            with_param(run('4', Some(4)), "p", "B"),
        ];
        assert_eq!(sorted(&order(&["params.p"]), runs.clone()), "4312");
        assert_eq!(sorted(&order(&["params.p DESC"]), runs), "1342");

        let runs = vec![
            with_tag(run('1', Some(1)), "t", "x"),
            run('2', Some(2)),
            with_tag(run('3', Some(3)), "t", "y"),
        ];
        assert_eq!(sorted(&order(&["tags.t desc"]), runs), "312");

        let mut runs = vec![run('1', Some(1)), run('2', Some(2)), run('3', Some(3))];
        runs[0].info.end_time = Some(50);
        runs[2].info.end_time = Some(40);
        assert_eq!(sorted(&order(&["end_time"]), runs.clone()), "312");
        assert_eq!(sorted(&order(&["attributes.end_time DESC"]), runs), "132");
    }

    #[test]
    fn string_attributes_order_by_bytes() {
        let mut runs = vec![run('1', Some(1)), run('2', Some(2)), run('3', Some(3))];
        runs[0].info.status = RunStatus::Running;
        runs[1].info.status = RunStatus::Failed;
        runs[2].info.status = RunStatus::Killed;
        assert_eq!(sorted(&order(&["status"]), runs.clone()), "231");
        runs[0].info.run_name = "beta".into();
        runs[1].info.run_name = "Alpha".into();
        runs[2].info.run_name = "alpha".into();
        assert_eq!(sorted(&order(&["run_name DESC"]), runs.clone()), "132");
        assert_eq!(sorted(&order(&["attributes.`Run Name`"]), runs), "231");
    }

    #[test]
    fn explicit_start_time_replaces_the_implicit_one() {
        let runs = vec![
            run('2', Some(5)),
            run('1', Some(5)),
            run('3', Some(1)),
            run('4', None),
        ];
        assert_eq!(sorted(&order(&["start_time ASC"]), runs.clone()), "3124");
        assert_eq!(sorted(&order(&["created"]), runs.clone()), "3124");
        // Without it, ties on the user's key fall back to start_time DESC, then run_id ASC.
        let runs: Vec<Run> = runs
            .into_iter()
            .map(|r| with_param(r, "p", "same"))
            .collect();
        assert_eq!(sorted(&order(&["params.p"]), runs), "1234");
    }

    #[test]
    fn multiple_keys_apply_in_order() {
        let runs = vec![
            with_metric(with_param(run('1', Some(1)), "p", "x"), "m", 1.0),
            with_metric(with_param(run('2', Some(2)), "p", "y"), "m", 1.0),
            with_metric(with_param(run('3', Some(3)), "p", "x"), "m", 2.0),
        ];
        assert_eq!(
            sorted(&order(&["params.p", "metrics.m DESC"]), runs.clone()),
            "312"
        );
        assert_eq!(sorted(&order(&["metrics.m", "params.p DESC"]), runs), "213");
    }

    #[test]
    fn duplicate_keys_are_refused() {
        assert_eq!(
            err(&["metrics.m", "metric.m DESC"]),
            "`order_by` contains duplicate fields: ['metrics.m', 'metric.m DESC']"
        );
        assert!(err(&["start_time", "created DESC"]).starts_with("`order_by` contains duplicate"));
        assert!(err(&["run_name", "`run name`"]).starts_with("`order_by` contains duplicate"));
        // Same key under different entities is fine.
        assert!(RunOrder::parse(&["metrics.x".into(), "params.x".into()]).is_ok());
    }

    #[test]
    fn bad_items_are_refused() {
        assert_eq!(
            err(&["metrics.m DOWN"]),
            "Invalid ordering key in order_by clause 'metrics.m DOWN'."
        );
        assert_eq!(
            err(&["metrics.m DESC extra"]),
            "Invalid order_by clause 'metrics.m DESC extra'. Could not be parsed."
        );
        assert!(err(&["nope.m"]).starts_with("Invalid entity type 'nope'"));
        assert!(err(&["lifecycle_stage"]).starts_with("Invalid attribute key 'lifecycle_stage'"));
        assert_eq!(err(&["dataset.name"]), "Invalid identifier type 'dataset'");
    }
}

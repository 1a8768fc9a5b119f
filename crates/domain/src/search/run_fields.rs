//! Which parts of a run a search needs in order to filter and sort, so that a store can load only those
//! for every candidate and the whole run only for the page it returns.

use std::collections::BTreeSet;

use super::run_order::RunOrder;
use super::runs::{RunField, RunFilter};

/// The metrics, params and tags (by key), and whether dataset inputs, that a filter and an order read.
/// Run info (ids, names, status, times) is always available.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFields {
    pub metrics: BTreeSet<String>,
    pub params: BTreeSet<String>,
    pub tags: BTreeSet<String>,
    pub datasets: bool,
}

impl RunFields {
    /// What evaluating `filter` and `order` reads.
    pub fn of(filter: &RunFilter, order: &RunOrder) -> Self {
        let mut fields = RunFields::default();
        filter.add_fields(&mut fields);
        for field in order.fields() {
            fields.add(field);
        }
        fields
    }

    pub(crate) fn add(&mut self, field: &RunField) {
        match field {
            RunField::Metric(k) => {
                self.metrics.insert(k.clone());
            }
            RunField::Param(k) => {
                self.params.insert(k.clone());
            }
            RunField::Tag(k) => {
                self.tags.insert(k.clone());
            }
            RunField::Dataset(_) => self.datasets = true,
            RunField::Attr(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_what_filter_and_order_read() {
        let filter = RunFilter::parse(
            "metrics.acc > 0.5 AND params.lr = '0.1' AND tags.`mlflow.user` LIKE 'a%' AND status = 'FINISHED'",
        )
        .unwrap();
        let order = RunOrder::parse(&["metrics.loss DESC".into(), "tags.team".into()]).unwrap();
        let f = RunFields::of(&filter, &order);
        assert_eq!(
            f.metrics,
            BTreeSet::from(["acc".to_string(), "loss".to_string()])
        );
        assert_eq!(f.params, BTreeSet::from(["lr".to_string()]));
        assert_eq!(
            f.tags,
            BTreeSet::from(["mlflow.user".to_string(), "team".to_string()])
        );
        assert!(!f.datasets);
        let f = RunFields::of(
            &RunFilter::parse("dataset.name = 'x'").unwrap(),
            &RunOrder::default(),
        );
        assert!(f.datasets && f.metrics.is_empty());
    }
}

//! Ordering helpers shared by every sort: direction, and MLflow's placement of missing values.
//!
//! MLflow's SQL store sorts every key first by a `CASE WHEN value IS NULL THEN 1 ELSE 0 END` column that is
//! always ascending, then by the value in the requested direction. So missing values come last whether the
//! sort is ascending or descending, and for run metrics a NaN (stored as `is_nan`) gets its own rank
//! between numbers and missing values, again in both directions.

use std::cmp::Ordering;

/// Compares by each key in turn, in its direction, until one differs.
pub(crate) fn by_keys<K: Copy>(keys: &[(K, bool)], mut cmp: impl FnMut(K) -> Ordering) -> Ordering {
    keys.iter()
        .map(|&(key, ascending)| directed(cmp(key), ascending))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// Applies a sort direction.
pub(crate) fn directed(ord: Ordering, ascending: bool) -> Ordering {
    if ascending { ord } else { ord.reverse() }
}

/// Present values in the requested direction, then missing ones.
pub(crate) fn nulls_last<T: Ord>(a: Option<T>, b: Option<T>, ascending: bool) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => directed(x.cmp(&y), ascending),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Numbers in the requested direction, then NaNs (equal among themselves), then missing values.
pub(crate) fn numbers_nan_nulls_last(a: Option<f64>, b: Option<f64>, ascending: bool) -> Ordering {
    fn rank(v: Option<f64>) -> u8 {
        match v {
            Some(x) if !x.is_nan() => 0,
            Some(_) => 1,
            None => 2,
        }
    }
    match (a, b) {
        (Some(x), Some(y)) if !x.is_nan() && !y.is_nan() => {
            directed(x.partial_cmp(&y).unwrap_or(Ordering::Equal), ascending)
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sort_f(values: &[Option<f64>], ascending: bool) -> Vec<String> {
        let mut v = values.to_vec();
        v.sort_by(|a, b| numbers_nan_nulls_last(*a, *b, ascending));
        v.iter().map(|x| format!("{x:?}")).collect()
    }

    #[test]
    fn nan_then_missing_last_in_both_directions() {
        let vals = [
            None,
            Some(f64::NAN),
            Some(2.0),
            Some(-1.0),
            Some(f64::NAN),
            None,
            Some(7.5),
        ];
        assert_eq!(
            sort_f(&vals, true),
            [
                "Some(-1.0)",
                "Some(2.0)",
                "Some(7.5)",
                "Some(NaN)",
                "Some(NaN)",
                "None",
                "None"
            ]
        );
        assert_eq!(
            sort_f(&vals, false),
            [
                "Some(7.5)",
                "Some(2.0)",
                "Some(-1.0)",
                "Some(NaN)",
                "Some(NaN)",
                "None",
                "None"
            ]
        );
    }

    #[test]
    fn missing_last_in_both_directions() {
        let mut v = vec![None, Some("b"), Some("a"), None, Some("c")];
        v.sort_by(|a, b| nulls_last(*a, *b, true));
        assert_eq!(v, [Some("a"), Some("b"), Some("c"), None, None]);
        v.sort_by(|a, b| nulls_last(*a, *b, false));
        assert_eq!(v, [Some("c"), Some("b"), Some("a"), None, None]);
    }

    #[test]
    fn direction() {
        assert_eq!(directed(Ordering::Less, true), Ordering::Less);
        assert_eq!(directed(Ordering::Less, false), Ordering::Greater);
        assert_eq!(directed(Ordering::Equal, false), Ordering::Equal);
    }
}

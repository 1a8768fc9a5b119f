//! Values written into SQL text rather than bound: validated ids and keys in `IN (…)` lists, where one
//! statement per child table must cover any number of parents.

use cairn_domain::ExperimentId;

/// `'a', 'b'` — SQL string literals, quotes doubled (standard SQL; PostgreSQL's
/// standard_conforming_strings is on).
pub(crate) fn quoted<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `1,2,3` — experiment ids are integers, so they are written inline.
pub(crate) fn id_list(ids: &[ExperimentId]) -> String {
    ids.iter()
        .map(|i| i.0.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(quoted(["a", "it's"].into_iter()), "'a', 'it''s'");
        assert_eq!(quoted(std::iter::empty()), "");
    }

    #[test]
    fn ids_are_comma_separated() {
        assert_eq!(id_list(&[ExperimentId(0), ExperimentId(12)]), "0,12");
    }
}

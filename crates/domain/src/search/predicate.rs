//! The comparison core: compiled tests for numeric and string values, and the rules that turn a parsed
//! [`Clause`] into one (value-type checks first, then the comparator, in MLflow's order and wording).
//! Entity modules decide which rules apply to which identifier; the tests themselves know no entity.

use super::lexer::Number;
use super::like::LikePattern;
use super::parser::{Clause, Op, Value, set_repr};
use crate::DomainError;

pub(crate) const NUMERIC_OPS: &[&str] = &["=", "!=", ">", ">=", "<", "<="];
/// Comparators of params and tags: strings, plus presence tests.
pub(crate) const KEY_VALUE_OPS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];
/// Comparators of string attributes that accept value lists.
pub(crate) const STRING_LIST_OPS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];
/// Comparators of string attributes without value lists.
pub(crate) const STRING_OPS: &[&str] = &["=", "!=", "LIKE", "ILIKE"];

pub(crate) fn invalid_comparator(op: &Op, valid: &[&str]) -> DomainError {
    DomainError::invalid(format!(
        "Invalid comparator '{op}' not one of '{}'",
        set_repr(valid)
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl NumOp {
    fn holds(self, ord: Option<std::cmp::Ordering>) -> bool {
        use std::cmp::Ordering::*;
        match (self, ord) {
            // Unordered (NaN on either side): only `!=` holds, as in IEEE 754.
            (NumOp::Ne, None) => true,
            (_, None) => false,
            (NumOp::Eq, Some(o)) => o == Equal,
            (NumOp::Ne, Some(o)) => o != Equal,
            (NumOp::Lt, Some(o)) => o == Less,
            (NumOp::Le, Some(o)) => o != Greater,
            (NumOp::Gt, Some(o)) => o == Greater,
            (NumOp::Ge, Some(o)) => o != Less,
        }
    }
}

/// `<value> <op> <literal>` for numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct NumTest {
    op: NumOp,
    value: f64,
    /// The literal's exact value when written as an integer, so integer columns compare exactly.
    int: Option<i64>,
}

impl NumTest {
    pub(crate) fn new(op: NumOp, literal: Number) -> Self {
        Self {
            op,
            value: literal.value,
            int: literal.int,
        }
    }

    /// IEEE comparison: a NaN operand satisfies only `!=`.
    pub fn op(&self) -> NumOp {
        self.op
    }

    /// The literal as a float.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The literal when it is an integer, which integer attributes compare exactly.
    pub fn int(&self) -> Option<i64> {
        self.int
    }

    pub fn test_f64(&self, x: f64) -> bool {
        self.op.holds(x.partial_cmp(&self.value))
    }

    pub fn test_i64(&self, x: i64) -> bool {
        match self.int {
            Some(i) => self.op.holds(Some(x.cmp(&i))),
            None => self.op.holds((x as f64).partial_cmp(&self.value)),
        }
    }
}

/// `<value> <op> <literal>` for strings. `=` and `!=` are exact (SQLite's binary collation).
#[derive(Debug, Clone, PartialEq)]
pub enum StrTest {
    Eq(String),
    Ne(String),
    Like(LikePattern),
    /// Sorted and deduplicated, for binary search.
    In(Vec<String>),
    NotIn(Vec<String>),
}

impl StrTest {
    pub fn test(&self, s: &str) -> bool {
        match self {
            StrTest::Eq(v) => s == v,
            StrTest::Ne(v) => s != v,
            StrTest::Like(p) => p.matches(s),
            StrTest::In(vs) => contains(vs, s),
            StrTest::NotIn(vs) => !contains(vs, s),
        }
    }

    /// Keeps only the list values `keep` accepts (no effect on other tests).
    pub fn retain_listed(&mut self, keep: impl Fn(&str) -> bool) {
        if let StrTest::In(vs) | StrTest::NotIn(vs) = self {
            vs.retain(|v| keep(v));
        }
    }
}

fn contains(sorted: &[String], s: &str) -> bool {
    sorted.binary_search_by(|v| v.as_str().cmp(s)).is_ok()
}

/// A test of an optional string (a param or tag that may be absent). An absent key satisfies only
/// `IS NULL`: as in SQL, `!=` and `NOT LIKE`-style tests on a missing row do not match.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyTest {
    Str(StrTest),
    IsNull,
    IsNotNull,
}

impl KeyTest {
    pub fn test(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (KeyTest::Str(t), Some(v)) => t.test(v),
            (KeyTest::Str(_), None) => false,
            (KeyTest::IsNull, v) => v.is_none(),
            (KeyTest::IsNotNull, v) => v.is_some(),
        }
    }
}

/// Compiles a numeric clause. `not_numeric` builds the message for a non-numeric value from the value as
/// written.
pub(crate) fn numeric_test(
    clause: &Clause,
    not_numeric: impl FnOnce(&str) -> String,
) -> Result<NumTest, DomainError> {
    let number = match &clause.value {
        Value::Num(n) => *n,
        Value::None => return Err(invalid_comparator(&clause.op, NUMERIC_OPS)),
        _ => return Err(DomainError::invalid(not_numeric(&clause.value_text))),
    };
    let op = match clause.op {
        Op::Eq => NumOp::Eq,
        Op::Ne => NumOp::Ne,
        Op::Lt => NumOp::Lt,
        Op::Le => NumOp::Le,
        Op::Gt => NumOp::Gt,
        Op::Ge => NumOp::Ge,
        _ => return Err(invalid_comparator(&clause.op, NUMERIC_OPS)),
    };
    Ok(NumTest::new(op, number))
}

/// How a string identifier treats a parenthesised value list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lists {
    Allowed,
    /// Lists are refused with this message.
    Refused(&'static str),
    /// Lists are refused like any other non-string value (with [`StringRules::not_string`]).
    NotAString,
}

/// The rules for one kind of string identifier.
pub(crate) struct StringRules<'a> {
    /// The comparators allowed (`IS NULL` / `IS NOT NULL` among them make it a [`KeyTest`] with presence
    /// tests).
    pub ops: &'a [&'a str],
    pub lists: Lists,
    /// The message for a numeric value, before the value as written (e.g. `Expected a quoted string value
    /// for attributes. Got value`).
    pub not_string: &'a str,
}

/// Compiles a string clause (including presence tests where the rules allow them).
pub(crate) fn string_test(
    clause: &Clause,
    rules: &StringRules<'_>,
) -> Result<KeyTest, DomainError> {
    let allowed = |op: &Op| rules.ops.contains(&op.as_str());
    let not_string = || DomainError::invalid(format!("{} {}", rules.not_string, clause.value_text));
    match (&clause.value, rules.lists) {
        (Value::None, _) => {
            return match clause.op {
                Op::IsNull if allowed(&clause.op) => Ok(KeyTest::IsNull),
                Op::IsNotNull if allowed(&clause.op) => Ok(KeyTest::IsNotNull),
                _ => Err(invalid_comparator(&clause.op, rules.ops)),
            };
        }
        (Value::Num(_), _) | (Value::List(_), Lists::NotAString) => return Err(not_string()),
        (Value::Bare, _) => {
            return Err(DomainError::invalid(format!(
                "Parameter value is either not quoted or unidentified quote types used for string \
                 value {}. Use either single or double quotes.",
                clause.value_text
            )));
        }
        (Value::List(_), Lists::Refused(msg)) => return Err(DomainError::invalid(msg)),
        (Value::List(_), Lists::Allowed) | (Value::Str(_), _) => {}
    }
    if !allowed(&clause.op) {
        return Err(invalid_comparator(&clause.op, rules.ops));
    }
    let test = match (&clause.op, &clause.value) {
        (Op::Eq, Value::Str(s)) => StrTest::Eq(s.clone()),
        (Op::Ne, Value::Str(s)) => StrTest::Ne(s.clone()),
        (Op::Like, Value::Str(s)) => StrTest::Like(LikePattern::new(s, false)),
        (Op::ILike, Value::Str(s)) => StrTest::Like(LikePattern::new(s, true)),
        (Op::In, Value::List(vs)) => StrTest::In(sorted(vs)),
        (Op::NotIn, Value::List(vs)) => StrTest::NotIn(sorted(vs)),
        // The parser pairs IN / NOT IN with lists and every other comparator with a scalar.
        _ => return Err(invalid_comparator(&clause.op, rules.ops)),
    };
    Ok(KeyTest::Str(test))
}

/// Like [`string_test`] for identifiers that are never absent, so presence tests are not offered.
pub(crate) fn required_string_test(
    clause: &Clause,
    rules: &StringRules<'_>,
) -> Result<StrTest, DomainError> {
    match string_test(clause, rules)? {
        KeyTest::Str(t) => Ok(t),
        KeyTest::IsNull | KeyTest::IsNotNull => Err(invalid_comparator(&clause.op, rules.ops)),
    }
}

fn sorted(values: &[String]) -> Vec<String> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::parser::parse_filter;

    fn clause(filter: &str) -> Clause {
        parse_filter(filter).unwrap().remove(0)
    }

    fn num(filter: &str) -> NumTest {
        numeric_test(&clause(filter), |v| format!("not numeric: {v}")).unwrap()
    }

    const RULES: StringRules<'static> = StringRules {
        ops: KEY_VALUE_OPS,
        lists: Lists::Refused("no lists here"),
        not_string: "Expected a string. Got value",
    };

    const LIST_RULES: StringRules<'static> = StringRules {
        ops: STRING_LIST_OPS,
        lists: Lists::Allowed,
        not_string: "Expected a string. Got value",
    };

    fn msg(r: Result<impl std::fmt::Debug, DomainError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn every_numeric_comparator() {
        let cases = [
            ("x = 2", [false, true, false]),
            ("x != 2", [true, false, true]),
            ("x < 2", [true, false, false]),
            ("x <= 2", [true, true, false]),
            ("x > 2", [false, false, true]),
            ("x >= 2", [false, true, true]),
        ];
        for (filter, expected) in cases {
            let t = num(filter);
            assert_eq!(
                [t.test_f64(1.0), t.test_f64(2.0), t.test_f64(3.0)],
                expected,
                "{filter}"
            );
            assert_eq!(
                [t.test_i64(1), t.test_i64(2), t.test_i64(3)],
                expected,
                "{filter}"
            );
        }
    }

    #[test]
    fn nan_satisfies_only_not_equal() {
        for (filter, expected) in [
            ("x = 1", false),
            ("x != 1", true),
            ("x < 1", false),
            ("x >= 1", false),
        ] {
            assert_eq!(num(filter).test_f64(f64::NAN), expected, "{filter}");
        }
    }

    #[test]
    fn integers_compare_exactly_and_fractions_as_floats() {
        assert!(num("x = 9007199254740993").test_i64(9_007_199_254_740_993));
        assert!(!num("x = 9007199254740993").test_i64(9_007_199_254_740_992));
        assert!(num("x > 1.5").test_i64(2));
        assert!(!num("x > 1.5").test_i64(1));
        assert!(num("x = 1e3").test_i64(1000));
        assert!(num("x < -0.5").test_f64(-1.0));
    }

    #[test]
    fn numeric_value_and_comparator_errors() {
        assert_eq!(
            msg(numeric_test(&clause("x = 'a'"), |v| format!("Found {v}"))),
            "Found 'a'"
        );
        assert_eq!(
            msg(numeric_test(&clause("x >>> 1"), |v| v.to_owned())),
            "Invalid comparator '>>>' not one of '{'=', '!=', '>', '>=', '<', '<='}'"
        );
        assert!(
            msg(numeric_test(&clause("x IS NULL"), |v| v.to_owned()))
                .starts_with("Invalid comparator 'IS NULL'")
        );
    }

    #[test]
    fn string_tests() {
        let t = |f: &str| string_test(&clause(f), &LIST_RULES).unwrap();
        assert!(t("a = 'x'").test(Some("x")));
        assert!(!t("a = 'x'").test(Some("X")));
        assert!(t("a != 'x'").test(Some("y")));
        assert!(!t("a != 'x'").test(Some("x")));
        assert!(t("a LIKE 'x%'").test(Some("xyz")));
        assert!(!t("a LIKE 'x%'").test(Some("Xyz")));
        assert!(t("a ILIKE 'x%'").test(Some("Xyz")));
        assert!(t("a IN ('b', 'a', 'b')").test(Some("a")));
        assert!(!t("a IN ('b', 'a')").test(Some("c")));
        assert!(t("a NOT IN ('b', 'a')").test(Some("c")));
        assert!(!t("a NOT IN ('b', 'a')").test(Some("b")));
    }

    #[test]
    fn missing_values_match_only_is_null() {
        let t = |f: &str| string_test(&clause(f), &RULES).unwrap();
        assert!(!t("a = 'x'").test(None));
        assert!(!t("a != 'x'").test(None));
        assert!(!t("a LIKE '%'").test(None));
        assert!(t("a IS NULL").test(None));
        assert!(!t("a IS NULL").test(Some("")));
        assert!(t("a IS NOT NULL").test(Some("")));
        assert!(!t("a IS NOT NULL").test(None));
    }

    #[test]
    fn string_value_errors() {
        assert_eq!(
            msg(string_test(&clause("a = 12"), &RULES)),
            "Expected a string. Got value 12"
        );
        assert_eq!(
            msg(string_test(&clause("a = abc"), &RULES)),
            "Parameter value is either not quoted or unidentified quote types used for string value \
             abc. Use either single or double quotes."
        );
        assert_eq!(
            msg(string_test(&clause("a IN ('x')"), &RULES)),
            "no lists here"
        );
        assert_eq!(
            msg(string_test(&clause("a > 'x'"), &RULES)),
            "Invalid comparator '>' not one of '{'=', '!=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT NULL'}'"
        );
        assert!(
            msg(required_string_test(&clause("a IS NULL"), &LIST_RULES))
                .starts_with("Invalid comparator 'IS NULL'")
        );
    }

    #[test]
    fn retain_listed_filters_only_lists() {
        let mut t = required_string_test(&clause("a IN ('A', 'b')"), &LIST_RULES).unwrap();
        t.retain_listed(|v| v == "b");
        assert!(!t.test("A"));
        assert!(t.test("b"));
        let mut eq = StrTest::Eq("A".into());
        eq.retain_listed(|_| false);
        assert!(eq.test("A"));
    }
}

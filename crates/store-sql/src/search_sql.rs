//! Compiling a run filter and order (the domain's [`RunFilter`], [`RunOrder`]) into SQL that answers
//! exactly as the domain's matcher and comparator do, in the dialect both engines share (`$n`
//! parameters), with the few spellings that differ ([`Dialect`]): bytewise collation and LIKE.
//!
//! - Filters become `EXISTS` subqueries on the key's row (a run lacking the key matches nothing; only
//!   `IS NULL` matches a missing param or tag). Metrics compare the latest value; NaN (stored as
//!   `is_nan`) satisfies only `!=`.
//! - Each sort key becomes columns that are never NULL: a rank (present 0, NaN 1 for metrics, missing
//!   last), always ascending, then the value in the key's direction (missing and NaN rank with value 0 or
//!   `''`, so they tie and fall through). The first key's rank splits the search into segments
//!   ([`SortPlan`]) so that segment 0 orders by the raw value, which an index on `(key, value)` serves.
//!
//! What cannot be written with identical semantics makes [`compile_filter`] answer `None`, and the search
//! falls back to the domain's matcher.

use cairn_domain::search::{
    DatasetField, KeyTest, KeyValue, LikePattern, NumOp, NumTest, RunAttr, RunClause, RunField,
    RunFilter, RunOrder, StrTest,
};
use cairn_domain::{DatasetInput, ExperimentId, ViewType};

use crate::Val;
use crate::literals::id_list;

/// What the two engines spell differently in a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// BINARY collation is bytewise; `LIKE` folds ASCII case, `GLOB` does not.
    Sqlite,
    /// Text columns take `COLLATE "C"` to compare bytewise; `LIKE`/`ILIKE` with no escape character.
    Postgres,
}

/// SQLite refuses LIKE and GLOB patterns longer than this (`SQLITE_MAX_LIKE_PATTERN_LENGTH`).
const MAX_PATTERN_BYTES: usize = 50_000;
/// Bound parameters per statement, below SQLite's default limit (32,766) and PostgreSQL's (65,535).
const MAX_ARGS: usize = 30_000;

/// A statement's text and its arguments, numbered in order of `bind`.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub args: Vec<Val>,
}

impl Sql {
    /// Binds `v` and returns its placeholder.
    pub fn bind(&mut self, v: impl Into<Val>) -> String {
        self.args.push(v.into());
        format!("${}", self.args.len())
    }

    pub fn too_many(&self) -> bool {
        self.args.len() > MAX_ARGS
    }
}

impl Dialect {
    /// `expr` compared bytewise.
    pub fn text(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => expr.to_owned(),
            Dialect::Postgres => format!("{expr} COLLATE \"C\""),
        }
    }

    fn like(self, expr: &str, p: &LikePattern, sql: &mut Sql) -> Option<String> {
        let ci = p.case_insensitive();
        let pattern = match (self, ci) {
            (Dialect::Sqlite, false) => glob(p.pattern()),
            _ => p.pattern().to_owned(),
        };
        if pattern.len() > MAX_PATTERN_BYTES || pattern.contains('\0') {
            return None;
        }
        let arg = sql.bind(pattern);
        Some(match (self, ci) {
            (Dialect::Sqlite, false) => format!("{expr} GLOB {arg}"),
            (Dialect::Sqlite, true) => format!("{expr} LIKE {arg}"),
            (Dialect::Postgres, false) => format!("{expr} COLLATE \"C\" LIKE {arg} ESCAPE ''"),
            (Dialect::Postgres, true) => format!("{expr} COLLATE \"C\" ILIKE {arg} ESCAPE ''"),
        })
    }
}

/// A LIKE pattern as SQLite's case-sensitive GLOB: `%` → `*`, `_` → `?`, GLOB's own specials bracketed.
fn glob(like: &str) -> String {
    let mut out = String::with_capacity(like.len() + 8);
    for c in like.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

/// The runs of `experiments` the view admits (`runs` aliased `r`).
pub(crate) fn scope(experiments: &[ExperimentId], view: ViewType) -> String {
    let stage = match view {
        ViewType::ActiveOnly => " AND r.lifecycle_stage = 'active'",
        ViewType::DeletedOnly => " AND r.lifecycle_stage = 'deleted'",
        ViewType::All => "",
    };
    format!("r.experiment_id IN ({}){stage}", id_list(experiments))
}

/// The filter as a WHERE condition over `runs r` (`1 = 1` for none); `None` when some clause has no
/// SQL of identical semantics.
pub(crate) fn compile_filter(filter: &RunFilter, d: Dialect, sql: &mut Sql) -> Option<String> {
    let mut parts = Vec::with_capacity(filter.clauses().len());
    for clause in filter.clauses() {
        parts.push(clause_sql(clause, d, sql)?);
    }
    if parts.is_empty() {
        return Some("1 = 1".to_owned());
    }
    Some(parts.join(" AND "))
}

fn clause_sql(clause: &RunClause, d: Dialect, sql: &mut Sql) -> Option<String> {
    Some(match clause {
        RunClause::Metric(key, test) => {
            let k = sql.bind(key.as_str());
            let cond = metric_test("m", test, sql)?;
            format!(
                "EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.run_id AND m.key = {k} \
                 AND {cond})"
            )
        }
        RunClause::Param(key, test) => key_value("params", key, test, d, sql)?,
        RunClause::Tag(key, test) => key_value("tags", key, test, d, sql)?,
        RunClause::Str(attr, test) => str_test(attr_column(*attr), test, d, sql)?,
        RunClause::Time(attr, test) => time_test(attr_column(*attr), test, sql)?,
        RunClause::Dataset(field, test) => {
            let column = match field {
                DatasetField::Name => "d.name",
                DatasetField::Digest => "d.digest",
                DatasetField::Context => {
                    let k = sql.bind(DatasetInput::CONTEXT_TAG);
                    let cond = str_test("t.value", test, d, sql)?;
                    return Some(format!(
                        "EXISTS (SELECT 1 FROM run_dataset_input_tags t WHERE t.run_id = r.run_id \
                         AND t.key = {k} AND {cond})"
                    ));
                }
            };
            let cond = str_test(column, test, d, sql)?;
            format!(
                "EXISTS (SELECT 1 FROM run_dataset_inputs i JOIN datasets d ON d.dataset_id = \
                 i.dataset_id WHERE i.run_id = r.run_id AND {cond})"
            )
        }
    })
}

fn attr_column(attr: RunAttr) -> &'static str {
    match attr {
        RunAttr::RunId => "r.run_id",
        RunAttr::RunName => "r.name",
        RunAttr::Status => "r.status",
        RunAttr::UserId => "r.user_id",
        RunAttr::ArtifactUri => "r.artifact_uri",
        RunAttr::StartTime => "r.start_time",
        RunAttr::EndTime => "r.end_time",
    }
}

fn op_sql(op: NumOp) -> &'static str {
    match op {
        NumOp::Eq => "=",
        NumOp::Ne => "<>",
        NumOp::Lt => "<",
        NumOp::Le => "<=",
        NumOp::Gt => ">",
        NumOp::Ge => ">=",
    }
}

/// A latest-metric row `m` against a number: NaN satisfies only `!=`.
fn metric_test(m: &str, test: &NumTest, sql: &mut Sql) -> Option<String> {
    if test.value().is_nan() {
        return None;
    }
    let v = sql.bind(test.value());
    let op = op_sql(test.op());
    Some(match test.op() {
        NumOp::Ne => format!("({m}.is_nan OR {m}.value <> {v})"),
        _ => format!("NOT {m}.is_nan AND {m}.value {op} {v}"),
    })
}

/// An integer attribute: exactly against an integer literal, as a float against any other.
fn time_test(column: &str, test: &NumTest, sql: &mut Sql) -> Option<String> {
    let op = op_sql(test.op());
    Some(match test.int() {
        Some(i) => format!("{column} {op} {}", sql.bind(i)),
        None if test.value().is_nan() => return None,
        None => format!(
            "CAST({column} AS DOUBLE PRECISION) {op} {}",
            sql.bind(test.value())
        ),
    })
}

fn str_test(expr: &str, test: &StrTest, d: Dialect, sql: &mut Sql) -> Option<String> {
    let list = |vs: &[String], sql: &mut Sql| -> Option<String> {
        if vs.iter().any(|v| v.contains('\0')) {
            return None;
        }
        Some(
            vs.iter()
                .map(|v| sql.bind(v.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    let one = |v: &str, sql: &mut Sql| (!v.contains('\0')).then(|| sql.bind(v));
    Some(match test {
        StrTest::Eq(v) => format!("{expr} = {}", one(v, sql)?),
        StrTest::Ne(v) => format!("{expr} <> {}", one(v, sql)?),
        StrTest::Like(p) => d.like(expr, p, sql)?,
        StrTest::In(vs) if vs.is_empty() => "1 = 0".to_owned(),
        StrTest::NotIn(vs) if vs.is_empty() => "1 = 1".to_owned(),
        StrTest::In(vs) => format!("{expr} IN ({})", list(vs, sql)?),
        StrTest::NotIn(vs) => format!("{expr} NOT IN ({})", list(vs, sql)?),
    })
}

fn key_value(table: &str, key: &str, test: &KeyTest, d: Dialect, sql: &mut Sql) -> Option<String> {
    if key.contains('\0') {
        return None;
    }
    let k = sql.bind(key);
    let row = format!("SELECT 1 FROM {table} p WHERE p.run_id = r.run_id AND p.key = {k}");
    Some(match test {
        KeyTest::IsNull => format!("NOT EXISTS ({row})"),
        KeyTest::IsNotNull => format!("EXISTS ({row})"),
        KeyTest::Str(t) => format!("EXISTS ({row} AND {})", str_test("p.value", t, d, sql)?),
    })
}

/// The type of a sort column, to read its values back and bind them again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Real,
    Text,
}

impl Kind {
    /// A keyset value as this column binds it; `None` if it cannot be one of its values.
    pub fn bind(self, v: &KeyValue) -> Option<Val> {
        Some(match (self, v) {
            (Kind::Int, KeyValue::Int(i)) => Val::from(*i),
            (Kind::Real, KeyValue::Real(f)) => Val::from(*f),
            (Kind::Real, KeyValue::Int(i)) => Val::from(*i as f64),
            (Kind::Text, KeyValue::Text(s)) if !s.contains('\0') => Val::from(s.as_str()),
            _ => return None,
        })
    }

    /// A fetched value as a keyset value.
    pub fn read(self, v: &Val) -> Option<KeyValue> {
        Some(match (self, v) {
            (Kind::Int, Val::Int(Some(i))) => KeyValue::Int(*i),
            (Kind::Real, Val::Real(Some(f))) => KeyValue::Real(*f),
            (Kind::Real, Val::Int(Some(i))) => KeyValue::Real(*i as f64),
            (Kind::Text, Val::Text(Some(s))) => KeyValue::Text(s.clone()),
            _ => return None,
        })
    }
}

/// One column of the sort: never NULL.
#[derive(Debug, Clone)]
pub(crate) struct Col {
    pub expr: String,
    pub ascending: bool,
    pub kind: Kind,
}

/// The first sort key, which splits the search into segments by its rank.
#[derive(Debug, Clone)]
pub(crate) struct First {
    /// The table it reads, if any: LEFT JOINed, or inner in segment 0 (where the key is present).
    pub join: Option<Join>,
    /// The condition of each segment, in order.
    pub segments: Vec<String>,
    /// Segment 0's column: the raw value, non-NULL there.
    pub raw: Col,
    /// The rank (an integer expression whose value is the segment; none for a key never missing) and
    /// the value never NULL, for one query over every segment.
    pub rank: Option<String>,
    pub value: Col,
}

/// How a search sorts: the first key's segments, then the other keys' columns, and the LEFT JOINs
/// they read.
#[derive(Debug, Clone)]
pub(crate) struct SortPlan {
    pub first: First,
    pub rest: Vec<Col>,
    pub joins: Vec<String>,
}

/// The table a sort key reads, aliased, and how it joins `runs r`.
#[derive(Debug, Clone)]
pub(crate) struct Join {
    pub table: String,
    pub on: String,
    /// Whether an index on `(key, value)` serves it (latest metrics).
    pub by_value: bool,
}

impl Join {
    pub fn left(&self) -> String {
        format!(" LEFT JOIN {} ON {}", self.table, self.on)
    }
}

/// The rank and value columns of one key, the join that reads it, and what each rank means.
struct KeyCols {
    join: Option<Join>,
    /// The rank expression and, for each rank, its condition; `None` for a key never missing.
    rank: Option<(String, Vec<String>)>,
    raw: String,
    value: String,
    kind: Kind,
}

fn key_cols(i: usize, field: &RunField, d: Dialect, sql: &mut Sql) -> Option<KeyCols> {
    let a = format!("o{i}");
    let join = |table: &str, key: &str, sql: &mut Sql| -> Option<Join> {
        if key.contains('\0') {
            return None;
        }
        let k = sql.bind(key);
        Some(Join {
            table: format!("{table} {a}"),
            on: format!("{a}.run_id = r.run_id AND {a}.key = {k}"),
            by_value: table == "latest_metrics",
        })
    };
    Some(match field {
        RunField::Metric(key) => KeyCols {
            join: Some(join("latest_metrics", key, sql)?),
            rank: Some((
                format!("CASE WHEN {a}.run_id IS NULL THEN 2 WHEN {a}.is_nan THEN 1 ELSE 0 END"),
                vec![
                    format!("{a}.run_id IS NOT NULL AND NOT {a}.is_nan"),
                    format!("{a}.is_nan"),
                    format!("{a}.run_id IS NULL"),
                ],
            )),
            raw: format!("{a}.value"),
            value: format!("COALESCE({a}.value, 0.0)"),
            kind: Kind::Real,
        },
        RunField::Param(key) | RunField::Tag(key) => {
            let table = if matches!(field, RunField::Param(_)) {
                "params"
            } else {
                "tags"
            };
            KeyCols {
                join: Some(join(table, key, sql)?),
                rank: Some((
                    format!("CASE WHEN {a}.run_id IS NULL THEN 1 ELSE 0 END"),
                    vec![
                        format!("{a}.run_id IS NOT NULL"),
                        format!("{a}.run_id IS NULL"),
                    ],
                )),
                raw: d.text(&format!("{a}.value")),
                value: d.text(&format!("COALESCE({a}.value, '')")),
                kind: Kind::Text,
            }
        }
        RunField::Attr(attr) if attr.is_numeric() => {
            let c = attr_column(*attr);
            KeyCols {
                join: None,
                rank: Some((
                    format!("CASE WHEN {c} IS NULL THEN 1 ELSE 0 END"),
                    vec![format!("{c} IS NOT NULL"), format!("{c} IS NULL")],
                )),
                raw: c.to_owned(),
                value: format!("COALESCE({c}, 0)"),
                kind: Kind::Int,
            }
        }
        RunField::Attr(attr) => {
            let c = d.text(attr_column(*attr));
            KeyCols {
                join: None,
                rank: None,
                raw: c.clone(),
                value: c,
                kind: Kind::Text,
            }
        }
        RunField::Dataset(_) => return None,
    })
}

/// The sort plan of `order`; `None` when a key cannot be sorted on in SQL.
pub(crate) fn compile_order(order: &RunOrder, d: Dialect, sql: &mut Sql) -> Option<SortPlan> {
    let mut keys = order.keys().iter().enumerate();
    let (_, (field, ascending)) = keys.next()?;
    let k = key_cols(0, field, d, sql)?;
    let (rank, segments) = match k.rank {
        Some((rank, segments)) => (Some(rank), segments),
        None => (None, vec!["1 = 1".to_owned()]),
    };
    let first = First {
        join: k.join,
        segments,
        raw: Col {
            expr: k.raw,
            ascending: *ascending,
            kind: k.kind,
        },
        rank,
        value: Col {
            expr: k.value,
            ascending: *ascending,
            kind: k.kind,
        },
    };
    let mut rest = Vec::new();
    let mut joins = Vec::new();
    for (i, (field, ascending)) in keys {
        let k = key_cols(i, field, d, sql)?;
        joins.extend(k.join.map(|j| j.left()));
        if let Some((rank, _)) = k.rank {
            rest.push(Col {
                expr: rank,
                ascending: true,
                kind: Kind::Int,
            });
        }
        rest.push(Col {
            expr: k.value,
            ascending: *ascending,
            kind: k.kind,
        });
    }
    Some(SortPlan { first, rest, joins })
}

/// `cols > after` in the sort's order (each column in its direction), as a condition; `None` when the
/// keyset does not fit the columns.
pub(crate) fn after(cols: &[&Col], values: &[KeyValue], sql: &mut Sql) -> Option<String> {
    if cols.len() != values.len() || cols.is_empty() {
        return None;
    }
    let mut cond: Option<String> = None;
    for (col, v) in cols.iter().zip(values).rev() {
        let arg = sql.bind(col.kind.bind(v)?);
        let (gt, ge) = if col.ascending {
            (">", ">=")
        } else {
            ("<", "<=")
        };
        let e = &col.expr;
        cond = Some(match cond {
            None => format!("{e} {gt} {arg}"),
            Some(tail) => format!("{e} {ge} {arg} AND ({e} {gt} {arg} OR ({tail}))"),
        });
    }
    cond
}

/// `ORDER BY` of the columns.
pub(crate) fn order_by(cols: &[&Col]) -> String {
    cols.iter()
        .map(|c| format!("{}{}", c.expr, if c.ascending { "" } else { " DESC" }))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_become_globs_that_match_the_same() {
        assert_eq!(glob("a%b_c"), "a*b?c");
        assert_eq!(glob("*?[x]"), "[*][?][[]x]");
    }

    #[test]
    fn filters_compile_to_bound_conditions() {
        let f =
            RunFilter::parse("metrics.acc > 0.5 AND params.lr = 'x' AND tags.t IS NULL").unwrap();
        let mut sql = Sql::default();
        let cond = compile_filter(&f, Dialect::Postgres, &mut sql).unwrap();
        assert!(cond.contains("m.value > $2"), "{cond}");
        assert!(cond.contains("NOT EXISTS (SELECT 1 FROM tags"), "{cond}");
        assert_eq!(sql.args.len(), 5);
    }

    #[test]
    fn keyset_condition_nests_by_column() {
        let cols = [
            Col {
                expr: "a".into(),
                ascending: true,
                kind: Kind::Real,
            },
            Col {
                expr: "b".into(),
                ascending: false,
                kind: Kind::Text,
            },
        ];
        let refs: Vec<&Col> = cols.iter().collect();
        let mut sql = Sql::default();
        let values = [KeyValue::Real(1.5), KeyValue::Text("x".into())];
        let cond = after(&refs, &values, &mut sql).unwrap();
        assert_eq!(cond, "a >= $2 AND (a > $2 OR (b < $1))");
        assert!(after(&refs, &values[..1], &mut sql).is_none());
    }
}

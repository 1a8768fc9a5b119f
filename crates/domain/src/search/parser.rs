//! The entity-independent half of the grammar: a filter string is a conjunction of
//! `<identifier> <comparator> <value>` clauses, an `order_by` item is `<identifier> [ASC|DESC]`. What an
//! identifier may name, and which comparators and values suit it, is decided by each searchable entity
//! (runs, experiments, logged models; later registered models and model versions).

use std::fmt;

use super::lexer::{Ident, Keyword, LexError, Number, Token, TokenKind, tokenize};
use crate::DomainError;

/// A comparator as written. Unknown operator runs are kept so the entity can name them in its error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
    Other(String),
}

impl Op {
    pub fn as_str(&self) -> &str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
            Op::Other(s) => s,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The right-hand side of a clause.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A single- or double-quoted string (content verbatim, as MLflow keeps it).
    Str(String),
    Num(Number),
    /// A parenthesised list of single-quoted strings, after `IN` / `NOT IN`.
    List(Vec<String>),
    /// An unquoted or backticked word where a value belongs; every entity rejects it.
    Bare,
    /// No value: the comparator was `IS NULL` or `IS NOT NULL`.
    None,
}

/// One comparison of a filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    pub ident: Ident,
    pub op: Op,
    pub value: Value,
    /// The value as written, for error messages.
    pub value_text: String,
}

fn invalid_clause(text: &str) -> DomainError {
    DomainError::invalid(format!(
        "Invalid clause(s) in filter string: '{}'",
        text.trim()
    ))
}

fn lex(input: &str, what: impl Fn(&str) -> DomainError) -> Result<Vec<Token>, DomainError> {
    tokenize(input).map_err(|LexError { at }| what(&input[at..]))
}

/// Parses a filter string into its clauses. An empty or blank filter has none. `AND` (any case) separates
/// clauses; like MLflow, stray leading, trailing or repeated `AND`s are tolerated.
pub(crate) fn parse_filter(filter: &str) -> Result<Vec<Clause>, DomainError> {
    let tokens = lex(filter, invalid_clause)?;
    let mut parser = Parser {
        input: filter,
        tokens: &tokens,
        pos: 0,
    };
    let mut clauses = Vec::new();
    loop {
        let mut saw_and = false;
        while parser.peek_keyword() == Some(Keyword::And) {
            parser.pos += 1;
            saw_and = true;
        }
        let Some(token) = parser.peek() else { break };
        if !clauses.is_empty() && !saw_and {
            return Err(invalid_clause(parser.text(token)));
        }
        clauses.push(parser.clause()?);
    }
    Ok(clauses)
}

struct Parser<'a> {
    input: &'a str,
    tokens: &'a [Token],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.pos)
    }

    fn peek_keyword(&self) -> Option<Keyword> {
        match &self.peek()?.kind {
            TokenKind::Ident(i) => i.keyword(),
            _ => None,
        }
    }

    fn next(&mut self) -> Option<&'a Token> {
        let t = self.tokens.get(self.pos);
        self.pos += usize::from(t.is_some());
        t
    }

    fn text(&self, token: &Token) -> &'a str {
        &self.input[token.span.clone()]
    }

    /// The input from `start` up to the end of the last consumed token, or the whole rest of the input
    /// when `to_end`.
    fn span_from(&self, start: usize, to_end: bool) -> &'a str {
        let end = match (to_end, self.pos.checked_sub(1)) {
            (true, _) | (false, None) => self.input.len(),
            (false, Some(last)) => self.tokens[last].span.end.max(start),
        };
        &self.input[start..end]
    }

    fn clause(&mut self) -> Result<Clause, DomainError> {
        let first = self.next().expect("caller checked a token is present");
        let start = first.span.start;
        let ident = match &first.kind {
            TokenKind::Ident(i) if i.keyword().is_none() => i.clone(),
            _ => return Err(invalid_clause(self.text(first))),
        };
        let incomplete = |p: &Self| invalid_clause(p.span_from(start, true));
        let op = match self.next().map(|t| &t.kind) {
            Some(TokenKind::Op(s)) => match s.as_str() {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                other => Op::Other(other.to_owned()),
            },
            Some(TokenKind::Ident(i)) => match i.keyword() {
                Some(Keyword::Like) => Op::Like,
                Some(Keyword::ILike) => Op::ILike,
                Some(Keyword::In) => Op::In,
                Some(Keyword::Not) => match self.peek_keyword() {
                    Some(Keyword::In) => {
                        self.pos += 1;
                        Op::NotIn
                    }
                    Some(Keyword::Like) => {
                        self.pos += 1;
                        Op::Other("NOT LIKE".into())
                    }
                    Some(Keyword::ILike) => {
                        self.pos += 1;
                        Op::Other("NOT ILIKE".into())
                    }
                    _ => return Err(incomplete(self)),
                },
                Some(Keyword::Is) => {
                    let negated = self.peek_keyword() == Some(Keyword::Not);
                    self.pos += usize::from(negated);
                    if self.peek_keyword() != Some(Keyword::Null) {
                        return Err(incomplete(self));
                    }
                    self.pos += 1;
                    if negated { Op::IsNotNull } else { Op::IsNull }
                }
                _ => return Err(incomplete(self)),
            },
            _ => return Err(incomplete(self)),
        };
        let value_start = self.peek().map_or(self.input.len(), |t| t.span.start);
        let value = match op {
            Op::IsNull | Op::IsNotNull => Value::None,
            Op::In | Op::NotIn => self.list(start)?,
            _ => match self.next().map(|t| &t.kind) {
                Some(TokenKind::Str(s)) => Value::Str(s.clone()),
                Some(TokenKind::Num(n)) => Value::Num(*n),
                Some(TokenKind::Ident(i)) if i.keyword().is_none() => match i.double_quoted() {
                    Some(s) => Value::Str(s.to_owned()),
                    None => Value::Bare,
                },
                _ => return Err(incomplete(self)),
            },
        };
        let value_text = self.span_from(value_start, false).to_owned();
        Ok(Clause {
            ident,
            op,
            value,
            value_text,
        })
    }

    /// `( 'a' [, 'b' ...] )`
    fn list(&mut self, clause_start: usize) -> Result<Value, DomainError> {
        let open = match self.next() {
            Some(t) if t.kind == TokenKind::LParen => t,
            _ => return Err(invalid_clause(self.span_from(clause_start, true))),
        };
        let mut items = Vec::new();
        let mut expect_item = true;
        loop {
            let Some(token) = self.next() else {
                return Err(invalid_clause(self.span_from(clause_start, true)));
            };
            match (&token.kind, expect_item) {
                (TokenKind::RParen, _) if items.is_empty() => {
                    return Err(DomainError::invalid(
                        "While parsing a list in the query, expected a non-empty list of string \
                         values, but got empty list",
                    ));
                }
                (TokenKind::RParen, false) => break,
                (TokenKind::Str(s), true) => {
                    items.push(s.clone());
                    expect_item = false;
                }
                (TokenKind::Comma, false) => expect_item = true,
                _ => {
                    // Report the list as written, up to its closing parenthesis if there is one.
                    while self.next().is_some_and(|t| t.kind != TokenKind::RParen) {}
                    let list = self.span_from(open.span.start, false);
                    return Err(DomainError::invalid(format!(
                        "While parsing a list in the query, expected string value, punctuation, or \
                         whitespace, but got different type in list: {list}"
                    )));
                }
            }
        }
        Ok(Value::List(items))
    }
}

/// Parses one `order_by` item, `<identifier> [ASC|DESC]` (direction case-insensitive, default ascending),
/// into the identifier and whether it sorts ascending.
pub(crate) fn parse_order_item(item: &str) -> Result<(Ident, bool), DomainError> {
    let unparsable = || {
        DomainError::invalid(format!(
            "Invalid order_by clause '{item}'. Could not be parsed."
        ))
    };
    let tokens = lex(item, |_| unparsable())?;
    let ident = match tokens.first().map(|t| &t.kind) {
        Some(TokenKind::Ident(i)) if i.keyword().is_none() => i.clone(),
        _ => return Err(unparsable()),
    };
    let ascending = match tokens.get(1).map(|t| &t.kind) {
        None => true,
        Some(TokenKind::Ident(dir)) if tokens.len() == 2 => match dir.keyword() {
            Some(Keyword::Asc) => true,
            Some(Keyword::Desc) => false,
            _ => {
                return Err(DomainError::invalid(format!(
                    "Invalid ordering key in order_by clause '{item}'."
                )));
            }
        },
        _ => return Err(unparsable()),
    };
    Ok((ident, ascending))
}

/// Formats names the way MLflow's messages print a Python set: `{'a', 'b'}`.
pub(crate) fn set_repr(names: &[&str]) -> String {
    let inner: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Formats strings the way MLflow's messages print a Python list: `['a', 'b']`.
pub(crate) fn list_repr<S: AsRef<str>>(items: &[S]) -> String {
    let inner: Vec<String> = items.iter().map(|n| format!("'{}'", n.as_ref())).collect();
    format!("[{}]", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(e: DomainError) -> String {
        e.to_string()
    }

    fn one(filter: &str) -> Clause {
        let mut c = parse_filter(filter).unwrap();
        assert_eq!(c.len(), 1, "{filter}");
        c.remove(0)
    }

    #[test]
    fn blank_filters_have_no_clauses() {
        assert!(parse_filter("").unwrap().is_empty());
        assert!(parse_filter("   \t\n").unwrap().is_empty());
    }

    #[test]
    fn comparators_are_recognised() {
        for (text, op) in [
            ("a = 1", Op::Eq),
            ("a != 1", Op::Ne),
            ("a < 1", Op::Lt),
            ("a <= 1", Op::Le),
            ("a > 1", Op::Gt),
            ("a >= 1", Op::Ge),
            ("a LIKE 'x'", Op::Like),
            ("a like 'x'", Op::Like),
            ("a ILIKE 'x'", Op::ILike),
            ("a in ('x')", Op::In),
            ("a NOT IN ('x')", Op::NotIn),
            ("a is null", Op::IsNull),
            ("a IS NOT NULL", Op::IsNotNull),
            ("a == 1", Op::Other("==".into())),
            ("a <> 1", Op::Other("<>".into())),
            ("a NOT LIKE 'x'", Op::Other("NOT LIKE".into())),
        ] {
            assert_eq!(one(text).op, op, "{text}");
        }
    }

    #[test]
    fn values_of_every_kind() {
        assert_eq!(one("a = 'x'").value, Value::Str("x".into()));
        assert_eq!(one(r#"a = "x y""#).value, Value::Str("x y".into()));
        assert!(matches!(one("a = -1.5").value, Value::Num(n) if n.value == -1.5));
        assert_eq!(one("a = bare").value, Value::Bare);
        assert_eq!(one("a = `tick`").value, Value::Bare);
        assert_eq!(one("a IS NULL").value, Value::None);
        assert_eq!(
            one("a IN ('x', 'y','z')").value,
            Value::List(vec!["x".into(), "y".into(), "z".into()])
        );
        assert_eq!(one("a = bare").value_text, "bare");
        assert_eq!(one("a = 'q'").value_text, "'q'");
    }

    #[test]
    fn and_joins_clauses_in_any_case() {
        let c = parse_filter("a = 1 AND b = 2 and c = 3 AnD d = 4").unwrap();
        let keys: Vec<&str> = c.iter().map(|c| c.ident.key()).collect();
        assert_eq!(keys, ["a", "b", "c", "d"]);
    }

    #[test]
    fn stray_ands_are_tolerated_like_mlflow() {
        assert_eq!(
            parse_filter("AND a = 1 AND AND b = 2 AND").unwrap().len(),
            2
        );
    }

    #[test]
    fn clauses_need_and_between_them() {
        assert_eq!(
            msg(parse_filter("a = 1 b = 2").unwrap_err()),
            "Invalid clause(s) in filter string: 'b'"
        );
        assert_eq!(
            msg(parse_filter("a = 1 OR b = 2").unwrap_err()),
            "Invalid clause(s) in filter string: 'OR'"
        );
    }

    #[test]
    fn parentheses_are_rejected_outside_in_lists() {
        assert_eq!(
            msg(parse_filter("(a = 1)").unwrap_err()),
            "Invalid clause(s) in filter string: '('"
        );
        assert!(parse_filter("a = ('x')").is_err());
    }

    #[test]
    fn incomplete_clauses_are_reported_whole() {
        assert_eq!(
            msg(parse_filter("metrics.a").unwrap_err()),
            "Invalid clause(s) in filter string: 'metrics.a'"
        );
        assert_eq!(
            msg(parse_filter("metrics.a >").unwrap_err()),
            "Invalid clause(s) in filter string: 'metrics.a >'"
        );
        assert_eq!(
            msg(parse_filter("tags.a IS 'x'").unwrap_err()),
            "Invalid clause(s) in filter string: 'tags.a IS 'x''"
        );
        assert!(parse_filter("a IN 'x'").is_err());
        assert!(parse_filter("a IN ('x'").is_err());
    }

    #[test]
    fn lexical_garbage_is_an_invalid_clause() {
        assert_eq!(
            msg(parse_filter("a = 1; drop").unwrap_err()),
            "Invalid clause(s) in filter string: '; drop'"
        );
        assert_eq!(
            msg(parse_filter("a = 'open").unwrap_err()),
            "Invalid clause(s) in filter string: ''open'"
        );
    }

    #[test]
    fn in_lists_must_be_non_empty_single_quoted_strings() {
        assert_eq!(
            msg(parse_filter("a IN ()").unwrap_err()),
            "While parsing a list in the query, expected a non-empty list of string values, but got \
             empty list"
        );
        assert_eq!(
            msg(parse_filter("a IN ('x', 1)").unwrap_err()),
            "While parsing a list in the query, expected string value, punctuation, or whitespace, \
             but got different type in list: ('x', 1)"
        );
        assert!(parse_filter(r#"a IN ("x")"#).is_err());
        assert!(parse_filter("a IN ('x',)").is_err());
        assert!(parse_filter("a IN ('x' 'y')").is_err());
    }

    #[test]
    fn order_items() {
        let (i, asc) = parse_order_item("metrics.acc").unwrap();
        assert_eq!((i.entity(), i.key(), asc), (Some("metrics"), "acc", true));
        let (i, asc) = parse_order_item("params.`a b` desc").unwrap();
        assert_eq!((i.key(), asc), ("a b", false));
        assert!(parse_order_item("start_time ASC").unwrap().1);
        assert!(!parse_order_item("start_time DeSc").unwrap().1);
    }

    #[test]
    fn bad_order_items() {
        assert_eq!(
            msg(parse_order_item("start_time UP").unwrap_err()),
            "Invalid ordering key in order_by clause 'start_time UP'."
        );
        for bad in ["", "  ", "a b c", "a DESC x", "DESC", "'a'", "a >", "a;"] {
            assert_eq!(
                msg(parse_order_item(bad).unwrap_err()),
                format!("Invalid order_by clause '{bad}'. Could not be parsed."),
                "{bad}"
            );
        }
    }

    #[test]
    fn python_style_reprs() {
        assert_eq!(set_repr(&["a", "b"]), "{'a', 'b'}");
        assert_eq!(list_repr(&["x", "y z"]), "['x', 'y z']");
    }
}

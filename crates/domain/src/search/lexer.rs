//! The tokeniser shared by every search grammar (runs, experiments, logged models and, later, the model
//! registry): it turns a filter string or an `order_by` item into identifiers, quoted strings, numbers,
//! comparison operators and list punctuation, the way MLflow's `sqlparse`-based parser sees them.

use std::ops::Range;

/// One lexical token and where it sits in the input (byte offsets).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// A bare word or dotted identifier, any part of which may be `"double-quoted"` or `` `backticked` ``:
    /// `metrics.acc`, `tags.mlflow.runName`, `` params.`a b` ``, `"run name"`, and keywords such as `AND`.
    Ident(Ident),
    /// A single-quoted string. Like MLflow, the content between the quotes is kept verbatim: `''` and
    /// `\'` end no string but are not unescaped either.
    Str(String),
    /// A numeric literal: integer, decimal or exponent form, optionally negative.
    Num(Number),
    /// A run of comparison characters (`<>=!~`), valid or not: `>=`, `!=`, `>>>`.
    Op(String),
    LParen,
    RParen,
    Comma,
}

/// A numeric literal, with its exact integer value when it is written as an integer that fits an `i64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Number {
    pub value: f64,
    pub int: Option<i64>,
}

/// An identifier as written. Its meaning (`<entity>.<key>`) is decided by [`Ident::entity`] and
/// [`Ident::key`], which follow MLflow: the entity is everything before the first dot, the key everything
/// after it, with one layer of quotes or backticks removed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ident {
    pub raw: String,
    /// Byte offset in `raw` of the first dot outside quotes.
    dot: Option<usize>,
    /// How many dot-separated parts it has.
    parts: usize,
    /// The quote character of the first part, if quoted.
    first_quote: Option<char>,
}

/// The keywords of the grammar (case-insensitive bare words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    In,
    Not,
    Like,
    ILike,
    Is,
    Null,
    Asc,
    Desc,
}

impl Ident {
    /// The keyword this identifier spells, if it is a single unquoted word.
    pub fn keyword(&self) -> Option<Keyword> {
        if self.parts != 1 || self.first_quote.is_some() {
            return None;
        }
        const WORDS: [(&str, Keyword); 9] = [
            ("AND", Keyword::And),
            ("IN", Keyword::In),
            ("NOT", Keyword::Not),
            ("LIKE", Keyword::Like),
            ("ILIKE", Keyword::ILike),
            ("IS", Keyword::Is),
            ("NULL", Keyword::Null),
            ("ASC", Keyword::Asc),
            ("DESC", Keyword::Desc),
        ];
        WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(&self.raw))
            .map(|(_, k)| *k)
    }

    /// The content of a lone double-quoted part (`"abc"`), which in value position is a string literal.
    pub fn double_quoted(&self) -> Option<&str> {
        (self.parts == 1 && self.first_quote == Some('"')).then(|| &self.raw[1..self.raw.len() - 1])
    }

    /// The entity prefix (before the first dot), backticks trimmed; `None` without a dot.
    pub fn entity(&self) -> Option<&str> {
        self.dot.map(|d| trim_backticks(&self.raw[..d]))
    }

    /// The key: after the first dot (or the whole identifier without one), one layer of quotes removed.
    pub fn key(&self) -> &str {
        let rest = match self.dot {
            Some(d) => &self.raw[d + 1..],
            None => &self.raw,
        };
        trim_backticks(strip_quotes(rest))
    }
}

fn is_quoted(s: &str, q: char) -> bool {
    s.len() >= 2 && s.starts_with(q) && s.ends_with(q)
}

fn strip_quotes(s: &str) -> &str {
    if is_quoted(s, '\'') || is_quoted(s, '"') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

fn trim_backticks(s: &str) -> &str {
    if is_quoted(s, '`') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!' | '~')
}

/// Where tokenising failed: the byte offset of the character that starts no token (or of an unterminated
/// quote).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LexError {
    pub at: usize,
}

/// Splits `input` into tokens, skipping whitespace.
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, LexError> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(c) = input[i..].chars().next() {
        let start = i;
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let kind = match c {
            '(' => {
                i += 1;
                TokenKind::LParen
            }
            ')' => {
                i += 1;
                TokenKind::RParen
            }
            ',' => {
                i += 1;
                TokenKind::Comma
            }
            '\'' => {
                i = quoted_end(input, i, '\'')?;
                TokenKind::Str(input[start + 1..i - 1].to_owned())
            }
            c if is_op_char(c) => {
                while i < bytes.len() && is_op_char(bytes[i] as char) {
                    i += 1;
                }
                TokenKind::Op(input[start..i].to_owned())
            }
            c if starts_number(input, i, c) => {
                let (end, number) = number(input, i).ok_or(LexError { at: start })?;
                i = end;
                TokenKind::Num(number)
            }
            c if is_word_char(c) || c == '"' || c == '`' => {
                let (end, ident) = ident(input, i)?;
                i = end;
                TokenKind::Ident(ident)
            }
            _ => return Err(LexError { at: start }),
        };
        tokens.push(Token {
            kind,
            span: start..i,
        });
    }
    Ok(tokens)
}

fn starts_number(input: &str, i: usize, c: char) -> bool {
    let b = input.as_bytes();
    let digit_at = |j: usize| b.get(j).is_some_and(u8::is_ascii_digit);
    match c {
        '0'..='9' => true,
        '.' => digit_at(i + 1),
        '-' => digit_at(i + 1) || (b.get(i + 1) == Some(&b'.') && digit_at(i + 2)),
        _ => false,
    }
}

/// `-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?`, not followed by a word character.
fn number(input: &str, start: usize) -> Option<(usize, Number)> {
    let b = input.as_bytes();
    let mut i = start;
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - s
    };
    if b[i] == b'-' {
        i += 1;
    }
    let int_digits = digits(&mut i);
    let mut is_int = true;
    if b.get(i) == Some(&b'.') {
        i += 1;
        is_int = false;
        if digits(&mut i) == 0 && int_digits == 0 {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        if digits(&mut j) > 0 {
            i = j;
            is_int = false;
        }
    }
    if input[i..].chars().next().is_some_and(is_word_char) {
        return None;
    }
    let text = &input[start..i];
    let value = text.parse::<f64>().ok()?;
    let int = if is_int {
        text.parse::<i64>().ok()
    } else {
        None
    };
    Some((i, Number { value, int }))
}

/// The end (exclusive) of a quoted run starting at `start`. Doubled quotes and backslash escapes do not
/// end it (single and double quotes only).
fn quoted_end(input: &str, start: usize, q: char) -> Result<usize, LexError> {
    let b = input.as_bytes();
    let q = q as u8;
    let escapes = q != b'`';
    let mut i = start + 1;
    while i < b.len() {
        if escapes && b[i] == b'\\' && i + 1 < b.len() {
            i += 2;
        } else if b[i] == q {
            if escapes && b.get(i + 1) == Some(&q) {
                i += 2;
            } else {
                return Ok(i + 1);
            }
        } else {
            i += 1;
        }
    }
    Err(LexError { at: start })
}

fn ident(input: &str, start: usize) -> Result<(usize, Ident), LexError> {
    let mut i = start;
    let mut dot = None;
    let mut parts = 0;
    let mut first_quote = None;
    loop {
        // One part: a quoted run or a run of word characters.
        let c = input[i..].chars().next().ok_or(LexError { at: i })?;
        if c == '"' || c == '`' {
            if parts == 0 {
                first_quote = Some(c);
            }
            i = quoted_end(input, i, c)?;
        } else {
            while let Some(c) = input[i..].chars().next().filter(|c| is_word_char(*c)) {
                i += c.len_utf8();
            }
        }
        parts += 1;
        // Continue only over a dot directly followed by another part.
        let mut rest = input[i..].chars();
        if rest.next() == Some('.')
            && rest
                .next()
                .is_some_and(|c| is_word_char(c) || c == '"' || c == '`')
        {
            dot.get_or_insert(i - start);
            i += 1;
        } else {
            break;
        }
    }
    let ident = Ident {
        raw: input[start..i].to_owned(),
        dot,
        parts,
        first_quote,
    };
    Ok((i, ident))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<TokenKind> {
        tokenize(s).unwrap().into_iter().map(|t| t.kind).collect()
    }

    fn ident_of(s: &str) -> Ident {
        match kinds(s).remove(0) {
            TokenKind::Ident(i) => i,
            other => panic!("not an identifier: {other:?}"),
        }
    }

    #[test]
    fn splits_a_comparison_without_spaces() {
        let k = kinds("metrics.acc>=0.5");
        assert_eq!(k.len(), 3);
        assert!(matches!(&k[0], TokenKind::Ident(i) if i.raw == "metrics.acc"));
        assert_eq!(k[1], TokenKind::Op(">=".into()));
        assert!(matches!(k[2], TokenKind::Num(Number { value, int: None }) if value == 0.5));
    }

    #[test]
    fn operator_runs_are_one_token_even_when_invalid() {
        assert_eq!(kinds(">>> != <>")[0], TokenKind::Op(">>>".into()));
        assert_eq!(kinds(">>> != <>")[2], TokenKind::Op("<>".into()));
    }

    #[test]
    fn numbers_in_all_forms() {
        let n = |s: &str| match kinds(s).remove(0) {
            TokenKind::Num(n) => n,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            n("42"),
            Number {
                value: 42.0,
                int: Some(42)
            }
        );
        assert_eq!(
            n("-7"),
            Number {
                value: -7.0,
                int: Some(-7)
            }
        );
        assert_eq!(n("1.5e3").value, 1500.0);
        assert_eq!(n("2E-2").value, 0.02);
        assert_eq!(n(".25").value, 0.25);
        assert_eq!(n("-.5").value, -0.5);
        assert_eq!(n("3.").value, 3.0);
        assert_eq!(n("3.").int, None);
        // Too large for i64: still a number, compared as a float.
        assert_eq!(n("99999999999999999999").int, None);
    }

    #[test]
    fn a_number_glued_to_a_word_is_an_error() {
        assert!(tokenize("1abc").is_err());
    }

    #[test]
    fn strings_keep_their_content_verbatim() {
        assert_eq!(kinds("'a b'")[0], TokenKind::Str("a b".into()));
        assert_eq!(kinds("'it''s'")[0], TokenKind::Str("it''s".into()));
        assert_eq!(kinds(r"'it\'s'")[0], TokenKind::Str(r"it\'s".into()));
        assert_eq!(kinds("''")[0], TokenKind::Str(String::new()));
    }

    #[test]
    fn unterminated_quotes_fail_at_the_quote() {
        assert_eq!(tokenize("a = 'abc"), Err(LexError { at: 4 }));
        assert_eq!(tokenize("tags.`abc = 'x'"), Err(LexError { at: 5 }));
    }

    #[test]
    fn identifier_entity_and_key() {
        let i = ident_of("tags.mlflow.runName");
        assert_eq!(i.entity(), Some("tags"));
        assert_eq!(i.key(), "mlflow.runName");

        let i = ident_of("metrics.`my metric`");
        assert_eq!((i.entity(), i.key()), (Some("metrics"), "my metric"));

        let i = ident_of(r#"params."a b""#);
        assert_eq!((i.entity(), i.key()), (Some("params"), "a b"));

        let i = ident_of("`metrics`.acc");
        assert_eq!((i.entity(), i.key()), (Some("metrics"), "acc"));

        let i = ident_of("`run name`");
        assert_eq!((i.entity(), i.key()), (None, "run name"));

        // A dot inside quotes does not split.
        let i = ident_of("tags.`a.b`");
        assert_eq!((i.entity(), i.key()), (Some("tags"), "a.b"));
        let i = ident_of("`a.b`");
        assert_eq!((i.entity(), i.key()), (None, "a.b"));
    }

    #[test]
    fn keywords_are_case_insensitive_bare_words_only() {
        assert_eq!(ident_of("and").keyword(), Some(Keyword::And));
        assert_eq!(ident_of("IlIkE").keyword(), Some(Keyword::ILike));
        assert_eq!(ident_of("`and`").keyword(), None);
        assert_eq!(ident_of("tags.and").keyword(), None);
        assert_eq!(ident_of("android").keyword(), None);
    }

    #[test]
    fn double_quoted_lone_part_is_a_string_candidate() {
        assert_eq!(ident_of(r#""x y""#).double_quoted(), Some("x y"));
        assert_eq!(ident_of("`x`").double_quoted(), None);
        assert_eq!(ident_of(r#"a."x""#).double_quoted(), None);
    }

    #[test]
    fn punctuation_and_spans() {
        let t = tokenize("run_id IN ('a', 'b')").unwrap();
        assert_eq!(t[2].kind, TokenKind::LParen);
        assert_eq!(t[4].kind, TokenKind::Comma);
        assert_eq!(t[6].kind, TokenKind::RParen);
        assert_eq!(t[3].span, 11..14);
    }

    #[test]
    fn unknown_characters_are_rejected() {
        assert_eq!(tokenize("a = 1;"), Err(LexError { at: 5 }));
        assert_eq!(
            tokenize("params.model-type = 'x'"),
            Err(LexError { at: 12 })
        );
    }

    #[test]
    fn unicode_identifiers_and_strings() {
        let k = kinds("tags.名前 = '値'");
        assert!(matches!(&k[0], TokenKind::Ident(i) if i.key() == "名前"));
        assert_eq!(k[2], TokenKind::Str("値".into()));
    }
}

//! SQL `LIKE` / `ILIKE` pattern matching without regular expressions.
//!
//! Semantics follow MLflow on its SQLite store (which sets `PRAGMA case_sensitive_like = true`): `%` matches
//! any run of characters, `_` exactly one character, everything else itself; the whole string must match.
//! There is no escape character (SQLAlchemy's `like()` sets none), so `\` is an ordinary character and a
//! literal `%` or `_` cannot be matched on its own. `ILIKE` is `lower(x) LIKE lower(p)`, and SQLite's
//! `lower()` folds ASCII letters only, so case-insensitivity here is ASCII-only too.
//!
//! Matching is the classic greedy two-pointer wildcard algorithm: at most O(len(text) × len(pattern))
//! steps, never exponential backtracking, and no allocation per match.

/// A compiled `LIKE` or `ILIKE` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikePattern {
    /// The pattern, ASCII-lowercased for `ILIKE`.
    pattern: Box<[u8]>,
    case_insensitive: bool,
    /// The pattern has no wildcard, so it is a plain (possibly case-folded) equality.
    literal: bool,
}

impl LikePattern {
    pub fn new(pattern: &str, case_insensitive: bool) -> Self {
        let mut bytes = pattern.as_bytes().to_vec();
        if case_insensitive {
            bytes.make_ascii_lowercase();
        }
        let literal = !bytes.iter().any(|b| matches!(b, b'%' | b'_'));
        Self {
            pattern: bytes.into_boxed_slice(),
            case_insensitive,
            literal,
        }
    }

    /// The pattern as SQL's LIKE reads it (`%`, `_`, no escape character); ASCII-lowercased when case
    /// insensitive.
    pub fn pattern(&self) -> &str {
        std::str::from_utf8(&self.pattern).unwrap_or_default()
    }

    /// Whether the pattern folds ASCII case (ILIKE).
    pub fn case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    pub fn matches(&self, text: &str) -> bool {
        let t = text.as_bytes();
        let p = &self.pattern[..];
        let fold = |b: u8| {
            if self.case_insensitive {
                b.to_ascii_lowercase()
            } else {
                b
            }
        };
        if self.literal {
            return t.len() == p.len() && t.iter().zip(p).all(|(a, b)| fold(*a) == *b);
        }
        // Invariant: `ti` is always on a UTF-8 character boundary, because literal pattern bytes come in
        // whole characters, `_` consumes a whole character, and backtracking advances one whole character.
        let (mut ti, mut pi) = (0usize, 0usize);
        // The position after the last `%` seen, and the text position it is currently matched up to.
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            match p.get(pi) {
                Some(b'%') => {
                    pi += 1;
                    star = Some((pi, ti));
                    continue;
                }
                Some(b'_') => {
                    ti += char_len(t[ti]);
                    pi += 1;
                    continue;
                }
                Some(&b) if fold(t[ti]) == b => {
                    ti += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
            // Mismatch: let the last `%` swallow one more character and retry from just after it.
            match star {
                Some((sp, st)) => {
                    let next = st + char_len(t[st]);
                    star = Some((sp, next));
                    pi = sp;
                    ti = next;
                }
                None => return false,
            }
        }
        p[pi..].iter().all(|b| *b == b'%')
    }
}

/// The byte length of the UTF-8 character starting with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(text: &str, pattern: &str) -> bool {
        LikePattern::new(pattern, false).matches(text)
    }

    fn ilike(text: &str, pattern: &str) -> bool {
        LikePattern::new(pattern, true).matches(text)
    }

    #[test]
    fn literal_patterns_match_whole_strings_only() {
        assert!(like("abc", "abc"));
        assert!(!like("abcd", "abc"));
        assert!(!like("ab", "abc"));
        assert!(like("", ""));
        assert!(!like("a", ""));
    }

    #[test]
    fn percent_matches_any_run_including_empty() {
        assert!(like("sklearn-model", "sklearn%"));
        assert!(like("sklearn", "sklearn%"));
        assert!(like("my_model", "%model"));
        assert!(like("a-b-c", "%-%"));
        assert!(like("anything", "%"));
        assert!(like("", "%"));
        assert!(like("", "%%"));
        assert!(!like("sklearn", "%x%"));
        assert!(like("abcabc", "%bc"));
        assert!(like("aXbXc", "a%b%c"));
        assert!(!like("aXbXd", "a%b%c"));
    }

    #[test]
    fn underscore_matches_exactly_one_character() {
        assert!(like("cat", "c_t"));
        assert!(!like("ct", "c_t"));
        assert!(!like("coat", "c_t"));
        assert!(like("abc", "___"));
        assert!(!like("abc", "____"));
        assert!(like("abcd", "_%_"));
        assert!(!like("a", "_%_"));
    }

    #[test]
    fn underscore_counts_characters_not_bytes() {
        assert!(like("é", "_"));
        assert!(like("naïve", "na_ve"));
        assert!(like("日本語", "_本_"));
        assert!(!like("日本語", "__"));
        assert!(like("日本語のテキスト", "%の%"));
        assert!(like("x日", "%日"));
    }

    #[test]
    fn like_is_case_sensitive_and_ilike_is_not() {
        assert!(!like("Sklearn", "sklearn%"));
        assert!(ilike("Sklearn", "sklearn%"));
        assert!(ilike("LOGISTIC regression", "%Logistic%"));
        assert!(ilike("ABC", "abc"));
        assert!(!ilike("ABD", "abc"));
    }

    #[test]
    fn ilike_folds_ascii_only_like_sqlite_lower() {
        assert!(!ilike("École", "école"));
        assert!(!ilike("école", "ÉCOLE"));
        assert!(ilike("éCOLE", "éCole"));
        assert!(ilike("ÉCOLE", "%cole"));
    }

    #[test]
    fn backslash_is_not_an_escape() {
        assert!(like(r"100\%", r"100\%"));
        assert!(like(r"100\abc", r"100\%"));
        assert!(!like("100%", r"100\%"));
        // `%` and `_` in the text are ordinary characters matched by wildcards.
        assert!(like("50%_off", "50%off"));
        assert!(like("a_b", "a_b"));
        assert!(like("axb", "a_b"));
    }

    #[test]
    fn pathological_patterns_finish_quickly() {
        let text = "a".repeat(5_000);
        let pattern = format!("{}b", "%a".repeat(50));
        let started = std::time::Instant::now();
        assert!(!like(&text, &pattern));
        assert!(like(&text, &"%a".repeat(50)));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}

//! The glob dialect of grant scopes: `*` matches any run of characters (including none), `?` exactly one
//! character, everything else itself. No classes or escapes, so a scope means what it looks like.

/// Whether `name` matches `pattern`. Iterative with single-star backtracking: O(len(pattern) ×
/// len(name)) in the worst case, never exponential, so hostile patterns cannot stall a request.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    // Position of the last `*` seen and the name position it is currently assumed to cover up to.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                // Let the last star swallow one more character and retry after it.
                Some((sp, sn)) => {
                    star = Some((sp, sn + 1));
                    pi = sp + 1;
                    ni = sn + 1;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn literals_match_only_themselves() {
        assert!(glob_match("churn", "churn"));
        assert!(!glob_match("churn", "churn2"));
        assert!(!glob_match("churn", "chur"));
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
    }

    #[test]
    fn star_matches_any_run_including_empty() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything/at all"));
        assert!(glob_match("team-a/*", "team-a/churn"));
        assert!(glob_match("team-a/*", "team-a/"));
        assert!(!glob_match("team-a/*", "team-b/churn"));
        assert!(glob_match("*-prod", "fraud-prod"));
        assert!(!glob_match("*-prod", "fraud-prod-old"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(glob_match("**", "x"));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        assert!(glob_match("v?", "v1"));
        assert!(!glob_match("v?", "v"));
        assert!(!glob_match("v?", "v10"));
        assert!(glob_match("?", "é"), "one character, not one byte");
    }

    #[test]
    fn other_metacharacters_are_literal() {
        assert!(glob_match("[ab]", "[ab]"));
        assert!(!glob_match("[ab]", "a"));
        assert!(glob_match("a.b", "a.b"));
        assert!(!glob_match("a.b", "axb"));
    }

    #[test]
    fn pathological_pattern_finishes_quickly() {
        let name = "a".repeat(10_000);
        let pattern = format!("{}b", "*a".repeat(50));
        let start = std::time::Instant::now();
        assert!(!glob_match(&pattern, &name));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }
}

//! Project-relative paths: how deps, outs and globs are written once resolved against a stage's
//! `wdir`, so that comparing two paths is comparing two strings.

/// Resolves `path` (as written in a stage, relative to its `wdir`) to a normalised project-relative
/// path with `/` separators, no `.` or `..` parts and no trailing slash; `"."` is the root itself.
/// `Err` says why the path is refused (absolute, or outside the project).
pub fn resolve(wdir: &str, path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Err("an empty path".into());
    }
    if path.starts_with('/') || path.starts_with('~') {
        return Err(format!(
            "'{path}' is absolute: paths are relative to the stage's wdir"
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in wdir.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("'{path}' is outside the project"));
                }
            }
            p => parts.push(p),
        }
    }
    Ok(if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    })
}

/// Is `path` equal to `dir` or inside it (both normalised)?
pub fn within(path: &str, dir: &str) -> bool {
    dir == "."
        || path == dir
        || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// Do two normalised paths overlap (one equal to or inside the other)?
pub fn overlap(a: &str, b: &str) -> bool {
    within(a, b) || within(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_against_wdir() {
        assert_eq!(resolve(".", "data/raw.csv").unwrap(), "data/raw.csv");
        assert_eq!(resolve("src", "../data/").unwrap(), "data");
        assert_eq!(resolve("a/b", "./c/../d").unwrap(), "a/b/d");
        assert_eq!(resolve(".", ".").unwrap(), ".");
        assert!(resolve(".", "../x").is_err());
        assert!(resolve(".", "/etc/passwd").is_err());
    }

    #[test]
    fn within_is_by_path_component() {
        assert!(within("model/MLmodel", "model"));
        assert!(within("model", "model"));
        assert!(!within("models", "model"));
        assert!(within("anything", "."));
        assert!(overlap("data", "data/x.csv"));
        assert!(!overlap("data1", "data"));
    }
}

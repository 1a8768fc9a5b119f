//! Validated artifact paths.

use crate::ArtifactError;

/// A relative, normalised path below the artifact root: `/`-separated, no empty, `.` or `..` segments, no
/// backslashes or control characters, not absolute. Percent-decoding happens before (in the HTTP layer),
/// so encoded traversal such as `%2e%2e` arrives here as `..` and is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArtifactPath(String);

impl ArtifactPath {
    pub fn parse(raw: &str) -> Result<Self, ArtifactError> {
        let bad = |why: &str| {
            Err(ArtifactError::InvalidPath(format!(
                "Invalid artifact path: '{raw}'. {why}"
            )))
        };
        if raw.starts_with('/') || raw.starts_with('\\') {
            return bad("Absolute paths are not allowed.");
        }
        if raw.chars().any(|c| c == '\\' || c.is_control()) {
            return bad("Backslashes and control characters are not allowed.");
        }
        if raw.len() >= 2 && raw.as_bytes()[1] == b':' {
            return bad("Drive-letter paths are not allowed.");
        }
        let trimmed = raw.trim_end_matches('/');
        if trimmed.is_empty() {
            return bad("The path is empty.");
        }
        if trimmed
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return bad("Paths may not contain empty, '.' or '..' segments.");
        }
        Ok(Self(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::ArtifactPath;

    #[test]
    fn accepts_normal_paths() {
        assert_eq!(
            ArtifactPath::parse("1/abc/artifacts/model/MLmodel")
                .unwrap()
                .as_str(),
            "1/abc/artifacts/model/MLmodel"
        );
        assert_eq!(ArtifactPath::parse("dir/").unwrap().as_str(), "dir");
        assert_eq!(ArtifactPath::parse("a/b.txt").unwrap().file_name(), "b.txt");
        assert!(ArtifactPath::parse("a/..b/c").is_ok());
    }

    #[test]
    fn refuses_escapes() {
        for bad in [
            "",
            "/",
            "/etc/passwd",
            "..",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\..\\b",
            "C:/x",
            "a/\0b",
            "\\\\srv\\x",
        ] {
            assert!(ArtifactPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}

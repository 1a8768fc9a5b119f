//! The registry's input rules, in MLflow's wording: model names, version numbers, alias names and the
//! search limits.

use crate::DomainError;

pub const MAX_REGISTERED_MODEL_NAME_LENGTH: usize = 256;
pub const MAX_ALIAS_LENGTH: usize = 255;
pub const MAX_REGISTERED_MODEL_TAG_VALUE_LENGTH: usize = 5000;
pub const MAX_MODEL_VERSION_TAG_VALUE_LENGTH: usize = 5000;
pub const DEFAULT_MAX_RESULTS_REGISTERED_MODELS: i64 = 100;
pub const MAX_RESULTS_REGISTERED_MODELS: i64 = 1000;
pub const DEFAULT_MAX_RESULTS_MODEL_VERSIONS: i64 = 10_000;
pub const MAX_RESULTS_MODEL_VERSIONS: i64 = 200_000;

/// `Missing value for required parameter 'name'.`
pub fn missing(field: &str) -> DomainError {
    DomainError::invalid(format!("Missing value for required parameter '{field}'."))
}

/// A registered model name: not blank, no `/` or `:` (names appear in `models:/name/version` URIs), at
/// most 256 characters, and not a path that resolves elsewhere (`.`, `..`).
pub fn validate_model_name(name: &str) -> Result<(), DomainError> {
    validate_model_name_as(name, "name")
}

/// As [`validate_model_name`], naming the request field in the message (`new_name` on rename).
pub fn validate_model_name_as(name: &str, field: &str) -> Result<(), DomainError> {
    if name.trim().is_empty() {
        return Err(missing(field));
    }
    crate::validation::validate_no_nul(&format!("parameter '{field}'"), name)?;
    if name.contains('/') || name.contains(':') {
        return Err(DomainError::invalid(format!(
            "Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )));
    }
    if name == "." || name.starts_with("..") {
        return Err(DomainError::invalid(format!(
            "Invalid value \"{name}\" for parameter '{field}' supplied: Names may be treated as files \
             in certain cases, and must not resolve to other names when treated as such."
        )));
    }
    if name.chars().count() > MAX_REGISTERED_MODEL_NAME_LENGTH {
        return Err(DomainError::invalid(format!(
            "Registered model name had length {}, which exceeded length limit of \
             {MAX_REGISTERED_MODEL_NAME_LENGTH}",
            name.chars().count()
        )));
    }
    Ok(())
}

/// A version number as sent on the wire (a decimal string). Leading and trailing spaces are allowed, as
/// Python's `int()` allows them.
pub fn parse_version(s: &str) -> Result<i64, DomainError> {
    let t = s.trim();
    // Rust's `parse` takes one optional sign, as Python's `int()` does.
    t.parse::<i64>().ok().ok_or_else(|| {
        DomainError::invalid(format!(
            "Parameter 'version' must be an integer, got '{s}'."
        ))
    })
}

/// An alias name: letters, digits, `_` and `-`, at most 255 characters.
pub fn validate_alias(alias: &str) -> Result<(), DomainError> {
    if alias.is_empty() {
        return Err(DomainError::invalid(
            "Registered model alias name cannot be empty.",
        ));
    }
    if !alias
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err(DomainError::invalid(format!(
            "Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), \
             and dashes (-)."
        )));
    }
    if alias.chars().count() > MAX_ALIAS_LENGTH {
        return Err(DomainError::invalid(format!(
            "Registered model alias name exceeds the maximum length of {MAX_ALIAS_LENGTH}"
        )));
    }
    Ok(())
}

/// An alias a client may set: not `latest` (any case), which always means the newest version, and not
/// `v<digits>`, which reads as a version.
pub fn validate_settable_alias(alias: &str) -> Result<(), DomainError> {
    validate_alias(alias)?;
    if alias.eq_ignore_ascii_case("latest") {
        return Err(DomainError::invalid(
            "'latest' alias name (case insensitive) is reserved.",
        ));
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V'))
        && alias.len() > 1
        && chars.all(|c| c.is_ascii_digit())
    {
        return Err(DomainError::invalid(format!(
            "Version alias name '{alias}' is reserved."
        )));
    }
    Ok(())
}

/// A registry tag: key rules as for tracking tags, value at most 5000 characters.
pub fn validate_registry_tag(key: &str, value: &str) -> Result<(), DomainError> {
    crate::validation::validate_key(crate::validation::KeyKind::Tag, key)?;
    crate::validation::validate_no_nul(&format!("tag '{key}' value"), value)?;
    let len = value.chars().count();
    if len > MAX_MODEL_VERSION_TAG_VALUE_LENGTH {
        return Err(DomainError::invalid(format!(
            "Tag value for key '{key}' had length {len}, which exceeded length limit of \
             {MAX_MODEL_VERSION_TAG_VALUE_LENGTH}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names() {
        assert!(validate_model_name("churn-model v2").is_ok());
        for bad in ["", "  ", "a/b", "a:b", ".", "..", "..x"] {
            assert!(validate_model_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            validate_model_name("").unwrap_err().to_string(),
            "Missing value for required parameter 'name'."
        );
        assert!(validate_model_name(&"x".repeat(257)).is_err());
        assert!(validate_model_name("a\0b").is_err());
        assert!(validate_registry_tag("k", "a\0b").is_err());
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("3").unwrap(), 3);
        assert_eq!(parse_version(" 12 ").unwrap(), 12);
        assert_eq!(parse_version("+4").unwrap(), 4);
        for bad in ["", "x", "1.5", "1e3", "++1"] {
            assert!(parse_version(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_version("abc").unwrap_err().to_string(),
            "Parameter 'version' must be an integer, got 'abc'."
        );
    }

    #[test]
    fn aliases() {
        assert!(validate_settable_alias("champion").is_ok());
        assert!(validate_settable_alias("prod_2-b").is_ok());
        assert!(validate_settable_alias("v").is_ok());
        assert!(validate_settable_alias("v1x").is_ok());
        for bad in ["", "a b", "a.b", "latest", "LATEST", "v1", "V23"] {
            assert!(validate_settable_alias(bad).is_err(), "{bad:?}");
        }
        // `latest` may be read, not set.
        assert!(validate_alias("latest").is_ok());
    }
}

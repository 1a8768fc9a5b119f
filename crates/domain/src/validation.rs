//! MLflow's input limits and naming rules, enforced before anything is written so that a rejected
//! request leaves nothing half-written.

use crate::DomainError;

pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
pub const MAX_PARAM_VAL_LENGTH: usize = 6000;
pub const MAX_TAG_VAL_LENGTH: usize = 8000;
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
pub const MAX_BATCH_REQUEST_BYTES: usize = 1024 * 1024;
pub const MAX_RESULTS_SEARCH_RUNS: i64 = 50_000;
pub const DEFAULT_MAX_RESULTS_SEARCH_RUNS: i64 = 1000;
pub const MAX_RESULTS_SEARCH_EXPERIMENTS: i64 = 50_000;
pub const MAX_RESULTS_GET_METRIC_HISTORY: i64 = 25_000;
pub const MAX_DATASET_NAME_LENGTH: usize = 500;
pub const MAX_DATASET_DIGEST_LENGTH: usize = 36;
pub const MAX_DATASET_SCHEMA_LENGTH: usize = 1_048_575;
pub const MAX_DATASET_SOURCE_LENGTH: usize = 65_535;
pub const MAX_DATASET_PROFILE_LENGTH: usize = 16_777_215;
pub const MAX_INPUT_TAG_KEY_LENGTH: usize = 255;
pub const MAX_INPUT_TAG_VALUE_LENGTH: usize = 500;

/// Checks that a string about to be stored holds no NUL character (U+0000). PostgreSQL cannot store one
/// in text and SQLite would, so Cairn refuses it before any engine sees it: the same 400 on both, naming
/// `field` (a request field, e.g. `name`, or a description of one, e.g. `param 'lr' value`).
pub fn validate_no_nul(field: &str, value: &str) -> Result<(), DomainError> {
    if value.contains('\0') {
        return Err(DomainError::invalid(format!(
            "Invalid value for {field}: it contains a NUL character (U+0000), which cannot be stored."
        )));
    }
    Ok(())
}

/// [`validate_no_nul`] for an optional field.
pub fn validate_no_nul_opt(field: &str, value: Option<&str>) -> Result<(), DomainError> {
    value.map_or(Ok(()), |v| validate_no_nul(field, v))
}

/// What kind of key is being checked; it names the key in error messages.
#[derive(Debug, Clone, Copy)]
pub enum KeyKind {
    Metric,
    Param,
    Tag,
}

impl KeyKind {
    fn noun(self) -> &'static str {
        match self {
            Self::Metric => "metric",
            Self::Param => "param",
            Self::Tag => "tag",
        }
    }
}

/// Checks a metric, param or tag key: non-empty, at most 250 characters, only alphanumerics, `_ - . : /`
/// and spaces, and a normalised relative path (keys become file names in MLflow's file store and UI).
pub fn validate_key(kind: KeyKind, key: &str) -> Result<(), DomainError> {
    let noun = kind.noun();
    if key.is_empty() {
        return Err(DomainError::invalid(format!(
            "Invalid {noun} name: ''. Names cannot be empty."
        )));
    }
    if key.chars().count() > MAX_ENTITY_KEY_LENGTH {
        return Err(DomainError::invalid(format!(
            "{} '{key}' had length {}, which exceeded length limit of {MAX_ENTITY_KEY_LENGTH}",
            capitalise(noun),
            key.chars().count()
        )));
    }
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | ':' | '/');
    if !key.chars().all(allowed) {
        return Err(DomainError::invalid(format!(
            "Invalid {noun} name: '{key}'. Names may only contain alphanumerics, underscores (_), \
             dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."
        )));
    }
    if !is_normalised_relative_path(key) {
        return Err(DomainError::invalid(format!(
            "Invalid {noun} name: '{key}'. Names cannot be a path that resolves elsewhere \
             (no leading '/', '.' or '..' segments, no repeated or trailing '/')."
        )));
    }
    Ok(())
}

/// Checks a value's length against its limit.
pub fn validate_value_length(kind: KeyKind, key: &str, value: &str) -> Result<(), DomainError> {
    let limit = match kind {
        KeyKind::Param => MAX_PARAM_VAL_LENGTH,
        KeyKind::Tag => MAX_TAG_VAL_LENGTH,
        KeyKind::Metric => return Ok(()),
    };
    validate_no_nul(&format!("{} '{key}' value", kind.noun()), value)?;
    let len = value.chars().count();
    if len > limit {
        return Err(DomainError::invalid(format!(
            "{} value '{}' for key '{key}' had length {len}, which exceeded length limit of {limit}",
            capitalise(kind.noun()),
            truncate(value, 40)
        )));
    }
    Ok(())
}

/// Checks an experiment name: non-empty and at most 500 characters.
pub fn validate_experiment_name(name: &str) -> Result<(), DomainError> {
    if name.trim().is_empty() {
        return Err(DomainError::invalid(
            "Invalid experiment name: ''. Experiment name cannot be empty.",
        ));
    }
    validate_no_nul("experiment name", name)?;
    if name.chars().count() > MAX_EXPERIMENT_NAME_LENGTH {
        return Err(DomainError::invalid(format!(
            "Experiment name had length {}, which exceeded length limit of {MAX_EXPERIMENT_NAME_LENGTH}",
            name.chars().count()
        )));
    }
    Ok(())
}

/// Checks a `max_results` against a ceiling.
pub fn validate_max_results(value: i64, max: i64) -> Result<(), DomainError> {
    if value < 1 || value > max {
        return Err(DomainError::invalid(format!(
            "Invalid value {value} for parameter 'max_results' supplied. It must be at most {max} \
             and at least 1"
        )));
    }
    Ok(())
}

/// Checks the counts of a log-batch request.
pub fn validate_batch_counts(
    metrics: usize,
    params: usize,
    tags: usize,
) -> Result<(), DomainError> {
    if metrics > MAX_METRICS_PER_BATCH {
        return Err(DomainError::invalid(format!(
            "A batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics. Got {metrics} metrics."
        )));
    }
    if params + tags > MAX_PARAMS_TAGS_PER_BATCH {
        return Err(DomainError::invalid(format!(
            "A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} params and tags \
             combined. Got {params} params and {tags} tags."
        )));
    }
    let total = metrics + params + tags;
    if total > MAX_ENTITIES_PER_BATCH {
        return Err(DomainError::invalid(format!(
            "A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, params and \
             tags in total. Got {total}."
        )));
    }
    Ok(())
}

/// Checks that no key repeats in one batch of params (MLflow rejects a batch naming a param twice, even
/// with equal values).
pub fn validate_unique_param_keys<'a>(
    keys: impl IntoIterator<Item = &'a str>,
) -> Result<(), DomainError> {
    let mut seen = std::collections::HashSet::new();
    for k in keys {
        if !seen.insert(k) {
            return Err(DomainError::invalid(format!(
                "Duplicate parameter keys have been submitted: ['{k}']. Please ensure the request \
                 contains only one param value per param key."
            )));
        }
    }
    Ok(())
}

fn is_normalised_relative_path(key: &str) -> bool {
    !key.starts_with('/')
        && !key.ends_with('/')
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(n).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        for ok in ["loss", "val/acc", "a.b-c_d e:f", "métrica"] {
            assert!(validate_key(KeyKind::Metric, ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a\nb", "../x", "/abs", "a//b", "a/", ".", "x?", "a/../b",
        ] {
            assert!(validate_key(KeyKind::Param, bad).is_err(), "{bad:?}");
        }
        assert!(validate_key(KeyKind::Tag, &"k".repeat(251)).is_err());
        assert!(validate_key(KeyKind::Tag, &"k".repeat(250)).is_ok());
    }

    #[test]
    fn value_limits() {
        assert!(validate_value_length(KeyKind::Param, "k", &"v".repeat(6000)).is_ok());
        assert!(validate_value_length(KeyKind::Param, "k", &"v".repeat(6001)).is_err());
        assert!(validate_value_length(KeyKind::Tag, "k", &"v".repeat(8001)).is_err());
        let nul = validate_value_length(KeyKind::Tag, "k", "a\0b").unwrap_err();
        assert!(nul.to_string().contains("tag 'k' value"), "{nul}");
        assert!(nul.to_string().contains("NUL"), "{nul}");
        assert!(validate_experiment_name("a\0b").is_err());
        assert!(validate_no_nul("name", "plain").is_ok());
    }

    #[test]
    fn batch_limits() {
        assert!(validate_batch_counts(1000, 0, 0).is_ok());
        assert!(validate_batch_counts(1001, 0, 0).is_err());
        assert!(validate_batch_counts(0, 60, 41).is_err());
        assert!(validate_batch_counts(950, 50, 1).is_err());
        assert!(validate_unique_param_keys(["a", "b"]).is_ok());
        assert!(validate_unique_param_keys(["a", "a"]).is_err());
    }
}

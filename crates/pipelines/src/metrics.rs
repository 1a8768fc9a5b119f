//! Metrics files: JSON (or YAML) of name → number; nested mappings are flattened with dots
//! (`{"eval": {"acc": 0.9}}` → `eval.acc`), as dvc reads them. Other values are ignored.

use std::path::Path;

use serde_json::Value;

use crate::params::flatten;
use crate::yaml;

/// The numbers in a metrics file; an unreadable file is an error message.
pub fn read(root: &Path, rel: &str) -> Result<Vec<(String, f64)>, String> {
    let node = yaml::load(&root.join(rel), Path::new(rel)).map_err(|e| e.to_string())?;
    let value = node.to_json();
    if !value.is_object() {
        return Err(format!(
            "{rel}: a metrics file must be a mapping of names to numbers"
        ));
    }
    Ok(flatten("", &value)
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::Number(n) => n.as_f64().map(|f| (k, f)),
            Value::Bool(b) => Some((k, if b { 1.0 } else { 0.0 })),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn flat_and_nested_numbers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("m.json"),
            r#"{"accuracy": 0.9, "eval": {"f1": 0.5}, "name": "x"}"#,
        )
        .unwrap();
        let m = super::read(dir.path(), "m.json").unwrap();
        assert_eq!(
            m,
            [("accuracy".to_owned(), 0.9), ("eval.f1".to_owned(), 0.5)]
        );
        std::fs::write(dir.path().join("bad.json"), "[1]").unwrap();
        assert!(super::read(dir.path(), "bad.json").is_err());
    }
}

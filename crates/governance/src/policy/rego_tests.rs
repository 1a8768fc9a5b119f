//! A bundle's own Rego unit tests (`test_*` rules, as `opa test` runs them), so an upload can show that
//! the policy does what its author meant before it gates a promotion.

use std::time::Duration;

use serde::Serialize;

use super::Bundle;
use super::bundle::eval_path;

/// How long one test may run: tests take no caller-supplied limit, and a looping test must not hang
/// the upload.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// The rule's full path, e.g. `data.cairn.promotion_test.test_low_auc_is_denied`.
    pub name: String,
    /// The rule evaluated to `true`.
    pub passed: bool,
    /// Why it could not be evaluated (a false or undefined test fails without an error).
    pub error: Option<String>,
}

impl Bundle {
    /// Runs every rule named `test_*` in every package, in source order, each against an empty input
    /// (tests bring their own with `with input as …`).
    pub fn run_tests(&self) -> Vec<TestResult> {
        let paths = match test_paths(self) {
            Ok(paths) => paths,
            Err(e) => {
                return vec![TestResult {
                    name: "<bundle>".into(),
                    passed: false,
                    error: Some(e),
                }];
            }
        };
        paths
            .into_iter()
            .map(|name| {
                let mut engine = self.engine().clone();
                match eval_path(&mut engine, &name, TEST_TIMEOUT, TEST_TIMEOUT) {
                    Ok(value) => TestResult {
                        passed: value == Some(serde_json::Value::Bool(true)),
                        name,
                        error: None,
                    },
                    Err(e) => TestResult {
                        name,
                        passed: false,
                        error: Some(e),
                    },
                }
            })
            .collect()
    }
}

/// The `data.…` path of every test rule, found from the parsed modules' rule heads (not by scanning
/// text, so comments and strings can't fake a test).
fn test_paths(bundle: &Bundle) -> Result<Vec<String>, String> {
    let mut engine = bundle.engine().clone();
    let packages = engine
        .get_policy_package_components()
        .map_err(|e| e.to_string())?;
    let mut paths: Vec<String> = Vec::new();
    for (module, package) in engine.get_modules().iter().zip(&packages) {
        for rule in &module.policy {
            let Some(name) = test_rule_name(rule.span().text()) else {
                continue;
            };
            let mut path = String::from("data");
            for component in package.components.iter().map(String::as_str).chain([name]) {
                push_component(&mut path, component);
            }
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
    }
    Ok(paths)
}

/// The name of a rule whose head is a plain `test_…` identifier (not a default, function or ref head).
fn test_rule_name(rule: &str) -> Option<&str> {
    let rule = rule.trim_start();
    let end = rule
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rule.len());
    let (name, rest) = rule.split_at(end);
    let plain = !rest.starts_with(['(', '.', '[']);
    (name.starts_with("test_") && plain).then_some(name)
}

fn push_component(path: &mut String, component: &str) {
    let ident = component
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && component
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident {
        path.push('.');
        path.push_str(component);
    } else {
        path.push('[');
        path.push_str(&serde_json::Value::from(component).to_string());
        path.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_test_rule_heads() {
        assert_eq!(test_rule_name("test_a if { true }"), Some("test_a"));
        assert_eq!(test_rule_name("test_b := true"), Some("test_b"));
        assert_eq!(test_rule_name("test_c"), Some("test_c"));
        assert_eq!(test_rule_name("default test_d := false"), None);
        assert_eq!(test_rule_name("test_e(x) if { x }"), None);
        assert_eq!(test_rule_name("test_f.g if { true }"), None);
        assert_eq!(test_rule_name("testing if { true }"), None);
        assert_eq!(test_rule_name("deny contains x if { x := 1 }"), None);
    }

    #[test]
    fn quotes_components_that_are_not_identifiers() {
        let mut path = String::from("data");
        for c in ["cairn", "1.0", "ok_1"] {
            push_component(&mut path, c);
        }
        assert_eq!(path, r#"data.cairn["1.0"].ok_1"#);
    }
}

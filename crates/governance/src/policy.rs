//! Rego policies at promotion: a bundle of `.rego` files is parsed once when uploaded, and each promotion
//! evaluates `<entrypoint>.deny`, `.warn` and `.required_approvals` against the candidate. Evaluation
//! fails closed: any error or timeout denies.

mod bundle;
mod decision;
mod rego_tests;

pub use bundle::Bundle;
pub use decision::{Decision, Violation};
pub use rego_tests::{TEST_TIMEOUT, TestResult};

/// One `.rego` source as uploaded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyFile {
    pub path: String,
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("a policy bundle needs at least one file")]
    Empty,
    #[error("{path} appears more than once in the bundle")]
    DuplicatePath { path: String },
    /// A syntax error; `message` names the file, line and column.
    #[error("{message}")]
    Parse { path: String, message: String },
    /// The files parse but do not make a valid policy together (unsafe variables, conflicting rules…).
    #[error("{0}")]
    Compile(String),
}

/// regorus reports errors as `--> file:line:col`, a source excerpt and `error: …`; this puts
/// `file:line:col: …` first so the message's first line says it all, and keeps the excerpt below.
pub(crate) fn tidy_error(message: &str) -> String {
    let message = message.trim();
    let location = message
        .strip_prefix("--> ")
        .and_then(|rest| rest.lines().next());
    let error = message
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("error: "));
    match (location, error) {
        (Some(location), Some(error)) => format!("{location}: {error}\n{message}"),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests;

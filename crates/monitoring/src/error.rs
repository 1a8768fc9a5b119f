//! The one error type of the crate: every way input can be refused, each with a message a user can act on.

use std::path::PathBuf;

/// Input the statistics cannot work with. Every variant is the user's to fix (a 4xx on the API, exit 2 in
/// the CLI); none is a bug.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "{path} is {size} bytes, over the {limit}-byte limit for one table (split it, or raise the limit)"
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{what}: {reason}")]
    Malformed { what: String, reason: String },
    #[error("the {which} data has no rows")]
    Empty { which: &'static str },
    #[error(
        "reference and current data have no column in common (reference: {reference}; current: {current})"
    )]
    NoCommonColumns { reference: String, current: String },
    #[error("column '{column}' is not in the {which} data")]
    MissingColumn { column: String, which: &'static str },
    #[error(
        "column '{column}' has no values in the {which} data (every value is missing); drop it with --columns"
    )]
    EmptyColumn { column: String, which: &'static str },
    #[error(
        "column '{column}' is numeric in the {numeric_in} data but holds text in the {text_in} data \
         (e.g. {example:?}); fix the data or drop the column with --columns"
    )]
    TypeMismatch {
        column: String,
        numeric_in: &'static str,
        text_in: &'static str,
        example: String,
    },
    #[error(
        "unknown drift method '{0}' (known: ks, wasserstein, psi, jensenshannon, chisquare, z, chisquare_2sample)"
    )]
    UnknownMethod(String),
    #[error(
        "method '{method}' does not apply to {kind} column '{column}'; choose columns with --columns"
    )]
    MethodNotApplicable {
        method: String,
        kind: &'static str,
        column: String,
    },
    #[error("invalid option: {0}")]
    InvalidOption(String),
}

//! Thin handlers: extract the message, convert to the use case's input, call it, convert back.

pub mod artifacts;
pub mod auth;
pub mod experiments;
pub mod logged_models;
pub mod meta;
pub mod metrics;
pub mod registry;
pub mod runs;

use serde::Serialize;

use crate::error::ApiError;

/// The empty response message `{}`.
#[derive(Debug, Serialize)]
pub struct Empty {}

pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::missing(field))
}

/// A required string field: absent and empty are both missing.
pub(crate) fn required_str(value: Option<String>, field: &str) -> Result<String, ApiError> {
    required(value.filter(|v| !v.is_empty()), field)
}

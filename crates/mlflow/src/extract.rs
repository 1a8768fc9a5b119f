//! The request extractor every MLflow handler uses: GET parameters from the query string (repeated keys
//! become lists), every other verb from a JSON body, as the MLflow client sends them. Whatever the source,
//! a malformed request is a 400 in MLflow's error format, never axum's default rejection.

use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Largest JSON body accepted: MLflow's 1 MB log-batch bound with room for encoding overhead.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A request message of type `T`.
pub struct Msg<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Msg<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if req.method() == Method::GET {
            let value = query_to_json(req.uri().query().unwrap_or(""))?;
            return decode(value).map(Msg);
        }
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                ct.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid(format!("Could not read the request body: {e}")))?;
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::invalid("The request body is too large."));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return decode(Value::Object(Map::new())).map(Msg);
        }
        if is_json != Some(true) {
            return Err(ApiError::new(
                crate::error::ErrorCode::InvalidParameterValue,
                "Bad Request. Content-Type must be 'application/json'.",
            ));
        }
        let value: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                crate::error::ErrorCode::BadRequest,
                format!("Malformed JSON body: {e}"),
            )
        })?;
        if !value.is_object() {
            return Err(ApiError::invalid("The request body must be a JSON object."));
        }
        decode(value).map(Msg)
    }
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("Invalid request: {e}")))
}

/// `a=1&b=2&b=3` → `{"a": "1", "b": ["2", "3"]}`. Values stay strings; the wire types accept strings
/// wherever a number or list is expected.
pub(crate) fn query_to_json(query: &str) -> Result<Value, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::invalid(format!("Malformed query string: {e}")))?;
    let mut map = Map::new();
    for (k, v) in pairs {
        match map.get_mut(&k) {
            None => {
                map.insert(k, Value::String(v));
            }
            Some(Value::Array(list)) => list.push(Value::String(v)),
            Some(prev) => {
                let first = prev.take();
                *prev = Value::Array(vec![first, Value::String(v)]);
            }
        }
    }
    Ok(Value::Object(map))
}

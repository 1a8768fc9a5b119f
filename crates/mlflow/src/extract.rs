//! The request extractor every MLflow handler uses: GET parameters from the query string (repeated keys
//! become lists), every other verb from a JSON body, as the MLflow client sends them. Whatever the source,
//! a malformed request is a 400 in MLflow's error format, never axum's default rejection.

use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A request message of type `T`.
pub struct Msg<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Msg<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if req.method() == Method::GET {
            let value = query_to_json(req.uri().query().unwrap_or(""))?;
            return decode(snake_case_keys(value)?).map(Msg);
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
        // axum's default body limit (2 MiB) bounds API messages: twice MLflow's 1 MB log-batch limit.
        // Artifact uploads do not come through here; they stream.
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid(format!("Could not read the request body: {e}")))?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return decode(Value::Object(Map::new())).map(Msg);
        }
        if is_json != Some(true) {
            return Err(ApiError::new(
                crate::error::ErrorCode::InvalidParameterValue,
                "Bad Request. Content-Type must be 'application/json'.",
            ));
        }
        // Fast path: with no uppercase letter anywhere there is no camelCase name to rename.
        if !body.iter().any(u8::is_ascii_uppercase) {
            return match serde_json::from_slice::<T>(&body) {
                Ok(msg) => Ok(Msg(msg)),
                Err(e) if e.is_syntax() || e.is_eof() => Err(ApiError::new(
                    crate::error::ErrorCode::BadRequest,
                    format!("Malformed JSON body: {e}"),
                )),
                Err(e) => Err(ApiError::invalid(format!("Invalid request: {e}"))),
            };
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
        decode(snake_case_keys(value)?).map(Msg)
    }
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("Invalid request: {e}")))
}

/// Protobuf's JSON parser accepts each field's camelCase name too (`maxResults`), and refuses a message
/// that spells one field both ways. MLflow messages have no map fields, so every object key is a field
/// name and can be renamed.
fn snake_case_keys(value: Value) -> Result<Value, ApiError> {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, v) in map {
                let snake = to_snake_case(&key);
                if out.contains_key(&snake) {
                    return Err(ApiError::invalid(format!(
                        "Request specifies both '{snake}' and its camelCase spelling."
                    )));
                }
                out.insert(snake, snake_case_keys(v)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .into_iter()
            .map(snake_case_keys)
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other),
    }
}

/// A field name as MLflow's JSON decoder reads it: `runId` → `run_id`.
pub fn to_snake_case(key: &str) -> String {
    if !key.bytes().any(|b| b.is_ascii_uppercase()) {
        return key.to_string();
    }
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{query_to_json, snake_case_keys};

    #[test]
    fn camel_case_names_are_accepted_once() {
        let v = snake_case_keys(
            json!({"maxResults": 1, "orderBy": ["a"], "tags": [{"key": "K", "value": "V"}]}),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"max_results": 1, "order_by": ["a"], "tags": [{"key": "K", "value": "V"}]})
        );
        assert!(snake_case_keys(json!({"max_results": 1, "maxResults": 1})).is_err());
    }

    #[test]
    fn repeated_query_keys_become_lists() {
        let v = query_to_json("a=1&b=2&b=3&c=x%20y").unwrap();
        assert_eq!(v, json!({"a": "1", "b": ["2", "3"], "c": "x y"}));
    }
}

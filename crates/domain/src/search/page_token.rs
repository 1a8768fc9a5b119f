//! Opaque page tokens, in MLflow's own format so that tokens cross between servers: standard, padded
//! base64 of the JSON `{"offset": N}` (with the space Python's `json.dumps` writes after the colon).
//!
//! A run search a store answers itself also writes a keyset ([`RunPageToken`]): where the last row served
//! sorts, so that the next page starts there rather than counting rows from the top. Its token keeps the
//! offset beside the keyset, so MLflow (and a search that falls back to offsets) still reads it.

use base64::Engine as _;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::DomainError;

/// Where the next page of a search starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PageToken {
    pub offset: usize,
}

/// Standard alphabet; encodes with padding, decodes with or without it (clients sometimes strip it).
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl PageToken {
    /// `{"offset": 2}` → `eyJvZmZzZXQiOiAyfQ==`, byte for byte what MLflow writes.
    pub fn encode(&self) -> String {
        ENGINE.encode(format!("{{\"offset\": {}}}", self.offset))
    }

    /// Reads a token written by [`PageToken::encode`] or by MLflow (other JSON fields, such as those of
    /// MLflow's logged-model tokens, are ignored). The offset must be a non-negative integer, written as a
    /// JSON number or a string of digits.
    pub fn decode(token: &str) -> Result<PageToken, DomainError> {
        let bytes = ENGINE
            .decode(token.trim())
            .map_err(|_| DomainError::invalid("Invalid page token, could not base64-decode"))?;
        let decoded = String::from_utf8_lossy(&bytes);
        let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
            DomainError::invalid(format!("Invalid page token, decoded value={decoded}"))
        })?;
        let offset = json.get("offset").ok_or_else(|| {
            DomainError::invalid(format!("Invalid page token, parsed value={decoded}"))
        })?;
        let offset = match offset {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        }
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            DomainError::invalid(format!(
                "Invalid page token, offset must be a non-negative integer, got {offset}"
            ))
        })?;
        Ok(PageToken { offset })
    }
}

/// One sort value of a keyset.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    Int(i64),
    Real(f64),
    Text(String),
}

/// Where the last row of a page sorts: the segment of the first sort key (a store's split of missing,
/// NaN and present values) and the sort values after it, as the store that wrote it reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyset {
    pub segment: u8,
    pub after: Vec<KeyValue>,
}

/// A run search's page token: the rows already served and, when a store wrote one, the keyset to
/// continue from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunPageToken {
    pub offset: usize,
    pub keyset: Option<Keyset>,
}

impl RunPageToken {
    /// `{"offset": N, "keyset": [segment, [values…]]}`, base64 as [`PageToken::encode`] writes it.
    pub fn encode(&self) -> String {
        let Some(k) = &self.keyset else {
            return PageToken {
                offset: self.offset,
            }
            .encode();
        };
        let values: Vec<serde_json::Value> = k
            .after
            .iter()
            .map(|v| match v {
                KeyValue::Int(i) => serde_json::Value::from(*i),
                KeyValue::Real(f) => serde_json::Value::from(*f),
                KeyValue::Text(s) => serde_json::Value::from(s.as_str()),
            })
            .collect();
        let json = serde_json::json!({"offset": self.offset, "keyset": [k.segment, values]});
        ENGINE.encode(json.to_string())
    }

    /// Reads a token of [`RunPageToken::encode`], or any token [`PageToken::decode`] reads (no keyset).
    pub fn decode(token: &str) -> Result<RunPageToken, DomainError> {
        let offset = PageToken::decode(token)?.offset;
        let bad = || DomainError::invalid("Invalid page token, bad keyset");
        // `PageToken::decode` has checked that this decodes to JSON.
        let bytes = ENGINE.decode(token.trim()).map_err(|_| bad())?;
        let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let Some(keyset) = json.get("keyset") else {
            return Ok(RunPageToken {
                offset,
                keyset: None,
            });
        };
        let (segment, values) = match keyset.as_array().map(Vec::as_slice) {
            Some([s, serde_json::Value::Array(vs)]) => (s, vs),
            _ => return Err(bad()),
        };
        let segment = segment
            .as_u64()
            .and_then(|s| u8::try_from(s).ok())
            .ok_or_else(bad)?;
        let after = values
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Some(KeyValue::Text(s.clone())),
                serde_json::Value::Number(n) if n.is_f64() => n.as_f64().map(KeyValue::Real),
                serde_json::Value::Number(n) => n.as_i64().map(KeyValue::Int),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        Ok(RunPageToken {
            offset,
            keyset: Some(Keyset { segment, after }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_tokens_round_trip_and_stay_offset_tokens() {
        let t = RunPageToken {
            offset: 200,
            keyset: Some(Keyset {
                segment: 1,
                after: vec![
                    KeyValue::Real(1.0),
                    KeyValue::Int(-3),
                    KeyValue::Text("it's \"x\"".into()),
                ],
            }),
        };
        let encoded = t.encode();
        assert_eq!(RunPageToken::decode(&encoded).unwrap(), t);
        assert_eq!(PageToken::decode(&encoded).unwrap().offset, 200);
        let plain = RunPageToken::decode("eyJvZmZzZXQiOiAyfQ==").unwrap();
        assert_eq!((plain.offset, plain.keyset), (2, None));
        assert_eq!(
            RunPageToken {
                offset: 2,
                keyset: None
            }
            .encode(),
            "eyJvZmZzZXQiOiAyfQ=="
        );
        let bad = ENGINE.encode(r#"{"offset": 1, "keyset": [300, []]}"#);
        assert!(RunPageToken::decode(&bad).is_err());
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn err(token: &str) -> String {
        PageToken::decode(token).unwrap_err().to_string()
    }

    #[test]
    fn encodes_exactly_like_mlflow() {
        assert_eq!(PageToken { offset: 2 }.encode(), "eyJvZmZzZXQiOiAyfQ==");
        assert_eq!(
            PageToken { offset: 1000 }.encode(),
            b64(r#"{"offset": 1000}"#)
        );
    }

    #[test]
    fn decodes_the_mlflow_token() {
        assert_eq!(
            PageToken::decode("eyJvZmZzZXQiOiAyfQ==").unwrap(),
            PageToken { offset: 2 }
        );
    }

    #[test]
    fn round_trips() {
        for offset in [0, 1, 99, 50_000, usize::MAX] {
            let t = PageToken { offset };
            assert_eq!(PageToken::decode(&t.encode()).unwrap(), t);
        }
    }

    #[test]
    fn tolerates_missing_padding_compact_json_and_extra_fields() {
        assert_eq!(PageToken::decode("eyJvZmZzZXQiOiAyfQ").unwrap().offset, 2);
        assert_eq!(
            PageToken::decode(&b64(r#"{"offset":7}"#)).unwrap().offset,
            7
        );
        assert_eq!(
            PageToken::decode(&b64(r#"{"offset": "12"}"#))
                .unwrap()
                .offset,
            12
        );
        let logged_model_token =
            r#"{"experiment_ids": ["1"], "filter_string": null, "order_by": null, "offset": 3}"#;
        assert_eq!(
            PageToken::decode(&b64(logged_model_token)).unwrap().offset,
            3
        );
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(
            err("not base64!"),
            "Invalid page token, could not base64-decode"
        );
        assert_eq!(
            err("eyJvZmZzZXQiOiAyfQ=x"),
            "Invalid page token, could not base64-decode"
        );
        assert_eq!(
            err(&b64("offset=2")),
            "Invalid page token, decoded value=offset=2"
        );
        assert_eq!(
            err(&b64(r#"{"page": 2}"#)),
            r#"Invalid page token, parsed value={"page": 2}"#
        );
    }

    #[test]
    fn rejects_negative_fractional_and_non_numeric_offsets() {
        for bad in [
            r#"{"offset": -1}"#,
            r#"{"offset": 2.5}"#,
            r#"{"offset": "x"}"#,
            r#"{"offset": null}"#,
            r#"{"offset": [1]}"#,
        ] {
            assert!(
                err(&b64(bad)).starts_with("Invalid page token, offset must be a non-negative"),
                "{bad}"
            );
        }
        assert!(PageToken::decode(&b64("[1, 2]")).is_err());
    }
}

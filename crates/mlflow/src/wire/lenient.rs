//! Field decoders that accept every spelling the MLflow wire allows: proto3-JSON lets int64 travel as a
//! string, GET query values are always strings, and a repeated field sent once in a query is a single
//! value. Also the float encoding of non-finite metric values.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serializer};
use serde_json::Value;

fn number_from(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.trim() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" | "+Infinity" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            t => t.parse().ok(),
        },
        _ => None,
    }
}

pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("expected an integer, got {n}"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("expected an integer, got '{s}'"))),
        Some(other) => Err(de::Error::custom(format!(
            "expected an integer, got {other}"
        ))),
    }
}

pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => number_from(&v)
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("expected a number, got {v}"))),
    }
}

pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(de::Error::custom(format!("expected a string, got {other}"))),
    }
}

pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(de::Error::custom(format!(
            "expected a boolean, got {other}"
        ))),
    }
}

pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let one = |v: Value| match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(de::Error::custom(format!("expected a string, got {other}"))),
    };
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.into_iter().map(one).collect(),
        Some(v) => Ok(vec![one(v)?]),
    }
}

/// Metric values: numbers as JSON numbers, non-finite values as the strings proto3-JSON uses.
pub fn metric_value<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if v.is_infinite() {
        s.serialize_str(if *v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        s.serialize_f64(*v)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::opt_i64")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "super::opt_f64")]
        f: Option<f64>,
        #[serde(default, deserialize_with = "super::string_list")]
        l: Vec<String>,
    }

    #[test]
    fn accepts_every_wire_spelling() {
        let t: T = serde_json::from_str(r#"{"n":"12","f":"NaN","l":"a"}"#).unwrap();
        assert_eq!(t.n, Some(12));
        assert!(t.f.unwrap().is_nan());
        assert_eq!(t.l, vec!["a"]);
        let t: T = serde_json::from_str(r#"{"n":12,"f":"-Infinity","l":["a","b"]}"#).unwrap();
        assert_eq!(t.f, Some(f64::NEG_INFINITY));
        assert_eq!(t.l.len(), 2);
        assert!(serde_json::from_str::<T>(r#"{"n":"x"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"f":"abc"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"f":[1]}"#).is_err());
    }
}

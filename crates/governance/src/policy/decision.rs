//! What a policy decided, read out of the values its `deny`, `warn` and `required_approvals` rules
//! produced. Shapes a promotion can't act on are errors, so a mistyped rule denies rather than allows.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub code: String,
    pub msg: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// No violations and no error.
    pub allow: bool,
    pub deny: Vec<Violation>,
    pub warn: Vec<String>,
    pub required_approvals: Option<u32>,
    /// Wall-clock evaluation time, microseconds.
    pub eval_us: u64,
    /// Why the policy could not be evaluated; then `deny` holds one `policy_error` violation.
    pub error: Option<String>,
}

/// The code of a violation given as a bare string.
const DEFAULT_CODE: &str = "deny";
/// The code of the violation that stands in for a failed evaluation.
pub(crate) const POLICY_ERROR_CODE: &str = "policy_error";

impl Decision {
    pub(crate) fn decided(
        deny: Vec<Violation>,
        warn: Vec<String>,
        required_approvals: Option<u32>,
        eval_us: u64,
    ) -> Self {
        Decision {
            allow: deny.is_empty(),
            deny,
            warn,
            required_approvals,
            eval_us,
            error: None,
        }
    }

    pub(crate) fn failed(error: String, eval_us: u64) -> Self {
        Decision {
            allow: false,
            deny: vec![Violation {
                code: POLICY_ERROR_CODE.into(),
                msg: error.clone(),
            }],
            warn: Vec::new(),
            required_approvals: None,
            eval_us,
            error: Some(error),
        }
    }
}

/// `value` as a list of elements; `None` (undefined) is empty. Rego sets arrive as JSON arrays.
fn elements(rule: &str, value: Option<Value>) -> Result<Vec<Value>, String> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!("{rule} must be a set, but is {other}")),
    }
}

/// Each element is a message string, or an object with a string `msg` and optionally a string `code`.
pub(crate) fn violations(value: Option<Value>) -> Result<Vec<Violation>, String> {
    elements("deny", value)?
        .into_iter()
        .map(|item| match &item {
            Value::String(msg) => Ok(Violation {
                code: DEFAULT_CODE.into(),
                msg: msg.clone(),
            }),
            Value::Object(o) => match (o.get("msg"), o.get("code")) {
                (Some(Value::String(msg)), None) => Ok(Violation {
                    code: DEFAULT_CODE.into(),
                    msg: msg.clone(),
                }),
                (Some(Value::String(msg)), Some(Value::String(code))) => Ok(Violation {
                    code: code.clone(),
                    msg: msg.clone(),
                }),
                _ => Err(format!(
                    "deny element {item} needs a string msg (and a string code, if any)"
                )),
            },
            _ => Err(format!(
                "deny element {item} is neither a string nor an object with a msg"
            )),
        })
        .collect()
}

/// Warnings are advisory, so any element is accepted: strings as they are, `{"msg": …}` objects by
/// their message, anything else as JSON text.
pub(crate) fn warnings(value: Option<Value>) -> Result<Vec<String>, String> {
    Ok(elements("warn", value)?
        .into_iter()
        .map(|item| match item {
            Value::String(s) => s,
            Value::Object(ref o) if o.get("msg").is_some_and(Value::is_string) => {
                o["msg"].as_str().unwrap_or_default().to_owned()
            }
            other => other.to_string(),
        })
        .collect())
}

pub(crate) fn approvals(value: Option<Value>) -> Result<Option<u32>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let whole = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    whole
        .and_then(|n| u32::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| format!("required_approvals must be a whole number ≥ 0, but is {value}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_violations_in_either_shape() {
        let v = violations(Some(
            json!(["plain", {"msg": "m"}, {"code": "c", "msg": "n"}]),
        ))
        .unwrap();
        let pairs: Vec<(&str, &str)> = v.iter().map(|v| (&*v.code, &*v.msg)).collect();
        assert_eq!(pairs, [("deny", "plain"), ("deny", "m"), ("c", "n")]);
        assert!(violations(None).unwrap().is_empty());
        for bad in [
            json!(true),
            json!([1]),
            json!([{"code": "c"}]),
            json!([{"msg": 1}]),
        ] {
            assert!(violations(Some(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_warnings_and_approvals() {
        assert_eq!(
            warnings(Some(json!(["a", {"msg": "b"}, 3]))).unwrap(),
            ["a", "b", "3"]
        );
        assert_eq!(approvals(None), Ok(None));
        assert_eq!(approvals(Some(json!(3))), Ok(Some(3)));
        assert_eq!(approvals(Some(json!(2.0))), Ok(Some(2)));
        for bad in [json!(-1), json!(1.5), json!("3"), json!(1u64 << 40)] {
            assert!(approvals(Some(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_failure_denies() {
        let d = Decision::failed("boom".into(), 7);
        assert!(!d.allow);
        assert_eq!(d.deny[0].code, "policy_error");
        assert_eq!(d.error.as_deref(), Some("boom"));
        assert!(Decision::decided(vec![], vec![], None, 1).allow);
    }
}

//! Monitors (maturity level 5): a deployment's logged predictions compared, window by window, with a
//! reference — drift per column and per dataset, data quality, and performance once labels arrive. Each
//! evaluation is a [`Snapshot`]: the full report plus the flat [`Snapshot::values`] that alert rules,
//! Prometheus gauges and the UI's timelines read. A rule that holds for `for_windows` consecutive
//! snapshots, outside its cooldown, fires an [`Alert`], recorded on the change log.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::deployment::validate_deployment_name;

/// The most alert rules one monitor may carry.
pub const MAX_RULES: usize = 100;
/// The most rows one window may hold (a monitor reads them into memory).
pub const MAX_WINDOW_ROWS: u64 = 10_000_000;

/// Which logged predictions make up a window: those of the last `ms` before the evaluation, or the
/// last `rows` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    Duration { ms: i64 },
    Rows { rows: u64 },
}

impl Window {
    pub fn describe(&self) -> String {
        match self {
            Window::Duration { ms } => format!("last {}", format_duration(*ms)),
            Window::Rows { rows } => format!("last {rows} rows"),
        }
    }
}

/// Where the reference comes from (`uri`, as the user gave it) and where its stored copy is (`path`,
/// in the artifact store; read at every evaluation, never changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub uri: String,
    pub path: String,
}

/// How drift is tested: Evidently's automatic choice unless `method` names one test for every column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// The dataset drifts when at least this share of its columns does (Evidently's 0.5 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_share: Option<f64>,
    /// `bonferroni` or `bh`: the dataset verdict with multiple-testing control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<String>,
}

/// Where a fired alert is sent besides the server's log and the change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    /// Signs each delivery (`X-Cairn-Signature: sha256=<hex HMAC of the body>`); never shown back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// An alert rule: `when` holds for `for_windows` consecutive snapshots → an alert, then none for
/// `cooldown_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    pub name: String,
    pub when: String,
    #[serde(default = "one")]
    pub for_windows: u32,
    #[serde(default)]
    pub cooldown_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
}

fn one() -> u32 {
    1
}

/// What a monitor is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorSpec {
    pub deployment: String,
    pub reference: Reference,
    pub window: Window,
    /// A cron expression: the server evaluates the monitor at each slot (else only `monitor run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default)]
    pub drift: DriftSettings,
    /// The logged output column compared with labels (default `prediction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<String>,
    #[serde(default)]
    pub rules: Vec<AlertRule>,
}

impl MonitorSpec {
    pub fn prediction_column(&self) -> &str {
        self.prediction.as_deref().unwrap_or("prediction")
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        validate_deployment_name(&self.deployment)?;
        match self.window {
            Window::Duration { ms } if ms < 1000 => {
                return Err(DomainError::invalid("the window must be at least 1s"));
            }
            Window::Rows { rows } if rows == 0 || rows > MAX_WINDOW_ROWS => {
                return Err(DomainError::invalid(format!(
                    "the window's rows must be between 1 and {MAX_WINDOW_ROWS}"
                )));
            }
            _ => {}
        }
        if let Some(t) = self.drift.threshold
            && !(t.is_finite() && t >= 0.0)
        {
            return Err(DomainError::invalid(
                "the drift threshold must be a finite number >= 0",
            ));
        }
        if let Some(s) = self.drift.drift_share
            && !(s > 0.0 && s <= 1.0)
        {
            return Err(DomainError::invalid("the drift share must be in (0, 1]"));
        }
        if let Some(c) = &self.drift.correction
            && !matches!(c.as_str(), "bonferroni" | "bh")
        {
            return Err(DomainError::invalid(format!(
                "unknown correction '{c}': use bonferroni or bh"
            )));
        }
        if self.rules.len() > MAX_RULES {
            return Err(DomainError::invalid(format!(
                "a monitor has at most {MAX_RULES} alert rules"
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for rule in &self.rules {
            rule.validate()?;
            if !seen.insert(rule.name.as_str()) {
                return Err(DomainError::invalid(format!(
                    "two alert rules are named '{}'",
                    rule.name
                )));
            }
        }
        Ok(())
    }
}

impl AlertRule {
    pub fn validate(&self) -> Result<(), DomainError> {
        validate_name("alert rule", &self.name)?;
        Condition::parse(&self.when)?;
        if self.for_windows == 0 || self.for_windows > 1000 {
            return Err(DomainError::invalid(format!(
                "alert rule '{}': 'for' must be between 1 and 1000 windows",
                self.name
            )));
        }
        if self.cooldown_ms < 0 {
            return Err(DomainError::invalid(format!(
                "alert rule '{}': the cooldown must not be negative",
                self.name
            )));
        }
        if let Some(w) = &self.webhook
            && !(w.url.starts_with("http://") || w.url.starts_with("https://"))
        {
            return Err(DomainError::invalid(format!(
                "alert rule '{}': the webhook must be an http(s) URL, got '{}'",
                self.name, w.url
            )));
        }
        Ok(())
    }
}

/// A comparison of one snapshot value with a number: `dataset.share >= 0.3`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub path: String,
    pub op: Op,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

impl Condition {
    /// `<path> <op> <number>`, with op one of `>= > <= < == !=`.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let bad = |why: &str| {
            DomainError::invalid(format!(
                "invalid alert condition '{text}': {why} (expected e.g. 'dataset.share >= 0.3', \
                 'column.f3.score > 0.2', 'accuracy < 0.85')"
            ))
        };
        // Two-character operators first, so `>=` is not read as `>`.
        let ops = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            (">", Op::Gt),
            ("<", Op::Lt),
        ];
        let (at, token, op) = ops
            .iter()
            .filter_map(|(t, op)| text.find(t).map(|at| (at, *t, *op)))
            .min_by_key(|(at, t, _)| (*at, usize::MAX - t.len()))
            .ok_or_else(|| bad("no comparison operator"))?;
        let path = text[..at].trim();
        let value = text[at + token.len()..].trim();
        if path.is_empty() || path.contains(char::is_whitespace) {
            return Err(bad("the left side must be one snapshot value's name"));
        }
        let value: f64 = value
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| bad("the right side must be a number"))?;
        Ok(Condition {
            path: path.to_owned(),
            op,
            value,
        })
    }

    /// Whether it holds on these values; `None` when the snapshot has no such value (e.g. accuracy
    /// before any label arrived).
    pub fn holds(&self, values: &BTreeMap<String, f64>) -> Option<(bool, f64)> {
        let v = *values.get(&self.path)?;
        let holds = match self.op {
            Op::Ge => v >= self.value,
            Op::Gt => v > self.value,
            Op::Le => v <= self.value,
            Op::Lt => v < self.value,
            Op::Eq => v == self.value,
            Op::Ne => v != self.value,
        };
        Some((holds, v))
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.path, self.op.as_str(), self.value)
    }
}

/// A stored monitor: its spec, and the reference's profile (types, quantiles, histograms, category
/// frequencies) computed once when the reference was stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    pub name: String,
    pub spec: MonitorSpec,
    pub profile: serde_json::Value,
    pub paused: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One evaluation of a monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub id: i64,
    pub monitor: String,
    pub taken_ms: i64,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// The schedule's slot this evaluation is for (each slot is evaluated once), none when run by hand.
    pub slot_ms: Option<i64>,
    pub rows: i64,
    /// Flat values rules and gauges read: `dataset.share`, `column.<c>.score`, `accuracy`, …
    pub values: BTreeMap<String, f64>,
    /// The whole report (drift per column, quality, performance, histograms).
    pub report: serde_json::Value,
}

/// A snapshot about to be stored.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    pub monitor: String,
    pub taken_ms: i64,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    pub slot_ms: Option<i64>,
    pub rows: i64,
    pub values: BTreeMap<String, f64>,
    pub report: serde_json::Value,
}

/// A fired alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    pub monitor: String,
    pub rule: String,
    pub condition: String,
    /// The value that made the condition hold.
    pub value: f64,
    pub snapshot_id: i64,
    pub fired_ms: i64,
}

/// An alert about to be stored with its snapshot.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub rule: String,
    pub condition: String,
    pub value: f64,
}

/// Which rules fire on `current`, given the monitor's earlier snapshots (newest first) and the time each
/// rule last fired. A rule fires when its condition holds on this snapshot and on the `for_windows - 1`
/// before it, and it has not fired within its cooldown.
pub fn firing(
    rules: &[AlertRule],
    current: &BTreeMap<String, f64>,
    earlier: &[BTreeMap<String, f64>],
    last_fired_ms: &BTreeMap<String, i64>,
    now_ms: i64,
) -> Vec<NewAlert> {
    let mut fired = Vec::new();
    for rule in rules {
        let Ok(cond) = Condition::parse(&rule.when) else {
            continue;
        };
        let Some((true, value)) = cond.holds(current) else {
            continue;
        };
        let needed = rule.for_windows.saturating_sub(1) as usize;
        let streak = earlier
            .iter()
            .take(needed)
            .take_while(|v| matches!(cond.holds(v), Some((true, _))))
            .count();
        if streak < needed {
            continue;
        }
        if let Some(last) = last_fired_ms.get(&rule.name)
            && now_ms - last < rule.cooldown_ms
        {
            continue;
        }
        fired.push(NewAlert {
            rule: rule.name.clone(),
            condition: cond.to_string(),
            value,
        });
    }
    fired
}

/// The columns the serving writes before the model's own in every logged prediction (the log's schema,
/// which monitors read back and never test for drift).
pub const PREDICTION_META_COLUMNS: [&str; 7] = [
    "request_id",
    "row",
    "timestamp",
    "deployment",
    "model",
    "model_version",
    "latency_ms",
];

/// A deployment's, monitor's or alert rule's name: a URL segment and a change-log subject (letters, digits, `_`,
/// `-`, `.`; 1–64 characters, not starting with `.`).
pub fn validate_name(what: &str, name: &str) -> Result<(), DomainError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(format!(
            "Invalid {what} name '{name}': use 1–64 letters, digits, '_', '-' or '.', not starting with '.'"
        )))
    }
}

/// `90s`, `15m`, `1h`, `2d`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<i64, DomainError> {
    let bad = || {
        DomainError::invalid(format!(
            "invalid duration '{text}': expected a number with s, m, h or d (e.g. 15m, 1h)"
        ))
    };
    let t = text.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    let scale = match unit {
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(bad()),
    };
    if !(n.is_finite() && n >= 0.0) {
        return Err(bad());
    }
    Ok((n * scale).round() as i64)
}

/// The shortest of `1d`, `3h`, `15m`, `90s`, `250ms` that is exact.
pub fn format_duration(ms: i64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn conditions_parse_and_hold() {
        let c = Condition::parse("dataset.share >= 0.3").unwrap();
        assert_eq!(c.path, "dataset.share");
        assert_eq!(c.op, Op::Ge);
        assert_eq!(
            c.holds(&values(&[("dataset.share", 0.3)])),
            Some((true, 0.3))
        );
        assert_eq!(
            c.holds(&values(&[("dataset.share", 0.2)])),
            Some((false, 0.2))
        );
        assert_eq!(c.holds(&values(&[])), None);
        let c = Condition::parse("accuracy<0.85").unwrap();
        assert_eq!((c.path.as_str(), c.op, c.value), ("accuracy", Op::Lt, 0.85));
        for bad in ["", "share", ">= 1", "a b >= 1", "x >= y", "x >= inf"] {
            assert!(Condition::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_need_consecutive_windows_and_respect_cooldown() {
        let rule = AlertRule {
            name: "drift".into(),
            when: "dataset.share >= 0.5".into(),
            for_windows: 2,
            cooldown_ms: 1000,
            webhook: None,
        };
        let hot = values(&[("dataset.share", 0.6)]);
        let cold = values(&[("dataset.share", 0.1)]);
        let none = BTreeMap::new();
        // One hot window is not enough.
        assert!(
            firing(
                std::slice::from_ref(&rule),
                &hot,
                std::slice::from_ref(&cold),
                &none,
                0
            )
            .is_empty()
        );
        // Two in a row fire, with the value that held.
        let fired = firing(
            std::slice::from_ref(&rule),
            &hot,
            std::slice::from_ref(&hot),
            &none,
            0,
        );
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].value, 0.6);
        // Within the cooldown of the last alert: nothing; after it: again.
        let last = BTreeMap::from([("drift".to_string(), 10_000)]);
        assert!(
            firing(
                std::slice::from_ref(&rule),
                &hot,
                std::slice::from_ref(&hot),
                &last,
                10_500
            )
            .is_empty()
        );
        assert_eq!(
            firing(&[rule], &hot, std::slice::from_ref(&hot), &last, 11_000).len(),
            1
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h").unwrap(), 3_600_000);
        assert_eq!(parse_duration("15m").unwrap(), 900_000);
        assert_eq!(parse_duration("90").unwrap(), 90_000);
        assert_eq!(parse_duration("1.5s").unwrap(), 1500);
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("-1h").is_err());
        assert_eq!(format_duration(3_600_000), "1h");
        assert_eq!(format_duration(90_000), "90s");
    }
}

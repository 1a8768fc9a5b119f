//! Triggers (maturity level 5): what starts a registered pipeline's run without a person — a cron
//! slot, a new content digest of watched data, a monitor's alert, a registry event — or a person,
//! by hand. Each firing is keyed by (pipeline, trigger, slot), so a slot fires once however many
//! servers see it; the cause is stored on the run it starts.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::DomainError;

/// When a cron trigger's server was down over several slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catchup {
    /// Missed slots are not run; the next slot is.
    None,
    /// The latest missed slot runs once.
    Latest,
}

/// What a firing does while earlier runs of the pipeline are still active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// No run is started (the firing is recorded as skipped).
    Skip,
    /// The run waits until fewer than `max_active_runs` are running.
    Queue,
    /// The active runs are cancelled and the new one starts.
    CancelPrevious,
}

impl Concurrency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Queue => "queue",
            Self::CancelPrevious => "cancel_previous",
        }
    }
}

/// A registry event a trigger follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryEvent {
    /// A new version of the model.
    VersionCreated,
    /// An alias of the model moved (to any version, or only the named alias).
    AliasMoved,
}

impl RegistryEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VersionCreated => "version_created",
            Self::AliasMoved => "alias_moved",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerKind {
    Cron {
        cron: String,
        /// An IANA zone (`Europe/Berlin`); UTC when absent.
        timezone: Option<String>,
        catchup: Catchup,
    },
    Watch {
        /// An absolute path on the server's machine, or a prefix in the artifact store.
        target: String,
        /// The digest must be stable this long before it fires.
        debounce_ms: i64,
    },
    Alert {
        monitor: String,
        /// Only this rule's alerts; any rule's when absent.
        rule: Option<String>,
        /// At most one run per cooldown.
        cooldown_ms: i64,
    },
    Registry {
        model: String,
        event: RegistryEvent,
        alias: Option<String>,
    },
    /// Fires only by hand.
    Manual,
}

impl TriggerKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Cron { .. } => "cron",
            Self::Watch { .. } => "watch",
            Self::Alert { .. } => "alert",
            Self::Registry { .. } => "registry",
            Self::Manual => "manual",
        }
    }
}

/// A trigger as written under `triggers:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerSpec {
    pub kind: TriggerKind,
    pub concurrency: Concurrency,
    /// Runs of the pipeline active at once (running or, under `queue`, waiting beyond this).
    pub max_active_runs: u32,
    /// Param overrides for the run (`-P KEY=VALUE`).
    pub params: BTreeMap<String, String>,
}

/// A registered trigger and its operational state.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub pipeline: String,
    pub name: String,
    pub spec: TriggerSpec,
    pub paused: bool,
    /// What the scheduler remembers between looks (a watch's digest and when it was first seen).
    pub state: Value,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// The outcome of one firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireOutcome {
    /// A run was queued.
    Started,
    /// Concurrency `skip` with the pipeline busy, or within an alert trigger's cooldown: no run.
    Skipped,
}

impl FireOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "started" => Some(Self::Started),
            "skipped" => Some(Self::Skipped),
            _ => None,
        }
    }
}

/// One firing of a trigger: unique per (pipeline, trigger, slot).
#[derive(Debug, Clone, PartialEq)]
pub struct Fire {
    pub seq: i64,
    pub pipeline: String,
    pub trigger: String,
    /// What makes the firing unique: a cron slot's time, a digest, an alert id, an idempotency key.
    pub slot: String,
    pub outcome: FireOutcome,
    /// Why a firing was skipped.
    pub reason: Option<String>,
    pub run_id: Option<String>,
    pub cause: Value,
    pub actor: String,
    pub fired_ms: i64,
}

/// A trigger name: what a URL segment carries.
pub fn validate_trigger_name(name: &str) -> Result<(), DomainError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(format!(
            "Invalid trigger name '{name}': use 1–64 letters, digits, '_', '-' or '.', not starting with '.'"
        )))
    }
}

/// `90s`, `10m`, `1h`, `2d`, `500ms`, or a number of seconds.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: i64 = digits.parse().ok()?;
    let scale = match unit.trim() {
        "" | "s" => 1000,
        "ms" => 1,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// The shortest of `ms` in the units [`parse_duration_ms`] reads.
pub fn format_duration_ms(ms: i64) -> String {
    for (unit, scale) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms != 0 && ms % scale == 0 {
            return format!("{}{unit}", ms / scale);
        }
    }
    if ms == 0 {
        "0s".into()
    } else {
        format!("{ms}ms")
    }
}

const COMMON: &[&str] = &["kind", "concurrency", "max_active_runs", "params"];

fn invalid(name: &str, why: impl std::fmt::Display) -> DomainError {
    DomainError::invalid(format!("trigger '{name}': {why}"))
}

impl TriggerSpec {
    /// Reads a trigger as `cairn.yaml` writes it (`{cron: "0 3 * * *", timezone: …}`,
    /// `{watch: PATH, debounce: 10m}`, `{alert: MONITOR[/RULE], cooldown: 1h}`,
    /// `{registry: {model: M, event: version_created}}`, `{}`), or as [`Self::to_json`] wrote it.
    pub fn from_json(name: &str, v: &Value) -> Result<Self, DomainError> {
        validate_trigger_name(name)?;
        let m = match v {
            Value::Object(m) => m,
            Value::Null => &Map::new(),
            _ => return Err(invalid(name, "must be a mapping")),
        };
        let kinds: Vec<&str> = ["cron", "watch", "alert", "registry"]
            .into_iter()
            .filter(|k| m.contains_key(*k))
            .collect();
        if kinds.len() > 1 {
            return Err(invalid(
                name,
                format!("takes one of cron, watch, alert, registry, not {kinds:?}"),
            ));
        }
        let text = |k: &str| -> Result<Option<String>, DomainError> {
            match m.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => Err(invalid(name, format!("`{k}` must be a non-empty string"))),
            }
        };
        let duration = |k: &str| -> Result<i64, DomainError> {
            let ms_key = format!("{k}_ms");
            if let Some(ms) = m.get(&ms_key).and_then(Value::as_i64) {
                return Ok(ms);
            }
            match text(k)? {
                None => Ok(0),
                Some(t) => parse_duration_ms(&t).filter(|ms| *ms >= 0).ok_or_else(|| {
                    invalid(
                        name,
                        format!("`{k}: {t}` is not a duration (e.g. 90s, 10m, 1h, 2d)"),
                    )
                }),
            }
        };
        let allowed = |own: &[&str]| -> Result<(), DomainError> {
            for k in m.keys() {
                if !own.contains(&k.as_str()) && !COMMON.contains(&k.as_str()) {
                    return Err(invalid(
                        name,
                        format!("unknown key `{k}` (it takes {})", own.join(", ")),
                    ));
                }
            }
            Ok(())
        };
        let kind = match kinds.first().copied() {
            Some("cron") => {
                allowed(&["cron", "timezone", "catchup"])?;
                let catchup = match text("catchup")?.as_deref() {
                    None | Some("none") => Catchup::None,
                    Some("latest") => Catchup::Latest,
                    Some(other) => {
                        return Err(invalid(
                            name,
                            format!("catchup must be none or latest, not '{other}'"),
                        ));
                    }
                };
                TriggerKind::Cron {
                    cron: text("cron")?.ok_or_else(|| invalid(name, "cron is empty"))?,
                    timezone: text("timezone")?,
                    catchup,
                }
            }
            Some("watch") => {
                allowed(&["watch", "debounce", "debounce_ms"])?;
                TriggerKind::Watch {
                    target: text("watch")?.ok_or_else(|| invalid(name, "watch is empty"))?,
                    debounce_ms: duration("debounce")?,
                }
            }
            Some("alert") => {
                allowed(&["alert", "cooldown", "cooldown_ms"])?;
                let target = text("alert")?.ok_or_else(|| {
                    invalid(name, "alert names a monitor (MONITOR or MONITOR/RULE)")
                })?;
                let (monitor, rule) = match target.split_once('/') {
                    Some((m, r)) if !m.is_empty() && !r.is_empty() => {
                        (m.to_owned(), Some(r.to_owned()))
                    }
                    Some(_) => {
                        return Err(invalid(
                            name,
                            format!("alert '{target}' is not MONITOR or MONITOR/RULE"),
                        ));
                    }
                    None => (target, None),
                };
                TriggerKind::Alert {
                    monitor,
                    rule,
                    cooldown_ms: duration("cooldown")?,
                }
            }
            Some("registry") => {
                allowed(&["registry"])?;
                let r = m
                    .get("registry")
                    .and_then(Value::as_object)
                    .ok_or_else(|| {
                        invalid(
                            name,
                            "registry takes {model: M, event: version_created|alias_moved}",
                        )
                    })?;
                for k in r.keys() {
                    if !["model", "event", "alias"].contains(&k.as_str()) {
                        return Err(invalid(
                            name,
                            format!("registry: unknown key `{k}` (it takes model, event, alias)"),
                        ));
                    }
                }
                let field = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
                let model = field("model")
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| invalid(name, "registry needs `model:`"))?;
                let event = match field("event").as_deref() {
                    None | Some("version_created") => RegistryEvent::VersionCreated,
                    Some("alias_moved") => RegistryEvent::AliasMoved,
                    Some(other) => {
                        return Err(invalid(
                            name,
                            format!(
                                "registry event must be version_created or alias_moved, not '{other}'"
                            ),
                        ));
                    }
                };
                TriggerKind::Registry {
                    model,
                    event,
                    alias: field("alias"),
                }
            }
            _ => {
                allowed(&[])?;
                TriggerKind::Manual
            }
        };
        if let Some(written) = text("kind")?
            && written != kind.name()
        {
            return Err(invalid(
                name,
                format!(
                    "kind '{written}' does not match its keys (a {} trigger)",
                    kind.name()
                ),
            ));
        }
        let concurrency = match text("concurrency")?.as_deref() {
            None | Some("queue") => Concurrency::Queue,
            Some("skip") => Concurrency::Skip,
            Some("cancel_previous") => Concurrency::CancelPrevious,
            Some(other) => {
                return Err(invalid(
                    name,
                    format!("concurrency must be skip, queue or cancel_previous, not '{other}'"),
                ));
            }
        };
        let max_active_runs = match m.get("max_active_runs") {
            None | Some(Value::Null) => 1,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=1000).contains(n))
                .map(|n| n as u32)
                .ok_or_else(|| invalid(name, "max_active_runs must be a whole number, 1–1000"))?,
        };
        let mut params = BTreeMap::new();
        match m.get("params") {
            None | Some(Value::Null) => {}
            Some(Value::Object(p)) => {
                for (k, v) in p {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(_) | Value::Bool(_) => v.to_string(),
                        _ => {
                            return Err(invalid(
                                name,
                                format!("param '{k}' must be a string, number or boolean"),
                            ));
                        }
                    };
                    params.insert(k.clone(), v);
                }
            }
            Some(_) => return Err(invalid(name, "params must be a mapping of KEY: VALUE")),
        }
        Ok(TriggerSpec {
            kind,
            concurrency,
            max_active_runs,
            params,
        })
    }

    /// The canonical form: what the store keeps and the API shows; [`Self::from_json`] reads it back.
    pub fn to_json(&self) -> Value {
        let mut v = match &self.kind {
            TriggerKind::Cron {
                cron,
                timezone,
                catchup,
            } => json!({
                "cron": cron,
                "timezone": timezone,
                "catchup": match catchup { Catchup::None => "none", Catchup::Latest => "latest" },
            }),
            TriggerKind::Watch {
                target,
                debounce_ms,
            } => json!({ "watch": target, "debounce": format_duration_ms(*debounce_ms) }),
            TriggerKind::Alert {
                monitor,
                rule,
                cooldown_ms,
            } => json!({
                "alert": match rule { Some(r) => format!("{monitor}/{r}"), None => monitor.clone() },
                "cooldown": format_duration_ms(*cooldown_ms),
            }),
            TriggerKind::Registry {
                model,
                event,
                alias,
            } => {
                let mut r = json!({ "model": model, "event": event.as_str() });
                if let Some(a) = alias {
                    r["alias"] = json!(a);
                }
                json!({ "registry": r })
            }
            TriggerKind::Manual => json!({}),
        };
        v["kind"] = json!(self.kind.name());
        v["concurrency"] = json!(self.concurrency.as_str());
        v["max_active_runs"] = json!(self.max_active_runs);
        v["params"] = json!(self.params);
        v
    }
}

/// Reads a pipeline's `triggers:` object (name → trigger), in name order.
pub fn parse_triggers(v: &Value) -> Result<Vec<(String, TriggerSpec)>, DomainError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) => m
            .iter()
            .map(|(name, t)| Ok((name.clone(), TriggerSpec::from_json(name, t)?)))
            .collect(),
        _ => Err(DomainError::invalid(
            "triggers must be a mapping of names to triggers",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: Value) -> Result<TriggerSpec, DomainError> {
        TriggerSpec::from_json("t", &v)
    }

    #[test]
    fn every_kind_reads_as_written_and_round_trips() {
        let cases = [
            json!({"cron": "0 3 * * *", "timezone": "Europe/Berlin"}),
            json!({"watch": "/data/raw", "debounce": "10m"}),
            json!({"alert": "churn/drift", "cooldown": "1h"}),
            json!({"registry": {"model": "features", "event": "version_created"}}),
            json!({}),
            json!({"cron": "*/2 * * * * *", "catchup": "latest", "concurrency": "skip",
                   "max_active_runs": 2, "params": {"train.C": 0.5}}),
        ];
        for c in cases {
            let s = spec(c.clone()).unwrap();
            assert_eq!(spec(s.to_json()).unwrap(), s, "{c}");
        }
        let s = spec(json!({"alert": "churn/drift", "cooldown": "1h"})).unwrap();
        assert_eq!(
            s.kind,
            TriggerKind::Alert {
                monitor: "churn".into(),
                rule: Some("drift".into()),
                cooldown_ms: 3_600_000
            }
        );
        assert_eq!(s.concurrency, Concurrency::Queue);
        assert_eq!(s.max_active_runs, 1);
        assert_eq!(spec(json!({})).unwrap().kind, TriggerKind::Manual);
        assert_eq!(
            spec(json!({"params": {"train.C": 0.5}})).unwrap().params["train.C"],
            "0.5"
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (v, says) in [
            (json!({"cron": "x", "watch": "y"}), "one of"),
            (json!({"watch": "/d", "debounce": "soon"}), "not a duration"),
            (
                json!({"cron": "0 * * * *", "debounce": "1m"}),
                "unknown key `debounce`",
            ),
            (json!({"alert": "/rule"}), "MONITOR/RULE"),
            (
                json!({"registry": {"event": "version_created"}}),
                "needs `model:`",
            ),
            (
                json!({"registry": {"model": "m", "event": "deleted"}}),
                "version_created",
            ),
            (json!({"concurrency": "parallel"}), "skip, queue"),
            (json!({"max_active_runs": 0}), "max_active_runs"),
            (json!({"kind": "cron"}), "does not match"),
            (json!("nightly"), "mapping"),
        ] {
            let e = spec(v.clone()).unwrap_err().to_string();
            assert!(e.contains(says), "{v}: {e}");
        }
        assert!(TriggerSpec::from_json("bad name", &json!({})).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("90s"), Some(90_000));
        assert_eq!(parse_duration_ms("10m"), Some(600_000));
        assert_eq!(parse_duration_ms("2d"), Some(172_800_000));
        assert_eq!(parse_duration_ms("15"), Some(15_000));
        assert_eq!(parse_duration_ms("m"), None);
        assert_eq!(format_duration_ms(600_000), "10m");
        assert_eq!(format_duration_ms(1500), "1500ms");
        assert_eq!(format_duration_ms(0), "0s");
    }
}

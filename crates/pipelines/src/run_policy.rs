//! How a stage runs, besides what: `timeout`, `retry` (by failure class, with backoff), `executor`
//! and `resources` (the Ray executor's reservations; the local executor ignores them). None of it is
//! in the cache key.

use std::time::Duration;

use crate::error::Result;
use crate::executor::{ExecutorKind, FailureClass};
use crate::parse::Parser;
use crate::yaml::{Kind, Node};

/// `retry: {max, on, backoff, factor}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    /// Attempts after the first.
    pub max: u32,
    /// The failure classes retried (default: infra, preempted — never the user's own bug unless
    /// asked).
    pub on: Vec<FailureClass>,
    pub backoff: Duration,
    pub factor: f64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max: 0,
            on: vec![FailureClass::Infra, FailureClass::Preempted],
            backoff: Duration::from_secs(1),
            factor: 2.0,
        }
    }
}

impl Retry {
    /// The wait before attempt `n` (2, 3, …).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self.factor.powi(attempt.saturating_sub(2) as i32);
        self.backoff.mul_f64(exp.clamp(0.0, 1e6))
    }
}

/// The run policy of one stage.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunPolicy {
    pub timeout: Option<Duration>,
    pub retry: Retry,
    /// `None`: the run's executor (`--executor`).
    pub executor: Option<ExecutorKind>,
}

/// `90`, `"90s"`, `"10m"`, `"2h"`, `"1h30m"`, `"500ms"`, `"1d"`.
pub fn duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            "d" => value * 86400.0,
            _ => return None,
        };
        total += Duration::from_secs_f64(secs);
        rest = &rest[unit_len..];
    }
    (!text.is_empty()).then_some(total)
}

fn class(name: &str) -> Option<FailureClass> {
    Some(match name {
        "user" => FailureClass::User,
        "oom" => FailureClass::Oom,
        "timeout" => FailureClass::Timeout,
        "env" => FailureClass::Env,
        "infra" => FailureClass::Infra,
        "preempted" => FailureClass::Preempted,
        _ => return None,
    })
}

fn duration_node(p: &Parser<'_>, n: &Node, what: &str) -> Result<Duration> {
    let text = n.scalar_text().ok_or_else(|| {
        p.err(
            n.pos,
            format!("{what} must be a duration like 90s, 10m or 2h"),
        )
    })?;
    duration(&text).ok_or_else(|| {
        p.err(
            n.pos,
            format!("{what}: '{text}' is not a duration like 90s, 10m or 2h"),
        )
    })
}

/// The policy from a stage's (interpolated) body.
pub(crate) fn parse(p: &Parser<'_>, body: &Node, what: &str) -> Result<RunPolicy> {
    let mut policy = RunPolicy::default();
    if let Some(t) = body.get("timeout") {
        policy.timeout = Some(duration_node(p, t, &format!("{what}: timeout"))?);
    }
    if let Some(r) = body.get("retry") {
        let m = p.map(r, &format!("{what}: retry"))?;
        p.unknown_keys(
            m,
            &["max", "on", "backoff", "factor"],
            &[],
            &format!("{what}: retry"),
        )?;
        if let Some(max) = r.get("max") {
            policy.retry.max = match max.kind {
                Kind::Int(i) if (0..=100).contains(&i) => i as u32,
                _ => return Err(p.err(max.pos, "retry: max must be a whole number from 0 to 100")),
            };
        }
        if let Some(on) = r.get("on") {
            let items: Vec<&Node> = match &on.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![on],
            };
            policy.retry.on = items
                .into_iter()
                .map(|i| {
                    let name = i.scalar_text().unwrap_or_default();
                    class(&name).ok_or_else(|| {
                        p.err(
                            i.pos,
                            format!("retry: on: '{name}' is not one of user, oom, timeout, env, infra, preempted"),
                        )
                    })
                })
                .collect::<Result<_>>()?;
        }
        if let Some(b) = r.get("backoff") {
            policy.retry.backoff = duration_node(p, b, "retry: backoff")?;
        }
        if let Some(f) = r.get("factor") {
            policy.retry.factor = p.number(f, "retry: factor")?;
        }
    }
    if let Some(e) = body.get("executor") {
        policy.executor = Some(match e.as_str() {
            Some("local") => ExecutorKind::Local,
            Some("ray") => ExecutorKind::Ray,
            _ => return Err(p.err(e.pos, format!("{what}: executor must be local or ray"))),
        });
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(duration("2 weeks"), None);
        assert_eq!(duration(""), None);
    }

    #[test]
    fn backoff_grows_by_the_factor() {
        let r = Retry {
            max: 3,
            backoff: Duration::from_secs(2),
            factor: 3.0,
            ..Retry::default()
        };
        assert_eq!(r.delay(2), Duration::from_secs(2));
        assert_eq!(r.delay(3), Duration::from_secs(6));
    }
}

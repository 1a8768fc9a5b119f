//! How a stage runs, besides what: `timeout`, `retry` (by failure class, with backoff), `executor`
//! and `resources` (the Ray executor's reservations; the local executor ignores them). None of it is
//! in the cache key.

use std::collections::BTreeMap;
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

/// `resources: {cpu: 2, gpu: 1, memory: 8Gi, <custom>: n}`: what a step reserves on Ray (its job's
/// `entrypoint_num_cpus`, `…_num_gpus`, `…_memory`, `…_resources`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resources {
    pub cpu: Option<f64>,
    pub gpu: Option<f64>,
    /// Bytes.
    pub memory: Option<u64>,
    /// Custom Ray resources by name.
    pub custom: BTreeMap<String, f64>,
}

/// The run policy of one stage.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunPolicy {
    pub timeout: Option<Duration>,
    pub retry: Retry,
    /// `None`: the run's executor (`--executor`).
    pub executor: Option<ExecutorKind>,
    pub resources: Resources,
}

/// `8589934592`, `"512Mi"`, `"8Gi"`, `"2G"`, `"1.5GB"`, `"100k"`: bytes (Ki/Mi/Gi/Ti are powers of
/// 1024; k/K, M, G, T, with or without B, of 1000).
pub fn bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let value: f64 = text[..split].parse().ok()?;
    let unit = text[split..].trim();
    let factor: f64 = match unit.trim_end_matches('B') {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let total = value * factor;
    (total.is_finite() && total >= 0.0 && total < u64::MAX as f64).then_some(total as u64)
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
    if let Some(r) = body.get("resources") {
        let what = format!("{what}: resources");
        for (k, v) in p.map(r, &what)? {
            let amount = |name: &str| -> Result<f64> {
                let n = p.number(v, &format!("{what}: {name}"))?;
                if n.is_finite() && n >= 0.0 {
                    Ok(n)
                } else {
                    Err(p.err(v.pos, format!("{what}: {name} must be 0 or more")))
                }
            };
            match k.name.as_str() {
                "cpu" | "cpus" => policy.resources.cpu = Some(amount("cpu")?),
                "gpu" | "gpus" => policy.resources.gpu = Some(amount("gpu")?),
                "memory" => {
                    let text = v.scalar_text().unwrap_or_default();
                    policy.resources.memory = Some(bytes(&text).ok_or_else(|| {
                        p.err(
                            v.pos,
                            format!("{what}: memory: '{text}' is not a size like 512Mi, 8Gi or 2G"),
                        )
                    })?);
                }
                name => {
                    let n = amount(name)?;
                    policy.resources.custom.insert(name.to_owned(), n);
                }
            }
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
    fn sizes() {
        assert_eq!(bytes("8Gi"), Some(8 << 30));
        assert_eq!(bytes("512Mi"), Some(512 << 20));
        assert_eq!(bytes("2G"), Some(2_000_000_000));
        assert_eq!(bytes("1.5GB"), Some(1_500_000_000));
        assert_eq!(bytes("1024"), Some(1024));
        assert_eq!(bytes("8 gigs"), None);
        assert_eq!(bytes("-1"), None);
    }

    #[test]
    fn resources_parse_with_positions_for_errors() {
        let (_dir, p) = crate::testutil::project(&[(
            "cairn.yaml",
            "stages:\n  s:\n    cmd: x\n    resources: {cpu: 2, gpu: 0.5, memory: 4Gi, accel: 1}\n",
        )]);
        let r = &p.unwrap().pipeline.stages[0].policy.resources;
        assert_eq!(
            (r.cpu, r.gpu, r.memory),
            (Some(2.0), Some(0.5), Some(4 << 30))
        );
        assert_eq!(r.custom.get("accel"), Some(&1.0));
        let err = crate::testutil::error(
            "stages:\n  s:\n    cmd: x\n    resources: {memory: lots}\n",
            &[],
        );
        assert!(err.starts_with("cairn.yaml:4:"), "{err}");
        assert!(err.contains("not a size"), "{err}");
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

//! Automatic canary promotion: a deployment that follows an alias (`models:/churn@production`) may carry
//! a [`RolloutPolicy`]. When the policy's candidate alias (`candidate` by default) moves to a version other
//! than the one serving, that version serves as a canary at the policy's weight until its duration has
//! elapsed (or it has answered its request count); then the live comparison of the canary against the
//! primary over that window ([`decide`]) promotes it (the primary alias moves to it) or rolls it back.
//! The window's numbers travel with the decision ([`RolloutDecision`]).

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// The candidate alias when the policy names none.
pub const DEFAULT_CANDIDATE_ALIAS: &str = "candidate";

/// How a deployment rolls out a new version automatically: `canary:WEIGHT%/DURATION` (`canary:10%/15m`)
/// or `canary:WEIGHT%/Nreq` (`canary:10%/500req`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutPolicy {
    /// The canary's percent of requests, 1–99.
    pub weight: u8,
    /// How long the canary serves before the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// How many requests the canary answers before the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// The alias whose moves start a canary.
    #[serde(default = "default_candidate")]
    pub candidate_alias: String,
}

fn default_candidate() -> String {
    DEFAULT_CANDIDATE_ALIAS.to_owned()
}

const UNITS: [(&str, i64); 5] = [
    ("ms", 1),
    ("s", 1000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// The longest canary window: a week.
const MAX_DURATION_MS: i64 = 7 * 86_400_000;

impl RolloutPolicy {
    /// Parses `canary:10%/15m` (durations in ms, s, m, h or d) or `canary:10%/500req`.
    pub fn parse(text: &str, candidate_alias: Option<&str>) -> Result<Self, DomainError> {
        let bad = |why: &str| {
            DomainError::invalid(format!(
                "Invalid roll-out policy '{text}': {why}; expected canary:WEIGHT%/DURATION (e.g. \
                 canary:10%/15m, durations in s, m, h or d) or canary:WEIGHT%/Nreq (e.g. canary:10%/500req)"
            ))
        };
        let rest = text
            .trim()
            .strip_prefix("canary:")
            .ok_or_else(|| bad("the only strategy is 'canary'"))?;
        let (weight, window) = rest
            .split_once('/')
            .ok_or_else(|| bad("the weight and the duration are separated by '/'"))?;
        let weight = weight
            .strip_suffix('%')
            .ok_or_else(|| bad("the weight is a percentage, like 10%"))?;
        let weight = match weight.parse::<i64>() {
            Ok(w) if (1..=99).contains(&w) => w as u8,
            _ => return Err(bad("the weight is a whole percent of requests, 1–99")),
        };
        let (mut duration_ms, mut requests) = (None, None);
        if let Some(n) = window.strip_suffix("req") {
            match n.parse::<u64>() {
                Ok(n) if n > 0 => requests = Some(n),
                _ => return Err(bad("the request count is a positive whole number")),
            }
        } else {
            let split = window
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| bad("the duration needs a unit (s, m, h or d)"))?;
            let (n, unit) = window.split_at(split);
            let factor = UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|(_, f)| *f)
                .ok_or_else(|| bad("the duration's unit is one of ms, s, m, h, d"))?;
            match n.parse::<i64>().ok().and_then(|n| n.checked_mul(factor)) {
                Some(ms) if ms > 0 && ms <= MAX_DURATION_MS => duration_ms = Some(ms),
                _ => return Err(bad("the duration is positive and at most 7d")),
            }
        }
        let candidate_alias = candidate_alias
            .unwrap_or(DEFAULT_CANDIDATE_ALIAS)
            .to_owned();
        if candidate_alias.is_empty() || candidate_alias.contains(['/', '@']) {
            return Err(DomainError::invalid(format!(
                "Invalid candidate alias '{candidate_alias}'"
            )));
        }
        Ok(RolloutPolicy {
            weight,
            duration_ms,
            requests,
            candidate_alias,
        })
    }

    /// The policy as `parse` reads it: `canary:10%/15m`.
    pub fn text(&self) -> String {
        let window = match (self.requests, self.duration_ms) {
            (Some(n), _) => format!("{n}req"),
            (None, Some(ms)) => {
                let (unit, factor) = UNITS
                    .iter()
                    .rev()
                    .find(|(_, f)| ms % f == 0)
                    .copied()
                    .unwrap_or(("ms", 1));
                format!("{}{unit}", ms / factor)
            }
            (None, None) => "0s".to_owned(),
        };
        format!("canary:{}%/{window}", self.weight)
    }

    /// Has a canary started at `started_ms`, which has answered `requests` since, run its course? A
    /// timed canary is judged once its duration is over and it has answered [`MIN_CANARY_REQUESTS`]
    /// (an idle hour proves nothing), or, short of traffic, after [`PATIENCE`] times its duration
    /// (then it is rolled back for want of evidence).
    pub fn due(&self, started_ms: i64, now_ms: i64, requests: u64) -> bool {
        match (self.requests, self.duration_ms) {
            (Some(n), _) => requests >= n,
            (None, Some(d)) => {
                let elapsed = now_ms - started_ms;
                (elapsed >= d && requests >= MIN_CANARY_REQUESTS)
                    || elapsed >= d.saturating_mul(PATIENCE)
            }
            (None, None) => true,
        }
    }
}

/// The fewest requests a timed canary answers before it is judged.
pub const MIN_CANARY_REQUESTS: u64 = 20;
/// How many times its duration a timed canary waits for those requests before it is rolled back.
pub const PATIENCE: i64 = 10;

/// Latency histogram buckets: bucket `i` holds latencies up to `10 µs × 2^(i/4)` (the last one, above).
pub const LATENCY_BUCKETS: usize = 96;

/// The upper bound of latency bucket `i`, in microseconds.
pub fn bucket_upper_us(i: usize) -> f64 {
    10.0 * 2f64.powf(i as f64 / 4.0)
}

/// The bucket a latency in microseconds falls in.
pub fn latency_bucket(micros: f64) -> usize {
    if micros.is_nan() || micros <= 10.0 {
        return 0;
    }
    let i = (4.0 * (micros / 10.0).log2()).ceil();
    (i as usize).min(LATENCY_BUCKETS - 1)
}

/// One model version's traffic on a deployment, as counted by the serving: requests, errors (5xx,
/// model failures) and the latency histogram ([`LATENCY_BUCKETS`] buckets, trailing empty ones
/// dropped). Counters only grow while the process lives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    pub requests: u64,
    pub errors: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latency: Vec<u64>,
}

impl Traffic {
    /// The traffic since `baseline` was taken. A counter below its baseline means the counting process
    /// restarted: then everything counted is since.
    pub fn since(&self, baseline: &Traffic) -> Traffic {
        if self.requests < baseline.requests || self.errors < baseline.errors {
            return self.clone();
        }
        let mut latency: Vec<u64> = self
            .latency
            .iter()
            .enumerate()
            .map(|(i, n)| n.saturating_sub(baseline.latency.get(i).copied().unwrap_or(0)))
            .collect();
        while latency.last() == Some(&0) {
            latency.pop();
        }
        Traffic {
            requests: self.requests - baseline.requests,
            errors: self.errors - baseline.errors,
            latency,
        }
    }

    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }

    /// The 99th percentile latency in milliseconds (the upper bound of its bucket); none without requests.
    pub fn p99_ms(&self) -> Option<f64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (total * 99).div_ceil(100).max(1);
        let mut seen = 0;
        for (i, n) in self.latency.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(round3(bucket_upper_us(i) / 1000.0));
            }
        }
        None
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A canary in progress: which version, against which primary, since when, and the counters it started
/// from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryRun {
    pub version: i64,
    pub primary_version: i64,
    pub started_ms: i64,
    pub baseline_primary: Traffic,
    pub baseline_canary: Traffic,
}

/// How a canary ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Promoted,
    RolledBack,
}

/// One side of the comparison: a version's traffic over the canary's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    pub version: i64,
    pub requests: u64,
    pub errors: u64,
    pub error_rate: f64,
    /// None without requests.
    pub p99_ms: Option<f64>,
}

impl Side {
    pub fn of(version: i64, t: &Traffic) -> Self {
        Side {
            version,
            requests: t.requests,
            errors: t.errors,
            error_rate: t.error_rate(),
            p99_ms: t.p99_ms(),
        }
    }
}

/// The canary may err this much more often than the primary (absolute).
pub const ERROR_RATE_MARGIN: f64 = 0.01;
/// The canary's p99 may be this many times the primary's …
pub const P99_FACTOR: f64 = 1.25;
/// … or this many milliseconds above it, whichever is more.
pub const P99_SLACK_MS: f64 = 5.0;

/// A decision and the numbers it used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutDecision {
    pub outcome: Outcome,
    /// The candidate version decided on.
    pub version: i64,
    pub primary_version: i64,
    pub started_ms: i64,
    pub decided_ms: i64,
    pub canary: Side,
    pub primary: Side,
    /// The highest error rate the canary could have had and be promoted.
    pub max_error_rate: f64,
    /// The highest p99 it could have had (none when the primary had no requests to compare with).
    pub max_p99_ms: Option<f64>,
    pub reason: String,
    /// The monitored performance of both sides from labels sent back during the canary, when enough
    /// arrived to count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance: Option<PerformanceCheck>,
}

/// One version's monitored performance over the canary's window, from feedback labels joined to its
/// logged predictions: accuracy for a classifier, mean absolute error for a regressor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveScore {
    /// `accuracy` (higher is better) or `mae` (lower is better).
    pub metric: String,
    pub value: f64,
    /// Logged rows a label was joined to.
    pub labelled: u64,
}

impl LiveScore {
    fn higher_is_better(&self) -> bool {
        self.metric != "mae"
    }
}

/// The fewest labelled rows per side for the monitored performance to be part of a decision.
pub const MIN_LABELLED: u64 = 20;
/// How much lower a canary's accuracy may be than the primary's (absolute).
pub const ACCURACY_MARGIN: f64 = 0.02;
/// How much higher a canary's mean absolute error may be than the primary's (relative).
pub const MAE_FACTOR: f64 = 1.10;

/// The monitored-performance comparison a decision made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceCheck {
    pub metric: String,
    pub canary: f64,
    pub primary: f64,
    pub canary_labelled: u64,
    pub primary_labelled: u64,
    /// The worst the canary could score and pass.
    pub limit: f64,
    pub held: bool,
}

impl RolloutDecision {
    /// Adds the monitored performance to a decision when both sides have [`MIN_LABELLED`] labelled
    /// rows of the same metric: a promotion whose canary scores worse than the limit becomes a roll
    /// back.
    pub fn judge_performance(&mut self, canary: &LiveScore, primary: &LiveScore) {
        if canary.metric != primary.metric
            || canary.labelled < MIN_LABELLED
            || primary.labelled < MIN_LABELLED
        {
            return;
        }
        let (limit, held) = if canary.higher_is_better() {
            let limit = round6(primary.value - ACCURACY_MARGIN);
            (limit, canary.value >= limit - 1e-12)
        } else {
            let limit = round6(primary.value * MAE_FACTOR);
            (limit, canary.value <= limit + 1e-12)
        };
        let check = PerformanceCheck {
            metric: canary.metric.clone(),
            canary: round6(canary.value),
            primary: round6(primary.value),
            canary_labelled: canary.labelled,
            primary_labelled: primary.labelled,
            limit,
            held,
        };
        let words = format!(
            "monitored {} {} vs primary {} (limit {}) over {}/{} labelled rows",
            check.metric,
            check.canary,
            check.primary,
            check.limit,
            check.canary_labelled,
            check.primary_labelled
        );
        if self.outcome == Outcome::Promoted {
            if held {
                self.reason = format!("{}; {words}", self.reason);
            } else {
                self.outcome = Outcome::RolledBack;
                self.reason = format!("{words}: the canary scores worse than the primary");
            }
        }
        self.performance = Some(check);
    }
}

/// A deployment's automatic roll-out: the canary in progress, and the last decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RolloutStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<RolloutDecision>,
}

impl RolloutStatus {
    pub fn is_empty(&self) -> bool {
        self.canary.is_none() && self.last.is_none()
    }
}

/// The decision rule, on the window's traffic of each side: promote when the canary answered at least
/// one request, its error rate is at most the primary's + [`ERROR_RATE_MARGIN`], and its p99 at most
/// max([`P99_FACTOR`] × the primary's, the primary's + [`P99_SLACK_MS`]); else roll back.
pub fn decide(
    run: &CanaryRun,
    primary: &Traffic,
    canary: &Traffic,
    now_ms: i64,
) -> RolloutDecision {
    let p = Side::of(run.primary_version, primary);
    let c = Side::of(run.version, canary);
    let max_error_rate = round6(p.error_rate + ERROR_RATE_MARGIN);
    let max_p99_ms = p
        .p99_ms
        .map(|p99| round3((p99 * P99_FACTOR).max(p99 + P99_SLACK_MS)));
    let fmt = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |x| format!("{x} ms"));
    let problem = if c.requests == 0 {
        Some("the canary answered no requests".to_owned())
    } else if c.error_rate > max_error_rate + 1e-12 {
        Some(format!(
            "canary error rate {:.4} ({}/{}) above {max_error_rate:.4} (primary {:.4} + {ERROR_RATE_MARGIN})",
            c.error_rate, c.errors, c.requests, p.error_rate
        ))
    } else {
        match (c.p99_ms, max_p99_ms) {
            (Some(cp), Some(max)) if cp > max => Some(format!(
                "canary p99 {} above {} (primary p99 {})",
                fmt(Some(cp)),
                fmt(Some(max)),
                fmt(p.p99_ms)
            )),
            _ => None,
        }
    };
    let (outcome, reason) = match problem {
        Some(why) => (Outcome::RolledBack, why),
        None => (
            Outcome::Promoted,
            format!(
                "canary error rate {:.4} <= {max_error_rate:.4} and p99 {} <= {} over {} requests",
                c.error_rate,
                fmt(c.p99_ms),
                fmt(max_p99_ms),
                c.requests
            ),
        ),
    };
    RolloutDecision {
        outcome,
        version: run.version,
        primary_version: run.primary_version,
        started_ms: run.started_ms,
        decided_ms: now_ms,
        canary: c,
        primary: p,
        max_error_rate,
        max_p99_ms,
        reason,
        performance: None,
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let p = RolloutPolicy::parse("canary:10%/15m", None).unwrap();
        assert_eq!(
            (p.weight, p.duration_ms, p.requests),
            (10, Some(900_000), None)
        );
        assert_eq!(p.candidate_alias, "candidate");
        assert_eq!(p.text(), "canary:10%/15m");
        let p = RolloutPolicy::parse("canary:50%/5s", Some("next")).unwrap();
        assert_eq!(
            (p.duration_ms, p.candidate_alias.as_str()),
            (Some(5000), "next")
        );
        assert_eq!(p.text(), "canary:50%/5s");
        let p = RolloutPolicy::parse("canary:1%/500req", None).unwrap();
        assert_eq!((p.requests, p.duration_ms), (Some(500), None));
        assert_eq!(p.text(), "canary:1%/500req");
        assert_eq!(
            RolloutPolicy::parse("canary:99%/2h", None).unwrap().text(),
            "canary:99%/2h"
        );
        assert_eq!(
            RolloutPolicy::parse("canary:5%/90s", None).unwrap().text(),
            "canary:5%/90s"
        );
        assert_eq!(
            RolloutPolicy::parse("canary:5%/1d", None)
                .unwrap()
                .duration_ms,
            Some(86_400_000)
        );
        for bad in [
            "",
            "blue-green:10%/5m",
            "canary:10/5m",
            "canary:0%/5m",
            "canary:100%/5m",
            "canary:10%",
            "canary:10%/5",
            "canary:10%/5y",
            "canary:10%/0s",
            "canary:10%/0req",
            "canary:10%/8d",
            "canary:x%/5m",
        ] {
            let err = RolloutPolicy::parse(bad, None).unwrap_err();
            assert!(err.to_string().contains("roll-out policy"), "{bad}: {err}");
        }
        assert!(RolloutPolicy::parse("canary:10%/5m", Some("a/b")).is_err());
    }

    #[test]
    fn due() {
        let p = RolloutPolicy::parse("canary:10%/5s", None).unwrap();
        assert!(!p.due(1000, 5999, 100) && p.due(1000, 6000, MIN_CANARY_REQUESTS));
        // Over its duration but short of traffic: it waits, up to PATIENCE durations.
        assert!(!p.due(1000, 6000, MIN_CANARY_REQUESTS - 1));
        assert!(p.due(1000, 1000 + 5000 * PATIENCE, 0));
        let p = RolloutPolicy::parse("canary:10%/3req", None).unwrap();
        assert!(!p.due(0, i64::MAX, 2) && p.due(0, 0, 3));
    }

    #[test]
    fn monitored_performance_can_veto_a_promotion() {
        let run = CanaryRun {
            version: 2,
            primary_version: 1,
            started_ms: 0,
            baseline_primary: Traffic::default(),
            baseline_canary: Traffic::default(),
        };
        let fine = traffic(100, 0, &[(500.0, 100)]);
        let score = |metric: &str, value: f64, labelled: u64| LiveScore {
            metric: metric.into(),
            value,
            labelled,
        };
        let mut d = decide(&run, &fine, &fine, 10);
        assert_eq!(d.outcome, Outcome::Promoted);
        // Too few labels: not part of the decision.
        d.judge_performance(&score("accuracy", 0.5, 5), &score("accuracy", 0.97, 50));
        assert_eq!(
            (d.outcome, d.performance.is_none()),
            (Outcome::Promoted, true)
        );
        d.judge_performance(&score("accuracy", 0.96, 30), &score("accuracy", 0.97, 50));
        assert_eq!(d.outcome, Outcome::Promoted);
        assert!(d.performance.as_ref().unwrap().held);
        d.judge_performance(&score("accuracy", 0.60, 30), &score("accuracy", 0.97, 50));
        assert_eq!(d.outcome, Outcome::RolledBack);
        assert!(
            d.reason.contains("monitored accuracy 0.6 vs primary 0.97"),
            "{}",
            d.reason
        );
        let mut d = decide(&run, &fine, &fine, 10);
        d.judge_performance(&score("mae", 1.2, 30), &score("mae", 1.0, 30));
        assert_eq!(d.outcome, Outcome::RolledBack);
        let mut d = decide(&run, &fine, &fine, 10);
        d.judge_performance(&score("mae", 1.05, 30), &score("mae", 1.0, 30));
        assert_eq!(d.outcome, Outcome::Promoted);
    }

    #[test]
    fn buckets() {
        assert_eq!(latency_bucket(5.0), 0);
        assert_eq!(latency_bucket(10.0), 0);
        assert_eq!(latency_bucket(11.0), 1);
        assert_eq!(latency_bucket(20.0), 4);
        assert_eq!(latency_bucket(1e12), LATENCY_BUCKETS - 1);
        for us in [15.0, 250.0, 1234.0, 98765.0] {
            let b = latency_bucket(us);
            assert!(
                bucket_upper_us(b) >= us && bucket_upper_us(b - 1) < us,
                "{us}"
            );
        }
    }

    fn traffic(requests: u64, errors: u64, latencies_us: &[(f64, u64)]) -> Traffic {
        let mut latency = vec![0; LATENCY_BUCKETS];
        for (us, n) in latencies_us {
            latency[latency_bucket(*us)] += n;
        }
        while latency.last() == Some(&0) {
            latency.pop();
        }
        Traffic {
            requests,
            errors,
            latency,
        }
    }

    #[test]
    fn windows_and_percentiles() {
        let ms = |us: f64| Some(round3(bucket_upper_us(latency_bucket(us)) / 1000.0));
        let t = traffic(100, 0, &[(1000.0, 98), (2000.0, 2)]);
        assert_eq!(t.p99_ms(), ms(2000.0));
        let t = traffic(100, 0, &[(1000.0, 99), (8000.0, 1)]);
        assert_eq!(t.p99_ms(), ms(1000.0));
        assert!((1.0..1.2).contains(&t.p99_ms().unwrap()));
        assert_eq!(Traffic::default().p99_ms(), None);
        let base = traffic(10, 1, &[(1000.0, 10)]);
        let now = traffic(30, 2, &[(1000.0, 25), (4000.0, 5)]);
        let w = now.since(&base);
        assert_eq!((w.requests, w.errors), (20, 1));
        assert_eq!(w.latency.iter().sum::<u64>(), 20);
        // A restarted process counts from zero: all of it is in the window.
        let restarted = traffic(3, 0, &[(1000.0, 3)]);
        assert_eq!(restarted.since(&base), restarted);
    }

    fn run() -> CanaryRun {
        CanaryRun {
            version: 2,
            primary_version: 1,
            started_ms: 0,
            baseline_primary: Traffic::default(),
            baseline_canary: Traffic::default(),
        }
    }

    #[test]
    fn the_decision_rule() {
        let primary = traffic(100, 1, &[(10_000.0, 100)]);
        let p99 = primary.p99_ms().unwrap();
        // As good: promoted.
        let d = decide(&run(), &primary, &traffic(50, 1, &[(10_000.0, 50)]), 9);
        assert_eq!(d.outcome, Outcome::Promoted, "{}", d.reason);
        assert_eq!((d.canary.requests, d.primary.requests), (50, 100));
        assert_eq!(d.max_error_rate, 0.02);
        assert_eq!(d.max_p99_ms, Some((p99 * 1.25).max(p99 + 5.0)));
        assert_eq!((d.version, d.primary_version, d.decided_ms), (2, 1, 9));
        // Error rate 0.02 is at the margin (0.01 + 0.01): promoted; 0.03 is not.
        let d = decide(&run(), &primary, &traffic(100, 2, &[(10_000.0, 100)]), 0);
        assert_eq!(d.outcome, Outcome::Promoted, "{}", d.reason);
        let d = decide(&run(), &primary, &traffic(100, 3, &[(10_000.0, 100)]), 0);
        assert_eq!(d.outcome, Outcome::RolledBack);
        assert!(d.reason.contains("error rate"), "{}", d.reason);
        // Much slower: rolled back.
        let d = decide(&run(), &primary, &traffic(100, 0, &[(100_000.0, 100)]), 0);
        assert_eq!(d.outcome, Outcome::RolledBack);
        assert!(d.reason.contains("p99"), "{}", d.reason);
        // A fast primary: the 5 ms slack applies (1 ms primary, 5 ms canary is fine).
        let fast = traffic(100, 0, &[(1000.0, 100)]);
        let d = decide(&run(), &fast, &traffic(100, 0, &[(5000.0, 100)]), 0);
        assert_eq!(d.outcome, Outcome::Promoted, "{}", d.reason);
        // No requests to the canary: rolled back.
        let d = decide(&run(), &primary, &Traffic::default(), 0);
        assert_eq!(d.outcome, Outcome::RolledBack);
        assert!(d.reason.contains("no requests"));
        // No primary traffic to compare latency with: errors alone decide.
        let d = decide(
            &run(),
            &Traffic::default(),
            &traffic(10, 0, &[(500_000.0, 10)]),
            0,
        );
        assert_eq!(d.outcome, Outcome::Promoted, "{}", d.reason);
        assert_eq!(d.max_p99_ms, None);
    }
}

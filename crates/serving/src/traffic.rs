//! Live traffic counters per (deployment, model version), for the automatic canary promotion of
//! `cairn server`'s controller: requests, errors (5xx: model failures) and a latency histogram in fixed
//! log buckets ([`cairn_domain::rollout::LATENCY_BUCKETS`]). Counting is lock-free — atomics held by
//! each endpoint's routing; the process-wide table is locked only when a routing is built and when the
//! controller reads. Counters live as long as the process (they never go down).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cairn_domain::rollout::{LATENCY_BUCKETS, Traffic, latency_bucket};

/// One deployment version's counters.
pub struct VersionStats {
    requests: AtomicU64,
    errors: AtomicU64,
    latency: [AtomicU64; LATENCY_BUCKETS],
}

impl VersionStats {
    fn new() -> Self {
        VersionStats {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Counts one request that answered `status` after `elapsed`.
    pub fn record(&self, status: u16, elapsed: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if status >= 500 {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let bucket = latency_bucket(elapsed.as_secs_f64() * 1e6);
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Traffic {
        let mut latency: Vec<u64> = self
            .latency
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect();
        while latency.last() == Some(&0) {
            latency.pop();
        }
        Traffic {
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            latency,
        }
    }
}

type Table = Mutex<HashMap<(String, String), Arc<VersionStats>>>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(Table::default)
}

/// The counters of `deployment`'s `version` (created at first use).
pub fn counters(deployment: &str, version: &str) -> Arc<VersionStats> {
    let mut t = table().lock().unwrap_or_else(|p| p.into_inner());
    t.entry((deployment.to_owned(), version.to_owned()))
        .or_insert_with(|| Arc::new(VersionStats::new()))
        .clone()
}

/// What `deployment`'s `version` has served in this process so far (zeros when nothing).
pub fn traffic(deployment: &str, version: i64) -> Traffic {
    let t = table().lock().unwrap_or_else(|p| p.into_inner());
    t.get(&(deployment.to_owned(), version.to_string()))
        .map(|s| s.snapshot())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        let s = counters("traffic-test", "1");
        s.record(200, Duration::from_millis(2));
        s.record(500, Duration::from_millis(3));
        s.record(400, Duration::from_micros(5));
        let t = traffic("traffic-test", 1);
        assert_eq!((t.requests, t.errors), (3, 1));
        assert_eq!(t.latency.iter().sum::<u64>(), 3);
        assert!(t.p99_ms().unwrap() >= 3.0);
        assert_eq!(traffic("traffic-test", 2), Traffic::default());
    }
}

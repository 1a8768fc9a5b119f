//! Cron triggers' slots, in the trigger's time zone (UTC when none is given), so `0 3 * * *` in
//! `Europe/Berlin` is 03:00 Berlin time on both sides of a daylight-saving change.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// A parsed cron expression and its zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    cron: Cron,
    tz: Tz,
}

/// Bounded: a per-second schedule over a day is 86 400 steps.
const MAX_STEPS: usize = 200_000;

impl CronSchedule {
    /// Five fields, or six with seconds; an IANA zone name.
    pub fn new(expr: &str, timezone: Option<&str>) -> Result<Self, String> {
        let cron = expr.parse::<Cron>().map_err(|e| {
            format!(
                "invalid cron '{expr}': {e} (expected e.g. '0 3 * * *', or six fields with seconds)"
            )
        })?;
        let tz = match timezone {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| {
                format!("unknown time zone '{name}' (expected an IANA name such as Europe/Berlin)")
            })?,
        };
        Ok(Self { cron, tz })
    }

    /// The first slot strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let at = self
            .tz
            .from_utc_datetime(&DateTime::<Utc>::from_timestamp_millis(after_ms)?.naive_utc());
        self.cron
            .find_next_occurrence(&at, false)
            .ok()
            .map(|t| t.timestamp_millis())
    }

    /// The latest slot after `after_ms` and at or before `now_ms`, if one is due.
    pub fn latest_due(&self, after_ms: i64, now_ms: i64) -> Option<i64> {
        let mut at = after_ms;
        let mut due = None;
        for _ in 0..MAX_STEPS {
            match self.next_after(at) {
                Some(next) if next <= now_ms => {
                    due = Some(next);
                    at = next;
                }
                _ => break,
            }
        }
        due
    }
}

/// A slot as an RFC 3339 UTC time (`2026-12-07T03:00:00Z`).
pub fn slot_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::CronSchedule;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;

    #[test]
    fn the_latest_due_slot() {
        let s = CronSchedule::new("*/5 * * * *", None).unwrap();
        assert_eq!(s.latest_due(0, 17 * MIN), Some(15 * MIN));
        assert_eq!(s.latest_due(15 * MIN, 17 * MIN), None);
        assert_eq!(s.next_after(15 * MIN), Some(20 * MIN));
        let every_2s = CronSchedule::new("*/2 * * * * *", None).unwrap();
        assert_eq!(every_2s.next_after(1000), Some(2000));
    }

    #[test]
    fn slots_in_the_trigger_zone() {
        // 1970-01-01 03:00 in Berlin (UTC+1 in winter) is 02:00 UTC.
        let s = CronSchedule::new("0 3 * * *", Some("Europe/Berlin")).unwrap();
        assert_eq!(s.next_after(0), Some(2 * HOUR));
        assert!(CronSchedule::new("0 3 * * *", Some("Mars/Olympus")).is_err());
        assert!(CronSchedule::new("every day", None).is_err());
    }
}

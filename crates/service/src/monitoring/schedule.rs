//! Scheduled evaluation: a monitor with a cron schedule is evaluated once per slot. A server that finds a
//! slot due evaluates it; the store keeps one snapshot per (monitor, slot), so several servers on one
//! database evaluate each slot once. Missed slots are not replayed: only the latest due one runs.

use chrono::{DateTime, Utc};
use croner::Cron;

use crate::{ServiceError, ServiceResult};

/// Checks a cron expression (five fields, or six with seconds).
pub(super) fn parse(expr: &str) -> ServiceResult<Cron> {
    expr.parse::<Cron>().map_err(|e| {
        ServiceError::InvalidArgument(format!(
            "invalid schedule '{expr}': {e} (expected a cron expression such as '*/5 * * * *')"
        ))
    })
}

/// The latest slot of `expr` after `after_ms` and at or before `now_ms`, if one is due.
pub fn next_slot(expr: &str, after_ms: i64, now_ms: i64) -> Option<i64> {
    let cron = parse(expr).ok()?;
    let mut at: DateTime<Utc> = DateTime::from_timestamp_millis(after_ms)?;
    let mut due = None;
    // Bounded: a per-second schedule left alone for a day is 86 400 steps.
    for _ in 0..200_000 {
        let next = cron.find_next_occurrence(&at, false).ok()?;
        if next.timestamp_millis() > now_ms {
            break;
        }
        due = Some(next.timestamp_millis());
        at = next;
    }
    due
}

#[cfg(test)]
mod tests {
    use super::next_slot;

    const MIN: i64 = 60_000;

    #[test]
    fn the_latest_due_slot_only() {
        // Every 5 minutes; last evaluated at 00:00, now 00:17 → the 00:15 slot (00:05, 00:10 skipped).
        assert_eq!(next_slot("*/5 * * * *", 0, 17 * MIN), Some(15 * MIN));
        // Nothing due yet.
        assert_eq!(next_slot("*/5 * * * *", 15 * MIN, 17 * MIN), None);
        assert_eq!(next_slot("not a cron", 0, 17 * MIN), None);
    }
}

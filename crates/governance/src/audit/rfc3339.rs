//! Millisecond UTC timestamps as RFC 3339 text (`2026-12-07T19:00:00.123Z`) for checkpoint notes, without
//! a date library: days ↔ civil dates by Howard Hinnant's algorithms (proleptic Gregorian).

use super::AuditError;

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `ms` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_ms(ms: i64) -> String {
    let (year, month, day) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (h, m, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// The inverse of [`format_ms`]. Also accepts no or 1–9 fractional digits (truncated to milliseconds),
/// but only UTC (`Z`): checkpoints are always written in UTC.
pub fn parse_ms(text: &str) -> Result<i64, AuditError> {
    let bad =
        |reason: &str| AuditError::format("RFC 3339 timestamp", format!("{text:?}: {reason}"));
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad("expected YYYY-MM-DDTHH:MM:SSZ"));
    }
    let num = |range: std::ops::Range<usize>| -> Result<i64, AuditError> {
        let digits = &b[range];
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad("expected digits"));
        }
        Ok(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let month = u32::try_from(month).map_err(|_| bad("month out of range"))?;
    let day = u32::try_from(day).map_err(|_| bad("day out of range"))?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(bad("no such date"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad("no such time of day"));
    }
    let rest = &b[19..];
    let (fraction, zone) = match rest.first() {
        Some(b'.') => {
            let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if !(1..=9).contains(&digits) {
                return Err(bad("expected 1 to 9 fractional digits"));
            }
            let mut milli = num(20..20 + digits.min(3))?;
            for _ in digits..3 {
                milli *= 10;
            }
            (milli, &rest[1 + digits..])
        }
        _ => (0, rest),
    };
    if zone != b"Z" {
        return Err(bad("expected a UTC time ending in Z"));
    }
    let days = days_from_civil(year, month, day);
    Ok(days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_ms(1_709_164_800_000), "2024-02-29T00:00:00.000Z");
        assert_eq!(format_ms(4_107_553_200_123), "2100-03-01T03:00:00.123Z");
        assert_eq!(format_ms(1_798_761_599_999), "2026-12-31T23:59:59.999Z");
        assert_eq!(format_ms(1_796_670_000_123), "2026-12-07T19:00:00.123Z");
        assert_eq!(format_ms(4_107_456_000_000), "2100-02-28T00:00:00.000Z");
        assert_eq!(format_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_ms(-11_644_473_600_000), "1601-01-01T00:00:00.000Z");
    }

    #[test]
    fn parses_what_it_formats_and_rejects_impossible_dates() {
        for ms in [
            0,
            -1,
            951_782_400_000,
            1_796_670_000_123,
            4_107_553_200_123,
            253_402_300_799_999,
        ] {
            assert_eq!(parse_ms(&format_ms(ms)).unwrap(), ms);
        }
        // Every day across several years, including 1900 (not leap) and 2000 (leap).
        let start = days_from_civil(1899, 1, 1);
        for days in start..start + 365 * 203 {
            let (y, m, d) = civil_from_days(days);
            assert!(d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(parse_ms("2026-12-07T19:00:00Z").unwrap(), 1_796_670_000_000);
        assert_eq!(
            parse_ms("2026-12-07T19:00:00.1Z").unwrap(),
            1_796_670_000_100
        );
        assert_eq!(
            parse_ms("2026-12-07T19:00:00.123456Z").unwrap(),
            1_796_670_000_123
        );
        for bad in [
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-07T24:00:00Z",
            "2026-12-07T19:00:00+01:00",
            "2026-12-07T19:00:00.Z",
            "2026-12-07 19:00:00Z",
            "2026-12-07",
            "２026-12-07T19:00:00Z",
        ] {
            assert!(parse_ms(bad).is_err(), "{bad}");
        }
        assert!(parse_ms("2000-02-29T00:00:00Z").is_ok());
    }
}

//! Timestamps as microseconds since the Unix epoch, parsed from and written to
//! the RFC 3339 forms EVE lines use (`2026-11-28T18:07:26.864895+0000`).

use std::time::{SystemTime, UNIX_EPOCH};

use otwatch_proto::civil::{civil_from_days, days_from_civil};

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Days in `month` (1–12) of `year` (proleptic Gregorian).
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = s.get(at..at + n)?;
    let mut v = 0u32;
    for &b in part {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

/// Parses an RFC 3339 timestamp (`Z`, `+hh:mm` or `+hhmm` offsets, any number
/// of fraction digits) into microseconds since the epoch. Times before 1970
/// and dates that do not exist (February 30, April 31, February 29 of a
/// common year) are refused.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let min = digits(b, 14, 2)?;
    let sec = digits(b, 17, 2)?;
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return None;
    }
    let mut i = 19;
    let mut micros = 0u64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                micros = micros * 10 + u64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..6 {
            micros *= 10;
        }
    }
    let offset_secs: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)?;
            let rest = &b[i + 3..];
            let om = match rest {
                [b':', ..] if rest.len() == 3 => digits(b, i + 4, 2)?,
                _ if rest.len() == 2 => digits(b, i + 3, 2)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let v = i64::from(oh * 3600 + om * 60);
            if sign == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + min * 60 + sec) - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    Some(secs * 1_000_000 + micros)
}

fn split(micros: u64) -> (i64, u32, u32, u64, u64, u64, u64) {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60, frac)
}

/// Formats as EVE does: `2026-11-28T18:07:26.864895+0000`.
pub fn format_eve(micros: u64) -> String {
    let (y, m, d, hh, mm, ss, frac) = split(micros);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac:06}+0000")
}

/// Formats as RFC 3339 / RFC 5424 want it: `2026-11-28T18:07:26.864895Z`.
pub fn format_rfc3339(micros: u64) -> String {
    let (y, m, d, hh, mm, ss, frac) = split(micros);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac:06}Z")
}

/// Parses a query-string time: RFC 3339, or an integer number of seconds
/// since the epoch.
pub fn parse_query_time(s: &str) -> Option<u64> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().ok()?.checked_mul(1_000_000);
    }
    parse_rfc3339(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_eve_timestamps() {
        let t = parse_rfc3339("2026-11-28T18:07:26.864895+0000");
        assert_eq!(t, Some(1_795_889_246_864_895));
        assert_eq!(parse_rfc3339("2026-11-28T19:07:26.864895+01:00"), t);
        assert_eq!(parse_rfc3339("2026-11-28T18:07:26.864895Z"), t);
        assert_eq!(parse_rfc3339("2026-11-28T18:07:26.8648951Z"), t);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        // Leap days of leap years are real days.
        assert_eq!(
            parse_rfc3339("2028-02-29T00:00:00Z"),
            Some(1_835_395_200_000_000)
        );
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00Z"),
            Some(951_782_400_000_000)
        );
        assert_eq!(
            parse_rfc3339("2026-12-31T23:59:59Z"),
            Some(1_798_761_599_000_000)
        );
    }

    #[test]
    fn query_times_refuse_impossible_dates() {
        assert_eq!(parse_query_time("2026-02-30T12:00:00Z"), None);
        assert_eq!(parse_query_time("2026-02-30"), None);
        assert_eq!(
            parse_query_time("2026-02-28T12:00:00Z"),
            Some(1_772_280_000_000_000)
        );
    }

    #[test]
    fn refuses_malformed_timestamps() {
        for bad in [
            "",
            "2026-11-28",
            "2026-11-28T18:07:26",
            "2026-13-28T18:07:26Z",
            "2026-11-28T18:07:26.Z",
            "2026-11-28T18:07:26+000",
            "2026-11-28T18:07:26Zjunk",
            "1969-12-31T23:59:59Z",
            "２026-11-28T18:07:26Z",
            // Days that do not exist: they used to become March 2 / May 1.
            "2026-02-30T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-00T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        let t = 1_795_889_246_864_895;
        assert_eq!(format_eve(t), "2026-11-28T18:07:26.864895+0000");
        assert_eq!(format_rfc3339(t), "2026-11-28T18:07:26.864895Z");
        assert_eq!(parse_rfc3339(&format_eve(t)), Some(t));
        assert_eq!(parse_query_time("1795889246"), Some(1_795_889_246_000_000));
    }
}

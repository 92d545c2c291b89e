//! RFC 3339 timestamps (UTC) without a date-time dependency: only formatting is needed.

use crate::capture::Nanos;

/// `2026-11-20T10:00:00.123456Z` (microseconds, like Zeek and tshark print them). Written digit
/// by digit: two per flow log line, and `format!` padding costs more than the rest of the line.
pub fn rfc3339_micros(ns: Nanos) -> String {
    let secs = ns / 1_000_000_000;
    let micros = (ns % 1_000_000_000) / 1_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y.clamp(0, 9999) as u64);
    put(5, 2, u64::from(m));
    put(8, 2, u64::from(d));
    put(11, 2, rem / 3600);
    put(14, 2, (rem / 60) % 60);
    put(17, 2, rem % 60);
    put(20, 6, micros);
    b.iter().map(|&c| c as char).collect()
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp as [`rfc3339_micros`] writes it
/// (`YYYY-MM-DDTHH:MM:SS...Z`); `None` for anything else (a saved report may hold anything).
pub fn parse_rfc3339_secs(s: &str) -> Option<u64> {
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips() {
        for ns in [
            0u64,
            1_700_000_000_123_456_000,
            951_782_400_000_000_000,
            4_102_444_799_000_000_000,
        ] {
            assert_eq!(
                parse_rfc3339_secs(&rfc3339_micros(ns)),
                Some(ns / 1_000_000_000),
                "{ns}"
            );
        }
        assert_eq!(parse_rfc3339_secs("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_secs("<script>"), None);
    }

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        // 2026-11-20T10:00:00.123456Z
        assert_eq!(
            rfc3339_micros(1_763_632_800_123_456_789 + 365 * 86_400 * 1_000_000_000),
            "2026-11-20T10:00:00.123456Z"
        );
        // Leap day.
        assert_eq!(
            rfc3339_micros(951_782_400 * 1_000_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
    }
}

//! Timestamps as logs write them: Zeek's epoch seconds with a fraction (`1300475167.096535`),
//! and ISO 8601 with an offset (Suricata's `2024-03-04T07:58:06.252888+0000`, Zeek JSON's
//! ISO8601 mode `2024-03-04T07:58:06.252888Z`). Parsed exactly (no floating point).

use crate::capture::Nanos;

/// `secs.frac` (up to 9 fraction digits kept) to nanoseconds; `None` for anything else,
/// including Zeek's masked `XXXXXXXXXX.XXXXXX` and negative times.
pub fn epoch(s: &str) -> Option<Nanos> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || int.len() > 12 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = int.parse().ok()?;
    let mut ns: u64 = 0;
    for i in 0..9 {
        ns = ns * 10 + frac.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
    }
    secs.checked_mul(1_000_000_000)?.checked_add(ns)
}

/// Seconds (Zeek `interval`, e.g. `0.000435`) to nanoseconds.
pub fn interval(s: &str) -> Option<Nanos> {
    epoch(s)
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HHMM|±HH:MM)` to nanoseconds since the epoch (UTC).
pub fn iso8601(s: &str) -> Option<Nanos> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(d).ok()?.parse().ok()
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' '))
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ns: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let mut digits = 0;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if digits < 9 {
                ns = ns * 10 + i64::from(c - b'0');
            }
            digits += 1;
            i += 1;
        }
        for _ in digits..9 {
            ns *= 10;
        }
    }
    let offset: i64 = match b.get(i) {
        None | Some(b'Z' | b'z') => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(i + 1..i + 3)?;
            let om = if b.get(i + 3) == Some(&b':') {
                num(i + 4..i + 6)?
            } else {
                num(i + 3..i + 5).unwrap_or(0)
            };
            let o = oh * 3600 + om * 60;
            if sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    if secs < 0 {
        return None;
    }
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(ns as u64)
}

/// Howard Hinnant's days_from_civil.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::time::rfc3339_micros;

    #[test]
    fn epoch_is_exact_and_rejects_masks() {
        assert_eq!(epoch("1300475167.096535"), Some(1_300_475_167_096_535_000));
        assert_eq!(epoch("12"), Some(12_000_000_000));
        assert_eq!(epoch("XXXXXXXXXX.XXXXXX"), None);
        assert_eq!(epoch("-1.5"), None);
        assert_eq!(epoch(""), None);
    }

    #[test]
    fn iso8601_offsets() {
        let z = iso8601("2024-03-04T07:58:06.252888Z").unwrap();
        assert_eq!(rfc3339_micros(z), "2024-03-04T07:58:06.252888Z");
        assert_eq!(iso8601("2024-03-04T07:58:06.252888+0000"), Some(z));
        assert_eq!(iso8601("2024-03-04T08:58:06.252888+01:00"), Some(z));
        assert_eq!(iso8601("2024-03-04T06:58:06.252888-0100"), Some(z));
        assert_eq!(iso8601("2024-13-04T06:58:06Z"), None);
        assert_eq!(iso8601("garbage"), None);
    }

    proptest::proptest! {
        #[test]
        fn iso8601_inverts_formatting(ns in 0u64..4_000_000_000_000_000_000) {
            let us = ns / 1000 * 1000;
            proptest::prop_assert_eq!(iso8601(&rfc3339_micros(us)), Some(us));
        }

        #[test]
        fn parsers_never_panic(s in ".{0,40}") {
            let _ = epoch(&s);
            let _ = iso8601(&s);
        }
    }
}

//! Go's `time.ParseDuration`, as Docker's duration flags take them
//! (`--health-interval 1m30s`, `200ms`, `1.5h`, `-2s`), to nanoseconds, and
//! `Duration.String()` back.

/// A duration text Go would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time: invalid duration {}", crate::untrusted::Escaped(.0))]
pub struct BadDuration(pub String);

/// Nanoseconds in one of Go's units.
fn unit_nanos(unit: &str) -> Option<i128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// `[-+]` then one or more `NUMBER UNIT` (`0` alone needs no unit), in
/// nanoseconds; fractions below a nanosecond are dropped as Go drops them.
pub fn parse_go_duration(text: &str) -> Result<i64, BadDuration> {
    let bad = || BadDuration(text.to_string());
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if body == "0" {
        return Ok(0);
    }
    if body.is_empty() {
        return Err(bad());
    }
    let mut total: i128 = 0;
    let mut rest = body;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let (number, after) = rest.split_at(digits_end);
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(bad());
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale = unit_nanos(unit).ok_or_else(bad)?;
        let whole_n: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let mut part = whole_n.checked_mul(scale).ok_or_else(bad)?;
        // Each fractional digit is a tenth of the one before it.
        let mut place = scale;
        for d in frac.bytes() {
            place /= 10;
            part += i128::from(d - b'0') * place;
        }
        total = total.checked_add(part).ok_or_else(bad)?;
        if total > i128::from(i64::MAX) {
            return Err(bad());
        }
        rest = next;
    }
    let total = total as i64;
    Ok(if negative { -total } else { total })
}

/// `n` in units of `unit` nanoseconds as Go prints it: the whole part,
/// then the fraction without trailing zeros (`1.5`, `200`).
fn with_fraction(n: u128, unit: u128) -> String {
    let whole = n / unit;
    let frac = n % unit;
    if frac == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Go's `time.Duration.String()`: `0s`, `200ms`, `1.5µs`, `1m30s`, `1h0m0s`.
pub fn format_go_duration(d: std::time::Duration) -> String {
    let n = d.as_nanos();
    const SECOND: u128 = 1_000_000_000;
    if n == 0 {
        return "0s".into();
    }
    if n < SECOND {
        let (unit, name) = match n {
            0..1_000 => (1, "ns"),
            1_000..1_000_000 => (1_000, "µs"),
            _ => (1_000_000, "ms"),
        };
        return format!("{}{name}", with_fraction(n, unit));
    }
    let hours = n / (3600 * SECOND);
    let minutes = n / (60 * SECOND) % 60;
    let seconds = with_fraction(n % (60 * SECOND), SECOND);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ok = |s: &str| parse_go_duration(s).unwrap();
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("200ms"), 200_000_000);
        assert_eq!(ok("1m30s"), 90_000_000_000);
        assert_eq!(ok("1.5h"), 5_400_000_000_000);
        assert_eq!(ok("-2s"), -2_000_000_000);
        assert_eq!(ok("+3us"), 3_000);
        assert_eq!(ok("10µs"), 10_000);
        assert_eq!(ok(".5s"), 500_000_000);
        assert_eq!(ok("1.000000001s"), 1_000_000_001);
        assert_eq!(ok("2h45m0.5s"), 9_900_500_000_000);
        for bad in ["", "5", "1d", "s", "1..2s", "-", "ms5", ".s", "9999999999h"] {
            assert_eq!(
                parse_go_duration(bad),
                Err(BadDuration(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn go_duration_strings() {
        use std::time::Duration;
        let f = |ns: u64| format_go_duration(Duration::from_nanos(ns));
        assert_eq!(f(0), "0s");
        assert_eq!(f(5), "5ns");
        assert_eq!(f(1_500), "1.5µs");
        assert_eq!(f(200_000_000), "200ms");
        assert_eq!(f(1_500_000_000), "1.5s");
        assert_eq!(f(30_000_000_000), "30s");
        assert_eq!(f(90_000_000_000), "1m30s");
        assert_eq!(f(3_600_000_000_000), "1h0m0s");
        assert_eq!(f(3_661_250_000_000), "1h1m1.25s");
    }
}

//! Times as Docker prints them (RFC 3339 in UTC) and parses them
//! (`--since 90s`), over the calendar of `civil_time`.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::civil_time::date_and_time;

/// Unix time in seconds.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Unix time in nanoseconds.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// RFC 3339 (UTC) of Unix seconds, as Docker shows times; Go's zero time
/// for 0 and before.
pub fn rfc3339(secs: i64) -> String {
    if secs <= 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    let (date, time) = date_and_time(secs);
    format!("{date}T{time}Z")
}

/// RFC 3339 with nanoseconds (UTC) of a Unix time in nanoseconds.
pub fn rfc3339_nanos(nanos: i64) -> String {
    let frac = nanos.rem_euclid(1_000_000_000);
    let (date, time) = date_and_time(nanos.div_euclid(1_000_000_000));
    format!("{date}T{time}.{frac:09}Z")
}

/// A `--since` value that is neither Unix seconds nor a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for \"since\": {}", crate::untrusted::Escaped(.0))]
pub struct BadSince(pub String);

/// `--since`: Unix seconds (`1700000000.5`), or a duration before `now`
/// (`90s`, `5m`, `2h`); Unix nanoseconds.
pub fn parse_since(s: &str, now_nanos: i64) -> Result<i64, BadSince> {
    if let Ok(secs) = s.parse::<f64>() {
        return Ok((secs * 1e9) as i64);
    }
    let bad = || BadSince(s.to_string());
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return Err(bad()),
    };
    Ok(now_nanos - (n * mult) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(rfc3339(0), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(1_764_504_000 + 3_723), "2025-11-30T13:02:03Z");
        assert_eq!(
            rfc3339_nanos(1_764_504_000_000_000_007),
            "2025-11-30T12:00:00.000000007Z"
        );
        assert_eq!(rfc3339_nanos(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(rfc3339_nanos(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339_nanos(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
    }

    #[test]
    fn since_values() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_since("12.5", now), Ok(12_500_000_000));
        assert_eq!(parse_since("90s", now), Ok(now - 90_000_000_000));
        assert_eq!(parse_since("2m", now), Ok(now - 120_000_000_000));
        assert_eq!(parse_since("1h", now), Ok(now - 3_600_000_000_000));
        for bad in ["", "5d", "xs", "h"] {
            assert_eq!(parse_since(bad, now), Err(BadSince(bad.into())), "{bad:?}");
        }
    }
}

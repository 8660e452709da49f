//! Calendar dates of Unix times in UTC, without a date library: RFC 3339
//! for state files and logs.

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), by Howard
/// Hinnant's civil-from-days algorithm (proleptic Gregorian calendar).
pub fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// "YYYY-MM-DDTHH:MM:SS" of Unix seconds, UTC, without fraction or zone.
fn date_time(secs: i64) -> String {
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// RFC 3339 UTC with nanoseconds: `2024-03-01T00:00:00.000000005Z`.
pub fn rfc3339_nanos(secs: i64, nanos: u32) -> String {
    format!("{}.{nanos:09}Z", date_time(secs))
}

/// RFC 3339 UTC with microseconds: `2024-02-29T12:34:56.789000Z`.
pub fn rfc3339_micros(secs: i64, micros: u32) -> String {
    format!("{}.{micros:06}Z", date_time(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_around_the_epoch_leap_days_and_centuries() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(-1), (1969, 12, 31));
        assert_eq!(civil(11_016), (2000, 2, 29));
        assert_eq!(civil(47_541), (2100, 3, 1));
        assert_eq!(civil(20_513), (2026, 3, 1));
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(rfc3339_nanos(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339_nanos(1_709_251_200, 5),
            "2024-03-01T00:00:00.000000005Z"
        );
        assert_eq!(
            rfc3339_micros(1_709_210_096, 789_000),
            "2024-02-29T12:34:56.789000Z"
        );
        assert_eq!(rfc3339_micros(-1, 0), "1969-12-31T23:59:59.000000Z");
    }
}

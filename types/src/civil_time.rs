//! Calendar dates of Unix times in UTC, for the time formats hull prints
//! (RFC 3339 in logs and `inspect`, Go's time.String in `ps`, `top`'s
//! start dates) without a date library.

pub use hull_linux::civil::civil;

/// Unix seconds → "YYYY-MM-DD" and "HH:MM:SS" in UTC.
pub fn date_and_time(secs: i64) -> (String, String) {
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_around_epoch_leap_days_and_centuries() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(-1), (1969, 12, 31));
        assert_eq!(civil(11_016), (2000, 2, 29));
        assert_eq!(civil(20_513), (2026, 3, 1));
        assert_eq!(
            date_and_time(1_764_504_000 + 3_723),
            ("2025-11-30".to_string(), "13:02:03".to_string())
        );
    }
}

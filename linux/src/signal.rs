//! Signal names and numbers as users write them (`kill -s`, stop signals).

use nix::sys::signal::Signal;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown signal {0:?}")]
pub struct UnknownSignal(pub String);

/// `TERM`, `SIGTERM`, `sigterm` or `15` → the signal; `0` → None (a kill
/// that only checks that the process exists).
pub fn parse(s: &str) -> Result<Option<Signal>, UnknownSignal> {
    let bad = || UnknownSignal(s.to_string());
    if let Ok(n) = s.parse::<i32>() {
        if n == 0 {
            return Ok(None);
        }
        return Signal::try_from(n).map(Some).map_err(|_| bad());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map(Some).map_err(|_| bad())
}

/// Real-time signals end here (SIGRTMAX on Linux).
const MAX_SIGNAL: u32 = 64;

/// `KILL`, `SIGKILL`, `kill` or a number 1–64 (real-time signals included,
/// which have no name) → the signal's number; 0 and names nobody knows are
/// refused.
pub fn number(s: &str) -> Result<u32, UnknownSignal> {
    if let Ok(n) = s.parse::<u32>() {
        return if (1..=MAX_SIGNAL).contains(&n) {
            Ok(n)
        } else {
            Err(UnknownSignal(s.to_string()))
        };
    }
    match parse(s)? {
        Some(sig) => Ok(sig as i32 as u32),
        None => Err(UnknownSignal(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_names_and_real_time_signals() {
        assert_eq!(number("KILL"), Ok(9));
        assert_eq!(number("SIGTERM"), Ok(15));
        assert_eq!(number("usr2"), Ok(12));
        assert_eq!(number("40"), Ok(40));
        assert!(number("0").is_err());
        assert!(number("65").is_err());
        assert!(number("NOPE").is_err());
    }

    #[test]
    fn names_numbers_and_zero() {
        assert_eq!(parse("TERM"), Ok(Some(Signal::SIGTERM)));
        assert_eq!(parse("sigkill"), Ok(Some(Signal::SIGKILL)));
        assert_eq!(parse("SIGHUP"), Ok(Some(Signal::SIGHUP)));
        assert_eq!(parse("10"), Ok(Some(Signal::SIGUSR1)));
        assert_eq!(parse("0"), Ok(None));
    }

    #[test]
    fn unknown_ones_are_named() {
        assert_eq!(parse("NOPE"), Err(UnknownSignal("NOPE".into())));
        assert_eq!(
            parse("99").unwrap_err().to_string(),
            "unknown signal \"99\""
        );
        assert!(parse("").is_err());
    }
}

//! Healthchecks as Docker runs them: the configuration (the image's
//! HEALTHCHECK overridden field by field by `hull run --health-*`), and the
//! state a container's results make (`starting` → `healthy`/`unhealthy`,
//! the failing streak, the last five results). The monitor that runs the
//! checks as execs in the task is `health/monitor.rs`.

mod monitor;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::images::Healthcheck;
pub use monitor::watch;

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

/// Docker's defaults for a field left at 0.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_RETRIES: u32 = 3;
/// Results kept in the log, and bytes of output kept per result.
pub const MAX_LOG: usize = 5;
pub const MAX_OUTPUT: usize = 4096;
/// The shortest interval, timeout or start period Docker accepts.
const MIN_DURATION_NANOS: i64 = 1_000_000;

/// Why a healthcheck configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} in Healthcheck cannot be less than 1ms")]
    TooShort(&'static str),
    #[error("Retries in Healthcheck cannot be negative")]
    NegativeRetries,
    #[error("unknown Healthcheck type {0:?} (want CMD, CMD-SHELL or NONE)")]
    UnknownKind(String),
}

/// The user's healthcheck over the image's, field by field (Docker's
/// merge): an unset field (empty test, 0) takes the image's.
pub fn merge(user: Option<&Healthcheck>, image: Option<&Healthcheck>) -> Option<Healthcheck> {
    let (user, image) = match (user, image) {
        (None, None) => return None,
        (None, Some(i)) => return Some(i.clone()),
        (Some(u), None) => return Some(u.clone()),
        (Some(u), Some(i)) => (u, i),
    };
    let pick = |u: i64, i: i64| if u == 0 { i } else { u };
    Some(Healthcheck {
        test: if user.test.is_empty() {
            image.test.clone()
        } else {
            user.test.clone()
        },
        interval: pick(user.interval, image.interval),
        timeout: pick(user.timeout, image.timeout),
        start_period: pick(user.start_period, image.start_period),
        retries: if user.retries == 0 {
            image.retries
        } else {
            user.retries
        },
    })
}

/// Docker's checks on a configuration given through the API.
pub fn validate(h: &Healthcheck) -> Result<(), ConfigError> {
    for (name, v) in [
        ("Interval", h.interval),
        ("Timeout", h.timeout),
        ("StartPeriod", h.start_period),
    ] {
        if v != 0 && v < MIN_DURATION_NANOS {
            return Err(ConfigError::TooShort(name));
        }
    }
    if h.retries < 0 {
        return Err(ConfigError::NegativeRetries);
    }
    match h.test.first().map(String::as_str) {
        None | Some("NONE" | "CMD" | "CMD-SHELL") => Ok(()),
        Some(other) => Err(ConfigError::UnknownKind(other.to_string())),
    }
}

/// A healthcheck ready to run: its argv and timings with the defaults in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub args: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
}

/// What runs for `h`, or None for no healthcheck (none, empty or NONE).
pub fn probe(h: &Healthcheck) -> Option<Probe> {
    let args: Vec<String> = match h.test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
        }
        _ => return None,
    };
    let or = |nanos: i64, default: Duration| {
        if nanos > 0 {
            Duration::from_nanos(nanos as u64)
        } else {
            default
        }
    };
    Some(Probe {
        args,
        interval: or(h.interval, DEFAULT_INTERVAL),
        timeout: or(h.timeout, DEFAULT_TIMEOUT),
        start_period: or(h.start_period, Duration::ZERO),
        retries: if h.retries > 0 {
            h.retries as u32
        } else {
            DEFAULT_RETRIES
        },
    })
}

/// One run of a check.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HealthResult {
    /// Unix nanoseconds.
    pub start: i64,
    pub end: i64,
    /// 0: healthy; -1: it could not run, or ran out of time.
    pub exit_code: i32,
    pub output: String,
}

impl HealthResult {
    /// A result with `output` cut to `MAX_OUTPUT` bytes (on a character
    /// boundary).
    pub fn new(start: i64, end: i64, exit_code: i32, output: &[u8]) -> HealthResult {
        let text = String::from_utf8_lossy(&output[..output.len().min(MAX_OUTPUT)]);
        let mut output = text.into_owned();
        while output.len() > MAX_OUTPUT {
            output.pop();
        }
        HealthResult {
            start,
            end,
            exit_code,
            output,
        }
    }
}

/// A container's health (Docker's State.Health).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HealthState {
    pub status: String,
    pub failing_streak: u32,
    /// The last `MAX_LOG` results, oldest first.
    pub log: Vec<HealthResult>,
}

impl HealthState {
    /// The health of a task just started: `starting`, no failures, the
    /// results of earlier runs kept (as Docker keeps them).
    pub fn starting(previous: Option<HealthState>) -> HealthState {
        HealthState {
            status: STARTING.into(),
            failing_streak: 0,
            log: previous.map(|p| p.log).unwrap_or_default(),
        }
    }

    /// Take in one result (Docker's handleProbeResult): a success makes it
    /// healthy and ends the streak; a failure adds to the streak, unless
    /// the container is still starting within its start period, and makes
    /// it unhealthy after `retries` in a row. The new status when it
    /// changed.
    pub fn record(
        &mut self,
        r: HealthResult,
        retries: u32,
        in_start_period: bool,
    ) -> Option<&'static str> {
        let before = self.status.clone();
        let failed = r.exit_code != 0;
        self.log.push(r);
        if self.log.len() > MAX_LOG {
            let extra = self.log.len() - MAX_LOG;
            self.log.drain(..extra);
        }
        let now: &'static str = if !failed {
            self.failing_streak = 0;
            HEALTHY
        } else if self.status == STARTING && in_start_period {
            STARTING
        } else {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                UNHEALTHY
            } else {
                status_name(&self.status)
            }
        };
        self.status = now.into();
        (before != now).then_some(now)
    }

    /// The task ended: Docker reports a stopped monitor as unhealthy.
    pub fn stopped(&mut self) {
        self.status = UNHEALTHY.into();
    }
}

fn status_name(s: &str) -> &'static str {
    match s {
        HEALTHY => HEALTHY,
        UNHEALTHY => UNHEALTHY,
        _ => STARTING,
    }
}

/// Whether a result that began `elapsed` after the task started falls in
/// the start period.
pub fn in_start_period(elapsed: Duration, p: &Probe) -> bool {
    elapsed < p.start_period
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32) -> HealthResult {
        HealthResult::new(1, 2, code, b"out")
    }

    /// Results in, statuses out: (status, streak) after each.
    fn run(codes: &[i32], retries: u32, start_period_runs: usize) -> Vec<(String, u32)> {
        let mut h = HealthState::starting(None);
        codes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                h.record(result(*c), retries, i < start_period_runs);
                (h.status.clone(), h.failing_streak)
            })
            .collect()
    }

    fn s(v: &[(&str, u32)]) -> Vec<(String, u32)> {
        v.iter().map(|(a, b)| (a.to_string(), *b)).collect()
    }

    #[test]
    fn success_is_healthy_and_failures_count_to_retries() {
        assert_eq!(run(&[0], 3, 0), s(&[("healthy", 0)]));
        assert_eq!(
            run(&[1, 1, 1, 0, 1], 3, 0),
            s(&[
                ("starting", 1),
                ("starting", 2),
                ("unhealthy", 3),
                ("healthy", 0),
                ("healthy", 1)
            ])
        );
        assert_eq!(
            run(&[0, 2, -1], 2, 0),
            s(&[("healthy", 0), ("healthy", 1), ("unhealthy", 2)])
        );
    }

    #[test]
    fn start_period_failures_do_not_count_until_a_success() {
        assert_eq!(
            run(&[1, 1, 1, 1], 1, 2),
            s(&[
                ("starting", 0),
                ("starting", 0),
                ("unhealthy", 1),
                ("unhealthy", 2)
            ])
        );
        // A success ends the start period: a failure in it then counts.
        assert_eq!(run(&[0, 1], 1, 5), s(&[("healthy", 0), ("unhealthy", 1)]));
    }

    #[test]
    fn changes_are_reported_once_and_the_log_keeps_five() {
        let mut h = HealthState::starting(None);
        assert_eq!(h.record(result(1), 2, false), None);
        assert_eq!(h.record(result(1), 2, false), Some(UNHEALTHY));
        assert_eq!(h.record(result(1), 2, false), None);
        assert_eq!(h.record(result(0), 2, false), Some(HEALTHY));
        for _ in 0..4 {
            h.record(result(0), 2, false);
        }
        assert_eq!(h.log.len(), MAX_LOG);
        let again = HealthState::starting(Some(h));
        assert_eq!((again.status.as_str(), again.failing_streak), (STARTING, 0));
        assert_eq!(again.log.len(), MAX_LOG);
    }

    #[test]
    fn output_is_cut_at_4096_bytes_on_a_char_boundary() {
        let long = "é".repeat(3000); // 6000 bytes
        let r = HealthResult::new(0, 0, 0, long.as_bytes());
        assert!(r.output.len() <= MAX_OUTPUT);
        assert_eq!(r.output.len(), 4096);
        assert!(r.output.chars().all(|c| c == 'é'));
    }

    fn hc(test: &[&str], interval: i64, retries: i32) -> Healthcheck {
        Healthcheck {
            test: test.iter().map(|x| x.to_string()).collect(),
            interval,
            retries,
            ..Default::default()
        }
    }

    #[test]
    fn user_fields_override_the_image_one_by_one() {
        let image = Healthcheck {
            timeout: 5,
            ..hc(&["CMD", "check"], 10, 4)
        };
        let user = hc(&[], 20, 0);
        let m = merge(Some(&user), Some(&image)).unwrap();
        assert_eq!(m.test, ["CMD", "check"]);
        assert_eq!((m.interval, m.timeout, m.retries), (20, 5, 4));
        let none = hc(&["NONE"], 0, 0);
        let m = merge(Some(&none), Some(&image)).unwrap();
        assert_eq!(probe(&m), None);
        assert_eq!(merge(None, None), None);
        assert_eq!(merge(None, Some(&image)), Some(image));
    }

    #[test]
    fn probes_with_defaults_and_shell_form() {
        let p = probe(&hc(&["CMD-SHELL", "test -f /ok"], 0, 0)).unwrap();
        assert_eq!(p.args, ["/bin/sh", "-c", "test -f /ok"]);
        assert_eq!((p.interval, p.timeout), (DEFAULT_INTERVAL, DEFAULT_TIMEOUT));
        assert_eq!((p.start_period, p.retries), (Duration::ZERO, 3));
        let p = probe(&hc(&["CMD", "true", "x"], 200_000_000, 1)).unwrap();
        assert_eq!(p.args, ["true", "x"]);
        assert_eq!(p.interval, Duration::from_millis(200));
        assert_eq!(probe(&hc(&["CMD"], 0, 0)), None);
        assert_eq!(probe(&hc(&[], 0, 0)), None);
    }

    #[test]
    fn validation_as_docker() {
        assert_eq!(validate(&hc(&["CMD", "x"], 1_000_000, 0)), Ok(()));
        assert_eq!(
            validate(&hc(&["CMD", "x"], 999, 0)),
            Err(ConfigError::TooShort("Interval"))
        );
        assert_eq!(
            validate(&hc(&["CMD", "x"], 0, -1)),
            Err(ConfigError::NegativeRetries)
        );
        assert!(validate(&hc(&["BOGUS"], 0, 0)).is_err());
    }
}

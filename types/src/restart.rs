//! Restart policies, as Docker writes them: `no`, `on-failure[:N]`,
//! `always`, `unless-stopped` (hulld's `containers::restart` applies them).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    #[default]
    No,
    /// Restart on a non-zero exit, at most `max` times (None: no limit).
    OnFailure {
        max: Option<u32>,
    },
    Always,
    UnlessStopped,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid restart policy {0:?}: use no, on-failure[:max-retries], always or unless-stopped")]
pub struct PolicyError(pub String);

impl std::str::FromStr for RestartPolicy {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        let bad = || PolicyError(s.to_string());
        match s.split_once(':') {
            None => match s {
                "" | "no" => Ok(RestartPolicy::No),
                "always" => Ok(RestartPolicy::Always),
                "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
                "on-failure" => Ok(RestartPolicy::OnFailure { max: None }),
                _ => Err(bad()),
            },
            Some(("on-failure", n)) => {
                let max: u32 = n.parse().map_err(|_| bad())?;
                Ok(RestartPolicy::OnFailure { max: Some(max) })
            }
            Some(_) => Err(bad()),
        }
    }
}

impl std::fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestartPolicy::No => f.write_str("no"),
            RestartPolicy::OnFailure { max: None } => f.write_str("on-failure"),
            RestartPolicy::OnFailure { max: Some(n) } => write!(f, "on-failure:{n}"),
            RestartPolicy::Always => f.write_str("always"),
            RestartPolicy::UnlessStopped => f.write_str("unless-stopped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        for s in [
            "no",
            "always",
            "unless-stopped",
            "on-failure",
            "on-failure:3",
        ] {
            assert_eq!(s.parse::<RestartPolicy>().unwrap().to_string(), s);
        }
        assert!("on-failure:x".parse::<RestartPolicy>().is_err());
        assert!("sometimes".parse::<RestartPolicy>().is_err());
        assert_eq!("".parse::<RestartPolicy>().unwrap(), RestartPolicy::No);
    }
}

//! `ps --filter` values (id, name, label, status, exited, ancestor,
//! before, since, health) as Docker parses and matches them.

use std::collections::BTreeMap;

/// Parsed `--filter` values: one key's values are OR'ed (labels: AND'ed),
/// keys AND'ed.
#[derive(Debug, Default)]
pub struct Filters(BTreeMap<String, Vec<String>>);

const FILTER_KEYS: &[&str] = &[
    "id", "name", "label", "status", "exited", "ancestor", "before", "since", "health",
];

/// Values of `health=`: a container's health status, or none without one.
const HEALTH: &[&str] = &["starting", "healthy", "unhealthy", "none"];

const STATES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

impl Filters {
    pub fn parse(v: &[String]) -> Result<Filters, String> {
        let mut f = Filters::default();
        for s in v {
            let Some((k, val)) = s.split_once('=') else {
                return Err(format!("invalid filter '{s}'"));
            };
            let k = k.trim().to_ascii_lowercase();
            if !FILTER_KEYS.contains(&k.as_str()) {
                return Err(format!("invalid filter '{k}'"));
            }
            if k == "status" && !STATES.contains(&val) {
                return Err(format!("invalid filter 'status={val}'"));
            }
            if k == "health" && !HEALTH.contains(&val) {
                return Err(format!("Unrecognised filter value for health: {val}"));
            }
            if k == "exited" && val.parse::<i32>().is_err() {
                return Err(format!("invalid filter 'exited={val}'"));
            }
            f.0.entry(k).or_default().push(val.to_string());
        }
        Ok(f)
    }
    pub(super) fn get(&self, k: &str) -> &[String] {
        self.0.get(k).map(Vec::as_slice).unwrap_or(&[])
    }
    pub(super) fn has(&self, k: &str) -> bool {
        !self.get(k).is_empty()
    }
}

/// Docker's filter matching of names and IDs: a regular expression
/// search; here a substring with optional `^` and `$` anchors.
pub(crate) fn pattern_match(pat: &str, s: &str) -> bool {
    let (start, p) = match pat.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pat),
    };
    let (end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    match (start, end) {
        (true, true) => s == p,
        (true, false) => s.starts_with(p),
        (false, true) => s.ends_with(p),
        (false, false) => s.contains(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_reject() {
        let f = Filters::parse(&["label=a=b".into(), "status=exited".into()]).unwrap();
        assert_eq!(f.get("label"), ["a=b"]);
        assert!(Filters::parse(&["bogus=1".into()]).is_err());
        assert!(Filters::parse(&["status=sleeping".into()]).is_err());
        assert!(Filters::parse(&["exited=x".into()]).is_err());
        assert!(Filters::parse(&["health=healthy".into(), "health=none".into()]).is_ok());
        assert_eq!(
            Filters::parse(&["health=sick".into()]).unwrap_err(),
            "Unrecognised filter value for health: sick"
        );
        assert!(Filters::parse(&["noequals".into()]).is_err());
        assert!(pattern_match("web", "my-web-1"));
        assert!(pattern_match("^web$", "web"));
        assert!(!pattern_match("^web$", "web1"));
    }
}

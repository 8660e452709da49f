//! The formats of cgroup files (v1 and v2) and of /proc/<pid>/cgroup.

use std::collections::BTreeMap;
use std::path::Path;

/// A single-number file (`pids.current`, `memory.max`…): `max` reads as
/// `u64::MAX`; None when missing or not a number.
pub fn read_u64(path: &Path) -> Option<u64> {
    parse_u64(&std::fs::read_to_string(path).ok()?)
}

/// The text of a single-number file (see `read_u64`).
pub fn parse_u64(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => Some(u64::MAX),
        t => t.parse().ok(),
    }
}

/// A flat keyed file, "key value" lines (`memory.stat`, `cpu.stat`,
/// `cpuacct.stat`, `memory.events`, `memory.oom_control`); empty when
/// missing. Lines whose value is not a number are left out.
pub fn read_flat_keyed(path: &Path) -> BTreeMap<String, u64> {
    parse_flat_keyed(&std::fs::read_to_string(path).unwrap_or_default())
}

/// The text of a flat keyed file (see `read_flat_keyed`).
pub fn parse_flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

/// One line of a v1 blkio file: `MAJOR:MINOR Op value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlkioLine {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// A v1 blkio file (`blkio.throttle.io_service_bytes_recursive`…); empty
/// when missing. The `Total` line and malformed lines are left out.
pub fn read_blkio(path: &Path) -> Vec<BlkioLine> {
    parse_blkio(&std::fs::read_to_string(path).unwrap_or_default())
}

/// The text of a v1 blkio file (see `read_blkio`).
pub fn parse_blkio(text: &str) -> Vec<BlkioLine> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let [dev, op, value] = f[..] else {
                return None;
            };
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioLine {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// /proc/<pid>/cgroup: each v1 controller (`memory`, `name=systemd`…) →
/// the process's cgroup path in that hierarchy; the v2 entry (`0::/path`)
/// under the key "".
pub fn parse_proc_cgroup(text: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        for c in ctrls.split(',') {
            map.insert(c.to_string(), path.to_string());
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_max() {
        assert_eq!(parse_u64("42\n"), Some(42));
        assert_eq!(parse_u64("max\n"), Some(u64::MAX));
        assert_eq!(parse_u64("lots"), None);
        assert_eq!(read_u64(Path::new("/nonexistent/pids.max")), None);
    }

    #[test]
    fn flat_keyed_lines() {
        let m = parse_flat_keyed("usage_usec 10\nuser_usec 7\nbroken\nname x\n");
        assert_eq!(m.get("usage_usec"), Some(&10));
        assert_eq!(m.get("user_usec"), Some(&7));
        assert_eq!(m.len(), 2);
        assert!(read_flat_keyed(Path::new("/nonexistent/cpu.stat")).is_empty());
    }

    #[test]
    fn blkio_lines() {
        let v = parse_blkio("8:0 Read 4096\n8:0 Write 0\nTotal 4096\nx:0 Read 1\n");
        assert_eq!(
            v,
            vec![
                BlkioLine {
                    major: 8,
                    minor: 0,
                    op: "Read".into(),
                    value: 4096
                },
                BlkioLine {
                    major: 8,
                    minor: 0,
                    op: "Write".into(),
                    value: 0
                },
            ]
        );
    }

    #[test]
    fn proc_cgroup_v1_and_v2() {
        let m = parse_proc_cgroup(
            "0::/user.slice\n4:memory:/mine\n3:cpu,cpuacct:/c\n1:name=systemd:/s\n",
        );
        assert_eq!(m[""], "/user.slice");
        assert_eq!(m["memory"], "/mine");
        assert_eq!((m["cpu"].as_str(), m["cpuacct"].as_str()), ("/c", "/c"));
        assert_eq!(m["name=systemd"], "/s");
        // A path may hold colons.
        assert_eq!(parse_proc_cgroup("0::/a:b")[""], "/a:b");
    }
}

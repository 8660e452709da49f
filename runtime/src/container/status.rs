//! Deriving a container's status from its init process and state dir.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What /proc/<pid>/stat says: process state letter and start time.
#[derive(Debug, PartialEq)]
pub struct ProcStat {
    pub state: char,
    pub start_time: u64,
}

/// Parse the text of /proc/<pid>/stat. The comm field may contain spaces
/// and parentheses, so split at the last ')'.
pub fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); starttime is field 22 → index 19.
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_proc_stat(&text)
}

/// True if `pid` is the same live (non-zombie) process that started at
/// `start_time` (guards against pid reuse).
pub fn is_alive(pid: i32, start_time: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match proc_stat(pid) {
        Some(s) => s.start_time == start_time && s.state != 'Z' && s.state != 'X',
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let line =
            "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10";
        let s = parse_proc_stat(line).unwrap();
        assert_eq!(
            s,
            ProcStat {
                state: 'S',
                start_time: 98765
            }
        );
    }

    #[test]
    fn zombie_is_not_alive_self_is() {
        let me = std::process::id() as i32;
        let st = proc_stat(me).unwrap();
        assert!(is_alive(me, st.start_time));
        assert!(!is_alive(me, st.start_time + 1));
        assert!(!is_alive(0, 0));
    }
}

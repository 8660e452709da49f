//! `hull top`: the container's processes as `ps -ef` shows them (Docker's
//! default columns), read by hulld from /proc for the pids the shim lists.

use std::collections::HashMap;

use crate::civil_time::civil;

pub const TITLES: [&str; 8] = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];

/// One row per pid that still exists (a process may exit meanwhile).
pub fn rows(pids: &[u32]) -> Vec<Vec<String>> {
    let users = host_users();
    let ticks = clock_ticks();
    let boot = boot_time();
    let uptime = uptime_secs();
    let now = crate::content::now_secs();
    pids.iter()
        .filter_map(|pid| row(*pid, &users, ticks, boot, uptime, now))
        .collect()
}

fn row(
    pid: u32,
    users: &HashMap<u32, String>,
    ticks: f64,
    boot: i64,
    uptime: f64,
    now: i64,
) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1;
    // Fields after the comm, numbered from 3 (state) as in proc(5).
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let ppid = field(4)?;
    let tty = field(7)?;
    let cpu_ticks = field(14)? + field(15)?;
    let start_ticks = field(22)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = if cmdline.is_empty() {
        format!("[{comm}]")
    } else {
        String::from_utf8_lossy(&cmdline)
            .trim_end_matches('\0')
            .replace('\0', " ")
    };
    let cpu_secs = cpu_ticks as f64 / ticks;
    let ran = (uptime - start_ticks as f64 / ticks).max(0.0);
    let c = if ran > 0.0 {
        (cpu_secs * 100.0 / ran) as u64
    } else {
        0
    };
    let started = boot + (start_ticks as f64 / ticks) as i64;
    Some(vec![
        users.get(&uid).cloned().unwrap_or_else(|| uid.to_string()),
        pid.to_string(),
        ppid.to_string(),
        c.to_string(),
        stime(started, now),
        tty_name(tty),
        hms(cpu_secs as u64),
        cmd,
    ])
}

/// `ps`'s STIME: HH:MM today, else "Mon DD" (UTC).
fn stime(t: i64, now: i64) -> String {
    let (d, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    if d == now.div_euclid(86_400) {
        format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
    } else {
        let (_, m, day) = civil(d);
        const MON: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!("{}{:02}", MON[(m - 1) as usize], day)
    }
}

fn hms(s: u64) -> String {
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// tty_nr → "pts/N", "ttyN" or "?".
fn tty_name(nr: u64) -> String {
    if nr == 0 {
        return "?".into();
    }
    let major = (nr >> 8) & 0xfff;
    let minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 => format!("tty{minor}"),
        _ => "?".into(),
    }
}

fn host_users() -> HashMap<u32, String> {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f.first()?.to_string()))
        })
        .collect()
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf reads a constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn boot_time() -> i64 {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn uptime_secs() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_row() {
        let r = rows(&[std::process::id(), u32::MAX]);
        assert_eq!(r.len(), 1, "a missing pid is skipped");
        assert_eq!(r[0].len(), TITLES.len());
        assert_eq!(r[0][1], std::process::id().to_string());
        assert!(r[0][6].len() == 8 && r[0][6].contains(':'), "{:?}", r[0]);
    }

    #[test]
    fn formats() {
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
        assert_eq!(hms(3725), "01:02:05");
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_000), (2024, 10, 4));
        assert_eq!(stime(86_400 + 3600 * 5 + 60 * 7, 86_400 + 50_000), "05:07");
        assert_eq!(stime(0, 86_400 * 40), "Jan01");
    }
}

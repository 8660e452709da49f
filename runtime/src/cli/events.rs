//! `events`: resource stats (once with --stats, else every --interval) and
//! OOM notifications, one JSON object per line, as runc prints them.

use crate::cgroups::stats;
use crate::container::{Status, Store};
use crate::error::{Error, Result};
use clap::Args;
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print one stats event and exit.
    #[arg(long)]
    pub stats: bool,
    /// Stats interval, e.g. 5s, 500ms.
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || Error::BadInterval(s.to_string());
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(store: &Store, a: &EventsArgs) -> Result<()> {
    let st = store.load(&a.id)?;
    let status = store.status(&st);
    if status == Status::Stopped {
        return Err(Error::BadState {
            id: a.id.clone(),
            status: status.to_string(),
            op: "events",
            wanted: "running",
        });
    }
    let emit = |e: stats::Event<'_>| {
        let Ok(line) = serde_json::to_string(&e) else {
            return;
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    let stats_event = || stats::Event {
        kind: "stats",
        id: &a.id,
        data: Some(stats::collect(&st.cgroup)),
    };
    if a.stats {
        emit(stats_event());
        return Ok(());
    }
    let interval = parse_duration(&a.interval)?;
    let mut ooms = stats::oom_kills(&st.cgroup);
    let mut next = Instant::now();
    loop {
        if Instant::now() >= next {
            emit(stats_event());
            next = Instant::now() + interval;
        }
        let now = stats::oom_kills(&st.cgroup);
        if now > ooms {
            ooms = now;
            emit(stats::Event {
                kind: "oom",
                id: &a.id,
                data: None,
            });
        }
        if store.status(&st) == Status::Stopped {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100).min(interval));
    }
}

//! `hull stats`: the table refreshed every second (CPU % over the last
//! interval) until Ctrl-C, like `docker stats`; with `--no-stream`, one
//! table (CPU % over a short interval).

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use hull_proto::v1 as pb;

use super::client::Conn;
use super::containers::{msg, Exit};

const INTERVAL: Duration = Duration::from_secs(1);

fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{v:.2}{}", units[i])
    }
}

/// The line of one container; `prev` is its sample one interval ago.
pub fn line(
    c: &pb::Container,
    now: &pb::TaskStats,
    prev: Option<&(pb::TaskStats, Instant)>,
    at: Instant,
) -> String {
    let cpu = match prev {
        Some((p, t)) => {
            let wall = at.duration_since(*t).as_nanos().max(1) as f64;
            now.cpu_total_nanos.saturating_sub(p.cpu_total_nanos) as f64 / wall * 100.0
        }
        None => 0.0,
    };
    let limit = if now.memory_limit == 0 || now.memory_limit >= (1 << 62) {
        0
    } else {
        now.memory_limit
    };
    let mem_pct = if limit > 0 {
        format!("{:.2}%", now.memory_usage as f64 / limit as f64 * 100.0)
    } else {
        "--".into()
    };
    format!(
        "{:<14}{:<20}{:<10}{:<24}{:<10}{}",
        c.id.chars().take(12).collect::<String>(),
        c.name,
        format!("{cpu:.2}%"),
        format!(
            "{} / {}",
            human_bytes(now.memory_usage),
            if limit > 0 {
                human_bytes(limit)
            } else {
                "--".into()
            }
        ),
        mem_pct,
        now.pids
    )
}

pub const HEADER: &str =
    "CONTAINER ID  NAME                CPU %     MEM USAGE / LIMIT       MEM %     PIDS";

/// Containers to show: the named ones (an unknown name is an error), or
/// every running container at each refresh.
async fn targets(conn: &Conn, names: &[String]) -> anyhow::Result<Vec<pb::Container>> {
    if names.is_empty() {
        let list = conn.list_containers().await?;
        let mut v: Vec<pb::Container> = list
            .into_iter()
            .filter(|c| {
                c.status
                    .as_ref()
                    .is_some_and(|s| s.state == "running" || s.state == "paused")
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        return Ok(v);
    }
    let mut v = Vec::new();
    for n in names {
        match conn
            .containers()
            .get(conn.req(pb::GetContainerRequest { id: n.clone() }))
            .await
        {
            Ok(c) => v.push(c.into_inner()),
            Err(e) => {
                eprintln!("Error response from daemon: {}", msg(&e));
                return Err(Exit(1).into());
            }
        }
    }
    Ok(v)
}

pub async fn stream(conn: &Conn, names: Vec<String>) -> anyhow::Result<()> {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut prev: HashMap<String, (pb::TaskStats, Instant)> = HashMap::new();
    // Check the names at once (Docker fails before the first screen).
    targets(conn, &names).await?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let list = targets(conn, &names).await?;
        let mut screen = String::new();
        if tty {
            screen.push_str("\x1b[2J\x1b[H");
        }
        screen.push_str(HEADER);
        screen.push('\n');
        let mut next = HashMap::new();
        for c in &list {
            let at = Instant::now();
            // A stopped container shows zeros, as Docker's stream does.
            let s = conn
                .tasks()
                .stats(conn.req(pb::PidsRequest {
                    container_id: c.id.clone(),
                }))
                .await
                .map(|s| s.into_inner())
                .unwrap_or_default();
            screen.push_str(&line(c, &s, prev.get(&c.id), at));
            screen.push('\n');
            next.insert(c.id.clone(), (s, at));
        }
        prev = next;
        {
            let mut out = std::io::stdout().lock();
            if out
                .write_all(screen.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                // The reader went away (a closed pipe): done.
                return Ok(());
            }
        }
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

/// `stats --no-stream`: one line per container.
pub async fn once(conn: &Conn, mut names: Vec<String>) -> anyhow::Result<()> {
    if names.is_empty() {
        names = conn
            .list_containers()
            .await?
            .into_iter()
            .filter(|c| c.status.as_ref().is_some_and(|s| s.state == "running"))
            .map(|c| c.id)
            .collect();
    }
    let sample = |n: String| {
        let mut t = conn.tasks();
        let r = conn.req(pb::PidsRequest { container_id: n });
        async move {
            t.stats(r)
                .await
                .map(|s| (s.into_inner(), std::time::Instant::now()))
        }
    };
    println!("{}", HEADER);
    let mut failed = false;
    for n in names {
        let c = match conn
            .containers()
            .get(conn.req(pb::GetContainerRequest { id: n.clone() }))
            .await
        {
            Ok(c) => c.into_inner(),
            Err(e) => {
                eprintln!("Error response from daemon: {}", msg(&e));
                failed = true;
                continue;
            }
        };
        // CPU % over a short interval, like `docker stats --no-stream`.
        let first = sample(c.id.clone()).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let second = sample(c.id.clone()).await;
        let ((a, ta), (b, tb)) = match (first, second) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("Error response from daemon: {}", msg(&e));
                failed = true;
                continue;
            }
        };
        println!("{}", line(&c, &b, Some(&(a, ta)), tb));
    }
    if failed {
        return Err(Exit(1).into());
    }
    Ok(())
}

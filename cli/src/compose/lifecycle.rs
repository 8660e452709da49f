//! `hull compose start|stop|restart|kill|pause|unpause [SERVICE…]`: the
//! plain container operations on the project's service containers, one
//! service after the other: start order (dependencies first) for start and
//! restart, the reverse for the others; a service's containers at once.

use clap::Args;
use hull_proto::v1 as pb;

use super::project::{is_running, label};
use super::targets::{self, OneOff};
use super::{labels, ComposeArgs};
use crate::client::Conn;
use crate::containers::flags::parse_signal;
use crate::containers::lifecycle::{start, stop};
use crate::containers::msg;

#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Only these services (default: all).
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing (default: the service's stop_grace_period, else 10).
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send.
    #[arg(short = 's', long, default_value = "SIGKILL")]
    pub signal: String,
    pub services: Vec<String>,
}

/// What is done to each container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Start,
    Stop,
    Restart,
    Kill,
    Pause,
    Unpause,
}

impl Op {
    /// Compose's word for a container once done.
    fn done(self) -> &'static str {
        match self {
            Op::Start | Op::Restart => "Started",
            Op::Stop => "Stopped",
            Op::Kill => "Killed",
            Op::Pause => "Paused",
            Op::Unpause => "Unpaused",
        }
    }

    /// Whether the operation applies to a container in this state.
    fn applies(self, c: &pb::Container) -> bool {
        let state = c.status.as_ref().map(|s| s.state.as_str()).unwrap_or("");
        match self {
            Op::Start => !is_running(c),
            Op::Stop | Op::Kill => is_running(c),
            Op::Restart => true,
            Op::Pause => state == "running",
            Op::Unpause => state == "paused",
        }
    }

    fn dependencies_first(self) -> bool {
        matches!(self, Op::Start | Op::Restart | Op::Unpause)
    }
}

pub async fn start_cmd(conn: &Conn, args: &ComposeArgs, a: &ServicesArgs) -> anyhow::Result<()> {
    run(conn, args, &a.services, Op::Start, None, 0).await
}

pub async fn stop_cmd(conn: &Conn, args: &ComposeArgs, a: &StopArgs) -> anyhow::Result<()> {
    run(conn, args, &a.services, Op::Stop, a.timeout, 0).await
}

pub async fn restart_cmd(conn: &Conn, args: &ComposeArgs, a: &StopArgs) -> anyhow::Result<()> {
    run(conn, args, &a.services, Op::Restart, a.timeout, 0).await
}

pub async fn kill_cmd(conn: &Conn, args: &ComposeArgs, a: &KillArgs) -> anyhow::Result<()> {
    let sig = parse_signal(&a.signal)?;
    run(conn, args, &a.services, Op::Kill, None, sig).await
}

pub async fn pause_cmd(conn: &Conn, args: &ComposeArgs, a: &ServicesArgs) -> anyhow::Result<()> {
    run(conn, args, &a.services, Op::Pause, None, 0).await
}

pub async fn unpause_cmd(conn: &Conn, args: &ComposeArgs, a: &ServicesArgs) -> anyhow::Result<()> {
    run(conn, args, &a.services, Op::Unpause, None, 0).await
}

async fn run(
    conn: &Conn,
    args: &ComposeArgs,
    services: &[String],
    op: Op,
    timeout: Option<u64>,
    signal: u32,
) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let p = &loaded.project;
    let all = targets::containers(conn, p, services, OneOff::Exclude).await?;
    if op == Op::Start {
        // Compose refuses to start a service that was never created (one
        // scaled to 0 has nothing to start).
        for s in targets::ordered_services(p, services)? {
            let scaled_to_zero = p.services[&s].deploy.as_ref().and_then(|d| d.replicas) == Some(0);
            if !scaled_to_zero && !all.iter().any(|c| label(c, labels::SERVICE) == s) {
                anyhow::bail!("service {s:?} has no container to start");
            }
        }
    }
    let mut groups: Vec<Vec<pb::Container>> = Vec::new();
    for c in all.into_iter().filter(|c| op.applies(c)) {
        match groups.last_mut() {
            Some(g) if label(&g[0], labels::SERVICE) == label(&c, labels::SERVICE) => g.push(c),
            _ => groups.push(vec![c]),
        }
    }
    if !op.dependencies_first() {
        groups.reverse();
    }
    if op == Op::Kill && groups.is_empty() {
        eprintln!("no container to kill");
    }
    for g in groups {
        let results =
            futures_util::future::join_all(g.iter().map(|c| one(conn, c, op, timeout, signal)))
                .await;
        for (c, r) in g.iter().zip(results) {
            r.map_err(|e| anyhow::anyhow!("container {}: {e:#}", c.name))?;
            eprintln!(" Container {}  {}", c.name, op.done());
        }
    }
    Ok(())
}

async fn one(
    conn: &Conn,
    c: &pb::Container,
    op: Op,
    timeout: Option<u64>,
    signal: u32,
) -> anyhow::Result<()> {
    match op {
        Op::Start => start(conn, &c.id).await,
        Op::Stop => stop(conn, &c.id, timeout).await,
        Op::Restart => {
            stop(conn, &c.id, timeout).await?;
            start(conn, &c.id).await
        }
        Op::Kill => {
            conn.tasks()
                .kill(conn.req(pb::KillTaskRequest {
                    container_id: c.id.clone(),
                    exec_id: String::new(),
                    signal,
                    all: false,
                }))
                .await
                .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?;
            Ok(())
        }
        Op::Pause | Op::Unpause => {
            let r = conn.req(pb::PauseTaskRequest {
                container_id: c.id.clone(),
            });
            let res = if op == Op::Pause {
                conn.tasks().pause(r).await
            } else {
                conn.tasks().resume(r).await
            };
            res.map_err(|e| anyhow::anyhow!("{}", msg(&e)))?;
            Ok(())
        }
    }
}

//! `logs`: a container's output from its log file, with `--tail`,
//! `--since`, `--follow` and `--timestamps`.

use std::io::Write;

use hull_proto::v1 as pb;
use tokio_stream::StreamExt;

use super::{msg, Exit};
use crate::client::Conn;

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end ("all" for everything).
    #[arg(long)]
    pub tail: Option<String>,
    /// Only since a Unix time or a relative time (e.g. 42s, 5m, 2h).
    #[arg(long)]
    pub since: Option<String>,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    pub container: String,
}

/// `--tail`: (has_tail, lines) of a LogsRequest; "all" or none is all.
pub(crate) fn parse_tail(tail: Option<&str>) -> anyhow::Result<(bool, i64)> {
    Ok(match tail {
        None | Some("all") => (false, 0),
        Some(n) => (
            true,
            n.parse::<i64>()
                .map_err(|_| anyhow::anyhow!("invalid value for \"tail\": {n}"))?,
        ),
    })
}

pub(super) async fn logs(conn: &Conn, a: LogsArgs) -> anyhow::Result<()> {
    let (has_tail, tail) = parse_tail(a.tail.as_deref())?;
    let since_nanos = a
        .since
        .as_deref()
        .map(|s| hull_types::time::parse_since(s, hull_types::time::now_nanos()))
        .transpose()?
        .unwrap_or(0);
    let mut s = conn
        .tasks()
        .logs(conn.req(pb::LogsRequest {
            container_id: a.container.clone(),
            follow: a.follow,
            has_tail,
            tail,
            since_nanos,
        }))
        .await
        .map_err(|e| {
            eprintln!("Error response from daemon: {}", msg(&e));
            Exit(1)
        })?
        .into_inner();
    while let Some(c) = s.next().await {
        let c = c?;
        let mut data = Vec::new();
        if a.timestamps {
            data.extend_from_slice(hull_types::time::rfc3339_nanos(c.time_nanos).as_bytes());
            data.push(b' ');
        }
        data.extend_from_slice(&c.data);
        if c.stream == 2 {
            let mut e = std::io::stderr().lock();
            e.write_all(&data)?;
            e.flush()?;
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(&data)?;
            o.flush()?;
        }
    }
    Ok(())
}

//! `hull compose logs [-f] [-t] [--tail N] [--since T] [--until T] [--index N]
//! [--no-color] [--no-log-prefix] [SERVICE…]`: the output of the project's
//! service containers, each line prefixed by its container's name padded to
//! the longest (`NAME  | `), the prefix colored per container on a
//! terminal. Without `-f` the lines of all containers are merged in time
//! order as they are read; with `-f` see `logs_follow`.

use std::io::{IsTerminal, Write};

use clap::Args;
use hull_proto::v1 as pb;
use tokio_stream::StreamExt;

use super::targets::{self, OneOff};
use super::{logs_follow, ComposeArgs};
use crate::client::Conn;
use crate::containers::logs::parse_tail;
use crate::containers::msg;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow the output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Number of lines from the end of each container's log ("all": everything).
    /// (`-n` is hull's global --namespace.)
    #[arg(long)]
    pub tail: Option<String>,
    /// Only since a Unix time or a relative time (e.g. 42s, 5m, 2h).
    #[arg(long)]
    pub since: Option<String>,
    /// Only before a Unix time or a relative time (e.g. 42s, 5m, 2h); with
    /// -f, following ends then.
    #[arg(long)]
    pub until: Option<String>,
    /// Only the container of this number of each service (replicas).
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,
    /// Monochrome output.
    #[arg(long)]
    pub no_color: bool,
    /// Don't prefix lines with the container's name.
    #[arg(long)]
    pub no_log_prefix: bool,
    pub services: Vec<String>,
}

/// Compose's colors for the prefixes, in turn.
const COLORS: [&str; 10] = [
    "36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1",
];

/// How each line of one container is written.
#[derive(Debug, Clone)]
pub struct Prefix {
    text: String,
    color: Option<&'static str>,
    timestamps: bool,
}

impl Prefix {
    /// An empty prefix (`--no-log-prefix`).
    pub fn none(timestamps: bool) -> Prefix {
        Prefix {
            text: String::new(),
            color: None,
            timestamps,
        }
    }

    /// One line (without its newline) as printed.
    pub fn line(&self, time_nanos: i64, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + text.len() + 48);
        match self.color {
            Some(c) if !self.text.is_empty() => {
                out.extend_from_slice(format!("\x1b[{c}m{}\x1b[0m", self.text).as_bytes())
            }
            _ => out.extend_from_slice(self.text.as_bytes()),
        }
        if self.timestamps {
            out.extend_from_slice(hull_types::time::rfc3339_nanos(time_nanos).as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(text);
        out.push(b'\n');
        out
    }
}

/// Prefixes handed out as containers come (`logs -f` picks up new ones):
/// padded to the longest name so far, the colors in turn.
#[derive(Debug)]
pub struct Prefixes {
    width: usize,
    given: usize,
    color: bool,
    timestamps: bool,
    none: bool,
}

impl Prefixes {
    /// For `names` to start with; colored when `color`, empty when `none`.
    pub fn new(names: &[&str], color: bool, timestamps: bool, none: bool) -> Prefixes {
        Prefixes {
            width: names.iter().map(|n| n.len()).max().unwrap_or(0),
            given: 0,
            color,
            timestamps,
            none,
        }
    }

    pub fn next(&mut self, name: &str) -> Prefix {
        if self.none {
            return Prefix::none(self.timestamps);
        }
        self.width = self.width.max(name.len());
        let width = self.width;
        let i = self.given;
        self.given += 1;
        Prefix {
            text: format!("{name:<width$} | "),
            color: self.color.then_some(COLORS[i % COLORS.len()]),
            timestamps: self.timestamps,
        }
    }
}

/// One whole line of a container's log.
pub struct Line {
    pub time: i64,
    pub stream: u32,
    pub bytes: Vec<u8>,
}

/// Splits chunks into lines; a chunk's time stamps the lines it ends.
#[derive(Default)]
pub struct Splitter {
    partial: [Vec<u8>; 2],
}

impl Splitter {
    pub fn push(&mut self, c: &pb::LogChunk, out: &mut Vec<Line>) {
        let i = usize::from(c.stream == 2);
        let buf = &mut self.partial[i];
        buf.extend_from_slice(&c.data);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = buf.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            out.push(Line {
                time: c.time_nanos,
                stream: c.stream,
                bytes: line,
            });
        }
    }

    /// What is left when the log ends (a last line without newline).
    pub fn finish(&mut self, time: i64, out: &mut Vec<Line>) {
        for (i, buf) in self.partial.iter_mut().enumerate() {
            if !buf.is_empty() {
                out.push(Line {
                    time,
                    stream: if i == 1 { 2 } else { 1 },
                    bytes: std::mem::take(buf),
                });
            }
        }
    }
}

pub fn write(prefix: &Prefix, l: &Line) -> std::io::Result<()> {
    let data = prefix.line(l.time, &l.bytes);
    if l.stream == 2 {
        let mut e = std::io::stderr().lock();
        e.write_all(&data)?;
        e.flush()
    } else {
        let mut o = std::io::stdout().lock();
        o.write_all(&data)?;
        o.flush()
    }
}

/// `--since`/`--until` as Unix nanoseconds.
fn bound(v: Option<&str>) -> anyhow::Result<Option<i64>> {
    Ok(
        v.map(|s| hull_types::time::parse_since(s, hull_types::time::now_nanos()))
            .transpose()?,
    )
}

/// Whether container `c` is one `a` selects by `--index`.
pub fn indexed(a: &LogsArgs, c: &pb::Container) -> bool {
    a.index.is_none_or(|n| targets::number(c) == n)
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &LogsArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let p = &loaded.project;
    let (has_tail, tail) = parse_tail(a.tail.as_deref())?;
    let since_nanos = bound(a.since.as_deref())?.unwrap_or(0);
    let until = bound(a.until.as_deref())?;
    if a.index == Some(0) {
        anyhow::bail!("invalid --index 0: containers are numbered from 1");
    }
    // With -f, subscribed before the listing: no start falls between.
    let starts = if a.follow {
        Some(logs_follow::subscribe(conn).await?)
    } else {
        None
    };
    let mut containers = targets::containers(conn, p, &a.services, OneOff::Exclude).await?;
    containers.retain(|c| indexed(a, c));
    if let (Some(n), true) = (a.index, containers.is_empty()) {
        anyhow::bail!("no container #{n} of the services");
    }
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    let color = !a.no_color && std::io::stdout().is_terminal();
    let mut prefixes = Prefixes::new(&names, color, a.timestamps, a.no_log_prefix);
    let req = pb::LogsRequest {
        follow: a.follow,
        has_tail,
        tail,
        since_nanos,
        ..Default::default()
    };
    if let Some(starts) = starts {
        let f = logs_follow::Follow {
            conn,
            project: p,
            args: a,
            until,
        };
        return f.run(containers, req, starts, &mut prefixes).await;
    }
    let prefixes: Vec<Prefix> = names.iter().map(|n| prefixes.next(n)).collect();
    let mut streams = Vec::new();
    for c in &containers {
        let s = conn
            .tasks()
            .logs(conn.req(pb::LogsRequest {
                container_id: c.id.clone(),
                ..req.clone()
            }))
            .await
            .map_err(|e| anyhow::anyhow!("container {}: logs: {}", c.name, msg(&e)))?
            .into_inner();
        streams.push(s);
    }
    // Merged by time as read (each log is in time order): the earliest
    // of the containers' next lines goes first; memory stays one chunk a
    // container however long the logs.
    let mut sources: Vec<Source> = streams
        .into_iter()
        .map(|s| Source {
            stream: Some(s),
            split: Splitter::default(),
            ready: std::collections::VecDeque::new(),
            last: 0,
        })
        .collect();
    loop {
        for (i, src) in sources.iter_mut().enumerate() {
            src.fill()
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", names[i]))?;
        }
        let next = sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.ready.front().map(|l| (l.time, i)))
            .min();
        let Some((time, i)) = next else {
            return Ok(());
        };
        if until.is_some_and(|u| time > u) {
            // Every log is in time order: nothing later comes before.
            return Ok(());
        }
        if let Some(l) = sources[i].ready.pop_front() {
            write(&prefixes[i], &l)?;
        }
    }
}

/// One container's log being merged: its lines read ahead.
struct Source {
    stream: Option<tonic::Streaming<pb::LogChunk>>,
    split: Splitter,
    ready: std::collections::VecDeque<Line>,
    last: i64,
}

impl Source {
    /// Reads until a line is ready or the log ended.
    async fn fill(&mut self) -> anyhow::Result<()> {
        while self.ready.is_empty() {
            let Some(s) = self.stream.as_mut() else {
                return Ok(());
            };
            let mut lines = Vec::new();
            match s.next().await {
                Some(c) => {
                    let c = c.map_err(|e| anyhow::anyhow!("{}", msg(&e)))?;
                    self.last = c.time_nanos;
                    self.split.push(&c, &mut lines);
                }
                None => {
                    self.stream = None;
                    self.split.finish(self.last, &mut lines);
                }
            }
            self.ready.extend(lines);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_pad_to_the_longest_name_and_color_on_request() {
        let mut p = Prefixes::new(&["p-web-1", "p-database-1"], false, false, false);
        assert_eq!(p.next("p-web-1").line(0, b"hi"), b"p-web-1      | hi\n");
        assert_eq!(p.next("p-database-1").line(0, b"x"), b"p-database-1 | x\n");
        // One that comes later (logs -f) pads the others' width, or its own.
        assert_eq!(p.next("p-web-2").line(0, b"y"), b"p-web-2      | y\n");
        assert_eq!(
            p.next("p-longer-name-1").line(0, b"z"),
            b"p-longer-name-1 | z\n"
        );
        let mut c = Prefixes::new(&["a", "b"], true, false, false);
        c.next("a");
        assert_eq!(c.next("b").line(0, b"x"), b"\x1b[33mb | \x1b[0mx\n");
        let mut n = Prefixes::new(&["a"], true, false, true);
        assert_eq!(n.next("a").line(0, b"x"), b"x\n");
    }

    #[test]
    fn chunks_split_into_lines_across_boundaries() {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        let chunk = |data: &[u8], stream, t| pb::LogChunk {
            stream,
            data: data.to_vec(),
            time_nanos: t,
        };
        s.push(&chunk(b"one\ntw", 1, 1), &mut out);
        s.push(&chunk(b"err\n", 2, 2), &mut out);
        s.push(&chunk(b"o\r\nthree", 1, 3), &mut out);
        s.finish(4, &mut out);
        let got: Vec<(u32, &[u8])> = out.iter().map(|l| (l.stream, &l.bytes[..])).collect();
        assert_eq!(
            got,
            vec![
                (1, &b"one"[..]),
                (2, &b"err"[..]),
                (1, &b"two"[..]),
                (1, &b"three"[..])
            ]
        );
    }
}

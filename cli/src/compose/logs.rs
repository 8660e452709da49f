//! `hull compose logs [-f] [-t] [--tail N] [--no-color] [SERVICE…]`: the
//! output of the project's service containers, each line prefixed by its
//! container's name padded to the longest (`NAME  | `), the prefix colored
//! per container on a terminal. Without `-f` the lines of all containers
//! are merged in time order; with `-f` every container is followed at once
//! until all of them stopped (or Ctrl-C).

use std::io::{IsTerminal, Write};

use clap::Args;
use hull_proto::v1 as pb;
use tokio_stream::StreamExt;

use super::targets::{self, OneOff};
use super::ComposeArgs;
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
    #[arg(long)]
    pub tail: Option<String>,
    /// Only since a Unix time or a relative time (e.g. 42s, 5m, 2h).
    #[arg(long)]
    pub since: Option<String>,
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
    /// Prefixes for `names`: padded to the longest, colored when `color`.
    pub fn for_names(names: &[&str], color: bool, timestamps: bool) -> Vec<Prefix> {
        let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
        names
            .iter()
            .enumerate()
            .map(|(i, n)| Prefix {
                text: format!("{n:<width$} | "),
                color: color.then_some(COLORS[i % COLORS.len()]),
                timestamps,
            })
            .collect()
    }

    /// An empty prefix (`--no-log-prefix`).
    fn none(timestamps: bool) -> Prefix {
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

/// One whole line of a container's log.
struct Line {
    time: i64,
    stream: u32,
    bytes: Vec<u8>,
}

/// Splits chunks into lines; a chunk's time stamps the lines it ends.
#[derive(Default)]
struct Splitter {
    partial: [Vec<u8>; 2],
}

impl Splitter {
    fn push(&mut self, c: &pb::LogChunk, out: &mut Vec<Line>) {
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
    fn finish(&mut self, time: i64, out: &mut Vec<Line>) {
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

fn write(prefix: &Prefix, l: &Line) -> std::io::Result<()> {
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

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &LogsArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let containers =
        targets::containers(conn, &loaded.project, &a.services, OneOff::Exclude).await?;
    let (has_tail, tail) = parse_tail(a.tail.as_deref())?;
    let since_nanos = a
        .since
        .as_deref()
        .map(|s| hull_types::time::parse_since(s, hull_types::time::now_nanos()))
        .transpose()?
        .unwrap_or(0);
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    let color = !a.no_color && std::io::stdout().is_terminal();
    let prefixes = if a.no_log_prefix {
        vec![Prefix::none(a.timestamps); names.len()]
    } else {
        Prefix::for_names(&names, color, a.timestamps)
    };
    let mut streams = Vec::new();
    for c in &containers {
        let s = conn
            .tasks()
            .logs(conn.req(pb::LogsRequest {
                container_id: c.id.clone(),
                follow: a.follow,
                has_tail,
                tail,
                since_nanos,
            }))
            .await
            .map_err(|e| anyhow::anyhow!("container {}: logs: {}", c.name, msg(&e)))?
            .into_inner();
        streams.push(s);
    }
    if a.follow {
        let pumps: Vec<_> = streams
            .into_iter()
            .zip(prefixes)
            .map(|(s, p)| tokio::spawn(follow(s, p)))
            .collect();
        for p in pumps {
            p.await??;
        }
        return Ok(());
    }
    // Everything read, then merged by time (each container's own order kept).
    let mut all: Vec<(usize, Line)> = Vec::new();
    for (i, mut s) in streams.into_iter().enumerate() {
        let mut split = Splitter::default();
        let mut lines = Vec::new();
        let mut last = 0;
        while let Some(c) = s.next().await {
            let c = c.map_err(|e| anyhow::anyhow!("{}: {}", names[i], msg(&e)))?;
            last = c.time_nanos;
            split.push(&c, &mut lines);
        }
        split.finish(last, &mut lines);
        all.extend(lines.into_iter().map(|l| (i, l)));
    }
    all.sort_by_key(|(_, l)| l.time);
    for (i, l) in &all {
        write(&prefixes[*i], l)?;
    }
    Ok(())
}

/// Writes one container's lines as they come, until its log ends.
async fn follow(mut s: tonic::Streaming<pb::LogChunk>, prefix: Prefix) -> anyhow::Result<()> {
    let mut split = Splitter::default();
    let mut last = 0;
    while let Some(c) = s.next().await {
        let c = c.map_err(|e| anyhow::anyhow!("{}", msg(&e)))?;
        last = c.time_nanos;
        let mut lines = Vec::new();
        split.push(&c, &mut lines);
        for l in &lines {
            write(&prefix, l)?;
        }
    }
    let mut lines = Vec::new();
    split.finish(last, &mut lines);
    for l in &lines {
        write(&prefix, l)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_pad_to_the_longest_name_and_color_on_request() {
        let p = Prefix::for_names(&["p-web-1", "p-database-1"], false, false);
        assert_eq!(p[0].line(0, b"hi"), b"p-web-1      | hi\n");
        assert_eq!(p[1].line(0, b"x"), b"p-database-1 | x\n");
        let c = Prefix::for_names(&["a", "b"], true, false);
        assert_eq!(c[1].line(0, b"x"), b"\x1b[33mb | \x1b[0mx\n");
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

//! `hull cp`: copy files between a container and the host (Docker's
//! `docker cp`). Both sides stream tar: the daemon reads or writes the
//! container's rootfs, this side the host's file system, with the same
//! confined path resolution and Docker's rules for where a copy lands.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Args;
use hull_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::client::Conn;
use super::containers::Exit;
use super::progress::human;
use hull_types::chunks::{ChunkReader, ChunkWriter};
use hull_types::copy::{self, Root};

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Always follow a symlink in SRC_PATH.
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Archive mode: keep uid/gid (else copies belong to root).
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Suppress the summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH, a host path, or `-` (a tar on stdin).
    pub src: String,
    /// CONTAINER:DEST_PATH, a host path, or `-` (a tar on stdout).
    pub dest: String,
}

/// Docker's split: `CONTAINER:PATH`, unless the argument is an absolute
/// path or starts with `.` (a local path with a colon).
fn split(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.starts_with('.') && !c.is_empty() => (Some(c), p),
        _ => (None, arg),
    }
}

fn fail(msg: impl std::fmt::Display) -> anyhow::Error {
    eprintln!("{}", hull_types::untrusted::escape(&msg.to_string()));
    Exit(1).into()
}

fn daemon(e: &tonic::Status) -> anyhow::Error {
    fail(format!(
        "Error response from daemon: {}",
        super::containers::msg(e)
    ))
}

/// A host path made absolute (against the working directory), keeping a
/// trailing `/` or `/.`.
fn absolute(p: &str) -> anyhow::Result<String> {
    if p.starts_with('/') {
        return Ok(p.to_string());
    }
    let cwd = std::env::current_dir()?;
    Ok(format!("{}/{p}", cwd.display()))
}

pub async fn run(conn: &Conn, a: CpArgs) -> anyhow::Result<()> {
    match (split(&a.src), split(&a.dest)) {
        ((Some(_), _), (Some(_), _)) => {
            Err(fail("Error: copying between containers is not supported"))
        }
        ((None, _), (None, _)) => Err(fail("Error: must specify at least one container source")),
        ((Some(c), p), (None, d)) => from_container(conn, &a, c, p, d).await,
        ((None, s), (Some(c), p)) => to_container(conn, &a, s, c, p).await,
    }
}

async fn from_container(
    conn: &Conn,
    a: &CpArgs,
    container: &str,
    path: &str,
    dest: &str,
) -> anyhow::Result<()> {
    if path.is_empty() {
        return Err(fail("Error: filepath can not be empty"));
    }
    // The host side first: a bad destination fails before any transfer.
    let host_dest = if dest == "-" {
        None
    } else {
        let abs = absolute(dest)?;
        let host = Root::open(std::path::Path::new("/"))?;
        let dest_stat = host.stat(&abs, true)?;
        if dest_stat.is_none() {
            let mut parent = copy::components(&abs);
            parent.pop();
            let p = format!("/{}", parent.join("/"));
            if !host.stat(&p, true)?.is_some_and(|s| s.is_dir) {
                return Err(fail(format!("Error: lstat {p}: no such file or directory")));
            }
        }
        Some((abs, host, dest_stat))
    };
    let mut files = conn.files();
    let mut s = files
        .copy_from(conn.req(pb::PathRequest {
            container_id: container.to_string(),
            path: path.to_string(),
            follow_link: a.follow_link,
        }))
        .await
        .map_err(|e| daemon(&e))?
        .into_inner();
    let stat = match s.message().await {
        Ok(Some(c)) => c.stat.unwrap_or_default(),
        Ok(None) => return Err(fail("Error: the daemon sent no archive")),
        Err(e) => return Err(daemon(&e)),
    };
    let Some((abs, host, dest_stat)) = host_dest else {
        let mut out = std::io::stdout().lock();
        while let Some(c) = s.message().await.map_err(|e| daemon(&e))? {
            out.write_all(&c.data)?;
        }
        out.flush()?;
        return Ok(());
    };
    let target = copy::plan(
        &stat.name,
        stat.is_dir,
        copy::contents_only(path),
        &abs,
        dest_stat.as_ref(),
    )
    .map_err(|e| fail(format!("Error: {}", e.plain())))?;
    let mut target = target;
    target.chown = a.archive;
    let (tx, rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(8);
    let worker = std::thread::spawn(move || host.extract(&target, ChunkReader::new(rx)));
    let mut total = 0u64;
    let mut failed = None;
    loop {
        match s.message().await {
            Ok(Some(c)) => {
                total += c.data.len() as u64;
                if tx.send(Ok(c.data)).await.is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = tx
                    .send(Err(std::io::Error::other(e.message().to_string())))
                    .await;
                failed = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let res = worker
        .join()
        .map_err(|_| anyhow::anyhow!("extraction thread panicked"))?;
    if let Some(e) = failed {
        return Err(daemon(&e));
    }
    res.map_err(|e| fail(format!("Error: {}", e.plain())))?;
    if !a.quiet {
        eprintln!("Successfully copied {} to {dest}", human(total as i64));
    }
    Ok(())
}

async fn to_container(
    conn: &Conn,
    a: &CpArgs,
    src: &str,
    container: &str,
    path: &str,
) -> anyhow::Result<()> {
    if path.is_empty() {
        return Err(fail("Error: filepath can not be empty"));
    }
    let mut target = pb::CopyToTarget {
        container_id: container.to_string(),
        dest: path.to_string(),
        archive: a.archive,
        ..Default::default()
    };
    let (tx, rx) = mpsc::channel::<Result<pb::CopyToChunk, tonic::Status>>(8);
    let worker: std::thread::JoinHandle<anyhow::Result<()>> = if src == "-" {
        target.raw = true;
        std::thread::spawn(move || {
            let mut w = ChunkWriter::new(tx, data_chunk);
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; 256 << 10];
            loop {
                let n = stdin.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                w.write_all(&buf[..n])?;
            }
            w.flush()?;
            Ok(())
        })
    } else {
        let abs = absolute(src)?;
        let host = Root::open(std::path::Path::new("/"))?;
        let Some(st) = host.stat(&abs, a.follow_link)? else {
            return Err(fail(format!(
                "Error: lstat {}: no such file or directory",
                PathBuf::from(&abs).display()
            )));
        };
        target.src_base = st.name.clone();
        target.src_is_dir = st.is_dir;
        target.contents_only = copy::contents_only(src);
        let follow = a.follow_link;
        std::thread::spawn(move || {
            let mut w = ChunkWriter::new(tx, data_chunk);
            host.archive(&abs, follow, &mut w)
                .map_err(|e| anyhow::anyhow!("{}", e.plain()))?;
            w.flush()?;
            Ok(())
        })
    };
    let first = pb::CopyToChunk {
        target: Some(target),
        data: Vec::new(),
    };
    let stream = tokio_stream::StreamExt::map_while(
        tokio_stream::StreamExt::chain(tokio_stream::once(Ok(first)), ReceiverStream::new(rx)),
        |r: Result<pb::CopyToChunk, tonic::Status>| r.ok(),
    );
    // On a daemon error the stream is dropped, which ends the worker.
    let r = conn
        .files()
        .copy_to(conn.req(stream))
        .await
        .map_err(|e| daemon(&e))?
        .into_inner();
    let produced = worker
        .join()
        .map_err(|_| anyhow::anyhow!("archive thread panicked"))?;
    produced.map_err(|e| fail(format!("Error: {e:#}")))?;
    if !a.quiet {
        eprintln!(
            "Successfully copied {} to {container}:{path}",
            human(r.bytes as i64)
        );
    }
    Ok(())
}

fn data_chunk(data: Vec<u8>) -> pb::CopyToChunk {
    pb::CopyToChunk { target: None, data }
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_like_docker() {
        use super::split;
        assert_eq!(split("c1:/etc/hosts"), (Some("c1"), "/etc/hosts"));
        assert_eq!(split("/tmp/a:b"), (None, "/tmp/a:b"));
        assert_eq!(split("./a:b"), (None, "./a:b"));
        assert_eq!(split("file"), (None, "file"));
        assert_eq!(split("-"), (None, "-"));
    }
}

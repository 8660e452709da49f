//! `up` in the foreground: every container's output on our stdout, each
//! line prefixed `NAME  | ` (names padded to the longest), until all of them
//! exited. `--abort-on-container-exit` stops the others when one exits;
//! `--exit-code-from SERVICE` returns that service's exit code. SIGINT or
//! SIGTERM stops the project's containers ("Gracefully stopping…"); a
//! second one kills them.

use std::io::Write;
use std::time::Duration;

use futures_util::future::join_all;
use hull_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;

use super::interrupt::Interrupt;
use super::labels;
use super::project::label;
use crate::client::Conn;
use crate::containers::lifecycle::stop;
use crate::containers::msg;

#[derive(Debug, Clone, Default)]
pub struct Attach {
    pub abort_on_exit: bool,
    pub exit_code_from: Option<String>,
}

/// A container that exited: (name, service, exit code).
type Exited = (String, String, i32);

/// Follow the containers of `waves` (groups that started together, in
/// start order) from `since_nanos`; the exit code of `up`.
pub async fn follow(
    conn: &Conn,
    waves: &[Vec<pb::Container>],
    since_nanos: i64,
    opts: &Attach,
    intr: &Interrupt,
) -> anyhow::Result<i32> {
    let containers: Vec<&pb::Container> = waves.iter().flatten().collect();
    let width = containers.iter().map(|c| c.name.len()).max().unwrap_or(0) + 1;
    let mut pumps = Vec::new();
    let (tx, mut rx) = mpsc::channel::<Exited>(containers.len().max(1));
    for c in &containers {
        let s = conn
            .tasks()
            .logs(conn.req(pb::LogsRequest {
                container_id: c.id.clone(),
                follow: true,
                since_nanos,
                ..Default::default()
            }))
            .await
            .map_err(|e| anyhow::anyhow!("container {}: logs: {}", c.name, msg(&e)))?
            .into_inner();
        let prefix = format!("{:<width$} | ", c.name);
        pumps.push(tokio::spawn(pump(s, prefix)));
        let mut tasks = conn.tasks();
        let req = conn.req(pb::WaitTaskRequest {
            container_id: c.id.clone(),
            exec_id: String::new(),
        });
        let tx = tx.clone();
        let (name, service) = (c.name.clone(), label(c, labels::SERVICE).to_string());
        let fallback = c.status.as_ref().map(|s| s.exit_code).unwrap_or(0);
        tokio::spawn(async move {
            let code = match tasks.wait(req).await {
                Ok(w) => w.into_inner().exit_status as i32,
                Err(_) => fallback,
            };
            let _ = tx.send((name, service, code)).await;
        });
    }
    drop(tx);
    let mut remaining = containers.len();
    let mut code = 0;
    let mut interrupted = false;
    let mut aborted = false;
    let from = |service: &str| opts.exit_code_from.as_deref() == Some(service);
    while remaining > 0 && !aborted && !interrupted {
        tokio::select! {
            exited = rx.recv() => {
                let Some((name, service, c)) = exited else { break };
                remaining -= 1;
                println!("{name} exited with code {c}");
                if from(&service) || (opts.abort_on_exit && opts.exit_code_from.is_none()) {
                    code = c;
                }
                aborted = opts.abort_on_exit;
            }
            () = intr.first() => { interrupted = true; }
        }
    }
    if aborted || interrupted {
        if aborted {
            eprintln!("Aborting on container exit...");
        } else {
            eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
        }
        stop_all(conn, waves, intr).await;
        // The others' exits, now that they are stopped: `--exit-code-from`
        // takes its service's code even when another one ended the run.
        while remaining > 0 {
            let next = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
            let Ok(Some((name, service, c))) = next else {
                break;
            };
            remaining -= 1;
            println!("{name} exited with code {c}");
            if from(&service) {
                code = c;
            }
        }
    }
    // The streams end once their containers are gone; what is still in
    // flight gets a moment to be printed.
    for p in pumps {
        let _ = tokio::time::timeout(Duration::from_secs(2), p).await;
    }
    if interrupted {
        return Ok(130);
    }
    if let Some(s) = &opts.exit_code_from {
        if !containers.iter().any(|c| label(c, labels::SERVICE) == s) {
            anyhow::bail!("no container of service {s:?} to take the exit code from");
        }
    }
    Ok(code)
}

/// Stop the containers wave by wave from the last (dependents first), a
/// wave's in parallel; another signal meanwhile kills what is left.
pub async fn stop_all(conn: &Conn, waves: &[Vec<pb::Container>], intr: &Interrupt) {
    let graceful = async {
        for wave in waves.iter().rev() {
            join_all(wave.iter().map(|c| async move {
                eprintln!(" Container {}  Stopping", c.name);
                match stop(conn, &c.id, None).await {
                    Ok(()) => eprintln!(" Container {}  Stopped", c.name),
                    Err(e) => eprintln!("warning: container {}: {e}", c.name),
                }
            }))
            .await;
        }
    };
    tokio::select! {
        () = graceful => return,
        () = intr.second() => {}
    }
    eprintln!("Killing...");
    join_all(waves.iter().flatten().map(|c| async move {
        let _ = stop(conn, &c.id, Some(0)).await;
        eprintln!(" Container {}  Killed", c.name);
    }))
    .await;
}

/// Copy a log stream to stdout a line at a time, each line prefixed.
async fn pump(mut s: tonic::Streaming<pb::LogChunk>, prefix: String) {
    // Partial lines per stream (stdout 1, stderr 2).
    let mut partial: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    while let Some(Ok(chunk)) = s.next().await {
        let buf = &mut partial[usize::from(chunk.stream == 2)];
        buf.extend_from_slice(&chunk.data);
        let Some(last) = buf.iter().rposition(|b| *b == b'\n') else {
            continue;
        };
        let rest = buf.split_off(last + 1);
        write_lines(&prefix, buf);
        *buf = rest;
    }
    for buf in &mut partial {
        if !buf.is_empty() {
            buf.push(b'\n');
            write_lines(&prefix, buf);
        }
    }
}

fn write_lines(prefix: &str, text: &[u8]) {
    let mut out = Vec::with_capacity(text.len() + prefix.len() * 4);
    for line in text.split_inclusive(|b| *b == b'\n') {
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(line);
    }
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(&out);
    let _ = o.flush();
}

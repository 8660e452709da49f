//! ExecSync: a command in a running container, its output and exit code,
//! killed when it outlives its timeout.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use super::pod_containers::find;
use crate::containers::{exec, tasks};
use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::metadata::ns_key;

/// Most output kept per stream (CRI's limit: 16 MiB).
pub const MAX_OUTPUT: u64 = 16 << 20;

/// What the command wrote and how it ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
}

fn read_capped(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(f) = std::fs::File::open(p) {
        let _ = f.take(MAX_OUTPUT).read_to_end(&mut out);
    }
    out
}

/// Run `cmd` in container `id` (blocking); `timeout` 0: no limit. A command
/// that outlives its timeout is killed and the call fails (DeadlineExceeded).
pub fn exec_sync(
    m: &Manager,
    ns: &str,
    id: &str,
    cmd: &[String],
    timeout: Duration,
) -> Result<ExecOutput> {
    if cmd.is_empty() {
        return Err(Error::InvalidArgument("no command to exec".into()));
    }
    let c = find(m, ns, id)?;
    let rec = crate::containers::get(m, ns, &c.id)?
        .ok_or_else(|| Error::NotFound(format!("container {id} not found")))?;
    let live = m
        .tasks
        .get(&ns_key(ns, &c.id))
        .ok_or_else(|| tasks::not_running(&rec))?;
    let spec = tasks::ExecSpec {
        container_id: c.id.clone(),
        args: cmd.to_vec(),
        ..Default::default()
    };
    let process = tasks::exec_process(m, &rec, &spec)?;
    let (p, _pid) = exec::start(&live, &rec.bundle, &process)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let (l2, id2) = (live.clone(), p.exec_id.clone());
    let waiter = std::thread::Builder::new()
        .name("exec-sync".into())
        .spawn(move || {
            let p2 = exec::ExecProc {
                exec_id: id2,
                stdout: Default::default(),
                stderr: Default::default(),
            };
            let _ = tx.send(exec::wait(&l2, &p2));
        })
        .map_err(|e| Error::io("spawn exec waiter", e))?;
    let got = if timeout.is_zero() {
        rx.recv().ok()
    } else {
        rx.recv_timeout(timeout).ok()
    };
    let res = match got {
        Some(Ok(code)) => Ok(ExecOutput {
            stdout: read_capped(&p.stdout),
            stderr: read_capped(&p.stderr),
            exit_code: code,
        }),
        Some(Err(e)) => Err(e),
        None => {
            let _ = exec::kill(&live, &p, libc::SIGKILL as u32);
            let _ = rx.recv_timeout(Duration::from_secs(10));
            Err(Error::DeadlineExceeded(format!(
                "command {:?} timed out after {}s",
                cmd[0],
                timeout.as_secs()
            )))
        }
    };
    let _ = waiter.join();
    exec::delete(&live, &p);
    res
}

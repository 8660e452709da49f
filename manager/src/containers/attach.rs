//! Interactive containers: stdin fifos, terminals, and the Attach and
//! ExecAttach streams (`hull run -i/-t`, `attach`, `start -a`, `exec -i/-t`).
//!
//! Output: an attach follows the container's json-file log (written by
//! `hull-log-driver`, which the shim feeds, with a terminal too) from where
//! it ended when the client attached. Why this and not a tee in hulld: the
//! log driver outlives hulld, so output keeps flowing (and stays in the log)
//! while hulld restarts, and there is one writer of the log; for `-i`/`-t`
//! containers the driver writes a partial line after 10 ms of quiet, so a
//! prompt shows at once (others' logs stay one entry per line);
//! hulld records an exit only after the driver finished, so a follower that
//! reads once more after seeing the task gone has every byte. The cost is a
//! poll of the file every 20 ms per attached client. An exec's output goes
//! to its own files in the bundle, followed the same way.
//!
//! Stdin: `<bundle>/stdin.fifo`, the shim's stdin for the task. hulld holds
//! the only write end for the life of the task, so clients can come and go
//! (`attach`, detach) without the process seeing EOF; a client's EOF closes
//! it only for StdinOnce containers (`run -i`) and execs. Closing our write
//! end, rather than the shim's CloseIO, keeps the order: the shim copies
//! what is still in the fifo before it sees EOF and closes the process's
//! stdin. (After a hulld restart the shim has seen EOF: stdin is closed.)

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use containerd_shim_protos::api;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::exec::{self, ExecProc};
use super::shim::{self, ctx, Live};
use super::tasks::ExecSpec;
use super::{logfile, ContainerRecord, RunSpec};
use crate::error::{Error, IoContext, Result};
use crate::manager::Manager;
use crate::metadata::ns_key;

/// Annotations: the container keeps an attachable stdin (`-i`); the first
/// client's EOF closes the container's stdin.
pub use hull_types::annotations::{
    OPEN_STDIN as OPEN_STDIN_ANNOTATION, STDIN_ONCE as STDIN_ONCE_ANNOTATION,
};
const STDIN_FIFO: &str = "stdin.fifo";
/// How often a follower looks for new output.
const POLL: Duration = Duration::from_millis(20);

/// hulld's write end of a stdin fifo; None once closed.
type StdinWriter = Arc<Mutex<Option<File>>>;

/// Write ends of the stdin fifos of live tasks (and execs), by fifo path.
static STDIN: LazyLock<Mutex<HashMap<PathBuf, StdinWriter>>> = LazyLock::new(Default::default);

fn stdin_map() -> std::sync::MutexGuard<'static, HashMap<PathBuf, StdinWriter>> {
    STDIN.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a client sends on an attach: its first message names what to
/// attach to (and for an exec, what to run); later ones carry stdin and
/// terminal sizes.
#[derive(Debug, Clone, Default)]
pub struct AttachInput {
    /// First message: the container (ID, prefix or name).
    pub container_id: String,
    /// First message of an exec: the process to run.
    pub exec: Option<ExecSpec>,
    /// First message: forward stdin (exec: give the process a stdin).
    pub stdin: bool,
    /// First message of an exec: give the process a terminal.
    pub tty: bool,
    /// Bytes for the process's stdin.
    pub data: Vec<u8>,
    /// The client's stdin ended.
    pub close_stdin: bool,
    /// Terminal size, when both are non-zero.
    pub width: u32,
    pub height: u32,
}

/// What an attach sends back: first a hello (`attached`), then output,
/// then the exit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttachOutput {
    /// 1 stdout, 2 stderr (one stream, 1, with a terminal).
    pub stream: u32,
    pub data: Vec<u8>,
    pub exited: bool,
    pub exit_code: i32,
    /// The hello: output is followed from here on.
    pub attached: bool,
    /// In the hello: the process has a terminal.
    pub tty: bool,
}

/// A client's messages after the first one; ends when the client goes.
pub type Input = Pin<Box<dyn Stream<Item = AttachInput> + Send>>;

/// Record `-i` and StdinOnce in a generated spec.
pub fn annotate(spec: &mut serde_json::Value, run: &RunSpec) {
    if run.open_stdin {
        spec["annotations"][OPEN_STDIN_ANNOTATION] = "true".into();
    }
    if run.open_stdin && run.stdin_once {
        spec["annotations"][STDIN_ONCE_ANNOTATION] = "true".into();
    }
}

struct SpecIo {
    terminal: bool,
    open_stdin: bool,
    stdin_once: bool,
}

fn spec_io(spec: &str) -> SpecIo {
    let v: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
    let ann = |k: &str| v["annotations"][k].as_str() == Some("true");
    SpecIo {
        terminal: v["process"]["terminal"].as_bool().unwrap_or(false),
        open_stdin: ann(OPEN_STDIN_ANNOTATION),
        stdin_once: ann(STDIN_ONCE_ANNOTATION),
    }
}

/// A fresh fifo at `path`, held open for writing by hulld (O_RDWR: the
/// open does not wait for the shim, and our end never sees EPIPE).
fn make_stdin_fifo(path: &Path) -> Result<()> {
    let _ = std::fs::remove_file(path);
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| Error::io(format!("mkfifo {}", path.display()), e.into()))?;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .ctx(|| format!("open {}", path.display()))?;
    stdin_map().insert(path.to_path_buf(), Arc::new(Mutex::new(Some(f))));
    Ok(())
}

fn release_stdin(path: &Path) {
    stdin_map().remove(path);
    let _ = std::fs::remove_file(path);
}

/// The task's stdin (a fifo path, or "") and whether it has a terminal,
/// from the container's spec.
pub fn task_stdio(r: &ContainerRecord) -> Result<(String, bool)> {
    let io = spec_io(&r.spec);
    if !io.open_stdin {
        return Ok((String::new(), io.terminal));
    }
    let path = r.bundle.join(STDIN_FIFO);
    make_stdin_fifo(&path)?;
    Ok((path.display().to_string(), io.terminal))
}

/// Extra `binary://` query for the log driver: interactive containers
/// (`-i` or `-t`) get partial lines written at once, for their prompts.
pub fn log_driver_flags(r: &ContainerRecord) -> &'static str {
    let io = spec_io(&r.spec);
    if io.terminal || io.open_stdin {
        "&--partial-lines"
    } else {
        ""
    }
}

/// The task of the container in `bundle` is gone: drop its stdin.
pub fn task_exited(bundle: &Path) {
    release_stdin(&bundle.join(STDIN_FIFO));
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

fn resize(live: &Live, exec_id: &str, width: u32, height: u32) -> Result<()> {
    let mut req = api::ResizePtyRequest::new();
    req.id = live.id.clone();
    req.exec_id = exec_id.to_string();
    req.width = width;
    req.height = height;
    shim::call("resize", live.client.resize_pty(ctx(), &req)).map(|_| ())
}

/// Feed the client's input to the process until the client goes: stdin
/// bytes into `stdin`, resizes to the shim. `close_on_eof`: the client's
/// EOF closes the process's stdin.
async fn pump_input(
    mut input: Input,
    live: Arc<Live>,
    exec_id: String,
    stdin: Option<StdinWriter>,
    close_on_eof: bool,
    tty: bool,
) {
    while let Some(msg) = input.next().await {
        if !msg.data.is_empty() {
            if let Some(w) = stdin.clone() {
                let data = msg.data;
                let ok = tokio::task::spawn_blocking(move || {
                    let mut g = w.lock().unwrap_or_else(|e| e.into_inner());
                    match g.as_mut() {
                        Some(f) => f.write_all(&data).is_ok(),
                        None => false,
                    }
                })
                .await
                .unwrap_or(false);
                if !ok {
                    tracing::debug!(id = %live.id, "stdin is closed; input dropped");
                }
            }
        }
        if msg.close_stdin && close_on_eof {
            if let Some(w) = &stdin {
                w.lock().unwrap_or_else(|e| e.into_inner()).take();
            }
        }
        if tty && msg.width > 0 && msg.height > 0 {
            let (l, x) = (live.clone(), exec_id.clone());
            let r =
                tokio::task::spawn_blocking(move || resize(&l, &x, msg.width, msg.height)).await;
            if let Ok(Err(e)) = r {
                tracing::debug!(id = %live.id, "resize: {e}");
            }
        }
    }
}

/// `Attach`: follow a running container's output, feed its stdin.
pub async fn attach(
    m: Arc<Manager>,
    ns: String,
    first: AttachInput,
    input: Input,
) -> Result<mpsc::Receiver<Result<AttachOutput>>> {
    let (m2, ns2, what) = (m.clone(), ns.clone(), first.container_id.clone());
    let (rec, live) = blocking(move || {
        let r = super::find(&m2, &ns2, &what)?;
        let live = m2.tasks.get(&ns_key(&ns2, &r.id));
        Ok((r, live))
    })
    .await?;
    let live = live.ok_or_else(|| {
        Error::FailedPrecondition("You cannot attach to a stopped container, start it first".into())
    })?;
    let io = spec_io(&rec.spec);
    let stdin = if first.stdin && io.open_stdin {
        stdin_map().get(&rec.bundle.join(STDIN_FIFO)).cloned()
    } else {
        None
    };
    // The output is followed in the log the driver writes: json-file in
    // the bundle, or CRI's format at the file kubelet asked for.
    let cri = rec.cri_log.is_some();
    let main = rec
        .cri_log
        .clone()
        .unwrap_or_else(|| rec.bundle.join(logfile::LOG_FILE));
    let p = main.clone();
    let mut offset =
        blocking(move || Ok(std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0))).await?;
    if io.terminal && first.width > 0 && first.height > 0 {
        let l = live.clone();
        // The task may not have started yet: the pty exists from create on.
        if let Err(e) = blocking(move || resize(&l, "", first.width, first.height)).await {
            tracing::debug!(id = %rec.id, "resize: {e}");
        }
    }
    tokio::spawn(pump_input(
        input,
        live.clone(),
        String::new(),
        stdin,
        io.stdin_once,
        io.terminal,
    ));
    let (tx, rx) = mpsc::channel(64);
    let key = ns_key(&ns, &rec.id);
    tokio::spawn(async move {
        let hello = AttachOutput {
            attached: true,
            tty: io.terminal,
            ..Default::default()
        };
        if tx.send(Ok(hello)).await.is_err() {
            return;
        }
        loop {
            // Decide before reading: output written before the exit is in
            // the log by the time hulld forgets the task. (A restart policy's
            // next run is another task: the attach ends with this one.)
            let running = m.tasks.get(&key).is_some_and(|l| Arc::ptr_eq(&l, &live));
            let p = main.clone();
            let (new, off) = tokio::task::spawn_blocking(move || {
                if cri {
                    super::cri_log::read_entries(&p, offset, 4 * logfile::READ_CHUNK)
                } else {
                    super::tasks::read_entries(&p, offset)
                }
            })
            .await
            .unwrap_or_default();
            // One read gives a few MiB at most: come back for the rest.
            let more = off > offset;
            offset = off;
            for e in new {
                let msg = AttachOutput {
                    stream: e.stream,
                    data: e.data,
                    ..Default::default()
                };
                if tx.send(Ok(msg)).await.is_err() {
                    return; // the client detached
                }
            }
            if more {
                continue;
            }
            if !running {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        let exit = live.wait().await;
        let _ = tx
            .send(Ok(AttachOutput {
                exited: true,
                exit_code: exit.code,
                ..Default::default()
            }))
            .await;
    });
    Ok(rx)
}

/// Relay an exec's output files (stdout as stream 1, stderr as 2) as they
/// grow, looking every `POLL`, until its `waiter` is done and both are read
/// to the end; then the message with its exit code (or the error), for the
/// caller to send once the exec is cleaned up: a client that sees the exit
/// finds no exec left behind. `chunk` and `exited` make the stream's
/// messages; nothing more is sent once the receiver is gone.
pub async fn relay_exec_output<T>(
    paths: [(u32, PathBuf); 2],
    waiter: tokio::task::JoinHandle<Result<i32>>,
    tx: &mpsc::Sender<Result<T>>,
    mut gone: bool,
    chunk: impl Fn(u32, Vec<u8>) -> T,
    exited: impl FnOnce(i32) -> T,
) -> Result<T> {
    let mut offsets = [0u64; 2];
    loop {
        let done = waiter.is_finished();
        for (i, (stream, path)) in paths.iter().enumerate() {
            loop {
                let data = super::tasks::read_from(path, offsets[i]).await;
                if data.is_empty() {
                    break;
                }
                offsets[i] += data.len() as u64;
                if !gone && tx.send(Ok(chunk(*stream, data))).await.is_err() {
                    gone = true;
                }
            }
        }
        if done {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    match waiter.await {
        Ok(Ok(c)) => Ok(exited(c)),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(Error::Internal(e.to_string())),
    }
}

/// `ExecAttach`: run a process in the container with stdin (a fifo) and a
/// terminal if asked; its output, then its exit code.
/// The caller has checked that `r` names a command.
pub async fn exec_attach(
    m: Arc<Manager>,
    ns: String,
    first: AttachInput,
    r: ExecSpec,
    input: Input,
) -> Result<mpsc::Receiver<Result<AttachOutput>>> {
    let (tty, want_stdin) = (first.tty, first.stdin);
    let (live, p, stdin_path) = blocking(move || {
        let rec = super::find(&m, &ns, &r.container_id)?;
        let live = m.tasks.get(&ns_key(&ns, &rec.id)).ok_or_else(|| {
            Error::FailedPrecondition(format!("Container {} is not running", rec.id))
        })?;
        if rec.state.status == super::PAUSED {
            return Err(Error::FailedPrecondition(format!(
                "Container {} is paused, unpause the container before exec",
                rec.id
            )));
        }
        let mut process = super::tasks::exec_process(&m, &rec, &r)?;
        process["terminal"] = tty.into();
        let p = ExecProc::new(&rec.bundle);
        let stdin_path = if want_stdin {
            let path = rec.bundle.join(format!("{}.in", p.exec_id));
            make_stdin_fifo(&path)?;
            Some(path)
        } else {
            None
        };
        let fifo = stdin_path
            .as_ref()
            .map(|x| x.display().to_string())
            .unwrap_or_default();
        if let Err(e) = exec::start_io(&live, &p, &process, &fifo, tty) {
            if let Some(x) = &stdin_path {
                release_stdin(x);
            }
            return Err(e);
        }
        if tty && first.width > 0 && first.height > 0 {
            if let Err(e) = resize(&live, &p.exec_id, first.width, first.height) {
                tracing::debug!(id = %rec.id, "resize: {e}");
            }
        }
        Ok((live, p, stdin_path))
    })
    .await?;
    let stdin = stdin_path
        .as_ref()
        .and_then(|x| stdin_map().get(x).cloned());
    tokio::spawn(pump_input(
        input,
        live.clone(),
        p.exec_id.clone(),
        stdin,
        true,
        tty,
    ));
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let p = Arc::new(p);
        let hello = AttachOutput {
            attached: true,
            tty,
            ..Default::default()
        };
        let gone = tx.send(Ok(hello)).await.is_err();
        let (l2, p2) = (live.clone(), p.clone());
        let waiter = tokio::task::spawn_blocking(move || exec::wait(&l2, &p2));
        let last = relay_exec_output(
            [(1, p.stdout.clone()), (2, p.stderr.clone())],
            waiter,
            &tx,
            gone,
            |stream, data| AttachOutput {
                stream,
                data,
                ..Default::default()
            },
            |exit_code| AttachOutput {
                exited: true,
                exit_code,
                ..Default::default()
            },
        )
        .await;
        let _ = tokio::task::spawn_blocking(move || {
            exec::delete(&live, &p);
            if let Some(x) = &stdin_path {
                release_stdin(x);
            }
        })
        .await;
        let _ = tx.send(last).await;
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_round_trip() {
        let mut v = serde_json::json!({"process": {"terminal": true}});
        let run = RunSpec {
            open_stdin: true,
            stdin_once: true,
            ..Default::default()
        };
        annotate(&mut v, &run);
        let io = spec_io(&v.to_string());
        assert!(io.terminal && io.open_stdin && io.stdin_once);
        let mut v = serde_json::json!({"process": {}});
        annotate(
            &mut v,
            &RunSpec {
                stdin_once: true,
                ..Default::default()
            },
        );
        let io = spec_io(&v.to_string());
        assert!(!io.terminal && !io.open_stdin && !io.stdin_once);
    }

    #[test]
    fn stdin_fifo_is_held_until_released() {
        use std::os::unix::fs::OpenOptionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.fifo");
        make_stdin_fifo(&p).unwrap();
        assert!(stdin_map().contains_key(&p));
        // A reader sees what hulld writes.
        let mut r = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&p)
            .unwrap();
        let w = stdin_map().get(&p).cloned().unwrap();
        w.lock()
            .unwrap()
            .as_mut()
            .unwrap()
            .write_all(b"hi")
            .unwrap();
        let mut buf = [0u8; 8];
        use std::io::Read;
        assert_eq!(r.read(&mut buf).unwrap(), 2);
        release_stdin(&p);
        assert!(!p.exists());
        assert!(!stdin_map().contains_key(&p));
    }
}

//! Execs: more processes in a running container's task (`hull exec`),
//! added, started, waited for and forgotten through its shim.

use std::path::{Path, PathBuf};

use containerd_shim_protos::api;
use containerd_shim_protos::protobuf::well_known_types::any::Any;

use super::exec_gate;
use super::shim::{call, ctx, Live};
use crate::error::Result;
use crate::metadata::ns_key;

/// An exec'd process: its output files in the bundle.
pub struct ExecProc {
    pub exec_id: String,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl ExecProc {
    /// A new exec of the container in `bundle`.
    pub fn new(bundle: &Path) -> Self {
        let exec_id = format!("exec-{}", &crate::ids::new_id()[..12]);
        ExecProc {
            stdout: bundle.join(format!("{exec_id}.out")),
            stderr: bundle.join(format!("{exec_id}.err")),
            exec_id,
        }
    }
}

/// Add and start a process in the container (blocking), without stdin or
/// terminal. `process` is the OCI process (JSON).
pub fn start(live: &Live, bundle: &Path, process: &serde_json::Value) -> Result<(ExecProc, u32)> {
    let p = ExecProc::new(bundle);
    let pid = start_io(live, &p, process, "", false)?;
    Ok((p, pid))
}

/// Wait for an exec'd process (blocking, no timeout).
pub fn wait(live: &Live, p: &ExecProc) -> Result<i32> {
    let mut req = api::WaitRequest::new();
    req.id = live.id.clone();
    req.exec_id = p.exec_id.clone();
    let w = call(
        "exec wait",
        live.client.wait(ttrpc::context::with_timeout(0), &req),
    )?;
    Ok(w.exit_status as i32)
}

/// Wait for an exec'd process at most `limit` (blocking): its exit
/// status, or None when it is still running then.
pub fn wait_for(live: &Live, p: &ExecProc, limit: std::time::Duration) -> Result<Option<i32>> {
    let mut req = api::WaitRequest::new();
    req.id = live.id.clone();
    req.exec_id = p.exec_id.clone();
    let waited = async {
        match tokio::time::timeout(
            limit,
            live.client.wait(ttrpc::context::with_timeout(0), &req),
        )
        .await
        {
            Ok(w) => w.map(|w| Some(w.exit_status as i32)),
            Err(_) => Ok(None),
        }
    };
    call("exec wait", waited)
}

/// Send `signal` to an exec'd process.
pub fn kill(live: &Live, p: &ExecProc, signal: u32) -> Result<()> {
    let mut req = api::KillRequest::new();
    req.id = live.id.clone();
    req.exec_id = p.exec_id.clone();
    req.signal = signal;
    call("exec kill", live.client.kill(ctx(), &req)).map(|_| ())
}

/// Forget an exec'd process in the shim; remove its output files. Every
/// exec `start_io` started ends here (the task's clean-up waits for it).
pub fn delete(live: &Live, p: &ExecProc) {
    forget(live, p);
    exec_gate::leave(&ns_key(&live.ns, &live.id));
}

fn forget(live: &Live, p: &ExecProc) {
    let mut req = api::DeleteRequest::new();
    req.id = live.id.clone();
    req.exec_id = p.exec_id.clone();
    let _ = call("exec delete", live.client.delete(ctx(), &req));
    let _ = std::fs::remove_file(&p.stdout);
    let _ = std::fs::remove_file(&p.stderr);
}

/// Add and start an exec with the given stdio (blocking).
pub fn start_io(
    live: &Live,
    p: &ExecProc,
    process: &serde_json::Value,
    stdin: &str,
    tty: bool,
) -> Result<u32> {
    let mut spec = Any::new();
    spec.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process".into();
    spec.value = serde_json::to_vec(process)?;
    let mut req = api::ExecProcessRequest::new();
    req.id = live.id.clone();
    req.exec_id = p.exec_id.clone();
    req.stdin = stdin.to_string();
    req.stdout = format!("file://{}", p.stdout.display());
    if !tty {
        req.stderr = format!("file://{}", p.stderr.display());
    }
    req.terminal = tty;
    req.spec = Some(spec).into();
    let key = ns_key(&live.ns, &live.id);
    // In flight from before the Exec call: the task's clean-up, should its
    // init exit now, waits for this exec's exit before deleting the task.
    exec_gate::enter(&key);
    if let Err(e) = call("exec", live.client.exec(ctx(), &req)) {
        exec_gate::leave(&key);
        return Err(e);
    }
    let mut sreq = api::StartRequest::new();
    sreq.id = live.id.clone();
    sreq.exec_id = p.exec_id.clone();
    match call("exec start", live.client.start(ctx(), &sreq)) {
        Ok(r) => Ok(r.pid),
        Err(e) => {
            delete(live, p);
            Err(e)
        }
    }
}

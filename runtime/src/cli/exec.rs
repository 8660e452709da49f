//! `exec`: run a new process in a running container.

use crate::container::lifecycle::write_pid_file;
use crate::container::{Status, Store};
use crate::error::{Error, Result};
use crate::process::exec::{spawn, ExecRequest};
use crate::process::foreground::Foreground;
use clap::Args;
use oci_spec::runtime::{Capability, Process};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// An OCI process JSON file (instead of ARGS).
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Do not wait for the process.
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// KEY=VALUE, added to the container's environment.
    #[arg(short, long)]
    pub env: Vec<String>,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// UID[:GID]
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (e.g. CAP_NET_ADMIN).
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Accepted for runc compatibility (no SELinux/AppArmor here).
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    #[arg(long)]
    pub apparmor: Option<String>,
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Run the process in an existing sub-cgroup of the container:
    /// [CONTROLLER[,CONTROLLER…]:]PATH (repeatable).
    #[arg(long = "cgroup")]
    pub cgroup: Vec<String>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

fn build_process(a: &ExecArgs, base: Option<&Process>) -> Result<Process> {
    if let Some(path) = &a.process {
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        return serde_json::from_slice(&text).map_err(|source| Error::ProcessFile {
            path: path.to_path_buf(),
            source,
        });
    }
    if a.args.is_empty() {
        return Err(Error::ExecNoCommand);
    }
    let mut p = base.cloned().unwrap_or_default();
    p.set_args(Some(a.args.clone()));
    p.set_terminal(Some(a.tty));
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &a.env {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &a.user {
        let mut parts = u.splitn(2, ':');
        let bad = || Error::ExecUser(u.to_string());
        let uid: u32 = parts.next().unwrap_or("").parse().map_err(|_| bad())?;
        let gid: u32 = match parts.next() {
            Some(g) => g.parse().map_err(|_| bad())?,
            None => 0,
        };
        let mut user = p.user().clone();
        user.set_uid(uid);
        user.set_gid(gid);
        p.set_user(user);
    }
    if !a.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(user);
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for c in &a.cap {
            let name = c.trim_start_matches("CAP_");
            let cap: Capability = serde_json::from_value(serde_json::json!(name))
                .map_err(|_| Error::ExecCap(c.to_string()))?;
            for set in [
                caps.bounding().clone(),
                caps.effective().clone(),
                caps.permitted().clone(),
                caps.inheritable().clone(),
                caps.ambient().clone(),
            ]
            .iter_mut()
            .enumerate()
            {
                let (i, s) = set;
                let mut v = s.clone().unwrap_or_default();
                v.insert(cap);
                match i {
                    0 => caps.set_bounding(Some(v)),
                    1 => caps.set_effective(Some(v)),
                    2 => caps.set_permitted(Some(v)),
                    3 => caps.set_inheritable(Some(v)),
                    _ => caps.set_ambient(Some(v)),
                };
            }
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

pub fn run(store: &Store, a: &ExecArgs) -> Result<i32> {
    let mut st = store.load(&a.id)?;
    match store.status(&st) {
        Status::Stopped | Status::Creating => return Err(Error::ExecStopped(a.id.clone())),
        Status::Paused if !a.ignore_paused => return Err(Error::ExecPaused(a.id.clone())),
        _ => {}
    }
    if !a.cgroup.is_empty() {
        st.cgroup = crate::cgroups::sub_cgroup(&st.cgroup, &a.cgroup)?;
    }
    let process = build_process(a, st.config.process().as_ref())?;
    let terminal = process.terminal() == Some(true);
    crate::container::lifecycle::check_terminal(a.detach, terminal, a.console_socket.is_some())?;
    let seccomp = match st
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
    {
        Some(profile) => Some(crate::security::seccomp::compile(profile)?),
        None => None,
    };
    let fg = if a.detach {
        None
    } else {
        Some(Foreground::prepare()?)
    };
    // Foreground with a terminal (runc's rule allows no socket then): hullc
    // itself is the terminal, relaying between its stdio and the pty.
    let console = std::cell::RefCell::new(None);
    let req = ExecRequest {
        state: &st,
        process: &process,
        console_capture: (terminal && !a.detach).then_some(&console),
        console_socket: a.console_socket.as_deref(),
        preserve_fds: a.preserve_fds,
        seccomp: seccomp.as_ref(),
    };
    tracing::debug!(id = %a.id, args = ?process.args().as_deref().unwrap_or_default(), "exec: starting process");
    let pid = spawn(&req)?;
    tracing::debug!(id = %a.id, pid, "exec: process started");
    if let Some(pf) = &a.pid_file {
        write_pid_file(pf, pid)?;
    }
    match (fg, console.into_inner()) {
        (Some(fg), Some(master)) => fg.wait_with_console(pid, master),
        (Some(fg), None) => fg.wait(pid),
        (None, _) => Ok(0),
    }
}

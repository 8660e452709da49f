//! One process of a container as the Task API sees it, whether it is the
//! container's init or an exec: its pid, state, stdio and exit are kept the
//! same way for both. What differs (how it is started, signalled and
//! deleted) is its `Lifecycle`, `init::InitLifecycle` or
//! `exec::ExecLifecycle`.

use std::sync::Arc;

use containerd_shim_protos::api;
use containerd_shim_protos::types::task::Status;

use super::{ts, Shim};
use crate::error::Result;
use crate::reaper::Exit;
use crate::runtime::Runtime;
use crate::stdio::{ProcIo, StdioPaths};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PState {
    Created,
    Running,
    Stopped,
}

/// What sets a container's init apart from its execs. Each call is made
/// without the state lock held (the runtime binary may take its time); a
/// lifecycle takes the lock itself for what it reads and records.
pub trait Lifecycle: Send + Sync {
    /// Task.Start: run the process, publish that it started, its pid.
    fn start(&self, shim: &Shim) -> Result<u32>;
    /// Task.Kill: `signal` to it (to all the container's processes with
    /// `all`); `ended` when it exited or never ran.
    fn kill(&self, runtime: &Runtime, pid: u32, ended: bool, signal: u32, all: bool) -> Result<()>;
    /// Task.Delete: forget it (the init: the whole container).
    fn delete(&self, shim: &Shim) -> Result<api::DeleteResponse>;
    /// Whether its State shows the container's pause.
    fn shows_pause(&self) -> bool;
    /// Its exit was recorded; TaskExit is published next.
    fn exited(&self, _shim: &Shim, _container: &super::container::Container) {}
}

pub struct Process {
    /// The Task API's name for it: the container's id for the init, the
    /// exec id for an exec (State.id, TaskExit.id).
    pub id: String,
    pub pid: u32,
    pub state: PState,
    pub stdio: StdioPaths,
    pub io: Option<ProcIo>,
    pub exit: Option<Exit>,
    pub lifecycle: Arc<dyn Lifecycle>,
}

impl Process {
    pub fn new(id: &str, stdio: StdioPaths, lifecycle: Arc<dyn Lifecycle>) -> Self {
        Process {
            id: id.to_string(),
            pid: 0,
            state: PState::Created,
            stdio,
            io: None,
            exit: None,
            lifecycle,
        }
    }

    pub fn set_exited(&mut self, e: Exit) {
        self.exit = Some(e);
        self.state = PState::Stopped;
        if let Some(io) = self.io.as_mut() {
            io.process_exited();
        }
    }

    /// It exited, or never ran.
    pub fn ended(&self) -> bool {
        self.exit.is_some() || self.pid == 0
    }

    /// Task.State for it, in a container whose bundle and pause are given.
    pub fn state_response(&self, exec_id: &str, bundle: &str, paused: bool) -> api::StateResponse {
        let mut r = api::StateResponse::new();
        r.id = self.id.clone();
        r.exec_id = exec_id.to_string();
        r.bundle = bundle.to_string();
        r.pid = self.pid;
        let status = match self.state {
            PState::Created => Status::CREATED,
            PState::Running if paused && self.lifecycle.shows_pause() => Status::PAUSED,
            PState::Running => Status::RUNNING,
            PState::Stopped => Status::STOPPED,
        };
        r.status = status.into();
        r.stdin = self.stdio.stdin.clone();
        r.stdout = self.stdio.stdout.clone();
        r.stderr = self.stdio.stderr.clone();
        r.terminal = self.stdio.terminal;
        if let Some(e) = self.exit {
            r.exit_status = e.code;
            r.exited_at = ts(e.at);
        }
        r
    }
}

//! The shim is the child subreaper of everything it starts. One thread waits
//! for SIGCHLD (blocked in every thread, taken with sigwait) and reaps with
//! `waitpid(-1)`. Exits of commands the shim runs itself (the runtime binary,
//! the publish binary) are handed to the thread running that command; every
//! other exit goes to the exit handler (container processes), and exits nobody
//! claims yet are kept for a while, because a container's init can die before
//! the shim has read its pid file.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::process::{Child, Command};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// How long an unclaimed exit is kept for a late `claim_early_exit`.
const ORPHAN_TTL: Duration = Duration::from_secs(60);
/// Upper bound between two reaping rounds.
const SAFETY_NET_SECS: libc::time_t = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub pid: i32,
    /// Exit code as containerd reports it: the code, or 128 + signal.
    pub code: u32,
    pub at: SystemTime,
}

/// Receives exits of processes the shim did not run through `spawn`. It runs
/// on the reaping thread and must not block (hand the exit to a queue); what
/// it cannot place it gives back through `store_orphan`.
pub type ExitHandler = Box<dyn Fn(Exit) + Send + Sync>;

#[derive(Default)]
struct State {
    /// Commands started by the shim whose exit a thread is waiting for.
    commands: HashSet<i32>,
    /// Exits of such commands not yet taken by their waiter.
    command_exits: HashMap<i32, Exit>,
    /// Exits nobody claimed (yet), with the time they were seen.
    orphans: HashMap<i32, (Exit, Instant)>,
}

pub struct Reaper {
    state: Mutex<State>,
    cond: Condvar,
    handler: OnceLock<ExitHandler>,
}

/// Give the program `cmd` runs an empty signal mask: every shim thread
/// blocks SIGCHLD (for the reaper's sigwait) and a mask survives exec, so
/// a child would otherwise never see its own children exit (a shell's
/// `wait` hangs forever).
pub fn default_signal_mask(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: sigemptyset and pthread_sigmask are async-signal-safe and
    // touch only the child's own mask, on a set on its stack.
    unsafe {
        cmd.pre_exec(|| {
            let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(set.as_mut_ptr());
            libc::pthread_sigmask(libc::SIG_SETMASK, set.as_ptr(), std::ptr::null_mut());
            Ok(())
        });
    }
}

pub struct Output {
    pub code: u32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

fn exit_code(ws: WaitStatus) -> Option<(i32, u32)> {
    match ws {
        WaitStatus::Exited(pid, code) => Some((pid.as_raw(), code as u32)),
        WaitStatus::Signaled(pid, sig, _) => Some((pid.as_raw(), 128 + sig as u32)),
        _ => None,
    }
}

/// Block SIGCHLD in the calling thread; call before any other thread exists
/// so that every thread inherits the mask and only the reaper takes it.
pub fn block_sigchld() -> nix::Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    set.thread_block()
}

impl Reaper {
    pub fn new() -> Arc<Reaper> {
        Arc::new(Reaper {
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            handler: OnceLock::new(),
        })
    }

    /// Set the handler for exits of processes not started by `spawn`.
    pub fn set_handler(&self, h: ExitHandler) {
        let _ = self.handler.set(h);
    }

    /// Start the reaping thread. SIGCHLD must be blocked (see `block_sigchld`).
    pub fn start(self: &Arc<Self>) -> std::io::Result<()> {
        let me = self.clone();
        std::thread::Builder::new()
            .name("reaper".into())
            .stack_size(64 * 1024)
            .spawn(move || me.run_loop())?;
        Ok(())
    }

    fn run_loop(&self) {
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        loop {
            // Reap first: children may have exited before the thread started.
            self.reap_all();
            // A bounded wait: should a SIGCHLD ever be taken by a thread
            // that does not block it, the next round still reaps.
            let ts = libc::timespec {
                tv_sec: SAFETY_NET_SECS,
                tv_nsec: 0,
            };
            // SAFETY: `set` is a valid sigset_t, the info pointer may be null
            // and `ts` lives across the call.
            unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &ts) };
        }
    }

    fn reap_all(&self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => return,
                Ok(ws) => {
                    if let Some((pid, code)) = exit_code(ws) {
                        self.dispatch(Exit {
                            pid,
                            code,
                            at: SystemTime::now(),
                        });
                    }
                }
                Err(nix::Error::EINTR) => continue,
                Err(_) => return, // ECHILD: nothing left
            }
        }
    }

    fn dispatch(&self, exit: Exit) {
        {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.commands.remove(&exit.pid) {
                st.command_exits.insert(exit.pid, exit);
                self.cond.notify_all();
                return;
            }
        }
        match self.handler.get() {
            Some(h) => h(exit),
            None => self.store_orphan(exit),
        }
    }

    /// Keep an exit nobody knows (yet) for `claim_early_exit`.
    pub fn store_orphan(&self, exit: Exit) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        st.orphans
            .retain(|_, (_, seen)| now.duration_since(*seen) < ORPHAN_TTL);
        st.orphans.insert(exit.pid, (exit, now));
    }

    /// The exit of `pid` if it was reaped before anyone claimed it.
    pub fn claim_early_exit(&self, pid: i32) -> Option<Exit> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.orphans.remove(&pid).map(|(e, _)| e)
    }

    /// Spawn `cmd` so that its exit is delivered to us and not to the handler.
    pub fn spawn(&self, cmd: &mut Command) -> std::io::Result<Child> {
        default_signal_mask(cmd);
        // The lock is held across spawn + registration: the reaper thread may
        // reap the child at once, but it cannot dispatch before we registered.
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let child = cmd.spawn()?;
        st.commands.insert(child.id() as i32);
        Ok(child)
    }

    /// Wait for a child started with `spawn` (never call `Child::wait`).
    pub fn wait(&self, pid: i32) -> Exit {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(e) = st.command_exits.remove(&pid) {
                return e;
            }
            st = self.cond.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Wait with a deadline; None on timeout (the child stays registered).
    pub fn wait_timeout(&self, pid: i32, timeout: Duration) -> Option<Exit> {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(e) = st.command_exits.remove(&pid) {
                return Some(e);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            st = self
                .cond
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Run a command to completion, collecting its output (stdout and stderr
    /// must be piped by the caller, or null).
    pub fn output(&self, cmd: &mut Command) -> std::io::Result<Output> {
        let mut child = self.spawn(cmd)?;
        let pid = child.id() as i32;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let err_reader = child.stderr.take().map(|mut e| {
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let mut buf = Vec::new();
                    let _ = e.read_to_end(&mut buf);
                    buf
                })
        });
        if let Some(mut o) = child.stdout.take() {
            let _ = o.read_to_end(&mut stdout);
        }
        if let Some(Ok(h)) = err_reader {
            stderr = h.join().unwrap_or_default();
        }
        let exit = self.wait(pid);
        Ok(Output {
            code: exit.code,
            stdout,
            stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    // One test drives the whole reaper: SIGCHLD blocking is per thread and
    // the test harness runs tests on several threads.
    #[test]
    fn reaps_commands_and_orphans() {
        block_sigchld().unwrap();
        let r = Reaper::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        r.set_handler(Box::new(move |e| {
            seen2.lock().unwrap().push(e);
        }));
        r.start().unwrap();

        let out = r
            .output(
                Command::new("/bin/sh")
                    .args(["-c", "echo out; echo err >&2; exit 3"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            )
            .unwrap();
        assert_eq!(out.code, 3);
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");

        let killed = r
            .output(Command::new("/bin/sh").args(["-c", "kill -9 $$"]))
            .unwrap();
        assert_eq!(killed.code, 128 + 9);

        // A child not started through `spawn` goes to the handler, which
        // reaps it (so no `wait()` here).
        #[allow(clippy::zombie_processes)]
        let child = Command::new("/bin/sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(e) = seen.lock().unwrap().iter().find(|e| e.pid == pid) {
                assert_eq!(e.code, 7);
                break;
            }
            assert!(Instant::now() < deadline, "exit of {pid} never reported");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

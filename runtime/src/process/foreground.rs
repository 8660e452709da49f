//! Waiting in the foreground for a container process (run, exec without
//! -d): hullc is the process's subreaper, takes signals synchronously,
//! forwards them, and returns its exit code (128+N for signal N).

use crate::error::{Call, Error, Result, SysContext};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

const FORWARDED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

pub struct Foreground {
    set: SigSet,
}

impl Foreground {
    /// Call before creating the process: become subreaper, block signals.
    pub fn prepare() -> Result<Self> {
        nix::sys::prctl::set_child_subreaper(true).sys(Call::SetChildSubreaper)?;
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        for s in FORWARDED {
            set.add(*s);
        }
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .sys(Call::Sigprocmask)?;
        Ok(Foreground { set })
    }

    /// Forward signals to `pid` until it exits; reap everything else.
    pub fn wait(&self, pid: i32) -> Result<i32> {
        let target = Pid::from_raw(pid);
        // It may already have exited before we got here.
        if let Some(c) = reap(target) {
            return Ok(c);
        }
        loop {
            let sig = self.set.wait().sys(Call::Sigwait)?;
            if sig != Signal::SIGCHLD {
                let _ = nix::sys::signal::kill(target, sig);
                continue;
            }
            if let Some(c) = reap(target) {
                return Ok(c);
            }
        }
    }
}

impl Foreground {
    /// Like `wait`, while relaying between our stdio and the container's
    /// pty: stdin → master, master → stdout, window size on SIGWINCH. A
    /// terminal on our stdin is put in raw mode (restored on return).
    pub fn wait_with_console(&self, pid: i32, master: OwnedFd) -> Result<i32> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use nix::sys::signalfd::{SfdFlags, SignalFd};
        let target = Pid::from_raw(pid);
        let _raw = RawMode::enter();
        copy_window_size(&master);
        let sfd = SignalFd::with_flags(&self.set, SfdFlags::SFD_CLOEXEC).sys(Call::Signalfd)?;
        let stdin = std::io::stdin();
        let mut stdin_open = true;
        let mut master_open = true;
        let mut code = None;
        let mut buf = [0u8; 8192];
        loop {
            let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            if master_open {
                fds.push(PollFd::new(master.as_fd(), PollFlags::POLLIN));
            }
            if stdin_open && master_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
            // Once the process is gone, drain what the pty still holds.
            let timeout = if code.is_some() {
                PollTimeout::ZERO
            } else {
                PollTimeout::NONE
            };
            match poll(&mut fds, timeout) {
                Ok(0) => break,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    return Err(Error::Syscall {
                        call: Call::Poll,
                        source: e,
                    })
                }
            }
            let ready = |i: usize| {
                fds.get(i)
                    .and_then(|f| f.revents())
                    .is_some_and(|r| !r.is_empty())
            };
            let (sig_ready, master_ready, stdin_ready) = (
                ready(0),
                master_open && ready(1),
                stdin_open && master_open && ready(2),
            );
            if sig_ready {
                if let Ok(Some(info)) = sfd.read_signal() {
                    let sig = info.ssi_signo as i32;
                    if sig == libc::SIGCHLD {
                        if let Some(c) = reap(target) {
                            code = Some(c);
                        }
                    } else if sig == libc::SIGWINCH {
                        copy_window_size(&master);
                    } else if let Ok(s) = Signal::try_from(sig) {
                        let _ = nix::sys::signal::kill(target, s);
                    }
                }
            }
            if master_ready {
                match nix::unistd::read(&master, &mut buf) {
                    Ok(0) | Err(_) => master_open = false, // EIO: slave side closed
                    Ok(n) => {
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(&buf[..n]);
                        let _ = out.flush();
                    }
                }
            }
            if stdin_ready {
                match nix::unistd::read(&stdin, &mut buf) {
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(n) => {
                        let _ = nix::unistd::write(&master, &buf[..n]);
                    }
                }
            }
            if code.is_some() && !master_open {
                break;
            }
        }
        match code {
            Some(c) => Ok(c),
            None => self.wait(pid),
        }
    }
}

/// Our terminal's window size → the container's pty.
fn copy_window_size(master: &OwnedFd) {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ read/write a winsize we own.
    unsafe {
        if libc::ioctl(libc::STDIN_FILENO, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Raw mode on our stdin while relaying, if it is a terminal.
struct RawMode {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawMode {
    fn enter() -> RawMode {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(&stdin) else {
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}

/// Reap every exited child; the exit code of `target` if it was among them.
fn reap(target: Pid) -> Option<i32> {
    let mut done = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, c)) if p == target => {
                tracing::debug!(pid = p.as_raw(), status = c, "process exited");
                done = Some(c)
            }
            Ok(WaitStatus::Signaled(p, s, _)) if p == target => {
                tracing::debug!(pid = p.as_raw(), signal = %s, "process killed by a signal");
                done = Some(128 + s as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(_) => break,
            Ok(_) => {}
        }
    }
    done
}

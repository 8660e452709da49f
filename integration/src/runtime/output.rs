//! Waiting on conditions and collecting a child's output within a time
//! limit.

use super::*;

/// Poll `cond` (every few ms, backing off to 50 ms) until it holds or
/// `timeout` passes. Returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    wait_for(timeout, || cond().then_some(())).is_some()
}

/// Poll `f` until it yields `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// How long one runtime command may take before the test fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on an fd we own; F_GETFL/F_SETFL have no memory effects.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
    }
}

pub(super) fn drain(r: &mut impl Read, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    loop {
        match r.read(&mut chunk) {
            Ok(0) => return true,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

/// Wait for `child` (whose stdout/stderr may be pipes) to exit, collecting
/// its output. Reading stops when the child exits, not at EOF: a container
/// started by the child inherits the pipes and keeps them open.
/// Kills the child and panics after `timeout`.
pub fn collect(mut child: Child, timeout: Duration, what: &str) -> Output {
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    for p in [
        out.as_ref().map(|p| p.as_raw_fd()),
        err.as_ref().map(|p| p.as_raw_fd()),
    ]
    .into_iter()
    .flatten()
    {
        set_nonblocking(p);
    }
    let (mut ob, mut eb) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + timeout;
    let status: ExitStatus = loop {
        let mut fds: Vec<libc::pollfd> = [
            out.as_ref().map(|p| p.as_raw_fd()),
            err.as_ref().map(|p| p.as_raw_fd()),
        ]
        .into_iter()
        .flatten()
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
        if !fds.is_empty() {
            // SAFETY: fds is a valid array of pollfd of the given length.
            unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 10) };
        }
        if let Some(o) = out.as_mut() {
            if drain(o, &mut ob) {
                out = None;
            }
        }
        if let Some(e) = err.as_mut() {
            if drain(e, &mut eb) {
                err = None;
            }
        }
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => panic!("{what}: wait failed: {e}"),
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}: still running after {timeout:?}; stdout so far: {:?}, stderr so far: {:?}",
                String::from_utf8_lossy(&ob),
                String::from_utf8_lossy(&eb)
            );
        }
        if fds.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    if let Some(o) = out.as_mut() {
        drain(o, &mut ob);
    }
    if let Some(e) = err.as_mut() {
        drain(e, &mut eb);
    }
    Output {
        status,
        stdout: ob,
        stderr: eb,
    }
}

/// Run a prepared command (stdin null, stdout/stderr piped) with `collect`.
pub fn output_of(mut cmd: Command, timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    collect(child, timeout, &what)
}

/// Format an Output for assertion messages.
pub fn describe(o: &Output) -> String {
    format!(
        "status {:?}, stdout {:?}, stderr {:?}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

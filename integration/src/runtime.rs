//! Driving an OCI runtime binary (hullc, or runc via `HULL_RUNTIME`) from
//! tests, with a per-test `--root` state dir and a Drop guard that removes
//! every container the test created and everything they may have left.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bundle::Bundle;
use crate::cleanup;

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

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on an fd we own; F_GETFL/F_SETFL have no memory effects.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
    }
}

fn drain(r: &mut impl Read, buf: &mut Vec<u8>) -> bool {
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

#[derive(Clone, Debug)]
struct Tracked {
    id: String,
    bundle: PathBuf,
    rootfs: PathBuf,
    cgroups_path: Option<String>,
}

/// An OCI runtime binary with a private `--root`. Every container created
/// through it is force-removed when it drops, along with its cgroup dirs,
/// mounts under its bundle and processes rooted in it.
pub struct Runtime {
    bin: PathBuf,
    root: PathBuf,
    tracked: Mutex<Vec<Tracked>>,
    /// Extra global flags put before the subcommand (e.g. `--debug`).
    pub global_args: Vec<String>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    /// The runtime under test (`crate::runtime_bin()`) with a fresh state root.
    pub fn new() -> Runtime {
        Runtime::with_bin(crate::runtime_bin())
    }

    pub fn with_bin(bin: PathBuf) -> Runtime {
        assert!(
            bin.exists(),
            "runtime binary {} does not exist (build hullc or set HULL_RUNTIME)",
            bin.display()
        );
        let root = tempfile::Builder::new()
            .prefix("hull-root-")
            .tempdir_in("/tmp")
            .expect("create state root")
            .keep();
        Runtime {
            bin,
            root,
            tracked: Mutex::new(Vec::new()),
            global_args: Vec::new(),
        }
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The `--root` state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `BIN --root ROOT [global args]`, ready for a subcommand.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).args(&self.global_args);
        c
    }

    /// Run `BIN --root ROOT args...` and collect its output (stdin null).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut c = self.command();
        c.args(args);
        output_of(c, COMMAND_TIMEOUT)
    }

    /// Remember a container for the Drop guard (create/run do it for you).
    pub fn track(&self, id: &str, bundle: &Bundle) {
        let mut t = self.tracked.lock().unwrap_or_else(|p| p.into_inner());
        if !t.iter().any(|x| x.id == id) {
            t.push(Tracked {
                id: id.to_string(),
                bundle: bundle.dir().to_path_buf(),
                rootfs: bundle.default_rootfs(),
                cgroups_path: bundle.cgroups_path(),
            });
        }
    }

    /// Where `create`/`run -d` send the container's stdout.
    pub fn stdout_path(bundle: &Bundle, id: &str) -> PathBuf {
        bundle.dir().join(format!("{id}.stdout"))
    }

    /// Where `create`/`run -d` send the container's (and the runtime's) stderr.
    pub fn stderr_path(bundle: &Bundle, id: &str) -> PathBuf {
        bundle.dir().join(format!("{id}.stderr"))
    }

    /// What the container wrote to stdout so far (create/run -d only).
    pub fn container_stdout(bundle: &Bundle, id: &str) -> String {
        fs::read_to_string(Self::stdout_path(bundle, id)).unwrap_or_default()
    }

    /// Wait until the container (create/run -d) has written at least `n`
    /// complete lines to stdout; returns those lines' text, or panics with
    /// what there is after `timeout`.
    pub fn wait_stdout_lines(bundle: &Bundle, id: &str, n: usize, timeout: Duration) -> String {
        let complete = |t: &str| {
            t.split_inclusive('\n')
                .filter(|l| l.ends_with('\n'))
                .count()
        };
        let ok = wait_until(timeout, || {
            complete(&Self::container_stdout(bundle, id)) >= n
        });
        let text = Self::container_stdout(bundle, id);
        assert!(ok, "container {id} wrote fewer than {n} lines: {text:?}");
        text
    }

    /// Run a subcommand whose container outlives it (create, run -d): the
    /// container's stdio goes to files next to the bundle, stdin is null.
    /// The returned Output holds what the runtime wrote before exiting.
    pub fn spawn_detached(&self, id: &str, bundle: &Bundle, args: &[&str]) -> Output {
        self.spawn_detached_with(id, bundle, args, |_| {})
    }

    /// Like `spawn_detached`, letting the caller adjust the Command first
    /// (e.g. add a pre_exec hook).
    pub fn spawn_detached_with(
        &self,
        id: &str,
        bundle: &Bundle,
        args: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Output {
        self.track(id, bundle);
        let open = |p: PathBuf| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .expect("open stdio file")
        };
        let out = open(Self::stdout_path(bundle, id));
        let err_path = Self::stderr_path(bundle, id);
        let err = open(err_path.clone());
        let (out_start, err_start) = (len(&out), len(&err));
        let mut c = self.command();
        c.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
        adjust(&mut c);
        let what = format!("{c:?}");
        let child = c.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let o = collect(child, COMMAND_TIMEOUT, &what);
        let tail = |p: &Path, from: u64| {
            let all = fs::read(p).unwrap_or_default();
            all.get(from as usize..).unwrap_or_default().to_vec()
        };
        Output {
            status: o.status,
            stdout: tail(&Self::stdout_path(bundle, id), out_start),
            stderr: tail(&err_path, err_start),
        }
    }

    /// `create --bundle DIR id`.
    pub fn create(&self, id: &str, bundle: &Bundle) -> Output {
        let dir = bundle.dir().to_string_lossy().into_owned();
        self.spawn_detached(id, bundle, &["create", "--bundle", &dir, id])
    }

    /// `create` with extra flags (e.g. `--console-socket P`, `--no-pivot`).
    pub fn create_with(&self, id: &str, bundle: &Bundle, extra: &[&str]) -> Output {
        let dir = bundle.dir().to_string_lossy().into_owned();
        let mut args = vec!["create", "--bundle", &dir];
        args.extend_from_slice(extra);
        args.push(id);
        self.spawn_detached(id, bundle, &args)
    }

    /// `create`, asserting success.
    pub fn create_ok(&self, id: &str, bundle: &Bundle) {
        let o = self.create(id, bundle);
        assert!(o.status.success(), "create {id} failed: {}", describe(&o));
    }

    /// `run -d --bundle DIR id`.
    pub fn run_detached(&self, id: &str, bundle: &Bundle) -> Output {
        let dir = bundle.dir().to_string_lossy().into_owned();
        self.spawn_detached(id, bundle, &["run", "-d", "--bundle", &dir, id])
    }

    /// `run --bundle DIR [extra] id` in the foreground, collecting the
    /// container's output (the runtime exits when the container does).
    pub fn run_container(&self, id: &str, bundle: &Bundle, extra: &[&str]) -> Output {
        self.track(id, bundle);
        let mut c = self.command();
        c.arg("run")
            .arg("--bundle")
            .arg(bundle.dir())
            .args(extra)
            .arg(id);
        output_of(c, COMMAND_TIMEOUT)
    }

    /// `run` in the foreground, asserting exit 0, returning stdout.
    pub fn run_ok(&self, id: &str, bundle: &Bundle) -> String {
        let o = self.run_container(id, bundle, &[]);
        assert!(o.status.success(), "run {id} failed: {}", describe(&o));
        stdout_of(&o)
    }

    pub fn start(&self, id: &str) -> Output {
        self.run(&["start", id])
    }

    pub fn start_ok(&self, id: &str) {
        let o = self.start(id);
        assert!(o.status.success(), "start {id} failed: {}", describe(&o));
    }

    pub fn state(&self, id: &str) -> Output {
        self.run(&["state", id])
    }

    /// `state id` parsed; panics if it fails or is not JSON.
    pub fn state_json(&self, id: &str) -> Value {
        let o = self.state(id);
        assert!(o.status.success(), "state {id} failed: {}", describe(&o));
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("state {id} is not JSON ({e}): {}", describe(&o)))
    }

    /// The container's status, or None if `state` fails.
    pub fn status(&self, id: &str) -> Option<String> {
        let o = self.state(id);
        if !o.status.success() {
            return None;
        }
        let v: Value = serde_json::from_slice(&o.stdout).ok()?;
        v["status"].as_str().map(str::to_string)
    }

    /// The init pid from `state`.
    pub fn pid(&self, id: &str) -> i32 {
        let v = self.state_json(id);
        v["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("state {id} has no pid: {v}")) as i32
    }

    /// Wait (bounded) until `state` reports `status`.
    pub fn wait_status(&self, id: &str, status: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.status(id).as_deref() == Some(status))
    }

    /// Like `wait_status`, panicking with the last state on timeout.
    pub fn expect_status(&self, id: &str, status: &str) {
        if !self.wait_status(id, status, Duration::from_secs(10)) {
            panic!(
                "container {id} never became {status}: {}",
                describe(&self.state(id))
            );
        }
    }

    pub fn kill(&self, id: &str, signal: &str) -> Output {
        self.run(&["kill", id, signal])
    }

    pub fn delete(&self, id: &str) -> Output {
        self.run(&["delete", id])
    }

    pub fn delete_force(&self, id: &str) -> Output {
        self.run(&["delete", "--force", id])
    }

    /// `list --format json` parsed (runc prints `null` when empty).
    pub fn list_json(&self) -> Value {
        let o = self.run(&["list", "--format", "json"]);
        assert!(o.status.success(), "list failed: {}", describe(&o));
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("list output is not JSON ({e}): {}", describe(&o)))
    }

    /// What container `id` of `bundle` left behind (see `cleanup::leftovers`).
    pub fn leftovers(&self, id: &str, bundle: &Bundle) -> Vec<String> {
        cleanup::leftovers(
            &self.root,
            id,
            bundle.dir(),
            &bundle.default_rootfs(),
            bundle.cgroups_path().as_deref(),
        )
    }

    /// Assert nothing of container `id` is left, waiting briefly for
    /// asynchronous teardown (exiting processes) to settle.
    pub fn assert_nothing_left(&self, id: &str, bundle: &Bundle) {
        let mut last = Vec::new();
        let clean = wait_until(Duration::from_secs(5), || {
            last = self.leftovers(id, bundle);
            last.is_empty()
        });
        assert!(clean, "container {id} left things behind: {last:#?}");
    }
}

fn len(f: &File) -> u64 {
    f.metadata().map(|m| m.len()).unwrap_or(0)
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let tracked = std::mem::take(&mut *self.tracked.lock().unwrap_or_else(|p| p.into_inner()));
        for t in tracked.iter().rev() {
            let mut c = self.command();
            c.args(["kill", &t.id, "KILL"]);
            let _ = output_quiet(c);
            let mut c = self.command();
            c.args(["delete", "--force", &t.id]);
            let _ = output_quiet(c);
            cleanup::kill_procs_rooted_in(&t.bundle, &t.rootfs);
            if let Some(cg) = &t.cgroups_path {
                cleanup::remove_cgroup(cg);
            }
            cleanup::unmount_under(&t.bundle);
        }
        if let Err(e) = cleanup::remove_tree(&self.root) {
            eprintln!("state root cleanup of {}: {e}", self.root.display());
        }
    }
}

/// Run a cleanup command, bounded in time, never panicking.
fn output_quiet(mut cmd: Command) -> Option<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().ok()?;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        collect(child, Duration::from_secs(20), "cleanup")
    }))
    .ok()
}

/// A unix socket for `--console-socket`: the runtime connects and sends the
/// pty master with SCM_RIGHTS.
pub struct ConsoleSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn bind(path: &Path) -> ConsoleSocket {
        let listener = UnixListener::bind(path).expect("bind console socket");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        ConsoleSocket {
            path: path.to_path_buf(),
            listener,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accept the runtime's connection and receive one fd (the pty master).
    pub fn receive_fd(&self, timeout: Duration) -> io::Result<OwnedFd> {
        let stream = wait_for(timeout, || match self.listener.accept() {
            Ok((s, _)) => Some(Ok(s)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) => Some(Err(e)),
        })
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::TimedOut, "no connection on console socket")
        })??;
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(timeout))?;
        recv_one_fd(stream.as_fd().as_raw_fd())
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn recv_one_fd(sock: RawFd) -> io::Result<OwnedFd> {
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for a few fds in case the sender adds more.
    let mut cbuf = [0u64; 32];
    // SAFETY: msghdr is plain data; all pointers below point to live buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
    // SAFETY: recvmsg with a valid msghdr whose buffers outlive the call.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: walking the control buffer the kernel just filled, with the
    // CMSG_* macros that bound-check against msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::c_int);
                return Ok(OwnedFd::from_raw_fd(fd));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Err(io::Error::other(
        "no SCM_RIGHTS fd received on the console socket",
    ))
}

/// Read from `fd` (e.g. a pty master) until `done(&text)` holds, EOF/EIO,
/// or `timeout`. Returns what was read.
pub fn read_until(fd: &OwnedFd, timeout: Duration, mut done: impl FnMut(&str) -> bool) -> String {
    set_nonblocking(fd.as_raw_fd());
    let mut buf = Vec::new();
    let deadline = Instant::now() + timeout;
    loop {
        let mut chunk = [0u8; 4096];
        // SAFETY: reading into a live stack buffer from an fd we own.
        let n = unsafe { libc::read(fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
        if n > 0 {
            buf.extend_from_slice(&chunk[..n as usize]);
            if done(&String::from_utf8_lossy(&buf)) {
                break;
            }
            continue;
        }
        if n == 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted {
            break; // EIO: the slave side closed.
        }
        if Instant::now() >= deadline {
            break;
        }
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut p, 1, 20) };
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Integration tests need root (namespaces, cgroups, mounts): fail loudly
/// rather than pass vacuously.
pub fn require_root() {
    assert!(crate::is_root(), "this integration test must run as root");
}

/// Read the host's view of a file, trimmed (e.g. a cgroup knob).
pub fn read_trim(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

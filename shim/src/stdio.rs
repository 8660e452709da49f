//! A process's stdio as containerd hands it over: named fifos, `file://`
//! and `binary://` log URIs, or a terminal (the runtime sends the pty master
//! through a console socket).
//!
//! To keep the shim small, stdout and stderr fifos and files are handed to
//! the container directly (opened O_RDWR, so neither the open nor a write
//! ever fails for want of a reader, as with containerd's own shim, which keeps
//! a reader open). Only stdin (which must be closable on CloseIO) and a
//! terminal need copying threads.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

use crate::error::{Error, Result};
use crate::runtime::ProcStdio;

const COPY_STACK: usize = 64 * 1024;
const COPY_BUF: usize = 16 * 1024;

#[derive(Debug, Clone, Default)]
pub struct StdioPaths {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
    pub terminal: bool,
}

/// What the shim keeps of a process's io after the runtime started it.
#[derive(Default)]
pub struct ProcIo {
    /// Where stdin goes (pipe to the process, or the pty master); taking it
    /// out closes the process's stdin (CloseIO).
    stdin_sink: Arc<Mutex<Option<File>>>,
    /// The pty master, for resizes.
    console: Option<File>,
    /// Closed when the process exited: tells the stdin thread to stop
    /// waiting for a writer that may never come.
    exit_notify: Option<OwnedFd>,
    /// Closed on CloseIO while a stdin thread runs: it drains what the
    /// caller already wrote, then closes the process's stdin.
    close_request: Arc<Mutex<Option<OwnedFd>>>,
    /// A terminal's output copy (pty master to the caller's stdout).
    output_copy: Option<Arc<CopyDone>>,
}

/// Set when an output copy thread ended.
#[derive(Default)]
pub struct CopyDone {
    done: Mutex<bool>,
    cv: Condvar,
}

impl CopyDone {
    /// Wait at most `limit` for the copy to end; whether it did.
    pub fn wait(&self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        let mut d = self.done.lock().unwrap_or_else(|e| e.into_inner());
        while !*d {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            d = match self.cv.wait_timeout(d, left) {
                Ok((d, _)) => d,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }

    fn set(&self) {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_all();
    }
}

/// Marks the copy done when the thread ends, however it ends.
struct CopyGuard(Arc<CopyDone>);

impl Drop for CopyGuard {
    fn drop(&mut self) {
        self.0.set();
    }
}

impl ProcIo {
    /// The process exited: its stdin thread may end.
    pub fn process_exited(&mut self) {
        self.exit_notify.take();
    }

    /// The terminal output copy, if the process has a terminal.
    pub fn output_copy(&self) -> Option<Arc<CopyDone>> {
        self.output_copy.clone()
    }

    /// What closes the process's stdin (CloseIO). Use it without holding
    /// the service's state lock: the stdin thread holds the sink across a
    /// write, which blocks while the process does not read.
    pub fn stdin_closer(&self) -> StdinCloser {
        StdinCloser {
            sink: self.stdin_sink.clone(),
            request: self.close_request.clone(),
        }
    }

    pub fn resize(&self, width: u32, height: u32) -> Result<()> {
        let Some(c) = &self.console else {
            return Err(Error::FailedPrecondition(
                "process has no terminal to resize".into(),
            ));
        };
        let ws = libc::winsize {
            ws_row: height.min(u16::MAX as u32) as u16,
            ws_col: width.min(u16::MAX as u32) as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize struct that outlives the call;
        // the fd is an open pty master.
        let rc = unsafe { libc::ioctl(c.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        if rc != 0 {
            return Err(Error::io("resize pty", std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

/// Closes a process's stdin; see [`ProcIo::stdin_closer`].
pub struct StdinCloser {
    sink: Arc<Mutex<Option<File>>>,
    request: Arc<Mutex<Option<OwnedFd>>>,
}

impl StdinCloser {
    /// With a stdin thread, bytes the caller wrote before CloseIO may still
    /// sit in its fifo: the thread delivers them before the process sees
    /// EOF (as containerd's shim, which only closes its own fifo writer).
    pub fn close(self) {
        let request = self
            .request
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if request.is_none() {
            let mut g = self.sink.lock().unwrap_or_else(|e| e.into_inner());
            g.take();
        }
    }
}

/// Stdio being set up for one process: the fds for the runtime, plus what
/// must happen once the runtime has run (console socket).
pub struct Pending {
    pub for_runtime: ProcStdio,
    pub console_socket: Option<ConsoleSocket>,
    paths: StdioPaths,
    stdin_sink: Arc<Mutex<Option<File>>>,
    stdin_source: Option<String>,
    /// With a terminal and a `binary://` stdout: the logging binary's stdout
    /// pipe, where the pty's output goes.
    term_sink: Option<OwnedFd>,
}

pub struct ConsoleSocket {
    pub path: PathBuf,
    listener: UnixListener,
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn open_fifo_rw(path: &str) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io(format!("open {path}"), e))
}

/// Split a URI into (scheme, path, query pairs); a plain path has no scheme.
fn parse_uri(s: &str) -> (Option<&str>, String, Vec<(String, String)>) {
    let Some((scheme, rest)) = s.split_once("://") else {
        return (None, s.to_string(), Vec::new());
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut args = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        args.push((percent_decode(k), percent_decode(v)));
    }
    (Some(scheme), percent_decode(path), args)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Open one output stream (stdout or stderr) as an fd for the process.
fn open_output(uri: &str) -> Result<Option<OwnedFd>> {
    if uri.is_empty() {
        return Ok(None);
    }
    match parse_uri(uri) {
        (None, path, _) | (Some("fifo"), path, _) => Ok(Some(open_fifo_rw(&path)?.into())),
        (Some("file"), path, _) => {
            if let Some(dir) = Path::new(&path).parent() {
                crate::private::dir(dir)
                    .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
            }
            let f = crate::private::options()
                .append(true)
                .create(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(&path)
                .map_err(|e| Error::io(format!("open log file {path}"), e))?;
            Ok(Some(f.into()))
        }
        (Some(other), _, _) => Err(Error::InvalidArgument(format!(
            "unsupported stdio URI scheme {other:?} in {uri:?}"
        ))),
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))
}

/// `binary://PATH?k=v`: start the logging binary with the process's stdout
/// and stderr on fds 3 and 4, and wait until it closes fd 5 (ready).
fn start_log_binary(uri: &str, container_id: &str, namespace: &str) -> Result<(OwnedFd, OwnedFd)> {
    let (_, path, args) = parse_uri(uri);
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (wait_r, wait_w) = pipe()?;
    let fds = [out_r.as_raw_fd(), err_r.as_raw_fd(), wait_w.as_raw_fd()];
    let mut cmd = Command::new(&path);
    for (k, v) in &args {
        cmd.arg(k);
        if !v.is_empty() {
            cmd.arg(v);
        }
    }
    cmd.env("CONTAINER_ID", container_id)
        .env("CONTAINER_NAMESPACE", namespace)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls (dup2) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for (i, fd) in fds.iter().enumerate() {
                if libc::dup2(*fd, 3 + i as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    crate::reaper::default_signal_mask(&mut cmd);
    // The logger runs as long as the process writes: its exit goes to the
    // reaper's unclaimed exits, it is not waited for here.
    let child = cmd
        .spawn()
        .map_err(|e| Error::io(format!("start log binary {path}"), e))?;
    drop(child);
    drop(wait_w);
    drop(out_r);
    drop(err_r);
    // Ready when the logger closes its end of the wait pipe (EOF here).
    let mut fds = [PollFd::new(wait_r.as_fd(), PollFlags::POLLIN)];
    let _ = poll(&mut fds, PollTimeout::from(10_000u16));
    Ok((out_w, err_w))
}

impl Pending {
    /// Prepare the stdio of a process. `tmp_dir` holds the console socket.
    pub fn prepare(
        paths: &StdioPaths,
        tmp_dir: &Path,
        tag: &str,
        container_id: &str,
        namespace: &str,
    ) -> Result<Pending> {
        let mut for_runtime = ProcStdio::default();
        let stdin_sink = Arc::new(Mutex::new(None));
        let mut console_socket = None;
        let mut term_sink = None;
        if paths.terminal {
            if paths.stdout.starts_with("binary://") {
                // The pty's output (stdout and stderr in one) goes to the
                // logging binary's stdout; its stderr pipe stays unused.
                let (o, _e) = start_log_binary(&paths.stdout, container_id, namespace)?;
                term_sink = Some(o);
            }
            crate::private::own_dir(tmp_dir)
                .map_err(|e| Error::io(format!("create {}", tmp_dir.display()), e))?;
            let path = tmp_dir.join(format!("c-{}-{tag}.sock", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let listener = UnixListener::bind(&path)
                .map_err(|e| Error::io(format!("bind console socket {}", path.display()), e))?;
            crate::private::close_socket(&path)
                .map_err(|e| Error::io(format!("chmod {}", path.display()), e))?;
            console_socket = Some(ConsoleSocket { path, listener });
        } else {
            if !paths.stdin.is_empty() {
                let (r, w) = pipe()?;
                for_runtime.stdin = Some(r);
                *stdin_sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(File::from(w));
            }
            if paths.stdout.starts_with("binary://") {
                let (o, e) = start_log_binary(&paths.stdout, container_id, namespace)?;
                for_runtime.stdout = Some(o);
                for_runtime.stderr = Some(e);
            } else {
                for_runtime.stdout = open_output(&paths.stdout)?;
                if !paths.stderr.is_empty() && paths.stderr == paths.stdout {
                    for_runtime.stderr = match &for_runtime.stdout {
                        Some(fd) => Some(fd.try_clone().map_err(|e| Error::io("dup stdout", e))?),
                        None => None,
                    };
                } else {
                    for_runtime.stderr = open_output(&paths.stderr)?;
                }
            }
        }
        Ok(Pending {
            for_runtime: std::mem::take(&mut for_runtime),
            console_socket,
            paths: paths.clone(),
            stdin_sink,
            stdin_source: (!paths.stdin.is_empty()).then(|| paths.stdin.clone()),
            term_sink,
        })
    }

    pub fn console_path(&self) -> Option<PathBuf> {
        self.console_socket.as_ref().map(|c| c.path.clone())
    }

    /// After the runtime succeeded: receive the pty master if any, start the
    /// copying threads.
    pub fn finish(self) -> Result<ProcIo> {
        let mut io = ProcIo {
            stdin_sink: self.stdin_sink.clone(),
            console: None,
            exit_notify: None,
            close_request: Arc::default(),
            output_copy: None,
        };
        if let Some(cs) = &self.console_socket {
            let master = receive_master(&cs.listener)?;
            let out = master
                .try_clone()
                .map_err(|e| Error::io("dup pty master", e))?;
            let input = master
                .try_clone()
                .map_err(|e| Error::io("dup pty master", e))?;
            *self.stdin_sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(input);
            let sink = match self.term_sink {
                Some(fd) => Some(File::from(fd)),
                None => open_output(&self.paths.stdout)?.map(File::from),
            };
            if let Some(sink) = sink {
                io.output_copy = Some(spawn_copy(out, sink)?);
            }
            io.console = Some(master);
        }
        if let Some(src) = self.stdin_source {
            let (done_r, done_w) = pipe()?;
            let (close_r, close_w) = pipe()?;
            let signals = StdinSignals {
                exited: done_r,
                close: close_r,
            };
            spawn_stdin_copy(src, self.stdin_sink.clone(), signals)?;
            io.exit_notify = Some(done_w);
            *io.close_request.lock().unwrap_or_else(|e| e.into_inner()) = Some(close_w);
        }
        Ok(io)
    }
}

/// Accept the runtime's connection on the console socket and take the fd.
fn receive_master(listener: &UnixListener) -> Result<File> {
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("console socket", e))?;
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    let n = poll(&mut fds, PollTimeout::from(10_000u16)).map_err(|e| Error::sys("poll", e))?;
    if n == 0 {
        return Err(Error::Runtime(
            "runtime did not send the pty master on the console socket".into(),
        ));
    }
    let (conn, _) = listener
        .accept()
        .map_err(|e| Error::io("accept console socket", e))?;
    conn.set_nonblocking(false)
        .map_err(|e| Error::io("console socket", e))?;
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::sys("receive pty master", e))?;
    for c in msg
        .cmsgs()
        .map_err(|e| Error::sys("receive pty master", e))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this fd in our table for us.
                let master = unsafe { File::from_raw_fd(*fd) };
                // The runtime may have opened the master non-blocking (Go's
                // runc does); the copying threads want blocking reads.
                let fl = fcntl(&master, FcntlArg::F_GETFL).map_err(|e| Error::sys("F_GETFL", e))?;
                let mut flags = OFlag::from_bits_retain(fl);
                flags.remove(OFlag::O_NONBLOCK);
                fcntl(&master, FcntlArg::F_SETFL(flags)).map_err(|e| Error::sys("F_SETFL", e))?;
                return Ok(master);
            }
        }
    }
    Err(Error::Runtime(
        "console socket message carried no file descriptor".into(),
    ))
}

fn spawn_copy(mut from: File, mut to: File) -> Result<Arc<CopyDone>> {
    let done = Arc::new(CopyDone::default());
    let guard = CopyGuard(done.clone());
    std::thread::Builder::new()
        .name("io-out".into())
        .stack_size(COPY_STACK)
        .spawn(move || {
            let _guard = guard;
            let mut buf = vec![0u8; COPY_BUF];
            loop {
                match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        let mut fds = [PollFd::new(from.as_fd(), PollFlags::POLLIN)];
                        let _ = poll(&mut fds, PollTimeout::NONE);
                    }
                    Err(_) => break, // EIO once the pty slave is gone
                }
            }
        })
        .map_err(|e| Error::io("spawn io thread", e))?;
    Ok(done)
}

/// Copy the caller's stdin fifo into the process. The fifo is opened
/// non-blocking, so no thread hangs in open(2) for a writer that never
/// comes; the thread ends on EOF from the writer, when the process stops
/// reading, when the process exits, or on CloseIO (after draining).
fn spawn_stdin_copy(
    src: String,
    sink: Arc<Mutex<Option<File>>>,
    signals: StdinSignals,
) -> Result<()> {
    let from = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&src)
        .map_err(|e| Error::io(format!("open stdin {src}"), e))?;
    std::thread::Builder::new()
        .name("io-in".into())
        .stack_size(COPY_STACK)
        .spawn(move || {
            copy_stdin(from, &sink, signals);
            // EOF from the caller: the process sees EOF too (a terminal keeps
            // its master, which the shim still needs for resizes).
            let mut g = sink.lock().unwrap_or_else(|e| e.into_inner());
            g.take();
        })
        .map_err(|e| Error::io("spawn io thread", e))?;
    Ok(())
}

/// Read ends that hang up when the stdin thread must stop.
struct StdinSignals {
    /// The process exited.
    exited: OwnedFd,
    /// CloseIO: deliver what is buffered, then stop.
    close: OwnedFd,
}

fn copy_stdin(mut from: File, sink: &Mutex<Option<File>>, signals: StdinSignals) {
    let mut buf = vec![0u8; COPY_BUF];
    loop {
        let mut fds = [
            PollFd::new(from.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.exited.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.close.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(_) => return,
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            return; // the process exited
        }
        if fds[2].revents().is_some_and(|r| !r.is_empty()) {
            // CloseIO: what the caller wrote before it is already in the
            // fifo; pass it on until the fifo is empty.
            while let Some(n) = read_ready(&mut from, &mut buf) {
                if !write_sink(sink, &buf[..n]) {
                    return;
                }
            }
            return;
        }
        // A fifo nobody has opened for writing yet reports nothing; data
        // or the writer's close (POLLHUP) wake us.
        if fds[0].revents().is_none_or(|r| r.is_empty()) {
            continue;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if !write_sink(sink, &buf[..n]) {
            return;
        }
    }
}

/// One non-blocking read: `None` once the fifo is empty, at EOF or on error.
fn read_ready(from: &mut File, buf: &mut [u8]) -> Option<usize> {
    loop {
        match from.read(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

/// Write to the process's stdin; false when it is gone or closed.
fn write_sink(sink: &Mutex<Option<File>>, data: &[u8]) -> bool {
    let mut g = sink.lock().unwrap_or_else(|e| e.into_inner());
    match g.as_mut() {
        Some(w) => w.write_all(data).is_ok(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(parse_uri("/a/b").1, "/a/b");
        assert_eq!(parse_uri("/a/b").0, None);
        let (s, p, a) = parse_uri("binary:///usr/bin/logger?id=x&dir=%2Ftmp");
        assert_eq!(s, Some("binary"));
        assert_eq!(p, "/usr/bin/logger");
        assert_eq!(
            a,
            vec![("id".into(), "x".into()), ("dir".into(), "/tmp".into())]
        );
        let (s, p, _) = parse_uri("file:///var/log/c.log");
        assert_eq!((s, p.as_str()), (Some("file"), "/var/log/c.log"));
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
    }

    #[test]
    fn unknown_scheme_is_rejected() {
        assert!(matches!(
            open_output("tcp://1.2.3.4"),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn file_uri_appends() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/out.log");
        let uri = format!("file://{}", p.display());
        let fd = open_output(&uri).unwrap().unwrap();
        let mut f = File::from(fd);
        f.write_all(b"hello\n").unwrap();
        drop(f);
        let mut f = File::from(open_output(&uri).unwrap().unwrap());
        f.write_all(b"again\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "hello\nagain\n");
    }
}

//! The three ways the binary runs: `start` (spawn the serving shim and print
//! its address), serving (the ttrpc Task service), and `delete` (clean up
//! after a shim that died).

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::sync::Arc;

use anyhow::{bail, Context};
use containerd_shim_protos::api::DeleteResponse;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim_protos::protobuf::{Message, MessageField};
use containerd_shim_protos::shim::oci::Options as RuncOptions;
use sha2::{Digest, Sha256};

use crate::args::Flags;
use crate::events::Publisher;
use crate::reaper::{self, Reaper};
use crate::runtime::Runtime;
use crate::service::{Shim, TaskService};
use crate::{mount, options};

/// Directory of shim sockets (ARCHITECTURE: /run/hull/s/<hash>.sock).
const SOCKET_DIR: &str = "/run/hull/s";
const SOCKET_DIR_ENV: &str = "HULL_SHIM_SOCKET_DIR";
/// Tells the serving shim the path of the socket it inherits as fd 3.
const SOCKET_PATH_ENV: &str = "HULL_SHIM_SOCKET_PATH";
const LISTEN_FD: RawFd = 3;
/// Annotation that groups the containers of one pod into one shim.
const SANDBOX_ANNOTATION: &str = "io.kubernetes.cri.sandbox-id";

fn socket_dir() -> PathBuf {
    std::env::var(SOCKET_DIR_ENV)
        .ok()
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SOCKET_DIR))
}

/// Socket path for (manager address, namespace, group): unique per manager.
pub fn socket_path(address: &str, namespace: &str, group: &str) -> PathBuf {
    let mut h = Sha256::new();
    h.update(address.as_bytes());
    h.update(b"/");
    h.update(namespace.as_bytes());
    h.update(b"/");
    h.update(group.as_bytes());
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    socket_dir().join(format!("{hex}.sock"))
}

fn sandbox_id(bundle: &Path) -> Option<String> {
    let text = std::fs::read_to_string(bundle.join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("annotations")?
        .get(SANDBOX_ANNOTATION)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn connectable(path: &Path) -> bool {
    UnixStream::connect(path).is_ok()
}

/// The pid of the process serving the other end of `conn`.
fn peer_pid(conn: &UnixStream) -> Option<i32> {
    nix::sys::socket::getsockopt(conn, nix::sys::socket::sockopt::PeerCredentials)
        .ok()
        .map(|c| c.pid())
        .filter(|p| *p > 0)
}

fn bundle_dir(flags: &Flags) -> anyhow::Result<PathBuf> {
    if !flags.bundle.is_empty() {
        return Ok(PathBuf::from(&flags.bundle));
    }
    std::env::current_dir().context("current directory (the bundle)")
}

/// `start`: make the socket, spawn the serving shim with it as fd 3, record
/// the address in the bundle and return it.
pub fn start(flags: &Flags) -> anyhow::Result<String> {
    if flags.id.is_empty() {
        bail!("-id is required");
    }
    let bundle = bundle_dir(flags)?;
    let group = sandbox_id(&bundle).unwrap_or_else(|| flags.id.clone());
    let sock = socket_path(&flags.address, &flags.namespace, &group);
    let address = format!("unix://{}", sock.display());
    if sock.exists() {
        if let Ok(conn) = UnixStream::connect(&sock) {
            if group != flags.id {
                // Another container of the same group: reuse its shim, and
                // name it in this bundle too (its pid from the socket's peer).
                crate::private::write(&bundle.join("address"), &address)
                    .context("write address file")?;
                if let Some(pid) = peer_pid(&conn) {
                    crate::private::write(&bundle.join("shim.pid"), pid.to_string())
                        .context("write shim.pid")?;
                }
                return Ok(address);
            }
            bail!("shim socket {} is already in use", sock.display());
        }
        let _ = std::fs::remove_file(&sock);
    }
    if let Some(dir) = sock.parent() {
        crate::private::own_dir(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let listener = UnixListener::bind(&sock).with_context(|| format!("bind {}", sock.display()))?;
    crate::private::close_socket(&sock).with_context(|| format!("chmod {}", sock.display()))?;
    let lfd = listener.as_raw_fd();
    let exe = std::env::current_exe().context("find own executable")?;
    let mut cmd = Command::new(exe);
    cmd.args(&flags.passthrough)
        .env(SOCKET_PATH_ENV, &sock)
        .current_dir(&bundle)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if lfd == LISTEN_FD {
                let fl = libc::fcntl(lfd, libc::F_GETFD);
                if fl < 0 || libc::fcntl(lfd, libc::F_SETFD, fl & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(lfd, LISTEN_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&sock);
            return Err(e).context("spawn the serving shim");
        }
    };
    if let Some(cg) = shim_cgroup_from_stdin() {
        if let Err(e) = join_cgroup(&cg, child.id()) {
            // The child we just spawned and still own.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = std::fs::remove_file(&sock);
            return Err(e);
        }
    }
    crate::private::write(&bundle.join("address"), &address).context("write address file")?;
    crate::private::write(&bundle.join("shim.pid"), child.id().to_string())
        .context("write shim.pid")?;
    Ok(address)
}

/// containerd hands `start` the runtime options (a protobuf `Any`) on stdin;
/// runc's `ShimCgroup` names the cgroup the shim must run in.
fn shim_cgroup_from_stdin() -> Option<String> {
    use std::io::{IsTerminal, Read};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return None;
    }
    let mut bytes = Vec::new();
    stdin.lock().read_to_end(&mut bytes).ok()?;
    if bytes.is_empty() {
        return None;
    }
    let any = Any::parse_from_bytes(&bytes).ok()?;
    let name = any.type_url.rsplit('/').next().unwrap_or_default();
    if name != "containerd.runc.v1.Options" {
        return None;
    }
    let o = RuncOptions::parse_from_bytes(&any.value).ok()?;
    (!o.shim_cgroup.is_empty()).then_some(o.shim_cgroup)
}

/// Move `pid` into cgroup `path` (absolute in the hierarchy): cgroup v2 when
/// /sys/fs/cgroup is unified, else every v1 hierarchy holding that path.
fn join_cgroup(path: &str, pid: u32) -> anyhow::Result<()> {
    let root = Path::new("/sys/fs/cgroup");
    let rel = path.trim_start_matches('/');
    let mut dirs = Vec::new();
    if root.join("cgroup.controllers").exists() {
        dirs.push(root.join(rel));
    } else {
        for e in std::fs::read_dir(root)
            .context("list /sys/fs/cgroup")?
            .flatten()
        {
            dirs.push(e.path().join(rel));
        }
    }
    let mut joined = 0;
    for d in dirs.iter().filter(|d| d.join("cgroup.procs").exists()) {
        std::fs::write(d.join("cgroup.procs"), pid.to_string())
            .with_context(|| format!("move shim into {}", d.display()))?;
        joined += 1;
    }
    if joined == 0 {
        bail!("shim cgroup {path} does not exist");
    }
    Ok(())
}

/// Logs go to the `log` fifo containerd opens in the bundle (if any).
fn init_logging(flags: &Flags) {
    let Ok(f) = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("log")
    else {
        return;
    };
    crate::logger::init(f, flags.debug);
}

/// The serving shim.
pub fn serve(flags: &Flags) -> anyhow::Result<()> {
    // One malloc arena: a handful of threads, a few KiB each, no contention.
    // SAFETY: mallopt only tunes the allocator; called before any thread exists.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    reaper::block_sigchld().context("block SIGCHLD")?;
    nix::sys::prctl::set_child_subreaper(true).context("become child subreaper")?;
    init_logging(flags);
    let sock = std::env::var_os(SOCKET_PATH_ENV).map(PathBuf::from);
    // The listening socket came in without FD_CLOEXEC; every child we spawn
    // (runtime, publish binary, log driver) would otherwise hold it open and
    // keep it connectable after this shim dies.
    // SAFETY: fcntl on our own inherited descriptor, integer arguments only.
    if unsafe { libc::fcntl(LISTEN_FD, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error()).context("mark the shim socket close-on-exec");
    }
    // listen(2) again: the socket's peer credentials become this process's
    // (`start`, which made it, is gone), so a second `start` of the group
    // learns this shim's pid from a connection.
    // SAFETY: listen on our own inherited descriptor, integer arguments only.
    if unsafe { libc::listen(LISTEN_FD, libc::SOMAXCONN) } < 0 {
        return Err(std::io::Error::last_os_error()).context("listen on the shim socket");
    }

    let reaper = Reaper::new();
    let (exit_tx, exit_rx) = channel();
    reaper.set_handler(Box::new(move |e| {
        let _ = exit_tx.send(e);
    }));
    reaper.start().context("start reaper")?;
    let publisher = Publisher::start(
        reaper.clone(),
        flags.publish_binary.clone(),
        flags.address.clone(),
        flags.namespace.clone(),
        std::env::var(crate::events::TTRPC_ADDRESS_ENV).ok(),
    )
    .context("start event publisher")?;
    let (stop_tx, stop_rx) = channel();
    let shim = Shim::new(reaper, publisher.clone(), flags.namespace.clone(), stop_tx);
    {
        let shim = shim.clone();
        std::thread::Builder::new()
            .name("exits".into())
            .stack_size(128 * 1024)
            .spawn(move || shim.process_exits(exit_rx))
            .context("start exit thread")?;
    }

    let service: Arc<dyn containerd_shim_protos::Task + Send + Sync> = Arc::new(TaskService(shim));
    let v2 = containerd_shim_protos::create_task(service.clone());
    let v3 = containerd_shim_protos::create_task(service)
        .into_iter()
        .map(|(k, v)| (k.replace("containerd.task.v2.", "containerd.task.v3."), v))
        .collect();
    let mut server = ttrpc::Server::new()
        .add_listener(LISTEN_FD)
        .context("listen on inherited socket")?
        .register_service(v2)
        .register_service(v3)
        .set_thread_count_min(1)
        .set_thread_count_default(2)
        .set_thread_count_max(3);
    server.start().context("start ttrpc server")?;
    tracing::info!(id = %flags.id, namespace = %flags.namespace, "shim serving");

    let _ = stop_rx.recv();
    if let Some(s) = &sock {
        let _ = std::fs::remove_file(s);
    }
    // The last events (exit, delete) must reach the manager first.
    publisher.drain(std::time::Duration::from_secs(10));
    // Give the Shutdown reply a moment to leave; containerd tolerates a closed
    // connection here either way.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::process::exit(0);
}

/// `delete`: the shim of this container died. Force-delete it through the
/// runtime, unmount its rootfs, remove the socket, report it killed.
pub fn delete(flags: &Flags) -> anyhow::Result<Vec<u8>> {
    if flags.id.is_empty() {
        bail!("-id is required");
    }
    let bundle = bundle_dir(flags)?;
    reaper::block_sigchld().context("block SIGCHLD")?;
    let reaper = Reaper::new();
    reaper.start().context("start reaper")?;
    let choice = options::load(&bundle, &flags.namespace);
    let runtime = Runtime::new(
        choice.binary.clone(),
        choice.root.clone(),
        bundle.join("log.json"),
        reaper,
    );
    if let Err(e) = runtime.delete(&flags.id, true) {
        // Already gone is fine; anything else is worth a word on stderr.
        eprintln!("containerd-shim-hull-v2: runtime delete: {e}");
    }
    let rootfs = bundle.join("rootfs");
    if let Err(e) = mount::unmount_all(&rootfs) {
        // Still remove the socket and answer: containerd logs our stderr.
        eprintln!("containerd-shim-hull-v2: unmount {}: {e}", rootfs.display());
    }
    // containerd may notice the dead connection before the dying shim has
    // closed its listening socket: wait for the process to be gone first.
    let shim_gone = std::fs::read_to_string(bundle.join("shim.pid"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .map(|pid| wait_gone(pid, std::time::Duration::from_secs(5)));
    if let Ok(addr) = std::fs::read_to_string(bundle.join("address")) {
        let p = PathBuf::from(addr.trim().trim_start_matches("unix://"));
        // A dead shim's socket is stale even if some straggler still holds
        // its listening descriptor; a live (grouped) shim keeps its socket.
        let stale = match shim_gone {
            Some(gone) => gone,
            None => !connectable(&p),
        };
        if p.exists() && stale {
            let _ = std::fs::remove_file(&p);
        }
    }
    let pid = std::fs::read_to_string(bundle.join("init.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let mut r = DeleteResponse::new();
    r.pid = pid;
    r.exit_status = 128 + libc::SIGKILL as u32;
    r.exited_at = MessageField::some(Timestamp::now());
    r.write_to_bytes().context("encode DeleteResponse")
}

/// Poll until `pid` no longer runs (gone or a zombie), at most `timeout`;
/// true if it is gone.
fn wait_gone(pid: i32, timeout: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        let running = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                !s.rsplit_once(')')
                    .map(|(_, r)| r.trim_start().starts_with('Z'))
                    .unwrap_or(false)
            })
            .unwrap_or(false);
        if !running {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_path_is_stable_and_distinct() {
        let a = socket_path("/run/c.sock", "default", "c1");
        assert_eq!(a, socket_path("/run/c.sock", "default", "c1"));
        assert_ne!(a, socket_path("/run/c.sock", "default", "c2"));
        assert_ne!(a, socket_path("/run/d.sock", "default", "c1"));
        assert!(a.to_string_lossy().len() < 108);
    }
}

//! Named network namespaces, made the way `ip netns add` makes them: a
//! thread unshares a new network namespace and bind-mounts its
//! /proc/thread-self/ns/net onto a file, which keeps the namespace alive
//! without any process in it. The OCI spec names that file, so hullc joins
//! the namespace CNI has already wired.

use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use crate::error::{Error, Result};

/// Whether `p` is a bind mount of a namespace (nsfs).
pub fn is_mounted(p: &Path) -> bool {
    nix::sys::statfs::statfs(p)
        .map(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
        .unwrap_or(false)
}

/// Create a new network namespace pinned at `p`.
pub fn create(p: &Path) -> Result<()> {
    if is_mounted(p) {
        return Ok(());
    }
    if let Some(d) = p.parent() {
        if !d.is_dir() {
            crate::private::dir(d).map_err(|e| Error::io(format!("create {}", d.display()), e))?;
        }
    }
    crate::private::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(p)
        .map_err(|e| Error::io(format!("create {}", p.display()), e))?;
    let target = p.to_path_buf();
    // The thread's own network namespace changes; it exits right after, so
    // no other hulld work ever runs in it.
    let r = std::thread::Builder::new()
        .name("netns".into())
        .spawn(move || -> nix::Result<()> {
            unshare(CloneFlags::CLONE_NEWNET)?;
            lo_up()?;
            mount(
                Some("/proc/thread-self/ns/net"),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        })
        .map_err(|e| Error::io("spawn netns thread", e))?
        .join()
        .map_err(|_| Error::FailedPrecondition("netns thread panicked".into()))?;
    if let Err(e) = r {
        let _ = std::fs::remove_file(p);
        return Err(Error::io(
            format!("create network namespace {}", p.display()),
            std::io::Error::from(e),
        ));
    }
    Ok(())
}

/// Bring up `lo` of the calling thread's network namespace. Two ioctls
/// here rather than exec'ing CNI's `loopback` plugin: it is all that plugin
/// does, and it keeps a container start (and every restart-policy
/// restart) a process spawn shorter.
fn lo_up() -> nix::Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsRawFd;
    let s = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, c) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *c as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the flags into `req`, a valid ifreq
    // naming "lo"; the socket is open for the call's duration.
    if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(nix::errno::Errno::last());
    }
    // SAFETY: the flags member of the union was just filled in by the kernel.
    unsafe {
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: SIOCSIFFLAGS reads `req` (name and flags), valid as above.
    if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(())
}

/// Unmount and remove a pinned namespace (absent is fine).
pub fn remove(p: &Path) {
    while is_mounted(p) {
        if let Err(e) = umount2(p, MntFlags::MNT_DETACH) {
            tracing::warn!(path = %p.display(), "unmount netns: {e}");
            break;
        }
    }
    let _ = std::fs::remove_file(p);
}

/// A TCP connection to `localhost:port` inside the network namespace
/// pinned at `p` (the host's when None): a thread joins the namespace,
/// connects and exits; the socket stays in the namespace it was made in.
pub fn connect_tcp(p: Option<&Path>, port: u16) -> std::io::Result<std::net::TcpStream> {
    let connect = move || -> std::io::Result<std::net::TcpStream> {
        let addrs = [
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
        ];
        std::net::TcpStream::connect_timeout(&addrs[0], std::time::Duration::from_secs(10)).or_else(
            |e| {
                std::net::TcpStream::connect_timeout(&addrs[1], std::time::Duration::from_secs(10))
                    .map_err(|_| e)
            },
        )
    };
    let Some(p) = p else { return connect() };
    let f = std::fs::File::open(p)?;
    std::thread::Builder::new()
        .name("netns-connect".into())
        .spawn(move || -> std::io::Result<std::net::TcpStream> {
            // Only this thread joins the namespace, and it exits next.
            nix::sched::setns(&f, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
            connect()
        })?
        .join()
        .map_err(|_| std::io::Error::other("netns thread panicked"))?
}

//! Terminals: the init makes a pty inside the container and hands the
//! master to the parent, which passes it to `--console-socket` with
//! SCM_RIGHTS (as runc does).

use crate::error::{Error, Result, SysContext};
use crate::process::sync::{Channel, Msg};
use crate::rootfs::paths::{create_in_root, fd_path, Leaf};
use crate::syscall::Syscall;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use nix::sys::stat::Mode;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// In the container (after pivot_root): open a pty, send the master up,
/// make the slave our stdio and controlling terminal, bind it on /dev/console.
pub fn setup_in_container(sys: &dyn Syscall, ch: &Channel, size: Option<(u16, u16)>) -> Result<()> {
    let name = open_pty_as_stdio(ch, size)?;
    // /dev/console → this pty (best effort: /dev may be read-only).
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys("open /")?;
    if let Ok(target) = create_in_root(root.as_fd(), Path::new("/dev/console"), Leaf::File) {
        let _ = sys.mount(
            Some(Path::new(&name)),
            &fd_path(&target),
            None,
            MsFlags::MS_BIND,
            None,
        );
    }
    Ok(())
}

/// Open a pty in the current mount namespace, hand the master to the parent
/// (which passes it to --console-socket), and make the slave stdio and the
/// controlling terminal. Returns the slave's name.
pub fn open_pty_as_stdio(ch: &Channel, size: Option<(u16, u16)>) -> Result<String> {
    let master =
        posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).sys("open /dev/ptmx")?;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a valid winsize we own.
        let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        nix::errno::Errno::result(rc).sys("set console size")?;
    }
    grantpt(&master).sys("grantpt")?;
    unlockpt(&master).sys("unlockpt")?;
    let name = ptsname_r(&master).sys("ptsname")?;
    let slave = nix::fcntl::open(
        Path::new(&name),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .sys(format!("open {name}"))?;
    ch.send_with_fd(
        &Msg::Console { name: name.clone() },
        Some(master.as_raw_fd()),
    )?;
    ch.expect_ack()?;
    drop(master);
    for fd in 0..3 {
        // SAFETY: dup2 onto stdio numbers; the old fds 0-2 are ours to replace.
        let rc = unsafe { libc::dup2(slave.as_raw_fd(), fd) };
        nix::errno::Errno::result(rc).sys("dup2 pty")?;
    }
    // SAFETY: TIOCSCTTY on our own pty slave with arg 0.
    let rc = unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    nix::errno::Errno::result(rc).sys("ioctl(TIOCSCTTY)")?;
    Ok(name)
}

/// Parent side: connect to the console socket and send `master`.
pub fn send_to_socket(sock: &Path, master: &OwnedFd, name: &str) -> Result<()> {
    let err = |e: nix::Error| Error::Other(format!("console socket {}: {e}", sock.display()));
    let s = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(err)?;
    let addr = UnixAddr::new(sock).map_err(err)?;
    connect(s.as_raw_fd(), &addr).map_err(err)?;
    let fds = [master.as_raw_fd()];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<UnixAddr>(
        s.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(err)?;
    Ok(())
}

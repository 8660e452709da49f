//! Terminals: the init makes a pty inside the container and hands the
//! master to the parent, which passes it to `--console-socket` with
//! SCM_RIGHTS (as runc does).

use crate::error::{Call, Error, Result, SysContext};
use crate::process::sync::{Channel, Msg};
use crate::rootfs::paths::fd_path;
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
    bind_console(sys, &name)
}

/// Bind the pty `name` on /dev/console. A /dev/console that is anything but
/// a regular file (a symlink of the image pointing elsewhere, a device) is
/// refused (CVE-2025-52565 class); a missing one is created without
/// following links, and the mount goes through the verified fd. Where /dev
/// is read-only and has no console, the container simply has none.
fn bind_console(sys: &dyn Syscall, name: &str) -> Result<()> {
    let refuse = |msg: String| Error::Mount {
        dest: "/dev/console".into(),
        msg,
    };
    let dev = match nix::fcntl::open(
        "/dev",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(refuse(format!("open /dev: {e}"))),
    };
    let console = match nix::fcntl::openat(
        dev.as_fd(),
        "console",
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => match nix::fcntl::openat(
            dev.as_fd(),
            "console",
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        ) {
            Ok(fd) => fd,
            // A read-only /dev without a console: nothing to bind onto.
            Err(nix::errno::Errno::EROFS) => return Ok(()),
            Err(e) => return Err(refuse(format!("create: {e}"))),
        },
        Err(e) => return Err(refuse(format!("open: {e}"))),
    };
    let st = nix::sys::stat::fstat(console.as_fd()).map_err(|e| refuse(format!("stat: {e}")))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(refuse(
            "is a symlink or not a regular file in the rootfs (refused)".into(),
        ));
    }
    let bind =
        |target: &Path| sys.mount(Some(Path::new(name)), target, None, MsFlags::MS_BIND, None);
    match bind(&fd_path(&console)) {
        // No /proc in the container: the path checked just above.
        Err(nix::errno::Errno::ENOENT) => bind(Path::new("/dev/console")),
        r => r,
    }
    .map_err(|e| refuse(format!("bind {name}: {e}")))
}

/// Open a pty in the current mount namespace, hand the master to the parent
/// (which passes it to --console-socket), and make the slave stdio and the
/// controlling terminal. Returns the slave's name.
pub fn open_pty_as_stdio(ch: &Channel, size: Option<(u16, u16)>) -> Result<String> {
    let master =
        posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).sys(Call::OpenPtmx)?;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a valid winsize we own.
        let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        nix::errno::Errno::result(rc).sys(Call::SetConsoleSize)?;
    }
    grantpt(&master).sys(Call::Grantpt)?;
    unlockpt(&master).sys(Call::Unlockpt)?;
    let name = ptsname_r(&master).sys(Call::Ptsname)?;
    let slave = nix::fcntl::open(
        Path::new(&name),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| Error::Open {
        path: name.clone().into(),
        source,
    })?;
    ch.send_with_fd(
        &Msg::Console { name: name.clone() },
        Some(master.as_raw_fd()),
    )?;
    ch.expect_ack()?;
    drop(master);
    nix::unistd::dup2_stdin(&slave).sys(Call::Dup2Pty)?;
    nix::unistd::dup2_stdout(&slave).sys(Call::Dup2Pty)?;
    nix::unistd::dup2_stderr(&slave).sys(Call::Dup2Pty)?;
    // SAFETY: TIOCSCTTY on our own pty slave with arg 0.
    let rc = unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    nix::errno::Errno::result(rc).sys(Call::SetControllingTty)?;
    Ok(name)
}

/// Parent side: connect to the console socket and send `master`.
pub fn send_to_socket(sock: &Path, master: &OwnedFd, name: &str) -> Result<()> {
    let err = |e: nix::Error| Error::ConsoleSocket {
        path: sock.to_path_buf(),
        source: e,
    };
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

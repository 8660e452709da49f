//! `--console-socket`: receiving the pty master a runtime sends, and
//! reading from it until a condition holds.

use super::*;

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

pub(super) fn recv_one_fd(sock: RawFd) -> io::Result<OwnedFd> {
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

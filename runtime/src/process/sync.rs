//! The parent ⇄ child channel: a SOCK_SEQPACKET socketpair carrying one
//! JSON message per packet, optionally with one fd (SCM_RIGHTS).

use crate::error::{Call, Error, Result};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType, UnixAddr,
};
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Msg {
    /// stage 1 unshared a user namespace: write its id maps.
    MapIds { pid: i32 },
    /// stage 1 forked the container's init (host pid).
    InitPid { pid: i32 },
    /// init (user namespace): open my bind sources with host privileges.
    MountSources,
    /// Parent → init: the source of `mounts[index]` is attached.
    MountSource { index: usize },
    /// init finished its mounts: run prestart/createRuntime hooks now.
    RunHooks,
    /// init made a pty; the master fd is attached.
    Console { name: String },
    /// The seccomp notify listener fd is attached: pass it to listenerPath.
    SeccompListener,
    /// init is ready and waits for `start`.
    Ready,
    /// Something failed in the child.
    Error { msg: String },
    /// Parent → child: go on.
    Ack,
    /// Parent → child: stop, with the reason.
    Abort { msg: String },
}

pub struct Channel {
    fd: OwnedFd,
}

pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::Syscall {
        call: Call::Socketpair,
        source: e,
    })?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    /// The socket's fd number (to keep it open while closing host fds).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn send(&self, msg: &Msg) -> Result<()> {
        self.send_with_fd(msg, None)
    }

    pub fn send_with_fd(&self, msg: &Msg, fd: Option<RawFd>) -> Result<()> {
        let buf = serde_json::to_vec(msg).map_err(Error::SyncMessage)?;
        let iov = [IoSlice::new(&buf)];
        let fds;
        let cmsgs: Vec<ControlMessage<'_>> = match fd {
            Some(f) => {
                fds = [f];
                vec![ControlMessage::ScmRights(&fds)]
            }
            None => vec![],
        };
        sendmsg::<UnixAddr>(
            self.fd.as_raw_fd(),
            &iov,
            &cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(|e| Error::Syscall {
            call: Call::SyncSend,
            source: e,
        })?;
        Ok(())
    }

    /// Receive one message; `Ok(None)` when the peer closed its end.
    pub fn recv(&self) -> Result<Option<(Msg, Option<OwnedFd>)>> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<UnixAddr>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(r) => {
                    let mut fd = None;
                    for c in r.cmsgs().map_err(|e| Error::Syscall {
                        call: Call::SyncCmsgs,
                        source: e,
                    })? {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for f in fds {
                                // SAFETY: the kernel just installed this fd for us.
                                let owned = unsafe { OwnedFd::from_raw_fd(f) };
                                fd.get_or_insert(owned);
                            }
                        }
                    }
                    break (r.bytes, fd);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    return Err(Error::Syscall {
                        call: Call::SyncReceive,
                        source: e,
                    })
                }
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n]).map_err(Error::SyncMessage)?;
        Ok(Some((msg, fd)))
    }

    /// End a forked child: exit 0, or report the error to the parent and
    /// exit 1. Uses _exit: the parent's state (buffers, destructors) is not
    /// the child's to flush.
    pub fn exit_child(&self, r: Result<()>) -> ! {
        let code = match r {
            Ok(()) => 0,
            Err(e) => {
                let _ = self.send(&Msg::Error {
                    msg: e.child_message(),
                });
                1
            }
        };
        // SAFETY: _exit ends the process without running atexit handlers
        // or destructors, which belong to the parent's copy of the state.
        unsafe { libc::_exit(code) }
    }

    /// Wait for Ack; anything else is an error.
    pub fn expect_ack(&self) -> Result<()> {
        match self.recv()? {
            Some((Msg::Ack, _)) => Ok(()),
            Some((Msg::Abort { msg }, _)) => Err(Error::Init(msg)),
            Some((other, _)) => Err(Error::UnexpectedMessage(format!("{other:?}"))),
            None => Err(Error::ParentGone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_fd() {
        let (a, b) = pair().unwrap();
        a.send(&Msg::InitPid { pid: 42 }).unwrap();
        assert_eq!(b.recv().unwrap().unwrap().0, Msg::InitPid { pid: 42 });
        let f = std::fs::File::open("/dev/null").unwrap();
        a.send_with_fd(
            &Msg::Console {
                name: "/dev/pts/0".into(),
            },
            Some(f.as_raw_fd()),
        )
        .unwrap();
        let (m, fd) = b.recv().unwrap().unwrap();
        assert_eq!(
            m,
            Msg::Console {
                name: "/dev/pts/0".into()
            }
        );
        assert!(fd.is_some());
        drop(a);
        assert!(b.recv().unwrap().is_none());
    }
}

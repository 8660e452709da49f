//! SCMP_ACT_NOTIFY with `listenerPath` (issue 17, group K): the runtime
//! sends the container process state and the seccomp listener fd over
//! SCM_RIGHTS; a small seccomp agent here answers the notified syscalls.
//! The same bundle runs under hullc and runc.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use hull_integration::bundle::Bundle;
use hull_integration::runtime::{describe, require_root, stdout_of, Runtime};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
use serde_json::{json, Value};

/// struct seccomp_notif (linux/seccomp.h).
#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

/// struct seccomp_notif_resp.
#[repr(C)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

const NOTIF_RECV: libc::c_ulong = 0xc050_2100; // _IOWR('!', 0, struct seccomp_notif)
const NOTIF_SEND: libc::c_ulong = 0xc018_2101; // _IOWR('!', 1, struct seccomp_notif_resp)

/// The agent: takes one connection, reports the state JSON it got, and
/// answers every notification with -`errno` until the filter's last user
/// is gone. Returns how many it answered.
fn agent(sock: &Path, errno: i32, tx: mpsc::Sender<Value>) -> JoinHandle<u32> {
    let listener = UnixListener::bind(sock).unwrap();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 65536];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
        let (n, fd) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let m = recvmsg::<UnixAddr>(
                conn.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::empty(),
            )
            .unwrap();
            let fd = m.cmsgs().unwrap().find_map(|c| match c {
                ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                _ => None,
            });
            (m.bytes, fd)
        };
        let state: Value = serde_json::from_slice(&buf[..n]).unwrap_or(Value::Null);
        let _ = tx.send(state);
        let Some(fd) = fd else { return 0 };
        // SAFETY: the fd arrived by SCM_RIGHTS and is ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut answered = 0;
        loop {
            let mut req = Notif::default();
            // SAFETY: RECV fills a zeroed seccomp_notif we own.
            if unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_RECV, &mut req) } != 0 {
                return answered; // ENOENT: no process uses the filter any more
            }
            let resp = NotifResp {
                id: req.id,
                val: 0,
                error: -errno,
                flags: 0,
            };
            // SAFETY: SEND reads the response struct we own.
            if unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_SEND, &resp) } == 0 {
                answered += 1;
            }
        }
    })
}

fn runtimes() -> Vec<Runtime> {
    let runc = PathBuf::from("/usr/sbin/runc");
    std::iter::once(Runtime::new())
        .chain(runc.exists().then(|| Runtime::with_bin(runc)))
        .collect()
}

#[test]
fn notified_syscalls_are_answered_by_the_agent() {
    require_root();
    for rt in runtimes() {
        let mut b = Bundle::sh("notify", "mkdir /made-by-container 2>&1; echo rc=$?");
        let sock = b.dir().join("agent.sock");
        b.linux_mut()["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock.to_string_lossy(),
            "listenerMetadata": "hull-test-meta",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
        b.write().unwrap();
        let (tx, rx) = mpsc::channel();
        let handle = agent(&sock, libc::EXDEV, tx);
        let id = format!(
            "{}-{}",
            b.id(),
            rt.bin().file_name().unwrap().to_string_lossy()
        );
        let o = rt.run_container(&id, &b, &[]);
        let who = rt.bin().display().to_string();
        assert!(o.status.success(), "{who}: {}", describe(&o));
        let out = stdout_of(&o);
        assert!(
            out.contains("cross-device") && out.contains("rc=1"),
            "{who}: the agent's answer did not reach mkdir: {out}"
        );
        assert!(!b.rootfs().join("made-by-container").exists());
        let state = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(state["fds"], json!(["seccompFd"]), "{who}: {state}");
        assert_eq!(state["metadata"], "hull-test-meta", "{who}: {state}");
        assert_eq!(state["state"]["id"], id.as_str(), "{who}: {state}");
        assert!(state["pid"].as_i64().unwrap_or(0) > 0, "{who}: {state}");
        assert!(
            handle.join().unwrap() >= 1,
            "{who}: no notification answered"
        );
        rt.assert_nothing_left(&id, &b);
    }
}

#[test]
fn notify_without_a_listener_path_is_refused() {
    require_root();
    let rt = Runtime::new();
    let mut b = Bundle::sh("notifynopath", "true");
    b.linux_mut()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    });
    b.write().unwrap();
    let o = rt.run_container(b.id(), &b, &[]);
    assert!(!o.status.success());
    assert!(describe(&o).contains("listenerPath"), "{}", describe(&o));
    rt.assert_nothing_left(b.id(), &b);
}

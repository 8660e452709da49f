//! Interactive suites' shared setup: a busybox image in a hulld, and `hull`
//! run on a real pty (raw mode, window size, what the terminal shows).

use super::*;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hull_integration::registry::{Auth, Registry};

pub const WAIT: Duration = Duration::from_secs(20);

/// A registry with a busybox image (Cmd /bin/sh) and a hulld; the image's
/// reference.
pub fn setup() -> (Registry, Layout, Hulld, String) {
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    l.layer("empty", "bb", |r| {
        hull_integration::rootfs::build_busybox_rootfs(r).unwrap();
    });
    l.config("bb", &["--config.cmd", "/bin/sh"]);
    let image = reg.reference("it/busybox:v1");
    l.push("bb", &image, &[]);
    let h = Hulld::start();
    let o = h.hull(&["pull", &image]);
    assert!(o.status.success(), "pull: {}", stderr(&o));
    (reg, l, h, image)
}

/// `hull` running with a pty as its controlling terminal and stdio; what it
/// writes is collected by a reader thread.
pub struct PtyHull {
    pub master: File,
    /// Kept to look at the terminal's modes after hull is gone.
    pub slave: OwnedFd,
    pub child: Child,
    pub out: Arc<Mutex<Vec<u8>>>,
}

pub fn winsize(rows: u16, cols: u16) -> nix::pty::Winsize {
    nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl PtyHull {
    pub fn spawn(h: &Hulld, args: &[&str], rows: u16, cols: u16) -> PtyHull {
        let pty = nix::pty::openpty(Some(&winsize(rows, cols)), None).expect("openpty");
        let mut cmd = h.hull_cmd(args);
        cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
            .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
            .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
        // SAFETY: setsid and ioctl are async-signal-safe; they make the pty
        // (our stdin by now) hull's controlling terminal, so it gets SIGWINCH.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn hull in a pty");
        let master = File::from(pty.master);
        let out = Arc::new(Mutex::new(Vec::new()));
        let (mut r, o2) = (master.try_clone().unwrap(), out.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once hull and the test closed the slave... the
            // test keeps it, so this thread ends with the test process.
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                o2.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        PtyHull {
            master,
            slave: pty.slave,
            child,
            out,
        }
    }

    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    pub fn type_(&mut self, s: &str) {
        self.master.write_all(s.as_bytes()).unwrap();
    }

    /// Wait until the output (after byte `from`) holds `what`; the end of
    /// the match.
    pub fn expect(&mut self, from: usize, what: &str, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let out = self.out.lock().unwrap();
                let tail = String::from_utf8_lossy(&out[from.min(out.len())..]).into_owned();
                if let Some(i) = tail.find(what) {
                    return from + i + what.len();
                }
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                // One more look: the output may have come with the exit.
                std::thread::sleep(Duration::from_millis(50));
                let out = self.output();
                assert!(
                    out[from.min(out.len())..].contains(what),
                    "hull exited ({st}) before printing {what:?}; output: {out:?}"
                );
                continue;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what:?}; output: {:?}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn len(&self) -> usize {
        self.out.lock().unwrap().len()
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        let ws = winsize(rows, cols);
        // SAFETY: TIOCSWINSZ reads a winsize that outlives the call; the fd
        // is our open pty master.
        let rc = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(rc, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
    }

    pub fn wait(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("hull did not exit; output: {:?}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The terminal is back in cooked mode (echo, canonical input).
    pub fn assert_cooked(&self) {
        let t = nix::sys::termios::tcgetattr(self.slave.as_fd()).unwrap();
        use nix::sys::termios::LocalFlags;
        assert!(
            t.local_flags
                .contains(LocalFlags::ECHO | LocalFlags::ICANON | LocalFlags::ISIG),
            "terminal left in raw mode: {:?}",
            t.local_flags
        );
    }
}

impl Drop for PtyHull {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

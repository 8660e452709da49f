//! Tests against the real kernel (root and a cgroup2 mount needed).

use super::bpf::*;
use super::tests::*;
use super::*;
use std::os::fd::AsRawFd;

const UNIFIED: &str = "/sys/fs/cgroup/unified";

/// Why the kernel tests cannot run here, if they cannot.
fn kernel_skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root".into());
    }
    match nix::sys::statfs::statfs(UNIFIED) {
        Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => None,
        Ok(_) => Some(format!("{UNIFIED} is not a cgroup2 mount")),
        Err(e) => Some(format!("{UNIFIED}: {e}")),
    }
}

macro_rules! require_kernel {
    () => {
        if let Some(why) = kernel_skip_reason() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// A cgroup2 directory removed on drop.
struct TestCgroup(std::path::PathBuf);
impl TestCgroup {
    fn new(tag: &str) -> Self {
        let dir = Path::new(UNIFIED).join(format!("hullc-bpfdev-{tag}-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        TestCgroup(dir)
    }
}
impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Err(e) = crate::cgroups::remove_dir(&self.0) {
            eprintln!("cleanup: {e}");
        }
    }
}

/// A forked child, killed and reaped on drop if still there.
struct Child(nix::unistd::Pid);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(self.0, None);
    }
}

/// What a process in the cgroup could do: errno of each step (0 = ok).
#[derive(Debug, PartialEq, Eq)]
struct Probe {
    join: i32,
    read: i32,
    write: i32,
    rdwr: i32,
    mknod: i32,
}

/// Fork a child that joins `cg` and tries /dev/null (c 1:3) for read,
/// write and read-write, and mknod of c 1:3 in `scratch`.
fn probe(cg: &Path, scratch: &Path) -> Probe {
    use std::ffi::CString;
    let procs = CString::new(cg.join("cgroup.procs").as_os_str().as_encoded_bytes()).unwrap();
    let null = CString::new("/dev/null").unwrap();
    let node = CString::new(scratch.join("null").as_os_str().as_encoded_bytes()).unwrap();
    let (rd, wr) = nix::unistd::pipe().unwrap();
    // SAFETY: the child runs only async-signal-safe libc calls on data
    // prepared before the fork, then _exits.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            // SAFETY: plain syscalls on NUL-terminated strings and
            // buffers that live until _exit.
            unsafe {
                let errno = || *libc::__errno_location();
                let mut res = [0i32; 5];
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    res[0] = errno().max(1);
                }
                for (slot, flags) in [(1, libc::O_RDONLY), (2, libc::O_WRONLY), (3, libc::O_RDWR)] {
                    let fd = libc::open(null.as_ptr(), flags | libc::O_CLOEXEC);
                    if fd < 0 {
                        res[slot] = errno();
                    } else {
                        libc::close(fd);
                    }
                }
                if libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3)) < 0 {
                    res[4] = errno();
                } else {
                    libc::unlink(node.as_ptr());
                }
                let n = std::mem::size_of_val(&res);
                let ok = libc::write(wr.as_raw_fd(), res.as_ptr().cast(), n) == n as isize;
                libc::_exit(if ok { 0 } else { 1 });
            }
        }
        nix::unistd::ForkResult::Parent { child } => {
            let child = Child(child);
            drop(wr);
            let mut pfd = [nix::poll::PollFd::new(
                std::os::fd::AsFd::as_fd(&rd),
                nix::poll::PollFlags::POLLIN,
            )];
            let n = nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(10_000u16)).unwrap();
            assert_eq!(n, 1, "child did not report within 10 s");
            let mut buf = [0u8; 20];
            let got = nix::unistd::read(&rd, &mut buf).unwrap();
            assert_eq!(got, buf.len(), "short report from the child");
            let status = nix::sys::wait::waitpid(child.0, None).unwrap();
            assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child.0, 0));
            std::mem::forget(child); // reaped
            let v = |i: usize| i32::from_ne_bytes(buf[i * 4..i * 4 + 4].try_into().unwrap());
            Probe {
                join: v(0),
                read: v(1),
                write: v(2),
                rdwr: v(3),
                mknod: v(4),
            }
        }
    }
}

fn hullc_programs(dir: &Path) -> usize {
    attached_programs(&File::open(dir).unwrap(), PROG_NAME)
        .unwrap()
        .len()
}

#[test]
fn kernel_enforces_and_update_replaces() {
    require_kernel!();
    let cg = TestCgroup::new("enforce");
    let scratch = tempfile::tempdir().unwrap();

    // Before any program: everything works.
    let free = probe(&cg.0, scratch.path());
    assert_eq!(
        free,
        Probe {
            join: 0,
            read: 0,
            write: 0,
            rdwr: 0,
            mknod: 0
        }
    );

    // Deny writing /dev/null; the defaults allow the rest of it.
    apply(&cg.0, &[deny_all(), c(false, 1, 3, "w")]).unwrap();
    assert_eq!(hullc_programs(&cg.0), 1);
    let p = probe(&cg.0, scratch.path());
    assert_eq!(
        p,
        Probe {
            join: 0,
            read: 0,
            write: libc::EPERM,
            rdwr: libc::EPERM,
            mknod: 0
        }
    );

    // Re-apply (update): writing allowed again, mknod denied; the old
    // program is gone.
    apply(&cg.0, &[deny_all(), c(false, 1, 3, "m")]).unwrap();
    assert_eq!(hullc_programs(&cg.0), 1);
    let p = probe(&cg.0, scratch.path());
    assert_eq!(
        p,
        Probe {
            join: 0,
            read: 0,
            write: 0,
            rdwr: 0,
            mknod: libc::EPERM
        }
    );
}

#[test]
fn kernel_apply_leaves_foreign_programs_alone() {
    require_kernel!();
    let cg = TestCgroup::new("foreign");
    let file = File::open(&cg.0).unwrap();
    let allow = compile(&[allow_all()]).unwrap();
    let foreign = load(&allow, "other_devices").unwrap();
    attach(&file, &foreign).unwrap();
    apply(&cg.0, &[deny_all()]).unwrap();
    apply(&cg.0, &[deny_all(), c(false, 1, 3, "w")]).unwrap();
    assert_eq!(attached_ids(&file).unwrap().len(), 2);
    assert_eq!(attached_programs(&file, "other_devices").unwrap().len(), 1);
    assert_eq!(hullc_programs(&cg.0), 1);
}

#[test]
fn kernel_verifier_accepts_generated_programs() {
    require_kernel!();
    let mut rng = Rng(42);
    let mut sets = corpus();
    sets.extend((0..40).map(|_| random_rules(&mut rng)));
    for rules in sets {
        let prog = compile(&rules).unwrap();
        if let Err(e) = load(&prog, "hullc_test") {
            panic!("verifier rejected {rules:?}: {e}");
        }
    }
}

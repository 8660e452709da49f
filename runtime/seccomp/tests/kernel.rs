//! Real filters in real processes: each test forks a child, which sets no_new_privs (so no
//! root is needed), installs a compiled filter and makes syscalls; the parent checks how the
//! child ended. The child runs between fork and _exit in a copy of a multi-threaded test
//! process, so it only makes raw syscalls and never allocates.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use hull_seccomp::{compile, parse_profile, CompiledFilter, SeccompError};

const DOCKER: &str = include_str!("data/docker-default-shape.json");
const X32_BIT: i64 = 0x4000_0000;

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Exited(i32),
    Signaled(i32),
}

fn filter(json: &str) -> CompiledFilter {
    compile(&parse_profile(json).unwrap()).unwrap()
}

/// Forks; the child sets no_new_privs when asked, installs `f`, runs `body` with the listener
/// fd (if any) and exits with its result. Install errors exit with 200 + a code.
fn in_child(f: &CompiledFilter, nnp: bool, body: impl FnOnce(Option<OwnedFd>) -> i32) -> Outcome {
    // SAFETY: fork in a test process; the child only makes syscalls and calls _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: plain syscalls in the child; _exit never returns.
        unsafe {
            // No core files from the SIGSYS deaths we provoke.
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            if nnp && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                libc::_exit(250);
            }
            let code = match f.install() {
                Ok(fd) => body(fd),
                Err(SeccompError::NeedsNoNewPrivs) => 201,
                Err(_) => 202,
            };
            libc::_exit(code);
        }
    }
    wait(pid)
}

/// Waits for `pid` (ours) for at most 20 s, killing it on timeout.
fn wait(pid: libc::pid_t) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if r == pid {
            if libc::WIFEXITED(status) {
                return Outcome::Exited(libc::WEXITSTATUS(status));
            }
            if libc::WIFSIGNALED(status) {
                return Outcome::Signaled(libc::WTERMSIG(status));
            }
        }
        if Instant::now() > deadline {
            // SAFETY: killing and reaping the child we forked.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("child {pid} did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// syscall(2) returning (result, errno).
fn sys(nr: i64, args: [u64; 3]) -> (i64, i32) {
    // SAFETY: the syscalls used here take integers only, or pointers we pass as NULL.
    let r = unsafe { libc::syscall(nr, args[0], args[1], args[2]) };
    // SAFETY: reading errno of this thread.
    let e = unsafe { *libc::__errno_location() };
    (r, if r < 0 { e } else { 0 })
}

/// An i386 syscall through `int 0x80` from this 64-bit process (at most one argument).
fn int80(nr: u32, arg0: u32) -> i64 {
    let mut ret: i64 = i64::from(nr);
    // SAFETY: int 0x80 runs the i386 syscall `nr`; we only use ones without pointers. The
    // kernel may clobber r8-r11 on return to 64-bit code.
    unsafe {
        // rbx is reserved by LLVM: swap the argument in and out around the call.
        std::arch::asm!(
            "xchg {a}, rbx",
            "int 0x80",
            "xchg {a}, rbx",
            a = inout(reg) u64::from(arg0) => _,
            inout("rax") ret,
            lateout("r8") _, lateout("r9") _, lateout("r10") _, lateout("r11") _,
            options(nostack)
        );
    }
    ret
}

const I386_GETPID: u32 = 20;
const I386_MOUNT: u32 = 21;
const I386_PERSONALITY: u32 = 136;

#[test]
fn docker_default_shape_allows_normal_calls_and_enosys_for_clone3() {
    let f = filter(DOCKER);
    let out = in_child(&f, true, |_| {
        let (pid, _) = sys(libc::SYS_getpid, [0; 3]);
        if pid <= 0 {
            return 1;
        }
        // Normal file I/O works.
        // SAFETY: open/read/close on a path literal and a stack buffer.
        unsafe {
            let fd = libc::open(
                c"/proc/self/status".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            );
            if fd < 0 {
                return 2;
            }
            let mut buf = [0u8; 64];
            if libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) <= 0 || libc::close(fd) != 0 {
                return 3;
            }
        }
        // clone3 → ENOSYS (errnoRet 38), so libcs fall back to clone.
        if sys(libc::SYS_clone3, [0; 3]) != (-1, libc::ENOSYS) {
            return 4;
        }
        // personality: only the listed values.
        if sys(libc::SYS_personality, [0xffff_ffff, 0, 0]).0 < 0 {
            return 5;
        }
        if sys(libc::SYS_personality, [9, 0, 0]) != (-1, libc::EPERM) {
            return 6;
        }
        // Not in the allow list: defaultErrnoRet (EPERM), not the kernel's own answer.
        if sys(libc::SYS_mount, [0; 3]) != (-1, libc::EPERM) {
            return 7;
        }
        // clone with namespace flags is refused by the MASKED_EQ rule.
        if sys(libc::SYS_clone, [libc::CLONE_NEWNS as u64, 0, 0]) != (-1, libc::EPERM) {
            return 8;
        }
        // i386 ABI through int 0x80: SCMP_ARCH_X86 is listed, i386 numbers apply.
        if int80(I386_GETPID, 0) != pid {
            return 9;
        }
        if int80(I386_MOUNT, 0) != -i64::from(libc::EPERM) {
            return 10;
        }
        if int80(I386_PERSONALITY, 9) != -i64::from(libc::EPERM) {
            return 11;
        }
        // x32 ABI: listed, so x32 getpid passes the filter (this kernel has no x32: ENOSYS,
        // a kernel with x32 returns the pid); x32 mount gets the default action.
        let (r, e) = sys(X32_BIT | 39, [0; 3]);
        if !(r == pid || (r == -1 && e == libc::ENOSYS)) {
            return 12;
        }
        if sys(X32_BIT | 165, [0; 3]) != (-1, libc::EPERM) {
            return 13;
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn kill_actions_end_the_process_with_sigsys() {
    for action in [
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
    ] {
        let f = filter(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getpid"],"action":"{action}"}}]}}"#
        ));
        let out = in_child(&f, true, |_| {
            // getppid still works; getpid must not return.
            if sys(libc::SYS_getppid, [0; 3]).0 <= 0 {
                return 1;
            }
            sys(libc::SYS_getpid, [0; 3]);
            2
        });
        assert_eq!(out, Outcome::Signaled(libc::SIGSYS), "{action}");
    }
}

#[test]
fn errno_ret_per_rule() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":18},
        {"names":["getpgrp"],"action":"SCMP_ACT_ERRNO","errnoRet":33},
        {"names":["getsid"],"action":"SCMP_ACT_ERRNO"},
        {"names":["getuid"],"action":"SCMP_ACT_LOG"},
        {"names":["getgid"],"action":"SCMP_ACT_TRACE"}]}"#,
    );
    let out = in_child(&f, true, |_| {
        if sys(libc::SYS_getppid, [0; 3]) != (-1, libc::EXDEV) {
            return 1;
        }
        if sys(libc::SYS_getpgrp, [0; 3]) != (-1, libc::EDOM) {
            return 2;
        }
        if sys(libc::SYS_getsid, [0; 3]) != (-1, libc::EPERM) {
            return 3;
        }
        if sys(libc::SYS_getpid, [0; 3]).0 <= 0 {
            return 4;
        }
        // LOG allows the call.
        if sys(libc::SYS_getuid, [0; 3]).0 < 0 {
            return 5;
        }
        // TRACE without a tracer: the kernel fails the syscall with ENOSYS.
        if sys(libc::SYS_getgid, [0; 3]) != (-1, libc::ENOSYS) {
            return 6;
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn personality_allowed_for_one_value_only() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["personality"],
        "action":"SCMP_ACT_ERRNO","errnoRet":95,"args":[{"index":0,"value":4294967295,"op":"SCMP_CMP_NE"}]}]}"#,
    );
    let out = in_child(&f, true, |_| {
        if sys(libc::SYS_personality, [0xffff_ffff, 0, 0]).0 < 0 {
            return 1;
        }
        for v in [0u64, 8, 0xffff_fffe, 0x1_ffff_ffff] {
            if sys(libc::SYS_personality, [v, 0, 0]) != (-1, libc::EOPNOTSUPP) {
                return 2;
            }
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

fn op_holds(op: &str, arg: u64, v: u64, v2: u64) -> bool {
    match op {
        "SCMP_CMP_NE" => arg != v,
        "SCMP_CMP_LT" => arg < v,
        "SCMP_CMP_LE" => arg <= v,
        "SCMP_CMP_EQ" => arg == v,
        "SCMP_CMP_GE" => arg >= v,
        "SCMP_CMP_GT" => arg > v,
        "SCMP_CMP_MASKED_EQ" => arg & v == v2 & v,
        _ => unreachable!(),
    }
}

/// Every operator on full 64-bit register values, decided by the real kernel.
#[test]
fn all_operators_on_64_bit_arguments() {
    let v: u64 = 0x1_0000_0010;
    let mask: u64 = 0xff00_0000_0000_00f0;
    let datum: u64 = 0x1200_0000_0000_0030;
    let args: [u64; 12] = [
        0,
        0x10,
        0xf,
        0x11,
        0xffff_ffff,
        0x1_0000_000f,
        0x1_0000_0010,
        0x1_0000_0011,
        0x2_0000_0000,
        0x1200_0000_0000_0030,
        0x12ff_0000_1234_5638,
        0x1300_0000_0000_0030,
    ];
    for op in [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ] {
        let (value, value_two) = if op == "SCMP_CMP_MASKED_EQ" {
            (mask, datum)
        } else {
            (v, 0)
        };
        let f = filter(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getppid"],
            "action":"SCMP_ACT_ERRNO","errnoRet":77,
            "args":[{{"index":1,"value":{value},"valueTwo":{value_two},"op":"{op}"}}]}}]}}"#
        ));
        let expected: Vec<bool> = args
            .iter()
            .map(|a| op_holds(op, *a, value, value_two))
            .collect();
        assert!(
            expected.iter().any(|x| *x) && expected.iter().any(|x| !*x),
            "{op}"
        );
        let out = in_child(&f, true, |_| {
            for (i, a) in args.iter().enumerate() {
                let (r, e) = sys(libc::SYS_getppid, [0xdead, *a, 0]);
                let refused = r == -1 && e == 77;
                if refused != expected[i] || (!refused && r <= 0) {
                    return i as i32 + 1;
                }
            }
            0
        });
        assert_eq!(
            out,
            Outcome::Exited(0),
            "{op}: first wrong argument index = code - 1"
        );
    }
}

#[test]
fn x32_numbers_do_not_slip_through_native_rules() {
    // Only x86_64: an x32 getpid is a foreign ABI → killed (libseccomp's bad-arch action),
    // even though getpid is allowed natively and the default is ERRNO.
    let only64 = filter(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["getpid","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let out = in_child(&only64, true, |_| {
        if sys(libc::SYS_getpid, [0; 3]).0 <= 0 {
            return 1;
        }
        if sys(libc::SYS_getppid, [0; 3]) != (-1, libc::EPERM) {
            return 2;
        }
        // Newer than anything the profile names: ENOSYS rather than the default (runc).
        if sys(libc::SYS_clone3, [0; 3]) != (-1, libc::ENOSYS) {
            return 4;
        }
        sys(X32_BIT | 39, [0; 3]);
        3
    });
    assert_eq!(out, Outcome::Signaled(libc::SIGSYS));

    // Same for the i386 ABI through int 0x80.
    let out = in_child(&only64, true, |_| {
        int80(I386_GETPID, 0);
        3
    });
    assert_eq!(out, Outcome::Signaled(libc::SIGSYS));

    // With x32 listed, x32 numbers go to x32 rules: getpid allowed (kernel without x32
    // support then says ENOSYS), getppid gets the default action.
    let with_x32 = filter(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X32"],
        "syscalls":[{"names":["getpid","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let out = in_child(&with_x32, true, |_| {
        let (pid, _) = sys(libc::SYS_getpid, [0; 3]);
        let (r, e) = sys(X32_BIT | 39, [0; 3]);
        if !(r == pid || (r == -1 && e == libc::ENOSYS)) {
            return 1;
        }
        if sys(X32_BIT | 110, [0; 3]) != (-1, libc::EPERM) {
            return 2;
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn flags_are_passed_to_the_kernel() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":3}]}"#,
    );
    let out = in_child(&f, true, |_| {
        if sys(libc::SYS_getppid, [0; 3]) != (-1, libc::ESRCH) {
            return 1;
        }
        // SPEC_ALLOW leaves speculative store bypass mitigation off for this task: the
        // seccomp default would have forced it on (PR_SPEC_FORCE_DISABLE) where mitigable.
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

#[test]
fn without_no_new_privs_or_cap_sys_admin_install_fails_with_eacces() {
    let f = filter(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
    // SAFETY: fork; the child drops to an unprivileged uid, then tries to install.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: syscalls in the child, then _exit.
        unsafe {
            if libc::geteuid() == 0 && (libc::setgid(65534) != 0 || libc::setuid(65534) != 0) {
                libc::_exit(9);
            }
            let code = match f.install() {
                Err(SeccompError::NeedsNoNewPrivs) => 0,
                Err(_) => 1,
                Ok(_) => 2,
            };
            libc::_exit(code);
        }
    }
    assert_eq!(wait(pid), Outcome::Exited(0));
    // And the message says what to do.
    assert!(SeccompError::NeedsNoNewPrivs
        .to_string()
        .contains("no_new_privs"));
}

#[test]
fn notify_returns_a_listener_that_can_answer() {
    assert!(
        hull_seccomp::notify_supported(),
        "kernel without SECCOMP_RET_USER_NOTIF"
    );
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    let out = in_child(&f, true, |fd| {
        let Some(fd) = fd else { return 1 };
        // The filter is inherited: a grandchild's getppid waits for us, the agent.
        // SAFETY: fork inside the forked child; the grandchild only makes syscalls.
        let gc = unsafe { libc::fork() };
        if gc < 0 {
            return 2;
        }
        if gc == 0 {
            let (r, _) = sys(libc::SYS_getppid, [0; 3]);
            // SAFETY: _exit in the grandchild.
            unsafe { libc::_exit(if r == 4242 { 0 } else { 3 }) };
        }
        // SAFETY: zeroed plain-data structs, ioctls on the listener fd we own.
        unsafe {
            let mut req: libc::seccomp_notif = std::mem::zeroed();
            if libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) != 0 {
                return 4;
            }
            if req.data.nr != libc::SYS_getppid as i32 || req.pid as i32 != gc {
                return 5;
            }
            let mut resp: libc::seccomp_notif_resp = std::mem::zeroed();
            resp.id = req.id;
            resp.val = 4242;
            if libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) != 0 {
                return 6;
            }
            let mut status = 0;
            if libc::waitpid(gc, &mut status, 0) != gc {
                return 7;
            }
            if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
                return 8;
            }
        }
        0
    });
    assert_eq!(out, Outcome::Exited(0));
}

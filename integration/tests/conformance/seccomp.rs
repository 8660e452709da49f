//! Conformance cases: sysctl and seccomp.

use super::*;

pub(crate) fn sysctl(bin: &Path) -> R {
    let b = sh(
        "sysctl",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced",
        |b| {
            b.linux_mut()["sysctl"] =
                json!({"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"});
        },
    );
    expect_lines(&run_ok(bin, &b)?, &["1", "1"])
}

/// x86_64 syscalls a busybox shell and the runtimes' last steps need:
/// everything common except mkdir/mkdirat.
pub(crate) const ALLOW: &[&str] = &[
    "read",
    "write",
    "open",
    "close",
    "stat",
    "fstat",
    "lstat",
    "poll",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "pipe",
    "select",
    "sched_yield",
    "mremap",
    "madvise",
    "dup",
    "dup2",
    "nanosleep",
    "getitimer",
    "alarm",
    "setitimer",
    "getpid",
    "socket",
    "connect",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "bind",
    "socketpair",
    "setsockopt",
    "getsockopt",
    "clone",
    "fork",
    "vfork",
    "execve",
    "exit",
    "wait4",
    "kill",
    "uname",
    "fcntl",
    "flock",
    "fsync",
    "ftruncate",
    "getdents",
    "getcwd",
    "chdir",
    "fchdir",
    "rename",
    "rmdir",
    "creat",
    "link",
    "unlink",
    "symlink",
    "readlink",
    "chmod",
    "fchmod",
    "chown",
    "fchown",
    "lchown",
    "umask",
    "gettimeofday",
    "getrlimit",
    "getrusage",
    "sysinfo",
    "times",
    "getuid",
    "getgid",
    "setuid",
    "setgid",
    "geteuid",
    "getegid",
    "setpgid",
    "getppid",
    "getpgrp",
    "setsid",
    "setreuid",
    "setregid",
    "getgroups",
    "setgroups",
    "setresuid",
    "getresuid",
    "setresgid",
    "getresgid",
    "getpgid",
    "getsid",
    "capget",
    "capset",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigsuspend",
    "sigaltstack",
    "statfs",
    "fstatfs",
    "prctl",
    "arch_prctl",
    "setrlimit",
    "gettid",
    "tkill",
    "futex",
    "sched_getaffinity",
    "set_tid_address",
    "exit_group",
    "epoll_wait",
    "epoll_ctl",
    "tgkill",
    "openat",
    "fchownat",
    "newfstatat",
    "unlinkat",
    "renameat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "faccessat",
    "pselect6",
    "ppoll",
    "set_robust_list",
    "get_robust_list",
    "epoll_pwait",
    "utimensat",
    "eventfd2",
    "epoll_create1",
    "dup3",
    "pipe2",
    "prlimit64",
    "getrandom",
    "execveat",
    "statx",
    "rseq",
    "clock_gettime",
    "clock_nanosleep",
    "getdents64",
    "faccessat2",
    "close_range",
    "waitid",
    "restart_syscall",
    "mincore",
    "time",
    "clone3",
    "sched_getparam",
    "membarrier",
];

pub(crate) fn seccomp_errno_default_allowlist(bin: &Path) -> R {
    let b = sh(
        "secallow",
        "echo ok > /tmp/f && cat /tmp/f; mkdir /tmp/d 2>&1; echo rc=$?; [ -d /tmp/d ] || echo absent",
        |b| {
            b.linux_mut()["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [{"names": ALLOW, "action": "SCMP_ACT_ALLOW"}]
            });
        },
    );
    let out = run_ok(bin, &b)?;
    expect_contains(&out, "ok\n")?;
    expect_contains(&out, "Operation not permitted")?;
    expect_contains(&out, "rc=1")?;
    expect_contains(&out, "absent")
}

pub(crate) fn seccomp_kill_rule(bin: &Path) -> R {
    let b = sh(
        "seckill",
        "(mkdir /tmp/d); echo rc=$?; [ -d /tmp/d ] || echo absent",
        |b| {
            b.linux_mut()["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}]
            });
        },
    );
    // 159 = 128 + SIGSYS
    expect_lines(&run_ok(bin, &b)?, &["rc=159", "absent"])
}

pub(crate) fn seccomp_arg_rule_errno_ret(bin: &Path) -> R {
    let b = sh(
        "secargs",
        "touch /tmp/f; chmod 777 /tmp/f 2>&1; echo rc=$?; chmod 751 /tmp/f; echo rc=$?; stat -c %a /tmp/f",
        |b| {
            b.linux_mut()["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                     "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                     "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}]}
                ]
            });
        },
    );
    let out = run_ok(bin, &b)?;
    expect_contains(&out, "Permission denied")?;
    let l = lines(&out);
    ensure!(
        l.ends_with(&["rc=1".into(), "rc=0".into(), "751".into()]),
        "output {l:?}"
    );
    Ok(())
}

pub(crate) fn seccomp_actions_kill_process_trap_errno(bin: &Path) -> R {
    // /tmp/r is made on the host: under the filter mkdir kills.
    let mut b = Bundle::sh(
        "secacts",
        "(mkdir /tmp/a); echo mk=$?; (rmdir /tmp/r); echo rm=$?; \
         touch /tmp/x; ln /tmp/x /tmp/y 2>&1; echo ln=$?",
    );
    fs::create_dir_all(b.default_rootfs().join("tmp/r")).unwrap();
    b.linux_mut()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["rmdir"], "action": "SCMP_ACT_TRAP"},
            {"names": ["link", "linkat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18}
        ]
    });
    b.write().unwrap();
    let out = run_ok(bin, &b)?;
    let l = lines(&out);
    ensure!(
        l.first().map(String::as_str) == Some("mk=159")
            && l.get(1).map(String::as_str) == Some("rm=159")
            && l.last().map(String::as_str) == Some("ln=1")
            && out.contains("cross-device"),
        "want mk=159 (SIGSYS), rm=159 (SIGSYS), EXDEV from ln: {l:?}"
    );
    ensure!(
        b.default_rootfs().join("tmp/r").exists(),
        "rmdir was not trapped"
    );
    Ok(())
}

pub(crate) fn sysctl_not_namespaced_refused(bin: &Path) -> R {
    // Same value as the host's: harmless if a runtime wrongly applies it
    // to the host, which is what this checks it refuses to do.
    let cur = read("/proc/sys/vm/swappiness");
    let b = sh("sysctlhost", "echo ran", |b| {
        b.linux_mut()["sysctl"] = json!({"vm.swappiness": cur});
    });
    expect_refused(bin, &b, false)
}

pub(crate) fn seccomp_same_argument_ored(bin: &Path) -> R {
    // Two conditions on argument 1: ANDed they would hold only for 0, ORed
    // (runc) every mkdir matches one of them and gets EPERM.
    let b = sh("secor", "mkdir /tmp/a 2>&1; echo rc=$?", |b| {
        b.linux_mut()["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_GE"},
                         {"index": 1, "value": 1, "op": "SCMP_CMP_LT"}]}]
        });
    });
    let out = run_ok(bin, &b)?;
    expect_contains(&out, "Operation not permitted")?;
    expect_contains(&out, "rc=1")
}

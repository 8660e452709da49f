//! Program structure and architectures: the tables, the arch check, x32,
//! the native and listed arches.

use super::*;

#[test]
fn tables_look_right() {
    assert_eq!(nr(&arch::X86_64, "read"), 0);
    assert_eq!(nr(&arch::X86_64, "getpid"), 39);
    assert_eq!(nr(&arch::X86_64, "clone3"), 435);
    assert_eq!(nr(&arch::X86, "getpid"), 20);
    assert_eq!(nr(&arch::X86, "socketcall"), 102);
    assert_eq!(nr(&arch::X32, "getpid"), X32_SYSCALL_BIT | 39);
    assert_eq!(nr(&arch::X32, "rt_sigaction"), X32_SYSCALL_BIT | 512);
    assert_eq!(nr(&arch::AARCH64, "openat"), 56);
    assert!(arch::AARCH64.lookup("open").is_none());
    assert_eq!(nr(&arch::ARM, "cacheflush"), 0x0f0002);
    assert_eq!(nr(&arch::S390X, "getpid"), 20);
    // Newer than the packaged headers (supplement in gen-tables.sh).
    assert_eq!(nr(&arch::X86_64, "fchmodat2"), 452);
    assert_eq!(nr(&arch::X32, "fchmodat2"), X32_SYSCALL_BIT | 452);
    for a in arch::ALL {
        assert!(
            a.table.windows(2).all(|w| w[0].0 < w[1].0),
            "{} sorted",
            a.name
        );
    }
    assert_eq!(AUDIT_ARCH_X86_64, 0xc000_003e);
    assert_eq!(AUDIT_ARCH_I386, 0x4000_0003);
    assert_eq!(AUDIT_ARCH_AARCH64, 0xc000_00b7);
    assert_eq!(arch::AUDIT_ARCH_ARM, 0x4000_0028);
    assert_eq!(arch::AUDIT_ARCH_RISCV64, 0xc000_00f3);
    assert_eq!(arch::AUDIT_ARCH_PPC64LE, 0xc000_0015);
    assert_eq!(AUDIT_ARCH_S390X, 0x8000_0016);
}

#[test]
fn structure_starts_with_arch_check_and_kills_bad_arch() {
    let (_, prog) = both(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
    // ld arch; jeq native; ret KILL; ld nr; ...
    assert_eq!(prog[0].code, bpf::BPF_LD | bpf::BPF_W | bpf::BPF_ABS);
    assert_eq!(prog[0].k, bpf::OFF_ARCH);
    assert_eq!(prog[1].code, bpf::BPF_JMP | bpf::BPF_JEQ | bpf::BPF_K);
    assert_eq!(prog[1].k, AUDIT_ARCH_X86_64);
    assert_eq!(prog[2].code, bpf::BPF_RET | bpf::BPF_K);
    assert_eq!(prog[2].k, compile::BAD_ARCH_ACTION);
    assert_eq!(prog[3].k, bpf::OFF_NR);
    // Native allowed, other ABIs killed.
    assert_eq!(run(&prog, 39, AUDIT_ARCH_X86_64, [0; 6]), RET_ALLOW);
    assert_eq!(run(&prog, 20, AUDIT_ARCH_I386, [0; 6]), 0);
    assert_eq!(run(&prog, 20, AUDIT_ARCH_AARCH64, [0; 6]), 0);
    // x32 numbers are not native even with default ALLOW: bad arch.
    assert_eq!(
        run(&prog, X32_SYSCALL_BIT | 39, AUDIT_ARCH_X86_64, [0; 6]),
        0
    );
    assert!(prog.len() < 10, "{}", prog.len());
}

#[test]
fn x32_bit_never_matches_native_rules() {
    let only64 = r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"}]}"#;
    let (_, prog) = both(only64);
    assert_eq!(run(&prog, 39, AUDIT_ARCH_X86_64, [0; 6]), RET_ALLOW);
    assert_eq!(run(&prog, 20, AUDIT_ARCH_X86_64, [0; 6]), RET_ERRNO | 1);
    // Above every syscall the profile names: ENOSYS (runc), so callers fall back.
    assert_eq!(run(&prog, 40, AUDIT_ARCH_X86_64, [0; 6]), RET_ERRNO | 38);
    assert_eq!(
        run(&prog, X32_SYSCALL_BIT | 39, AUDIT_ARCH_X86_64, [0; 6]),
        compile::BAD_ARCH_ACTION
    );
    assert_eq!(
        run(&prog, u32::MAX, AUDIT_ARCH_X86_64, [0; 6]),
        compile::BAD_ARCH_ACTION
    );

    let with_x32 = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":5,
        "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X32","SCMP_ARCH_X86"],
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"},
                    {"names":["rt_sigaction"],"action":"SCMP_ACT_ERRNO","errnoRet":22}]}"#;
    let (_, prog) = both(with_x32);
    assert_eq!(run(&prog, 39, AUDIT_ARCH_X86_64, [0; 6]), RET_ALLOW);
    assert_eq!(
        run(&prog, X32_SYSCALL_BIT | 39, AUDIT_ARCH_X86_64, [0; 6]),
        RET_ALLOW
    );
    // x32's own numbering: rt_sigaction is 512|bit there, 13 natively, 174 on i386.
    assert_eq!(run(&prog, 13, AUDIT_ARCH_X86_64, [0; 6]), RET_ERRNO | 22);
    assert_eq!(
        run(&prog, X32_SYSCALL_BIT | 512, AUDIT_ARCH_X86_64, [0; 6]),
        RET_ERRNO | 22
    );
    assert_eq!(
        run(&prog, X32_SYSCALL_BIT | 13, AUDIT_ARCH_X86_64, [0; 6]),
        RET_ERRNO | 5
    );
    assert_eq!(run(&prog, 174, AUDIT_ARCH_I386, [0; 6]), RET_ERRNO | 22);
    assert_eq!(run(&prog, 20, AUDIT_ARCH_I386, [0; 6]), RET_ALLOW);
    assert_eq!(run(&prog, 39, AUDIT_ARCH_I386, [0; 6]), RET_ERRNO | 5);
    // 512 natively is not rt_sigaction (and is above every native number named: ENOSYS).
    assert_eq!(run(&prog, 512, AUDIT_ARCH_X86_64, [0; 6]), RET_ERRNO | 38);
    assert_eq!(run(&prog, 30, AUDIT_ARCH_X86_64, [0; 6]), RET_ERRNO | 5);
    // aarch64 is not listed: killed.
    assert_eq!(run(&prog, 172, AUDIT_ARCH_AARCH64, [0; 6]), 0);
}

#[test]
fn native_is_always_present_and_listed_arches_get_sections() {
    let (p, prog) = both(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_AARCH64","SCMP_ARCH_NATIVE"],
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":4}]}"#,
    );
    let names: Vec<&str> = p.sections.iter().map(|s| s.arch.name).collect();
    assert_eq!(names, ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]);
    assert_eq!(run(&prog, 172, AUDIT_ARCH_AARCH64, [0; 6]), RET_ERRNO | 4);
    assert_eq!(run(&prog, 39, AUDIT_ARCH_AARCH64, [0; 6]), RET_ALLOW);
    assert_eq!(run(&prog, 39, AUDIT_ARCH_X86_64, [0; 6]), RET_ERRNO | 4);
}

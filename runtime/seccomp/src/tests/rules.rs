//! Rule semantics: actions and errno values, flags, operators (reference
//! and in BPF), how conditions and rules combine, ENOSYS for new syscalls.

use super::*;

#[test]
fn actions_and_errno_values() {
    let json = r#"{"defaultAction":"SCMP_ACT_TRACE","syscalls":[
        {"names":["read"],"action":"SCMP_ACT_ALLOW"},
        {"names":["write"],"action":"SCMP_ACT_ERRNO"},
        {"names":["open"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
        {"names":["close"],"action":"SCMP_ACT_KILL"},
        {"names":["stat"],"action":"SCMP_ACT_KILL_PROCESS"},
        {"names":["fstat"],"action":"SCMP_ACT_KILL_THREAD"},
        {"names":["lstat"],"action":"SCMP_ACT_TRAP"},
        {"names":["poll"],"action":"SCMP_ACT_LOG"},
        {"names":["lseek"],"action":"SCMP_ACT_TRACE","errnoRet":7},
        {"names":["mmap"],"action":"SCMP_ACT_NOTIFY"}]}"#;
    let (p, prog) = both(json);
    let x = AUDIT_ARCH_X86_64;
    let expect = [
        (0, 0x7fff_0000),
        (1, 0x0005_0001),
        (2, 0x0005_000d),
        (3, 0),
        (4, 0x8000_0000),
        (5, 0),
        (6, 0x0003_0000),
        (7, 0x7ffc_0000),
        (8, 0x7ff0_0007),
        (9, 0x7fc0_0000),
        (10, 0x7ff0_0001), // default TRACE, EPERM data
    ];
    for (n, want) in expect {
        assert_eq!(run(&prog, n, x, [0; 6]), want, "syscall {n}");
    }
    assert_eq!(p.flags, compile::FLAG_NEW_LISTENER);
}

#[test]
fn flags() {
    let p = compile::build(&profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
    ))
    .unwrap();
    assert_eq!(p.flags, 0b111);
    let p = compile::build(&profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    ))
    .unwrap();
    assert_eq!(
        p.flags,
        compile::FLAG_TSYNC
            | compile::FLAG_NEW_LISTENER
            | compile::FLAG_TSYNC_ESRCH
            | compile::FLAG_WAIT_KILLABLE_RECV
    );
}

#[test]
fn operator_reference_semantics() {
    // Hand-checked cases for Cond::holds, the reference the BPF is compared against.
    let c = |op, value, value_two| Cond {
        index: 0,
        op,
        value,
        value_two,
    };
    let big = 0x1_0000_0010u64;
    let cases: &[(Op, u64, u64, u64, bool, bool)] = &[
        // op, value, value_two, arg, wide result, narrow (32-bit ABI) result
        (Op::Eq, big, 0, big, true, true),
        (Op::Eq, big, 0, 0x10, false, true),
        (Op::Ne, big, 0, 0x10, true, false),
        (Op::Ne, big, 0, big, false, false),
        (Op::Gt, big, 0, 0x2_0000_0000, true, false),
        (Op::Gt, big, 0, 0x1_0000_0011, true, true),
        (Op::Gt, big, 0, big, false, false),
        (Op::Gt, big, 0, 0xffff_ffff, false, true),
        (Op::Ge, big, 0, big, true, true),
        (Op::Ge, big, 0, 0x0_ffff_ffff, false, true),
        (Op::Lt, big, 0, 0x0_ffff_ffff, true, false),
        (Op::Lt, big, 0, 0x1_0000_000f, true, true),
        (Op::Lt, big, 0, big, false, false),
        (Op::Lt, big, 0, 0x2_0000_0000, false, true),
        (Op::Le, big, 0, big, true, true),
        (Op::Le, big, 0, 0x1_0000_0011, false, false),
        (Op::MaskedEq, 0x7e02_0000, 0, 0x0001_0000, true, true),
        (Op::MaskedEq, 0x7e02_0000, 0, 0x0002_0000, false, false),
        // datum bits outside the mask are ignored (libseccomp masks the datum)
        (Op::MaskedEq, 0xff, 0x1_0000_0012, 0x12, true, true),
        (
            Op::MaskedEq,
            0xff_0000_0000,
            0x12_0000_0000,
            0x12_0000_0099,
            true,
            true,
        ),
        (
            Op::MaskedEq,
            0xff_0000_0000,
            0x12_0000_0000,
            0x13_0000_0099,
            false,
            true,
        ),
    ];
    for &(op, v, v2, arg, wide, narrow) in cases {
        assert_eq!(
            c(op, v, v2).holds(arg, true),
            wide,
            "{op:?} {v:#x} {arg:#x} wide"
        );
        assert_eq!(
            c(op, v, v2).holds(arg, false),
            narrow,
            "{op:?} {v:#x} {arg:#x} narrow"
        );
    }
}

/// For every operator, on a 64-bit, a 32-bit and a big-endian ABI, the generated code agrees
/// with the reference on edge values around both 32-bit halves.
#[test]
fn operators_in_bpf_match_reference() {
    let ops = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ];
    let values = [
        0u64,
        1,
        0x10,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0010,
        0xffff_ffff_0000_0000,
        0x8000_0000_0000_0001,
        u64::MAX,
    ];
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for op in ops {
        for &v in &values {
            for &v2 in &[0u64, 0x10, 0x1_0000_0010, u64::MAX] {
                let json = format!(
                    r#"{{"defaultAction":"SCMP_ACT_ALLOW",
                    "architectures":["SCMP_ARCH_X86","SCMP_ARCH_S390X","SCMP_ARCH_ARM"],
                    "syscalls":[{{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":77,
                    "args":[{{"index":2,"value":{v},"valueTwo":{v2},"op":"{op}"}}]}}]}}"#
                );
                let (p, prog) = both(&json);
                for (a, audit) in [
                    (&arch::X86_64, AUDIT_ARCH_X86_64),
                    (&arch::X86, AUDIT_ARCH_I386),
                    (&arch::S390X, AUDIT_ARCH_S390X),
                    (&arch::ARM, arch::AUDIT_ARCH_ARM),
                ] {
                    let n = nr(a, "getppid");
                    for i in 0..60 {
                        let arg = if i < values.len() {
                            values[i]
                        } else {
                            rng.interesting(&[v, v2, v & v2])
                        };
                        let args = [rng.next(), rng.next(), arg, 0, 0, 0];
                        let want = p.eval(n, audit, &args);
                        let got = run(&prog, n, audit, args);
                        assert_eq!(
                            got, want,
                            "{op} v={v:#x} v2={v2:#x} arg={arg:#x} {}",
                            a.name
                        );
                    }
                }
            }
        }
    }
}

/// runc (and so Docker's profiles) turns conditions on one argument into
/// separate rules: 10 <= arg0 OR arg0 < 20 — every value matches.
#[test]
fn conditions_on_one_argument_are_ored_as_runc_does() {
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],
        "action":"SCMP_ACT_ERRNO","errnoRet":9,"args":[
        {"index":0,"value":10,"op":"SCMP_CMP_GE"},{"index":0,"value":20,"op":"SCMP_CMP_LT"}]}]}"#;
    let (_, prog) = both(json);
    for arg in [9u64, 10, 19, 20, 0x1_0000_000a] {
        assert_eq!(
            run(&prog, 110, AUDIT_ARCH_X86_64, [arg, 0, 0, 0, 0, 0]),
            RET_ERRNO | 9,
            "{arg}"
        );
    }
}

#[test]
fn first_matching_rule_wins_then_default() {
    let json = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":3,"args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
        {"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS","args":[{"index":1,"value":1,"op":"SCMP_CMP_EQ"}]},
        {"names":["getppid"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":5,"op":"SCMP_CMP_LE"}]}]}"#;
    let (_, prog) = both(json);
    let r = |a0, a1| run(&prog, 110, AUDIT_ARCH_X86_64, [a0, a1, 0, 0, 0, 0]);
    assert_eq!(r(1, 1), RET_ERRNO | 3);
    assert_eq!(r(2, 1), RET_KILL_PROCESS);
    assert_eq!(r(2, 0), RET_ALLOW);
    assert_eq!(r(6, 0), RET_ERRNO | 1);
}

#[test]
fn unconditional_rules_override_and_default_rules_are_skipped() {
    // Unconditional ALLOW after a conditional ERRNO: the unconditional rule decides
    // (libseccomp drops the conditional chains).
    let (_, prog) = both(
        r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
        {"names":["getppid"],"action":"SCMP_ACT_ALLOW"},
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":9}]}"#,
    );
    assert_eq!(
        run(&prog, 110, AUDIT_ARCH_X86_64, [1, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(
        run(&prog, 110, AUDIT_ARCH_X86_64, [2, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    // A rule repeating the default action is skipped (runc), so it does not shadow the
    // conditional ALLOW after it.
    let (_, prog) = both(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO"},
        {"names":["getppid"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    assert_eq!(
        run(&prog, 110, AUDIT_ARCH_X86_64, [1, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(
        run(&prog, 110, AUDIT_ARCH_X86_64, [2, 0, 0, 0, 0, 0]),
        RET_ERRNO | 1
    );
    // ERRNO with another errno is not the default action.
    let (_, prog) = both(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":2}]}"#,
    );
    assert_eq!(run(&prog, 110, AUDIT_ARCH_X86_64, [0; 6]), RET_ERRNO | 2);
}

#[test]
fn enosys_for_syscalls_newer_than_the_profile_unless_default_lets_them_run() {
    let prof = |default: &str| {
        format!(
            r#"{{"defaultAction":"{default}","syscalls":[
            {{"names":["read","getppid"],"action":"SCMP_ACT_KILL_PROCESS"}}]}}"#
        )
    };
    let (_, prog) = both(&prof("SCMP_ACT_ERRNO"));
    assert_eq!(run(&prog, 50, AUDIT_ARCH_X86_64, [0; 6]), RET_ERRNO | 1);
    assert_eq!(run(&prog, 110, AUDIT_ARCH_X86_64, [0; 6]), RET_KILL_PROCESS);
    assert_eq!(run(&prog, 111, AUDIT_ARCH_X86_64, [0; 6]), RET_ERRNO | 38);
    assert_eq!(
        run(&prog, 0x3fff_ffff, AUDIT_ARCH_X86_64, [0; 6]),
        RET_ERRNO | 38
    );
    let (_, prog) = both(&prof("SCMP_ACT_KILL"));
    assert_eq!(run(&prog, 435, AUDIT_ARCH_X86_64, [0; 6]), RET_ERRNO | 38);
    assert_eq!(run(&prog, 50, AUDIT_ARCH_X86_64, [0; 6]), 0);
    for default in ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"] {
        let (p, prog) = both(&prof(default));
        assert_eq!(
            run(&prog, 435, AUDIT_ARCH_X86_64, [0; 6]),
            p.default,
            "{default}"
        );
    }
}

/// Two conditions on the same argument: any one may hold (runc splits the
/// rule, as libseccomp cannot test one argument twice); on distinct
/// arguments both must hold.
#[test]
fn repeated_argument_conditions_are_alternatives() {
    let (p, prog) = both(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["personality"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},
                     {"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
            {"names":["dup3"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},
                     {"index":1,"value":2,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let native = arch::native();
    let pers = nr(native, "personality");
    let dup3 = nr(native, "dup3");
    let audit = native.audit;
    for (n, args, want_errno) in [
        (pers, [1, 0, 0, 0, 0, 0], true),
        (pers, [2, 0, 0, 0, 0, 0], true),
        (pers, [3, 0, 0, 0, 0, 0], false),
        (dup3, [1, 2, 0, 0, 0, 0], true),
        (dup3, [1, 3, 0, 0, 0, 0], false),
        (dup3, [0, 2, 0, 0, 0, 0], false),
    ] {
        let got = run(&prog, n, audit, args);
        assert_eq!(got & 0xffff_0000 == RET_ERRNO, want_errno, "{n} {args:?}");
        assert_eq!(p.eval(n, audit, &args), got, "policy and program differ");
    }
}

//! Compiler unit tests: program structure, architecture handling, operator semantics, and a
//! differential check of the BPF program (run in an interpreter) against the policy's own
//! evaluation, plus seccompiler as an independent oracle.

use oci_spec::runtime::LinuxSeccomp;

use crate::arch::{
    self, AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_S390X, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT,
};
use crate::bpf::{self, SeccompData};
use crate::compile::{self, Cond, Op, Policy, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS};
use crate::{parse_profile, SeccompError};

const DOCKER: &str = include_str!("../tests/data/docker-default-shape.json");

fn profile(json: &str) -> LinuxSeccomp {
    parse_profile(json).unwrap()
}

/// Compiles and returns (policy, program).
fn both(json: &str) -> (Policy, Vec<libc::sock_filter>) {
    let p = compile::build(&profile(json)).unwrap();
    let prog = crate::codegen::generate(&p).unwrap();
    (p, prog)
}

fn run(prog: &[libc::sock_filter], nr: u32, audit: u32, args: [u64; 6]) -> u32 {
    let big_endian = audit == AUDIT_ARCH_S390X;
    bpf::run(
        prog,
        &SeccompData {
            nr,
            arch: audit,
            args,
        },
        big_endian,
    )
}

fn nr(arch: &arch::ArchInfo, name: &str) -> u32 {
    arch.lookup(name)
        .unwrap_or_else(|| panic!("{name} not in {}", arch.name))
}

/// xorshift64*: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Values that hit comparison edges often.
    fn interesting(&mut self, around: &[u64]) -> u64 {
        match self.below(6) {
            0 => self.next(),
            1 => self.next() & 0xffff_ffff,
            2 => self.next() & 0xffff_ffff_0000_0000,
            _ => {
                let base = around[self.below(around.len() as u64) as usize];
                let d = self.below(5) as i64 - 2;
                let v = base.wrapping_add(d as u64);
                match self.below(3) {
                    0 => v ^ (1 << 32),
                    1 => (v & 0xffff_ffff) | (base & 0xffff_ffff_0000_0000),
                    _ => v,
                }
            }
        }
    }
}

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

#[test]
fn docker_profile_fits_and_matches_policy_everywhere() {
    let started = std::time::Instant::now();
    let filter = crate::compile(&profile(DOCKER)).unwrap();
    let took = started.elapsed();
    eprintln!(
        "docker-default-shaped profile: {} instructions, compiled in {:?}",
        filter.instructions(),
        took
    );
    assert!(filter.instructions() < 4096);

    let (p, prog) = both(DOCKER);
    assert_eq!(prog.len(), filter.instructions());
    // Path length of a native syscall through the filter.
    let mut steps = Vec::new();
    for n in 0..470 {
        let d = SeccompData {
            nr: n,
            arch: AUDIT_ARCH_X86_64,
            args: [0; 6],
        };
        steps.push(bpf::run_counted(&prog, &d, false).1);
    }
    let max = steps.iter().max().unwrap();
    let mean = steps.iter().sum::<usize>() as f64 / steps.len() as f64;
    eprintln!("x86_64 syscalls 0..470: {mean:.1} instructions executed on average, {max} at most");
    assert!(*max < 40, "{max}");

    // The same rules for every architecture we support at once still fit easily.
    let all = DOCKER.replace(
        r#""SCMP_ARCH_X32""#,
        r#""SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_RISCV64",
        "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390X""#,
    );
    let (p_all, prog_all) = both(&all);
    assert_eq!(p_all.sections.len(), 8);
    eprintln!(
        "same profile for 8 architectures: {} instructions",
        prog_all.len()
    );
    assert!(prog_all.len() < 4096);
    for (a, n) in [
        (AUDIT_ARCH_S390X, 20u32),
        (AUDIT_ARCH_AARCH64, 172),
        (arch::AUDIT_ARCH_ARM, 20),
    ] {
        assert_eq!(run(&prog_all, n, a, [0; 6]), RET_ALLOW, "getpid on {a:#x}");
        assert_eq!(run(&prog_all, 0x0fff_ffff, a, [0; 6]), RET_ERRNO | 38);
    }
    // Every syscall number of every section (and its neighbours), plus random numbers.
    let mut rng = Rng(42);
    for (audit, max) in [
        (AUDIT_ARCH_X86_64, 600u32),
        (AUDIT_ARCH_I386, 600),
        (AUDIT_ARCH_AARCH64, 10),
    ] {
        for n in 0..max {
            let args = [rng.next(), rng.next() & 0xffff_ffff, 0, 0, 0, 0];
            assert_eq!(
                run(&prog, n, audit, args),
                p.eval(n, audit, &args),
                "{audit:#x}/{n}"
            );
        }
    }
    for n in X32_SYSCALL_BIT..X32_SYSCALL_BIT + 700 {
        assert_eq!(
            run(&prog, n, AUDIT_ARCH_X86_64, [0; 6]),
            p.eval(n, AUDIT_ARCH_X86_64, &[0; 6])
        );
    }
    for _ in 0..20000 {
        let n = rng.next() as u32;
        let audit = [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386][rng.below(2) as usize];
        let args = [rng.interesting(&[0, 8, 0x7e02_0000, 40]), 0, 0, 0, 0, 0];
        assert_eq!(run(&prog, n, audit, args), p.eval(n, audit, &args));
    }
    // Spot checks of what the profile says.
    let x = AUDIT_ARCH_X86_64;
    assert_eq!(run(&prog, nr(&arch::X86_64, "read"), x, [0; 6]), RET_ALLOW);
    assert_eq!(
        run(&prog, nr(&arch::X86_64, "clone3"), x, [0; 6]),
        RET_ERRNO | 38
    );
    assert_eq!(
        run(&prog, nr(&arch::X86_64, "mount"), x, [0; 6]),
        RET_ERRNO | 1
    );
    let pers = nr(&arch::X86_64, "personality");
    assert_eq!(run(&prog, pers, x, [0xffff_ffff, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(
        run(&prog, pers, x, [0x1_ffff_ffff, 0, 0, 0, 0, 0]),
        RET_ERRNO | 1
    );
    assert_eq!(run(&prog, pers, x, [9, 0, 0, 0, 0, 0]), RET_ERRNO | 1);
    let clone = nr(&arch::X86_64, "clone");
    assert_eq!(run(&prog, clone, x, [0x11, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(
        run(&prog, clone, x, [0x1000_0000, 0, 0, 0, 0, 0]),
        RET_ERRNO | 1
    );
    let socket = nr(&arch::X86_64, "socket");
    assert_eq!(run(&prog, socket, x, [2, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&prog, socket, x, [40, 0, 0, 0, 0, 0]), RET_ERRNO | 1);
}

/// Many distinct conditional blocks force long jumps through trampolines.
#[test]
fn long_jumps_are_relaxed_correctly() {
    let mut rules = Vec::new();
    let ops = [
        "SCMP_CMP_GT",
        "SCMP_CMP_LE",
        "SCMP_CMP_NE",
        "SCMP_CMP_MASKED_EQ",
    ];
    let names: Vec<&str> = arch::X86_64
        .table
        .iter()
        .map(|(n, _)| *n)
        .take(300)
        .collect();
    for (i, n) in names.iter().enumerate() {
        let action = match i % 4 {
            0 => r#""SCMP_ACT_ALLOW""#.to_string(),
            1 => format!(r#""SCMP_ACT_ERRNO","errnoRet":{}"#, i % 200),
            2 => r#""SCMP_ACT_KILL_PROCESS""#.to_string(),
            _ => r#""SCMP_ACT_LOG""#.to_string(),
        };
        let v = (i as u64) << (i % 40);
        rules.push(format!(
            r#"{{"names":["{n}"],"action":{action},"args":[{{"index":{},"value":{v},"valueTwo":{},"op":"{}"}}]}}"#,
            i % 6,
            v / 3,
            ops[i % 4]
        ));
    }
    let json = format!(
        r#"{{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"syscalls":[{}]}}"#,
        rules.join(",")
    );
    let (p, prog) = both(&json);
    assert!(prog.len() > 1000, "{}", prog.len());
    let mut rng = Rng(7);
    for _ in 0..50000 {
        let audit = [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386][rng.below(2) as usize];
        let n = rng.below(460) as u32;
        let i = rng.below(300);
        let v = i << (i % 40);
        let args = std::array::from_fn(|_| rng.interesting(&[v, v / 3, v & (v / 3)]));
        assert_eq!(
            run(&prog, n, audit, args),
            p.eval(n, audit, &args),
            "{n} {args:x?}"
        );
    }
}

/// seccompiler as an independent oracle for what it can express (one arch, one match action).
#[test]
fn agrees_with_seccompiler() {
    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };
    use std::collections::BTreeMap;
    let ops = [
        ("SCMP_CMP_EQ", SeccompCmpOp::Eq),
        ("SCMP_CMP_NE", SeccompCmpOp::Ne),
        ("SCMP_CMP_GT", SeccompCmpOp::Gt),
        ("SCMP_CMP_GE", SeccompCmpOp::Ge),
        ("SCMP_CMP_LT", SeccompCmpOp::Lt),
        ("SCMP_CMP_LE", SeccompCmpOp::Le),
    ];
    let mut rng = Rng(99);
    let mut oci_rules = Vec::new();
    let mut sc_rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let mut wanted = Vec::new();
    for i in 0..40u64 {
        let name = arch::X86_64.table[(i * 7) as usize].0;
        let n = i64::from(nr(&arch::X86_64, name));
        let (opname, op) = ops[(i % 6) as usize].clone();
        let v = rng.interesting(&[0, 1 << 32, 0xffff_ffff]);
        let idx = (i % 6) as u8;
        wanted.push((n as u32, idx, v));
        oci_rules.push(format!(
            r#"{{"names":["{name}"],"action":"SCMP_ACT_ERRNO","errnoRet":11,"args":[{{"index":{idx},"value":{v},"op":"{opname}"}}]}}"#
        ));
        let cond = SeccompCondition::new(idx, SeccompCmpArgLen::Qword, op, v).unwrap();
        sc_rules
            .entry(n)
            .or_default()
            .push(SeccompRule::new(vec![cond]).unwrap());
    }
    // Masked equality too (seccompiler's MaskedEq(mask) compares against the value).
    let mname = "getppid";
    let mnr = i64::from(nr(&arch::X86_64, mname));
    oci_rules.push(format!(
        r#"{{"names":["{mname}"],"action":"SCMP_ACT_ERRNO","errnoRet":11,"args":[{{"index":1,"value":{},"valueTwo":{},"op":"SCMP_CMP_MASKED_EQ"}}]}}"#,
        0xff00_0000_00ffu64, 0x1200_0000_0034u64
    ));
    sc_rules.entry(mnr).or_default().push(
        SeccompRule::new(vec![SeccompCondition::new(
            1,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(0xff00_0000_00ff),
            0x1200_0000_0034,
        )
        .unwrap()])
        .unwrap(),
    );
    let json = format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{}]}}"#,
        oci_rules.join(",")
    );
    let (_, ours) = both(&json);
    let theirs: seccompiler::BpfProgram = SeccompFilter::new(
        sc_rules,
        SeccompAction::Allow,
        SeccompAction::Errno(11),
        TargetArch::x86_64,
    )
    .unwrap()
    .try_into()
    .unwrap();
    // seccompiler's sock_filter has the same layout as libc's.
    let theirs: Vec<libc::sock_filter> = theirs
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let mut syscalls: Vec<u32> = wanted.iter().map(|w| w.0).collect();
    syscalls.push(mnr as u32);
    for _ in 0..40000 {
        let n = syscalls[rng.below(syscalls.len() as u64) as usize];
        let hints: Vec<u64> = wanted
            .iter()
            .map(|w| w.2)
            .chain([0x1200_0000_0034])
            .collect();
        let args = std::array::from_fn(|_| rng.interesting(&hints));
        let a = run(&ours, n, AUDIT_ARCH_X86_64, args);
        let b = run(&theirs, n, AUDIT_ARCH_X86_64, args);
        assert_eq!(a, b, "nr {n} args {args:x?}");
    }
}

#[test]
fn errors_name_the_bad_value() {
    let e = parse_profile(r#"{"defaultAction":"SCMP_ACT_FOO"}"#).unwrap_err();
    assert!(e.to_string().contains("SCMP_ACT_FOO"), "{e}");
    let e = parse_profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW",
        "args":[{"index":0,"value":1,"op":"SCMP_CMP_XX"}]}]}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("SCMP_CMP_XX"), "{e}");
    let e =
        parse_profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}"#)
            .unwrap_err();
    assert!(e.to_string().contains("SCMP_ARCH_Z80"), "{e}");

    let e = crate::compile(&profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_MIPS64"]}"#,
    ))
    .unwrap_err();
    assert!(matches!(e, SeccompError::UnsupportedArch(_)));
    assert!(e.to_string().contains("SCMP_ARCH_MIPS64"), "{e}");

    let e = crate::compile(&profile(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#)).unwrap_err();
    assert!(matches!(e, SeccompError::NotifyAsDefault), "{e}");

    let e = crate::compile(&profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO",
        "args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
    ))
    .unwrap_err();
    assert!(e.to_string().contains("index 6"), "{e}");

    let e = crate::compile(&profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":70000}]}"#,
    ))
    .unwrap_err();
    assert!(
        e.to_string().contains("70000") && e.to_string().contains("read"),
        "{e}"
    );
}

#[test]
fn too_long_programs_are_refused() {
    // Distinct conditions per syscall (identical rule lists would share one block).
    let rules: Vec<String> = arch::X86_64
        .table
        .iter()
        .take(200)
        .enumerate()
        .map(|(k, (n, _))| {
            let conds: Vec<String> = (0..6)
                .map(|i| {
                    let v = (1u64 << 40) + k as u64;
                    format!(r#"{{"index":{i},"value":{v},"op":"SCMP_CMP_GT"}}"#)
                })
                .collect();
            format!(
                r#"{{"names":["{n}"],"action":"SCMP_ACT_ALLOW","args":[{}]}}"#,
                conds.join(",")
            )
        })
        .collect();
    let json = format!(
        r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{}]}}"#,
        rules.join(",")
    );
    let e = crate::compile(&profile(&json)).unwrap_err();
    assert!(matches!(e, SeccompError::TooLong(n) if n > 4096), "{e}");
    assert!(e.to_string().contains("4096"));
}

#[test]
fn unknown_syscall_names_are_skipped() {
    let (p, prog) = both(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["no_such_call","getpid"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(p.sections[0].syscalls.len(), 1);
    assert_eq!(run(&prog, 39, AUDIT_ARCH_X86_64, [0; 6]), RET_ALLOW);
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

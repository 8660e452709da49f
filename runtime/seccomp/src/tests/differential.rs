//! Differential checks: Docker's profile against the policy everywhere,
//! relaxed long jumps, and seccompiler as an independent oracle.

use super::*;

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

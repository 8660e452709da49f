//! Bad profiles: errors naming the bad value, programs too long, unknown
//! syscall names.

use super::*;

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

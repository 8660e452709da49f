use super::*;
use crate::instructions::{CommandLine, Run};

fn run(text: &str, args: &[(&str, &str)]) -> Result<Resolved> {
    let ctx = BuildContext {
        build_args: args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        automatic_args: BTreeMap::from([("TARGETARCH".to_string(), "arm64".to_string())]),
        base_env: BTreeMap::from([(
            "base".to_string(),
            vec!["PATH=/usr/bin:/bin".to_string(), "HOME=/root".to_string()],
        )]),
    };
    resolve(&crate::parse(text).unwrap(), &ctx)
}

#[test]
fn a_stage_starts_from_its_base_images_env_and_a_named_stage_from_where_it_ended() {
    let r = run(
        "FROM base AS one\nENV PATH=/opt/bin:$PATH\nWORKDIR $HOME/src\nFROM one\nWORKDIR ${PATH}\nFROM other\nWORKDIR /x$HOME\n",
        &[],
    )
    .unwrap();
    let got = ins(&r);
    assert_eq!(
        got[1],
        Instruction::Env(vec![KeyValue {
            key: "PATH".into(),
            value: "/opt/bin:/usr/bin:/bin".into()
        }])
    );
    assert_eq!(got[2], Instruction::Workdir("/root/src".into()));
    assert_eq!(
        got[4],
        Instruction::Workdir("/opt/bin:/usr/bin:/bin".into())
    );
    // An image the context knows nothing of brings no variables.
    assert_eq!(got[6], Instruction::Workdir("/x".into()));
}

fn ins(r: &Resolved) -> Vec<Instruction> {
    r.parsed
        .instructions
        .iter()
        .map(|l| l.instruction.clone())
        .collect()
}

#[test]
fn env_substitution_reference_example() {
    let r = run(
        "FROM busybox\nENV FOO=/bar\nWORKDIR ${FOO}\nADD . $FOO\nCOPY \\$FOO /quux\n",
        &[],
    )
    .unwrap();
    let i = ins(&r);
    assert_eq!(i[2], Instruction::Workdir("/bar".into()));
    let Instruction::Add(a) = &i[3] else { panic!() };
    assert_eq!(a.dest, "/bar");
    let Instruction::Copy(c) = &i[4] else {
        panic!()
    };
    assert_eq!(c.sources, [Source::Path("$FOO".into())]);
}

#[test]
fn env_pairs_see_values_from_before_the_instruction() {
    let r = run(
        "FROM a\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n",
        &[],
    )
    .unwrap();
    let i = ins(&r);
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: v.into(),
    };
    assert_eq!(
        i[2],
        Instruction::Env(vec![kv("abc", "bye"), kv("def", "hello")])
    );
    assert_eq!(i[3], Instruction::Env(vec![kv("ghi", "bye")]));
}

#[test]
fn quotes_are_removed_in_env_and_label() {
    let r = run("FROM a\nENV MY_NAME=\"John Doe\" MY_DOG=Rex\\ The\\ Dog\nLABEL \"com.example.vendor\"=\"ACME\"\n", &[]).unwrap();
    let i = ins(&r);
    let Instruction::Env(e) = &i[1] else { panic!() };
    assert_eq!(
        (e[0].value.as_str(), e[1].value.as_str()),
        ("John Doe", "Rex The Dog")
    );
    let Instruction::Label(l) = &i[2] else {
        panic!()
    };
    assert_eq!(
        (l[0].key.as_str(), l[0].value.as_str()),
        ("com.example.vendor", "ACME")
    );
}

#[test]
fn run_cmd_entrypoint_are_not_substituted() {
    let r = run(
        "FROM a\nENV X=1\nRUN echo $X\nCMD echo $X\nENTRYPOINT [\"echo\", \"$X\"]\n",
        &[],
    )
    .unwrap();
    let i = ins(&r);
    assert!(
        matches!(&i[2], Instruction::Run(Run { command: CommandLine::Shell(s), .. }) if s == "echo $X")
    );
    assert_eq!(i[3], Instruction::Cmd(CommandLine::Shell("echo $X".into())));
    assert_eq!(
        i[4],
        Instruction::Entrypoint(CommandLine::Exec(vec!["echo".into(), "$X".into()]))
    );
}

#[test]
fn global_args_only_in_from_lines_until_redeclared() {
    let text = "ARG VERSION=latest\nFROM busybox:$VERSION\nWORKDIR /$VERSION\nARG VERSION\nUSER u$VERSION\n";
    let i = ins(&run(text, &[]).unwrap());
    let Instruction::From(f) = &i[1] else {
        panic!()
    };
    assert_eq!(f.image, "busybox:latest");
    assert_eq!(i[2], Instruction::Workdir("/".into()));
    assert_eq!(i[4], Instruction::User("ulatest".into()));
}

#[test]
fn build_args_override_defaults_and_env_overrides_arg() {
    let text = "FROM ubuntu\nARG CONT_IMG_VER=v1.0.0\nWORKDIR /$CONT_IMG_VER\nENV CONT_IMG_VER=v2\nWORKDIR /$CONT_IMG_VER\n";
    let i = ins(&run(text, &[("CONT_IMG_VER", "v2.0.1")]).unwrap());
    assert_eq!(
        i[1],
        Instruction::Arg(vec![ArgDecl {
            name: "CONT_IMG_VER".into(),
            default: Some("v2.0.1".into())
        }])
    );
    assert_eq!(i[2], Instruction::Workdir("/v2.0.1".into()));
    assert_eq!(i[4], Instruction::Workdir("/v2".into()));
}

#[test]
fn arg_scope_ends_with_its_stage() {
    let text = "FROM a\nARG X=1\nFROM b\nWORKDIR /x$X\n";
    assert_eq!(
        ins(&run(text, &[]).unwrap())[3],
        Instruction::Workdir("/x".into())
    );
}

#[test]
fn arg_without_value_is_unset_and_defaults_apply() {
    let text = "FROM a\nARG user\nUSER ${user:-some_user}\n";
    assert_eq!(
        ins(&run(text, &[]).unwrap())[2],
        Instruction::User("some_user".into())
    );
    assert_eq!(
        ins(&run(text, &[("user", "what_user")]).unwrap())[2],
        Instruction::User("what_user".into())
    );
}

#[test]
fn automatic_platform_args() {
    let text =
        "FROM --platform=linux/$TARGETARCH img-$TARGETARCH\nARG TARGETARCH\nWORKDIR /$TARGETARCH\n";
    let i = ins(&run(text, &[]).unwrap());
    let Instruction::From(f) = &i[0] else {
        panic!()
    };
    assert_eq!(
        (f.image.as_str(), f.flags.platform.as_deref()),
        ("img-arm64", Some("linux/arm64"))
    );
    assert_eq!(i[2], Instruction::Workdir("/arm64".into()));
}

#[test]
fn unused_build_args_are_reported_but_not_proxies() {
    let r = run(
        "ARG USED\nFROM a\n",
        &[("USED", "1"), ("typo", "2"), ("HTTP_PROXY", "x")],
    )
    .unwrap();
    assert_eq!(r.unused_build_args, ["typo"]);
}

#[test]
fn copy_flags_expose_volume_stopsignal_onbuild() {
    let text = "FROM a\nARG U=app M=644 P=8080 S=SIGTERM\nCOPY --from=$U --chown=$U:$U --chmod=$M x /y\nEXPOSE $P/udp\nVOLUME /v/$U\nSTOPSIGNAL $S\nONBUILD WORKDIR /$U\n";
    let i = ins(&run(text, &[]).unwrap());
    let Instruction::Copy(c) = &i[2] else {
        panic!()
    };
    assert_eq!(c.flags.from.as_deref(), Some("app"));
    assert_eq!(
        c.flags.chown,
        Some(Chown {
            user: "app".into(),
            group: Some("app".into())
        })
    );
    assert_eq!(c.flags.mode().unwrap(), Some(0o644));
    assert_eq!(i[3], Instruction::Expose(vec!["8080/udp".into()]));
    assert_eq!(i[4], Instruction::Volume(vec!["/v/app".into()]));
    assert_eq!(i[5], Instruction::StopSignal("SIGTERM".into()));
    // A trigger is stored as written; the child substitutes it.
    assert_eq!(
        i[6],
        Instruction::Onbuild(Box::new(Instruction::Workdir("/$U".into())))
    );
}

#[test]
fn triggers_see_the_base_image_env_and_their_own_args() {
    let parsed = crate::parse("WORKDIR /app/$DIR\nARG V=${DIR}-v\nCOPY $SRC /$V/\n").unwrap();
    let ctx = BuildContext::default();
    let env = ["DIR=sub".to_string(), "SRC=file.txt".to_string()];
    let r = resolve_triggers(&parsed.instructions, &env, &ctx, '\\').unwrap();
    let i: Vec<_> = r.iter().map(|l| l.instruction.clone()).collect();
    assert_eq!(i[0], Instruction::Workdir("/app/sub".into()));
    let Instruction::Copy(c) = &i[2] else {
        panic!()
    };
    assert_eq!(c.sources, [Source::Path("file.txt".into())]);
    assert_eq!(c.dest, "/sub-v/");
}

#[test]
fn errors_carry_the_line() {
    let err = run("FROM a\nARG P=http\nEXPOSE $P\n", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dockerfile:3: invalid port \"http\": expected port[/tcp|udp|sctp] or a range start-end"
    );
    let err = run("FROM a\n\nWORKDIR ${NEED:?set NEED}\n", &[]).unwrap_err();
    assert_eq!(err.to_string(), "Dockerfile:3: NEED: set NEED");
}

#[test]
fn copy_heredoc_bodies_expand_unless_the_delimiter_is_quoted() {
    let text = "FROM alpine\nARG FOO=bar\nCOPY <<-EOT /script.sh\n\techo \"hello ${FOO}\"\n\tEOT\nCOPY <<'EOT' /raw.sh\necho $FOO\nEOT\nRUN <<EOT\necho $FOO\nEOT\n";
    let i = ins(&run(text, &[]).unwrap());
    let body = |ins: &Instruction| match ins {
        Instruction::Copy(c) => match &c.sources[0] {
            Source::Heredoc(h) => h.content.clone(),
            Source::Path(p) => p.clone(),
        },
        _ => String::new(),
    };
    assert_eq!(body(&i[2]), "echo \"hello bar\"\n");
    assert_eq!(body(&i[3]), "echo $FOO\n");
    let Instruction::Run(r) = &i[4] else { panic!() };
    assert_eq!(r.heredocs[0].content, "echo $FOO\n");
}

#[test]
fn run_mount_options_are_substituted_but_not_the_command() {
    let text = "FROM a AS deps\nFROM b\nARG FROM=deps UID=1000\nRUN --mount=type=cache,target=/c,uid=$UID,from=$FROM echo $UID\n";
    let i = ins(&run(text, &[]).unwrap());
    let Instruction::Run(r) = &i[3] else { panic!() };
    assert_eq!(r.flags.mounts[0].uid, Some(1000));
    assert_eq!(r.flags.mounts[0].from.as_deref(), Some("deps"));
    assert_eq!(r.command, CommandLine::Shell("echo $UID".into()));
    let err = run(
        "FROM a\nARG U=me\nRUN --mount=type=cache,target=/c,uid=$U true\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(err.line, 3);
}

#[test]
fn label_value_continued_inside_quotes() {
    let text = "FROM a\nLABEL description=\"This text illustrates \\\nthat label-values can span multiple lines.\"\n";
    let i = ins(&run(text, &[]).unwrap());
    let Instruction::Label(l) = &i[1] else {
        panic!()
    };
    assert_eq!(
        l[0].value,
        "This text illustrates that label-values can span multiple lines."
    );
}

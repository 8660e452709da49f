use super::*;
use crate::flags::NetworkMode;
use crate::lexer::lex;
use crate::mount::MountType;
use std::time::Duration;

fn one(text: &str) -> Instruction {
    let lexed = lex(text).unwrap();
    parse_instruction(&lexed.lines[0], lexed.directives.escape).unwrap()
}

fn err(text: &str) -> String {
    let lexed = lex(text).unwrap();
    lexed
        .lines
        .iter()
        .map(|l| parse_instruction(l, lexed.directives.escape))
        .find_map(|r| r.err())
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn instruction_names_are_case_insensitive() {
    assert_eq!(one("from alpine AS Build"), one("FROM alpine as build"));
    assert!(matches!(one("rUn echo"), Instruction::Run(_)));
}

#[test]
fn unknown_instruction_names_its_line() {
    assert_eq!(
        err("FROM a\n\n# c\n\nRUN x\n\nFOOBAR baz\n"),
        "Dockerfile:7: unknown instruction: FOOBAR"
    );
}

#[test]
fn from_forms() {
    let Instruction::From(f) = one("FROM --platform=linux/arm64 golang:1.22 AS Builder") else {
        panic!()
    };
    assert_eq!(f.image, "golang:1.22");
    assert_eq!(f.name.as_deref(), Some("builder"));
    assert_eq!(f.flags.platform.as_deref(), Some("linux/arm64"));
    assert!(err("FROM a b").contains("FROM requires either one argument"));
    assert!(err("FROM a AS 1bad").contains("invalid stage name"));
    assert!(err("FROM --chown=x a").contains("unknown flag: --chown"));
}

#[test]
fn exec_and_shell_forms() {
    assert_eq!(
        one(r#"CMD ["echo", "hi"]"#),
        Instruction::Cmd(CommandLine::Exec(vec!["echo".into(), "hi".into()]))
    );
    assert_eq!(
        one("CMD echo $HOME"),
        Instruction::Cmd(CommandLine::Shell("echo $HOME".into()))
    );
    // Not valid JSON (single quotes): shell form, as Docker does.
    assert_eq!(
        one("ENTRYPOINT ['a']"),
        Instruction::Entrypoint(CommandLine::Shell("['a']".into()))
    );
    assert!(err("RUN").contains("RUN requires at least one argument"));
    assert!(err("CMD []").contains("CMD requires at least one argument"));
}

#[test]
fn run_with_flags_and_heredoc() {
    let Instruction::Run(r) =
        one("RUN --mount=type=cache,target=/cache --network=host <<EOF\napt-get update\nEOF\n")
    else {
        panic!()
    };
    assert_eq!(r.flags.mounts[0].kind, MountType::Cache);
    assert_eq!(r.flags.network, Some(NetworkMode::Host));
    assert_eq!(r.command, CommandLine::Shell("<<EOF".into()));
    assert_eq!(r.heredocs[0].content, "apt-get update\n");
    assert!(err("RUN --from=x echo").contains("unknown flag: --from (for RUN)"));
}

#[test]
fn copy_forms() {
    let Instruction::Copy(c) = one("COPY --from=build --chown=app:app a b /dst/") else {
        panic!()
    };
    assert_eq!(
        c.sources,
        [Source::Path("a".into()), Source::Path("b".into())]
    );
    assert_eq!(c.dest, "/dst/");
    assert_eq!(c.flags.from.as_deref(), Some("build"));
    let Instruction::Copy(c) = one(r#"COPY ["with space", "/dst dir/"]"#) else {
        panic!()
    };
    assert_eq!(c.sources, [Source::Path("with space".into())]);
    assert_eq!(c.dest, "/dst dir/");
    assert!(err("COPY onlyone").contains("at least two arguments"));
}

#[test]
fn copy_from_heredocs() {
    let Instruction::Copy(c) = one("COPY <<A <<B /dir/\nx\nA\ny\nB\n") else {
        panic!()
    };
    let contents: Vec<_> = c
        .sources
        .iter()
        .map(|s| match s {
            Source::Heredoc(h) => h.content.clone(),
            Source::Path(p) => p.clone(),
        })
        .collect();
    assert_eq!(contents, ["x\n", "y\n"]);
    let Instruction::Add(a) = one("ADD <<EOF /file\nhello\nEOF\n") else {
        panic!()
    };
    assert!(matches!(&a.sources[0], Source::Heredoc(h) if h.name == "EOF"));
}

#[test]
fn env_both_forms() {
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: v.into(),
    };
    assert_eq!(
        one("ENV MY_NAME John Doe"),
        Instruction::Env(vec![kv("MY_NAME", "John Doe")])
    );
    assert_eq!(
        one(r#"ENV MY_NAME="John Doe" MY_DOG=Rex\ The\ Dog MY_CAT=fluffy"#),
        Instruction::Env(vec![
            kv("MY_NAME", "\"John Doe\""),
            kv("MY_DOG", r"Rex\ The\ Dog"),
            kv("MY_CAT", "fluffy")
        ])
    );
    assert_eq!(one("ENV EMPTY="), Instruction::Env(vec![kv("EMPTY", "")]));
    assert!(err("ENV ONLYKEY").contains("ENV requires two arguments"));
    assert!(err("ENV a=1 b").contains("can't find = in \"b\""));
}

#[test]
fn label_multiline() {
    let Instruction::Label(l) = one("LABEL multi.label1=\"value1\" \\\n      multi.label2=\"value2\" \\\n      other=\"value3\"\n")
    else {
        panic!()
    };
    assert_eq!(l.len(), 3);
    assert_eq!(l[2].key, "other");
}

#[test]
fn arg_with_and_without_default() {
    assert_eq!(
        one("ARG user1 buildno=1"),
        Instruction::Arg(vec![
            ArgDecl {
                name: "user1".into(),
                default: None
            },
            ArgDecl {
                name: "buildno".into(),
                default: Some("1".into())
            }
        ])
    );
    assert!(err("ARG").contains("ARG requires"));
}

#[test]
fn simple_argument_instructions() {
    assert_eq!(
        one("WORKDIR /path/to workdir"),
        Instruction::Workdir("/path/to workdir".into())
    );
    assert_eq!(one("USER app:staff"), Instruction::User("app:staff".into()));
    assert_eq!(
        one("STOPSIGNAL SIGKILL"),
        Instruction::StopSignal("SIGKILL".into())
    );
    assert_eq!(
        one("MAINTAINER a <a@b>"),
        Instruction::Maintainer("a <a@b>".into())
    );
    assert!(err("USER").contains("USER requires exactly one argument"));
    assert!(err("STOPSIGNAL").contains("STOPSIGNAL requires exactly one argument"));
    assert!(err("WORKDIR").contains("WORKDIR requires"));
}

#[test]
fn expose_and_volume() {
    assert_eq!(
        one("EXPOSE 80/udp 8000-8010 $PORT"),
        Instruction::Expose(vec!["80/udp".into(), "8000-8010".into(), "$PORT".into()])
    );
    assert!(err("EXPOSE 80/icmp").contains("invalid port \"80/icmp\""));
    assert_eq!(
        one(r#"VOLUME ["/data", "/logs"]"#),
        Instruction::Volume(vec!["/data".into(), "/logs".into()])
    );
    assert_eq!(
        one("VOLUME /var/log /var/db"),
        Instruction::Volume(vec!["/var/log".into(), "/var/db".into()])
    );
}

#[test]
fn shell_needs_json() {
    assert_eq!(
        one(r#"SHELL ["powershell", "-command"]"#),
        Instruction::Shell(vec!["powershell".into(), "-command".into()])
    );
    assert_eq!(
        err("SHELL /bin/bash -c"),
        "Dockerfile:1: SHELL requires the arguments to be in JSON form"
    );
}

#[test]
fn healthcheck_forms() {
    assert_eq!(
        one("HEALTHCHECK NONE"),
        Instruction::Healthcheck(Healthcheck::None)
    );
    let Instruction::Healthcheck(Healthcheck::Check { flags, command }) =
        one("HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1")
    else {
        panic!()
    };
    assert_eq!(flags.interval, Some(Duration::from_secs(300)));
    assert_eq!(
        command,
        CommandLine::Shell("curl -f http://localhost/ || exit 1".into())
    );
    assert!(err("HEALTHCHECK --interval=5m NONE").contains("HEALTHCHECK NONE requires"));
    assert!(err("HEALTHCHECK curl x").contains("NONE, or CMD"));
    assert!(err("HEALTHCHECK --interval=fast CMD x").contains("invalid duration"));
}

#[test]
fn onbuild_wraps_and_refuses_as_docker_does() {
    assert_eq!(
        one("ONBUILD ADD . /app/src"),
        Instruction::Onbuild(Box::new(one("ADD . /app/src")))
    );
    assert!(matches!(one("onbuild run echo"), Instruction::Onbuild(i) if i.name() == "RUN"));
    assert!(err("ONBUILD ONBUILD RUN x").contains("chaining ONBUILD"));
    assert!(err("ONBUILD FROM a").contains("FROM isn't allowed as an ONBUILD trigger"));
    assert!(err("ONBUILD maintainer me").contains("MAINTAINER isn't allowed"));
    assert!(err("ONBUILD").contains("ONBUILD requires"));
}

#[test]
fn error_on_continued_instruction_names_its_first_line() {
    assert_eq!(
        err("FROM a\n\nCOPY a \\\n  # comment\n\n"),
        "Dockerfile:3: COPY requires at least two arguments: source(s) and destination"
    );
}

#[test]
fn run_script_is_a_lone_heredoc() {
    let Instruction::Run(r) = one("RUN <<EOF\necho hi\nEOF\n") else {
        panic!()
    };
    assert_eq!(r.script().map(|h| h.content.as_str()), Some("echo hi\n"));
    let Instruction::Run(r) = one("RUN python3 <<EOF\nprint(1)\nEOF\n") else {
        panic!()
    };
    assert!(r.script().is_none());
    let Instruction::Run(r) = one("RUN echo hi") else {
        panic!()
    };
    assert!(r.script().is_none());
}

#[test]
fn argv_of_both_forms() {
    let shell: Vec<String> = super::super::DEFAULT_SHELL
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        CommandLine::Shell("echo $HOME".into()).argv(&shell),
        ["/bin/sh", "-c", "echo $HOME"]
    );
    assert_eq!(
        CommandLine::Exec(vec!["echo".into(), "$HOME".into()]).argv(&shell),
        ["echo", "$HOME"]
    );
}

#[test]
fn flags_on_flagless_instructions_are_refused() {
    assert_eq!(
        err("WORKDIR --mode=1 /x"),
        "Dockerfile:1: unknown flag: --mode (for WORKDIR)"
    );
    assert!(err("CMD --help").contains("unknown flag: --help (for CMD)"));
    assert!(err("ENV --x=1").contains("(for ENV)"));
    assert_eq!(
        one(r#"CMD ["--help"]"#),
        Instruction::Cmd(CommandLine::Exec(vec!["--help".into()]))
    );
}

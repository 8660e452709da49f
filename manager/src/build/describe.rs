//! An instruction written back as Dockerfile text, after substitution:
//! what progress and history show (`RUN make`, `COPY --chown=1:1 a /b`),
//! and what ONBUILD stores.

use hull_dockerfile::instructions::{ArgDecl, CommandLine, Copy, Healthcheck, Instruction, Source};

fn json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn command(c: &CommandLine) -> String {
    match c {
        CommandLine::Exec(v) => json(v),
        CommandLine::Shell(s) => s.clone(),
    }
}

fn pairs(p: &[hull_dockerfile::instructions::KeyValue]) -> String {
    p.iter()
        .map(|kv| format!("{}={}", kv.key, quote(&kv.value)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value as ENV/LABEL would read it back.
fn quote(v: &str) -> String {
    if !v.is_empty() && !v.contains([' ', '\t', '"', '\'', '\\', '$']) {
        return v.to_string();
    }
    format!(
        "\"{}\"",
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('$', "\\$")
    )
}

fn copy(name: &str, c: &Copy) -> String {
    let mut out = vec![name.to_string()];
    let f = &c.flags;
    if let Some(from) = &f.from {
        out.push(format!("--from={from}"));
    }
    if let Some(ch) = &f.chown {
        out.push(match &ch.group {
            Some(g) => format!("--chown={}:{g}", ch.user),
            None => format!("--chown={}", ch.user),
        });
    }
    if let Some(m) = &f.chmod {
        out.push(format!("--chmod={m}"));
    }
    if let Some(c) = &f.checksum {
        out.push(format!("--checksum={c}"));
    }
    if f.link {
        out.push("--link".into());
    }
    for s in &c.sources {
        out.push(match s {
            Source::Path(p) => p.clone(),
            Source::Heredoc(h) => format!("<<{}", h.name),
        });
    }
    out.push(c.dest.clone());
    out.join(" ")
}

fn args(decls: &[ArgDecl]) -> String {
    decls
        .iter()
        .map(|d| match &d.default {
            Some(v) => format!("{}={}", d.name, quote(v)),
            None => d.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The instruction as text.
pub fn describe(ins: &Instruction) -> String {
    let name = ins.name();
    match ins {
        Instruction::From(f) => match &f.name {
            Some(n) => format!("FROM {} AS {n}", f.image),
            None => format!("FROM {}", f.image),
        },
        Instruction::Run(r) => {
            let mut out = vec![name.to_string()];
            out.extend(r.flags.mount_specs.iter().map(|m| format!("--mount={m}")));
            out.push(command(&r.command));
            out.join(" ")
        }
        Instruction::Cmd(c) | Instruction::Entrypoint(c) => format!("{name} {}", command(c)),
        Instruction::Copy(c) | Instruction::Add(c) => copy(name, c),
        Instruction::Env(p) | Instruction::Label(p) => format!("{name} {}", pairs(p)),
        Instruction::Arg(d) => format!("{name} {}", args(d)),
        Instruction::Workdir(s)
        | Instruction::User(s)
        | Instruction::StopSignal(s)
        | Instruction::Maintainer(s) => format!("{name} {s}"),
        Instruction::Expose(v) => format!("{name} {}", v.join(" ")),
        Instruction::Volume(v) => format!("{name} {}", json(v)),
        Instruction::Shell(v) => format!("{name} {}", json(v)),
        Instruction::Healthcheck(Healthcheck::None) => format!("{name} NONE"),
        Instruction::Healthcheck(Healthcheck::Check { flags, command: c }) => {
            let mut out = vec![name.to_string()];
            let d = |n: &str, v: Option<std::time::Duration>| {
                v.map(|v| format!("--{n}={}s", v.as_secs_f64()))
            };
            out.extend(d("interval", flags.interval));
            out.extend(d("timeout", flags.timeout));
            out.extend(d("start-period", flags.start_period));
            out.extend(d("start-interval", flags.start_interval));
            out.extend(flags.retries.map(|r| format!("--retries={r}")));
            out.push(format!("CMD {}", command(c)));
            out.join(" ")
        }
        Instruction::Onbuild(inner) => format!("{name} {}", describe(inner)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str) -> String {
        let p = hull_dockerfile::parse(text).unwrap();
        let r = hull_dockerfile::resolve(&p, &Default::default()).unwrap();
        describe(&r.parsed.instructions[0].instruction)
    }

    #[test]
    fn instructions_read_back() {
        assert_eq!(round("RUN make all"), "RUN make all");
        assert_eq!(round("CMD [\"a\", \"b c\"]"), "CMD [\"a\",\"b c\"]");
        assert_eq!(
            round("COPY --chown=1:2 --from=b a b /d/"),
            "COPY --from=b --chown=1:2 a b /d/"
        );
        assert_eq!(round("ENV A=1 B=\"x y\""), "ENV A=1 B=\"x y\"");
        assert_eq!(round("ONBUILD RUN echo hi"), "ONBUILD RUN echo hi");
        assert_eq!(round("FROM x AS Y"), "FROM x AS y");
        // What ONBUILD stores parses again to the same instruction.
        let text = round("ONBUILD COPY --chown=5 a /b");
        let again = hull_dockerfile::parse(&text).unwrap();
        assert_eq!(describe(&again.instructions[0].instruction), text);
    }
}

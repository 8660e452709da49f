//! One logical line to one typed [`Instruction`].

use super::{
    ArgDecl, CommandLine, Copy, From, Healthcheck, Instruction, KeyValue, PortSpec, Run, Source,
};
use crate::error::{Error, ErrorKind, Result};
use crate::flags::{split_flags, FileFlags, FromFlags, HealthFlags, RawFlag, RunFlags};
use crate::heredoc::{self, Heredoc};
use crate::lexer::LogicalLine;
use crate::words::{json_array, plain_words, raw_words};

type KindResult<T> = std::result::Result<T, ErrorKind>;

const FLAGLESS: [&str; 13] = [
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "LABEL",
    "ARG",
    "WORKDIR",
    "MAINTAINER",
    "USER",
    "STOPSIGNAL",
    "EXPOSE",
    "VOLUME",
    "SHELL",
    "ONBUILD",
];

/// Parses one logical line. `escape` is the file's escape character.
pub fn parse_instruction(line: &LogicalLine, escape: char) -> Result<Instruction> {
    parse_keyword(&line.keyword, &line.rest, line.heredocs.clone(), escape)
        .map_err(|kind| Error::new(line.line, kind))
}

fn parse_keyword(
    keyword: &str,
    rest: &str,
    heredocs: Vec<Heredoc>,
    escape: char,
) -> KindResult<Instruction> {
    let upper = keyword.to_ascii_uppercase();
    let (flags, args) = split_flags(rest);
    // Only FROM, RUN, COPY, ADD and HEALTHCHECK take flags; Docker refuses
    // a leading `--flag` on the others.
    if let (Some(name), Some(f)) = (FLAGLESS.iter().find(|n| **n == upper), flags.first()) {
        return Err(ErrorKind::UnknownFlag {
            instruction: name,
            flag: f.name.clone(),
        });
    }
    Ok(match upper.as_str() {
        "FROM" => Instruction::From(parse_from(&flags, args)?),
        "RUN" => Instruction::Run(Run {
            flags: RunFlags::parse(&flags)?,
            command: command_line("RUN", args)?,
            heredocs,
        }),
        "CMD" => Instruction::Cmd(command_line("CMD", rest)?),
        "ENTRYPOINT" => Instruction::Entrypoint(command_line("ENTRYPOINT", rest)?),
        "COPY" => Instruction::Copy(parse_copy("COPY", &flags, args, heredocs)?),
        "ADD" => Instruction::Add(parse_copy("ADD", &flags, args, heredocs)?),
        "ENV" => Instruction::Env(name_values("ENV", rest, escape)?),
        "LABEL" => Instruction::Label(name_values("LABEL", rest, escape)?),
        "ARG" => Instruction::Arg(parse_arg(rest, escape)?),
        "WORKDIR" => Instruction::Workdir(whole("WORKDIR", rest)?),
        "MAINTAINER" => Instruction::Maintainer(whole("MAINTAINER", rest)?),
        "USER" => Instruction::User(whole("USER", rest)?),
        "STOPSIGNAL" => Instruction::StopSignal(whole("STOPSIGNAL", rest)?),
        "EXPOSE" => Instruction::Expose(parse_expose(rest)?),
        "VOLUME" => {
            let list = json_array(rest).unwrap_or_else(|| plain_words(rest));
            if list.is_empty() || list.iter().any(|v| v.trim().is_empty()) {
                return Err(args_error("VOLUME", "at least one non-empty path"));
            }
            Instruction::Volume(list)
        }
        "SHELL" => match json_array(rest) {
            Some(list) if !list.is_empty() => Instruction::Shell(list),
            _ => return Err(ErrorKind::JsonRequired("SHELL")),
        },
        "HEALTHCHECK" => Instruction::Healthcheck(parse_healthcheck(&flags, args)?),
        "ONBUILD" => parse_onbuild(rest, escape)?,
        _ => return Err(ErrorKind::UnknownInstruction(keyword.to_string())),
    })
}

fn args_error(instruction: &'static str, expected: &'static str) -> ErrorKind {
    ErrorKind::Arguments {
        instruction,
        expected,
    }
}

fn command_line(instruction: &'static str, text: &str) -> KindResult<CommandLine> {
    if let Some(list) = json_array(text) {
        if list.is_empty() {
            return Err(args_error(instruction, "at least one argument"));
        }
        return Ok(CommandLine::Exec(list));
    }
    if text.trim().is_empty() {
        return Err(args_error(instruction, "at least one argument"));
    }
    Ok(CommandLine::Shell(text.to_string()))
}

/// The rest of the line as one argument (Docker's `parseString`: WORKDIR,
/// USER, STOPSIGNAL, MAINTAINER).
fn whole(instruction: &'static str, text: &str) -> KindResult<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(args_error(instruction, "exactly one argument"));
    }
    Ok(t.to_string())
}

fn parse_from(flags: &[RawFlag], args: &str) -> KindResult<From> {
    let flags = FromFlags::parse(flags)?;
    let words = plain_words(args);
    let (image, name) = match words.as_slice() {
        [image] => (image.clone(), None),
        [image, as_kw, name] if as_kw.eq_ignore_ascii_case("AS") => {
            let name = name.to_ascii_lowercase();
            if !valid_stage_name(&name) {
                return Err(ErrorKind::InvalidStageName(name));
            }
            (image.clone(), Some(name))
        }
        _ => {
            return Err(args_error(
                "FROM",
                "either one argument, or three: FROM <image> AS <name>",
            ))
        }
    };
    Ok(From { flags, image, name })
}

/// Docker's rule for stage names: `^[a-z][a-z0-9-_.]*$` (after lower-casing).
pub fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn parse_copy(
    instruction: &'static str,
    flags: &[RawFlag],
    args: &str,
    heredocs: Vec<Heredoc>,
) -> KindResult<Copy> {
    let flags = FileFlags::parse(instruction, flags)?;
    let mut words = json_array(args).unwrap_or_else(|| plain_words(args));
    let Some(dest) = words.pop().filter(|_| !words.is_empty()) else {
        return Err(args_error(
            instruction,
            "at least two arguments: source(s) and destination",
        ));
    };
    let mut docs = heredocs.into_iter();
    let mut sources = Vec::with_capacity(words.len());
    for word in words {
        let doc = heredoc::marker(&word).and_then(|_| docs.next());
        sources.push(match doc {
            Some(doc) => Source::Heredoc(doc),
            None => Source::Path(word),
        });
    }
    Ok(Copy {
        flags,
        sources,
        dest,
    })
}

/// ENV and LABEL: `key=value ...` (values may be quoted), or the legacy
/// single pair `key value with spaces`. Quotes are kept here; substitution
/// removes them, as Docker does.
fn name_values(instruction: &'static str, text: &str, escape: char) -> KindResult<Vec<KeyValue>> {
    let words = raw_words(text, escape);
    let Some(first) = words.first() else {
        return Err(args_error(instruction, "at least one argument"));
    };
    if !first.contains('=') {
        let value = text.trim_start()[first.len()..].trim();
        if value.is_empty() {
            return Err(args_error(
                instruction,
                "two arguments (name value) or name=value pairs",
            ));
        }
        return Ok(vec![KeyValue {
            key: first.clone(),
            value: value.to_string(),
        }]);
    }
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok(KeyValue {
                key: k.to_string(),
                value: v.to_string(),
            }),
            _ => Err(ErrorKind::MissingEquals(w.clone())),
        })
        .collect()
}

fn parse_arg(text: &str, escape: char) -> KindResult<Vec<ArgDecl>> {
    let words = raw_words(text, escape);
    if words.is_empty() {
        return Err(args_error("ARG", "at least one argument"));
    }
    words
        .into_iter()
        .map(|w| {
            let (name, default) = match w.split_once('=') {
                Some((n, d)) => (n.to_string(), Some(d.to_string())),
                None => (w, None),
            };
            if name.is_empty() {
                return Err(args_error("ARG", "a name before '='"));
            }
            Ok(ArgDecl { name, default })
        })
        .collect()
}

fn parse_expose(text: &str) -> KindResult<Vec<String>> {
    let words = plain_words(text);
    if words.is_empty() {
        return Err(args_error("EXPOSE", "at least one argument"));
    }
    for w in words.iter().filter(|w| !w.contains('$')) {
        PortSpec::parse(w)?;
    }
    Ok(words)
}

fn parse_healthcheck(flags: &[RawFlag], args: &str) -> KindResult<Healthcheck> {
    let (kind, rest) = match args.find(char::is_whitespace) {
        Some(at) => (&args[..at], args[at..].trim_start()),
        None => (args, ""),
    };
    if kind.eq_ignore_ascii_case("NONE") {
        if !flags.is_empty() || !rest.is_empty() {
            return Err(args_error(
                "HEALTHCHECK NONE",
                "no other arguments or flags",
            ));
        }
        return Ok(Healthcheck::None);
    }
    if !kind.eq_ignore_ascii_case("CMD") {
        return Err(args_error(
            "HEALTHCHECK",
            "NONE, or CMD followed by a command",
        ));
    }
    Ok(Healthcheck::Check {
        flags: HealthFlags::parse(flags)?,
        command: command_line("HEALTHCHECK CMD", rest)?,
    })
}

fn parse_onbuild(text: &str, escape: char) -> KindResult<Instruction> {
    let text = text.trim();
    let (keyword, rest) = match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim_start()),
        None => (text, ""),
    };
    if keyword.is_empty() {
        return Err(args_error("ONBUILD", "an instruction to run later"));
    }
    match keyword.to_ascii_uppercase().as_str() {
        "ONBUILD" => Err(ErrorKind::OnbuildChain),
        upper @ ("FROM" | "MAINTAINER") => Err(ErrorKind::OnbuildTrigger(upper.to_string())),
        _ => Ok(Instruction::Onbuild(Box::new(parse_keyword(
            keyword,
            rest,
            Vec::new(),
            escape,
        )?))),
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;

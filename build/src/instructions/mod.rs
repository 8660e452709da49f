//! The typed Dockerfile instructions. Parsing keeps the text Docker
//! substitutes variables in as written; [`crate::substitution`] resolves it.

mod parse;
mod port;

pub use parse::parse_instruction;
pub use port::{PortSpec, Protocol};

use crate::flags::{FileFlags, FromFlags, HealthFlags, RunFlags};
use crate::heredoc::Heredoc;

/// Exec form (`["executable", "arg"]`, run without a shell) or shell form
/// (run with the stage's SHELL, `/bin/sh -c` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    Exec(Vec<String>),
    Shell(String),
}

/// The shell a stage uses for shell-form commands until SHELL changes it.
pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

impl CommandLine {
    /// The argv to execute: exec form as is; shell form as `shell + [text]`.
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        match self {
            CommandLine::Exec(list) => list.clone(),
            CommandLine::Shell(text) => shell.iter().cloned().chain([text.clone()]).collect(),
        }
    }
}

/// `FROM [--platform=…] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    pub flags: FromFlags,
    pub image: String,
    /// The stage name, lower-cased (stage names are case-insensitive).
    pub name: Option<String>,
}

/// `RUN [--mount=…] [--network=…] command`, with any heredocs it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub flags: RunFlags,
    pub command: CommandLine,
    pub heredocs: Vec<Heredoc>,
}

impl Run {
    /// For `RUN <<EOF` alone, the heredoc that is the whole script (Docker
    /// runs its body with the shell, or its `#!` interpreter). None when the
    /// command has other words, e.g. `RUN python3 <<EOF`, where heredocs are
    /// the command's input.
    pub fn script(&self) -> Option<&Heredoc> {
        let CommandLine::Shell(text) = &self.command else {
            return None;
        };
        match self.heredocs.as_slice() {
            [only] if crate::heredoc::marker(text.trim()).is_some_and(|m| m.name == only.name) => {
                Some(only)
            }
            _ => None,
        }
    }
}

/// A COPY/ADD source: a path (or URL for ADD), or a heredoc's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(String),
    Heredoc(Heredoc),
}

/// `COPY`/`ADD [flags] src... dest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub flags: FileFlags,
    pub sources: Vec<Source>,
    pub dest: String,
}

/// One `key=value` of ENV or LABEL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// One `name[=default]` of ARG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: turn off a check inherited from the base image.
    None,
    Check {
        flags: HealthFlags,
        command: CommandLine,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    From(From),
    Run(Run),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    Copy(Copy),
    Add(Copy),
    Env(Vec<KeyValue>),
    Arg(Vec<ArgDecl>),
    Workdir(String),
    /// `user[:group]`, as written.
    User(String),
    /// `port[/protocol]` words, as written; see [`PortSpec::parse`].
    Expose(Vec<String>),
    Label(Vec<KeyValue>),
    Volume(Vec<String>),
    StopSignal(String),
    Healthcheck(Healthcheck),
    Shell(Vec<String>),
    Onbuild(Box<Instruction>),
    Maintainer(String),
}

impl Instruction {
    /// The instruction's name in upper case, e.g. `COPY`.
    pub fn name(&self) -> &'static str {
        match self {
            Instruction::From(_) => "FROM",
            Instruction::Run(_) => "RUN",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Env(_) => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::User(_) => "USER",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Label(_) => "LABEL",
            Instruction::Volume(_) => "VOLUME",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Shell(_) => "SHELL",
            Instruction::Onbuild(_) => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// An instruction and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub line: usize,
    pub instruction: Instruction,
}

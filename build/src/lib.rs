//! The Dockerfile front end of `hull build` (issue 15): a pure library that
//! turns Dockerfile text into typed instructions and build stages, resolves
//! variables as Docker does, plans which stages a `--target` needs, and
//! reads `.dockerignore` rules. It runs nothing and touches no files.

pub mod dockerignore;
pub mod error;
pub mod flags;
pub mod heredoc;
pub mod instructions;
pub mod lexer;
pub mod mount;
pub mod resolve;
pub mod stages;
pub mod substitution;
pub mod words;

pub use dockerignore::{Dockerignore, IgnoreError};
pub use error::{Error, ErrorKind, Result};
pub use instructions::{Instruction, Located};
pub use lexer::Directives;
pub use resolve::{resolve, BuildContext, Resolved};
pub use stages::{Base, PlanError, Stage, Stages};

/// A Dockerfile read into its directives and instructions, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub directives: Directives,
    pub instructions: Vec<Located>,
}

/// Parses Dockerfile text. Errors name the line: `Dockerfile:7: unknown instruction: FOOBAR`.
pub fn parse(text: &str) -> Result<Parsed> {
    let lexed = lexer::lex(text)?;
    let escape = lexed.directives.escape;
    let instructions = lexed
        .lines
        .iter()
        .map(|l| {
            Ok(Located {
                line: l.line,
                instruction: instructions::parse_instruction(l, escape)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Parsed {
        directives: lexed.directives,
        instructions,
    })
}

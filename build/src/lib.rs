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
pub use resolve::{resolve, resolve_triggers, BuildContext, Resolved};
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

/// A Dockerfile ready to build: parsed, variables resolved for one build,
/// split into stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub directives: Directives,
    pub stages: Stages,
    /// Build args no ARG consumed (Docker warns about them).
    pub unused_build_args: Vec<String>,
}

impl Dockerfile {
    /// Parses `text`, substitutes variables for `ctx`, and splits the result into stages.
    pub fn load(text: &str, ctx: &BuildContext) -> Result<Dockerfile> {
        let resolved = resolve(&parse(text)?, ctx)?;
        Ok(Dockerfile {
            stages: Stages::from_parsed(&resolved.parsed)?,
            directives: resolved.parsed.directives,
            unused_build_args: resolved.unused_build_args,
        })
    }

    /// Docker's warning about build args nothing consumed, if any.
    pub fn unused_build_args_warning(&self) -> Option<String> {
        (!self.unused_build_args.is_empty()).then(|| {
            format!(
                "One or more build-args [{}] were not consumed",
                self.unused_build_args.join(" ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_a_multi_stage_dockerfile_end_to_end() {
        let text = "# syntax=docker/dockerfile:1\nARG RUST=1.85\nFROM rust:${RUST} AS build\nWORKDIR /src\nCOPY . .\nRUN --mount=type=cache,target=/usr/local/cargo/registry cargo build --release\n\nFROM debian:bookworm-slim\nCOPY --from=build /src/target/release/app /usr/local/bin/app\nCMD [\"app\"]\n";
        let ctx = BuildContext {
            build_args: [
                ("RUST".to_string(), "1.86".to_string()),
                ("EXTRA".to_string(), "x".to_string()),
            ]
            .into(),
            ..Default::default()
        };
        let d = Dockerfile::load(text, &ctx).unwrap();
        assert_eq!(d.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.stages.stages[0].from.image, "rust:1.86");
        assert_eq!(d.stages.plan(None).unwrap(), [0, 1]);
        assert_eq!(d.unused_build_args, ["EXTRA"]);
        assert_eq!(
            d.unused_build_args_warning().as_deref(),
            Some("One or more build-args [EXTRA] were not consumed")
        );
        assert_eq!(d.stages.stages[1].instructions.len(), 2);
    }

    #[test]
    fn load_reports_the_first_bad_line() {
        let err =
            Dockerfile::load("FROM a\nRUN ok\nCOPY x\n", &BuildContext::default()).unwrap_err();
        assert_eq!(err.line, 3);
    }
}

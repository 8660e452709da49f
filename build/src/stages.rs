//! Build stages: the instructions split at each FROM, what each stage is
//! built on, which other stages it copies or mounts from, and the order a
//! `--target` needs them built in. Works on a [`crate::Resolved`] Dockerfile
//! when variables appear in FROM or `--from` values.

use crate::error::{Error, ErrorKind};
use crate::instructions::{From, Instruction, Located};
use crate::Parsed;

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `FROM scratch`: an empty filesystem.
    Scratch,
    /// An image to pull.
    Image(String),
    /// An earlier stage of this Dockerfile, by index.
    Stage(usize),
}

/// Where a `COPY --from=` or `RUN --mount=…,from=` reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromRef {
    Stage(usize),
    Image(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    pub name: Option<String>,
    /// The line of the stage's FROM.
    pub line: usize,
    pub from: From,
    pub base: Base,
    /// The instructions after FROM, up to the next FROM.
    pub instructions: Vec<Located>,
}

impl Stage {
    /// The name, or the index when the stage has none.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.index.to_string())
    }
}

/// A Dockerfile as stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stages {
    /// The ARGs before the first FROM.
    pub global_args: Vec<Located>,
    pub stages: Vec<Stage>,
}

/// Why a target cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("target stage {0:?} could not be found")]
    TargetNotFound(String),
    #[error(transparent)]
    Dockerfile(#[from] Error),
}

impl Stages {
    /// Splits instructions into stages. Only ARG may come before the first
    /// FROM; stage names must be unique.
    pub fn from_parsed(parsed: &Parsed) -> Result<Stages, Error> {
        let mut global_args = Vec::new();
        let mut stages: Vec<Stage> = Vec::new();
        for loc in &parsed.instructions {
            match (&loc.instruction, stages.last_mut()) {
                (Instruction::From(f), _) => {
                    if let Some(name) = &f.name {
                        if stages.iter().any(|s| s.name.as_ref() == Some(name)) {
                            return Err(Error::new(
                                loc.line,
                                ErrorKind::DuplicateStageName(name.clone()),
                            ));
                        }
                    }
                    let base = base_of(&f.image, &stages);
                    stages.push(Stage {
                        index: stages.len(),
                        name: f.name.clone(),
                        line: loc.line,
                        from: f.clone(),
                        base,
                        instructions: Vec::new(),
                    });
                }
                (_, Some(stage)) => stage.instructions.push(loc.clone()),
                (Instruction::Arg(_), None) => global_args.push(loc.clone()),
                (other, None) => {
                    return Err(Error::new(
                        loc.line,
                        ErrorKind::BeforeFrom(other.name().to_string()),
                    ))
                }
            }
        }
        if stages.is_empty() {
            let line = parsed.instructions.last().map_or(1, |l| l.line);
            return Err(Error::new(line, ErrorKind::NoStage));
        }
        Ok(Stages {
            global_args,
            stages,
        })
    }

    /// The stage a `--from` value names: a stage name (any stage, as
    /// BuildKit allows), else a stage index, else an image.
    pub fn from_ref(&self, value: &str, line: usize) -> Result<FromRef, Error> {
        let lower = value.to_ascii_lowercase();
        if let Some(s) = self
            .stages
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Ok(FromRef::Stage(s.index));
        }
        if let Ok(index) = value.parse::<usize>() {
            if index < self.stages.len() {
                return Ok(FromRef::Stage(index));
            }
            return Err(Error::new(
                line,
                ErrorKind::StageNotFound(value.to_string()),
            ));
        }
        Ok(FromRef::Image(value.to_string()))
    }

    /// The stages stage `index` needs built first, each with the line that
    /// needs it: its base stage, and those it copies or mounts from.
    pub fn dependencies(&self, index: usize) -> Result<Vec<(usize, usize)>, Error> {
        let Some(stage) = self.stages.get(index) else {
            return Ok(Vec::new());
        };
        let mut deps = Vec::new();
        if let Base::Stage(b) = stage.base {
            deps.push((b, stage.line));
        }
        for loc in &stage.instructions {
            let refs: Vec<&str> = match &loc.instruction {
                Instruction::Copy(c) => c.flags.from.iter().map(String::as_str).collect(),
                Instruction::Run(r) => r
                    .flags
                    .mounts
                    .iter()
                    .filter_map(|m| m.from.as_deref())
                    .collect(),
                _ => Vec::new(),
            };
            for r in refs {
                if let FromRef::Stage(s) = self.from_ref(r, loc.line)? {
                    if !deps.iter().any(|(d, _)| *d == s) {
                        deps.push((s, loc.line));
                    }
                }
            }
        }
        Ok(deps)
    }

    /// The stages to build for `target` (a stage name; None: the last
    /// stage), dependencies first, each once, the target last.
    pub fn plan(&self, target: Option<&str>) -> Result<Vec<usize>, PlanError> {
        let goal = match target {
            None => self
                .stages
                .len()
                .checked_sub(1)
                .ok_or_else(|| PlanError::TargetNotFound("(last stage)".into()))?,
            Some(t) => {
                let lower = t.to_ascii_lowercase();
                self.stages
                    .iter()
                    .find(|s| s.name.as_deref() == Some(lower.as_str()))
                    .map(|s| s.index)
                    .ok_or_else(|| PlanError::TargetNotFound(t.to_string()))?
            }
        };
        let mut state = vec![Visit::New; self.stages.len()];
        let mut order = Vec::new();
        self.visit(goal, &mut state, &mut order)?;
        Ok(order)
    }

    fn visit(
        &self,
        index: usize,
        state: &mut [Visit],
        order: &mut Vec<usize>,
    ) -> Result<(), Error> {
        state[index] = Visit::Active;
        for (dep, line) in self.dependencies(index)? {
            match state[dep] {
                Visit::Done => {}
                Visit::Active => {
                    return Err(Error::new(line, ErrorKind::Cycle(self.stages[dep].label())))
                }
                Visit::New => self.visit(dep, state, order)?,
            }
        }
        state[index] = Visit::Done;
        order.push(index);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    Active,
    Done,
}

/// FROM's base: an earlier stage's name, `scratch`, or an image.
fn base_of(image: &str, earlier: &[Stage]) -> Base {
    let lower = image.to_ascii_lowercase();
    if let Some(s) = earlier
        .iter()
        .find(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Base::Stage(s.index);
    }
    if lower == "scratch" {
        return Base::Scratch;
    }
    Base::Image(image.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(text: &str) -> Stages {
        Stages::from_parsed(&crate::parse(text).unwrap()).unwrap()
    }

    fn stage_err(text: &str) -> String {
        Stages::from_parsed(&crate::parse(text).unwrap())
            .unwrap_err()
            .to_string()
    }

    const MULTI: &str = "ARG GO=1.22\nFROM golang:$GO AS build\nRUN go build\nFROM build AS test\nRUN go test\nFROM alpine AS assets\nRUN make\nFROM scratch\nCOPY --from=build /bin/app /app\nCOPY --from=assets /a /a\nCOPY --from=nginx:latest /etc/nginx/nginx.conf /nginx.conf\n";

    #[test]
    fn stages_names_bases_and_global_args() {
        let s = stages(MULTI);
        assert_eq!(s.global_args.len(), 1);
        assert_eq!(s.stages.len(), 4);
        assert_eq!(s.stages[1].base, Base::Stage(0));
        assert_eq!(s.stages[2].base, Base::Image("alpine".into()));
        assert_eq!(s.stages[3].base, Base::Scratch);
        assert_eq!(s.stages[3].label(), "3");
        assert_eq!(s.stages[0].instructions.len(), 1);
    }

    #[test]
    fn plan_builds_only_what_the_target_needs_in_order() {
        let s = stages(MULTI);
        assert_eq!(s.plan(None).unwrap(), [0, 2, 3]);
        assert_eq!(s.plan(Some("test")).unwrap(), [0, 1]);
        assert_eq!(s.plan(Some("BUILD")).unwrap(), [0]);
        assert_eq!(
            s.plan(Some("nope")).unwrap_err(),
            PlanError::TargetNotFound("nope".into())
        );
    }

    #[test]
    fn from_by_index_and_run_mount_from() {
        let s = stages("FROM a\nFROM b AS two\nRUN --mount=type=bind,from=0,target=/x true\nFROM c\nCOPY --from=1 /x /x\n");
        assert_eq!(s.plan(None).unwrap(), [0, 1, 2]);
        assert_eq!(
            s.from_ref("alpine:3", 1).unwrap(),
            FromRef::Image("alpine:3".into())
        );
    }

    #[test]
    fn missing_stage_index_is_an_error_with_line() {
        let s = stages("FROM a\nCOPY --from=5 /x /y\n");
        assert_eq!(
            s.plan(None).unwrap_err().to_string(),
            "Dockerfile:2: stage \"5\" not found"
        );
    }

    #[test]
    fn cycles_are_found_and_named() {
        let s =
            stages("FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\nCOPY --from=one /y /y\n");
        assert_eq!(
            s.plan(Some("two")).unwrap_err().to_string(),
            "Dockerfile:2: circular dependency detected on stage: two"
        );
        let s = stages("FROM a\nCOPY --from=0 /x /y\n");
        assert!(s
            .plan(None)
            .unwrap_err()
            .to_string()
            .contains("circular dependency detected on stage: 0"));
    }

    #[test]
    fn from_a_later_stage_name_is_an_image() {
        let s = stages("FROM later\nFROM a AS later\n");
        assert_eq!(s.stages[0].base, Base::Image("later".into()));
    }

    #[test]
    fn structural_errors() {
        assert_eq!(
            stage_err("ARG X\nRUN echo\nFROM a\n"),
            "Dockerfile:2: RUN must come after a FROM (only ARG may come before the first FROM)"
        );
        assert!(stage_err("FROM a AS x\nFROM b AS X\n")
            .starts_with("Dockerfile:2: duplicate stage name"));
        assert!(stage_err("ARG X\n").contains("no build stage"));
    }

    #[test]
    fn works_after_substitution() {
        let parsed =
            crate::parse("ARG B=builder\nFROM a AS builder\nFROM b\nARG B\nCOPY --from=$B /x /x\n")
                .unwrap();
        let resolved = crate::resolve(&parsed, &Default::default()).unwrap();
        let s = Stages::from_parsed(&resolved.parsed).unwrap();
        assert_eq!(s.plan(None).unwrap(), [0, 1]);
    }
}

//! Applies [`crate::substitution`] where Docker does, with Docker's scoping:
//! ARGs before the first FROM are visible only in FROM lines (and to a
//! stage's `ARG name` without a default); in a stage, ENV beats ARG; build
//! args override ARG defaults; build args no ARG declares are reported.
//! RUN's command, CMD, ENTRYPOINT, SHELL and HEALTHCHECK are left to the
//! shell; RUN's `--mount` options are substituted, as BuildKit does.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, ErrorKind, Result};
use crate::flags::Chown;
use crate::instructions::{ArgDecl, Copy, Instruction, KeyValue, Located, PortSpec, Source};
use crate::mount::Mount;
use crate::substitution::{expand_text, expand_word};
use crate::Parsed;

/// Build arguments that need no ARG to be accepted (Docker's predefined proxy args).
const PREDEFINED_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// What the build is given from outside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildContext {
    /// `--build-arg NAME=value`.
    pub build_args: BTreeMap<String, String>,
    /// Values known without an ARG in global scope, such as `TARGETPLATFORM`
    /// or `BUILDPLATFORM`; a stage sees them after `ARG NAME`.
    pub automatic_args: BTreeMap<String, String>,
    /// The ENV (`KEY=value` entries) of each base image, by the name its
    /// FROM gives after substitution: a stage's variables start from its
    /// base's environment, as in Docker (`ENV PATH=/x:$PATH`).
    pub base_env: BTreeMap<String, Vec<String>>,
}

/// The Dockerfile with variables substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub parsed: Parsed,
    /// Build args that no ARG consumed, sorted: Docker warns about them.
    pub unused_build_args: Vec<String>,
}

/// A stage's variables: its ARGs (None: declared without a value) and ENVs.
#[derive(Default)]
struct StageVars {
    args: BTreeMap<String, Option<String>>,
    env: BTreeMap<String, String>,
}

struct Scope<'a> {
    ctx: &'a BuildContext,
    escape: char,
    /// ARGs before the first FROM, with their values (None: declared, unset).
    global: BTreeMap<String, Option<String>>,
    /// The current stage's ARGs and ENVs; None before the first FROM.
    stage: Option<StageVars>,
    /// The current stage's name, if it has one.
    stage_name: Option<String>,
    /// The environment each named stage ended with (a later FROM of it
    /// starts from there).
    stage_envs: BTreeMap<String, BTreeMap<String, String>>,
    consumed: BTreeSet<String>,
}

impl Scope<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        match &self.stage {
            Some(s) => s
                .env
                .get(name)
                .cloned()
                .or_else(|| s.args.get(name).cloned().flatten()),
            None => self.global_value(name),
        }
    }

    fn global_value(&self, name: &str) -> Option<String> {
        match self.global.get(name) {
            Some(v) => v.clone(),
            None => self.ctx.automatic_args.get(name).cloned(),
        }
    }

    fn expand(&self, word: &str) -> std::result::Result<String, ErrorKind> {
        expand_word(word, self.escape, &|n: &str| self.lookup(n))
    }

    fn expand_global(&self, word: &str) -> std::result::Result<String, ErrorKind> {
        expand_word(word, self.escape, &|n: &str| self.global_value(n))
    }

    fn instruction(&mut self, ins: &Instruction) -> std::result::Result<Instruction, ErrorKind> {
        Ok(match ins {
            Instruction::From(f) => {
                let mut f = f.clone();
                f.image = self.expand_global(&f.image)?;
                f.flags.platform = f
                    .flags
                    .platform
                    .as_deref()
                    .map(|p| self.expand_global(p))
                    .transpose()?;
                self.end_stage();
                let env = match self.stage_envs.get(&f.image.to_ascii_lowercase()) {
                    Some(env) => env.clone(),
                    None => env_map(self.ctx.base_env.get(&f.image).map(Vec::as_slice)),
                };
                self.stage = Some(StageVars {
                    args: BTreeMap::new(),
                    env,
                });
                self.stage_name = f.name.clone();
                Instruction::From(f)
            }
            Instruction::Arg(decls) => Instruction::Arg(self.args(decls)?),
            Instruction::Env(pairs) => {
                let pairs = self.pairs(pairs)?;
                if let Some(stage) = &mut self.stage {
                    stage
                        .env
                        .extend(pairs.iter().map(|p| (p.key.clone(), p.value.clone())));
                }
                Instruction::Env(pairs)
            }
            Instruction::Label(pairs) => Instruction::Label(self.pairs(pairs)?),
            Instruction::Copy(c) => Instruction::Copy(self.copy(c)?),
            Instruction::Add(c) => Instruction::Add(self.copy(c)?),
            Instruction::Workdir(w) => Instruction::Workdir(self.expand(w)?),
            Instruction::User(u) => Instruction::User(self.expand(u)?),
            Instruction::StopSignal(s) => Instruction::StopSignal(self.expand(s)?),
            Instruction::Volume(v) => Instruction::Volume(self.each(v)?),
            Instruction::Expose(ports) => {
                let ports = self.each(ports)?;
                for p in &ports {
                    PortSpec::parse(p)?;
                }
                Instruction::Expose(ports)
            }
            Instruction::Run(r) => {
                let mut r = r.clone();
                let expand = |v: &str| self.expand(v);
                r.flags.mounts = r
                    .flags
                    .mount_specs
                    .iter()
                    .map(|s| Mount::parse_with(s, Some(&expand)))
                    .collect::<std::result::Result<_, _>>()?;
                Instruction::Run(r)
            }
            // Stored as written: the child build substitutes a trigger
            // when it runs it ([`resolve_triggers`]).
            other => other.clone(),
        })
    }

    /// Remembers the environment a named stage ends with.
    fn end_stage(&mut self) {
        if let (Some(name), Some(stage)) = (self.stage_name.take(), &self.stage) {
            self.stage_envs.insert(name, stage.env.clone());
        }
    }

    fn each(&self, words: &[String]) -> std::result::Result<Vec<String>, ErrorKind> {
        words.iter().map(|w| self.expand(w)).collect()
    }

    /// All pairs are expanded with the variables as they were before this
    /// instruction (`ENV abc=bye def=$abc` gives def the old abc).
    fn pairs(&self, pairs: &[KeyValue]) -> std::result::Result<Vec<KeyValue>, ErrorKind> {
        pairs
            .iter()
            .map(|p| {
                Ok(KeyValue {
                    key: self.expand(&p.key)?,
                    value: self.expand(&p.value)?,
                })
            })
            .collect()
    }

    fn copy(&self, c: &Copy) -> std::result::Result<Copy, ErrorKind> {
        let mut c = c.clone();
        for s in &mut c.sources {
            match s {
                Source::Path(p) => *p = self.expand(p)?,
                // An unquoted delimiter means the body's variables expand (quotes stay).
                Source::Heredoc(h) if h.expand => {
                    h.content = expand_text(&h.content, self.escape, &|n: &str| self.lookup(n))?
                }
                Source::Heredoc(_) => {}
            }
        }
        c.dest = self.expand(&c.dest)?;
        c.flags.from = c
            .flags
            .from
            .as_deref()
            .map(|v| self.expand(v))
            .transpose()?;
        c.flags.chmod = c
            .flags
            .chmod
            .as_deref()
            .map(|v| self.expand(v))
            .transpose()?;
        if let Some(Chown { user, group }) = &c.flags.chown {
            c.flags.chown = Some(Chown {
                user: self.expand(user)?,
                group: group.as_deref().map(|g| self.expand(g)).transpose()?,
            });
        }
        Ok(c)
    }

    /// Resolves each ARG to its value: the build arg if given, else the
    /// default, else (in a stage) the global ARG of that name.
    fn args(&mut self, decls: &[ArgDecl]) -> std::result::Result<Vec<ArgDecl>, ErrorKind> {
        let mut out = Vec::with_capacity(decls.len());
        for d in decls {
            let name = d.name.clone();
            self.consumed.insert(name.clone());
            let value = match (self.ctx.build_args.get(&name), &d.default) {
                (Some(given), _) => Some(given.clone()),
                (None, Some(default)) => Some(self.expand(default)?),
                (None, None) if self.stage.is_some() => self.global_value(&name),
                (None, None) => self.ctx.automatic_args.get(&name).cloned(),
            };
            match &mut self.stage {
                Some(stage) => stage.args.insert(name.clone(), value.clone()),
                None => self.global.insert(name.clone(), value.clone()),
            };
            out.push(ArgDecl {
                name,
                default: value,
            });
        }
        Ok(out)
    }
}

/// Substitutes variables in `parsed` for a build with `ctx`. In the result,
/// each ARG's `default` holds the value the ARG has in this build.
pub fn resolve(parsed: &Parsed, ctx: &BuildContext) -> Result<Resolved> {
    let mut scope = Scope {
        ctx,
        escape: parsed.directives.escape,
        global: BTreeMap::new(),
        stage: None,
        stage_name: None,
        stage_envs: BTreeMap::new(),
        consumed: BTreeSet::new(),
    };
    let mut instructions = Vec::with_capacity(parsed.instructions.len());
    for loc in &parsed.instructions {
        let instruction = scope
            .instruction(&loc.instruction)
            .map_err(|k| Error::new(loc.line, k))?;
        instructions.push(Located {
            line: loc.line,
            instruction,
        });
    }
    let unused_build_args = ctx
        .build_args
        .keys()
        .filter(|k| !scope.consumed.contains(*k) && !PREDEFINED_ARGS.contains(&k.as_str()))
        .cloned()
        .collect();
    Ok(Resolved {
        parsed: Parsed {
            directives: parsed.directives.clone(),
            instructions,
        },
        unused_build_args,
    })
}

/// ONBUILD triggers as the child build runs them, right after its FROM:
/// substituted with the base image's ENV (`KEY=value` entries) and, for
/// the ARGs the triggers declare, the build's args.
pub fn resolve_triggers(
    triggers: &[Located],
    image_env: &[String],
    ctx: &BuildContext,
    escape: char,
) -> Result<Vec<Located>> {
    let mut scope = Scope {
        ctx,
        escape,
        global: BTreeMap::new(),
        stage: Some(StageVars {
            args: BTreeMap::new(),
            env: env_map(Some(image_env)),
        }),
        stage_name: None,
        stage_envs: BTreeMap::new(),
        consumed: BTreeSet::new(),
    };
    triggers
        .iter()
        .map(|loc| {
            let instruction = scope
                .instruction(&loc.instruction)
                .map_err(|k| Error::new(loc.line, k))?;
            Ok(Located {
                line: loc.line,
                instruction,
            })
        })
        .collect()
}

/// An image config's `KEY=value` entries as a map (entries without `=`
/// are skipped, as Docker does).
fn env_map(entries: Option<&[String]>) -> BTreeMap<String, String> {
    entries
        .unwrap_or_default()
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;

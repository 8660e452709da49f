//! hull-compose: the Compose file model. Finds and reads Compose files,
//! interpolates variables, merges several files and `extends`, validates
//! every key, and normalizes the result into the project `hull compose`
//! runs. No daemon code: the CLI turns a project into API calls.

pub mod envfile;
pub mod environment;
pub mod error;
pub mod files;
pub mod interpolate;
pub mod model;
pub mod name;
pub mod order;
pub mod paths;

mod hash;
mod load;
mod merge;
mod normalize;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use environment::Environment;
pub use error::{Error, Result};
pub use model::Project;

/// What `hull compose`'s global flags say.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-f`, in order; empty: the default file of `working_dir` or a parent.
    pub files: Vec<PathBuf>,
    /// Where relative `-f` and `--env-file` paths start.
    pub working_dir: PathBuf,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--env-file`, replacing the project directory's `.env`.
    pub env_files: Vec<PathBuf>,
    /// `--profile`; `COMPOSE_PROFILES` adds to them.
    pub profiles: Vec<String>,
    /// The process environment.
    pub environment: BTreeMap<String, String>,
}

/// A loaded project and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub project: Project,
    pub files: Vec<PathBuf>,
    pub project_dir: PathBuf,
    /// The variables interpolation saw (`.env` under the process's).
    pub environment: Environment,
}

pub fn load(opts: &Options) -> Result<Loaded> {
    let files: Vec<PathBuf> = if opts.files.is_empty() {
        vec![files::discover(&opts.working_dir)?]
    } else {
        opts.files
            .iter()
            .map(|f| paths::clean(&opts.working_dir.join(f)))
            .collect()
    };
    let project_dir = files[0]
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| opts.working_dir.clone());
    let env_files: Vec<PathBuf> = opts
        .env_files
        .iter()
        .map(|f| opts.working_dir.join(f))
        .collect();
    let env = Environment::load(&project_dir, &env_files, &opts.environment)?;
    let mut doc = load::merged(&files, &env)?;
    load::resolve_extends(&mut doc, &files[0], &project_dir, &env)?;
    let name = match (
        &opts.project_name,
        env.var("COMPOSE_PROJECT_NAME"),
        &doc.name,
    ) {
        (Some(n), _, _) => name::check(n)?,
        (None, Some(n), _) if !n.is_empty() => name::check(n)?,
        (None, _, Some(n)) => name::check(n)?,
        _ => name::normalize(
            &project_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )?,
    };
    let mut profiles = opts.profiles.clone();
    if let Some(p) = env.var("COMPOSE_PROFILES") {
        profiles.extend(p.split(',').filter(|s| !s.is_empty()).map(str::to_string));
    }
    let project =
        normalize::project(doc, name, &project_dir, &profiles, &env).map_err(|e| match e {
            Error::Read { .. } | Error::EnvFile { .. } => e,
            e => Error::Project {
                file: files[0].clone(),
                error: Box::new(e),
            },
        })?;
    Ok(Loaded {
        project,
        files,
        project_dir,
        environment: env,
    })
}

impl Project {
    /// The named services and what they depend on (all when none named).
    pub fn with_dependencies(
        &self,
        named: &[String],
    ) -> Result<std::collections::BTreeSet<String>> {
        order::with_dependencies(&self.services, named)
    }

    /// Service names, dependencies first.
    pub fn start_order(&self) -> Result<Vec<String>> {
        order::start_order(&self.services)
    }

    /// `order` in waves that can start together (see `order::waves`).
    pub fn start_waves(&self, order: &[String]) -> Vec<Vec<String>> {
        order::waves(&self.services, order)
    }

    /// The project as `config` prints it: every `$` of a value written
    /// `$$`, so the output reads back to the same project.
    pub fn config_document(&self) -> serde_json::Value {
        fn escape(v: serde_json::Value) -> serde_json::Value {
            use serde_json::Value;
            match v {
                Value::String(s) => Value::String(s.replace('$', "$$")),
                Value::Array(a) => Value::Array(a.into_iter().map(escape).collect()),
                Value::Object(m) => {
                    Value::Object(m.into_iter().map(|(k, v)| (k, escape(v))).collect())
                }
                other => other,
            }
        }
        escape(serde_json::to_value(self).unwrap_or_default())
    }

    /// The hash `up` compares to decide whether a service's containers
    /// must be recreated (the `com.docker.compose.config-hash` label).
    pub fn config_hash(&self, service: &str) -> Result<String> {
        let svc = self
            .services
            .get(service)
            .ok_or_else(|| Error::NoSuchService(service.to_string()))?;
        Ok(hash::config_hash(svc))
    }
}

#[cfg(test)]
mod tests;

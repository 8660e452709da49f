//! What can go wrong while loading a Compose project: one variant per step,
//! each naming the file, line or key path it is about, on one line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no compose file (compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml) in {dir} or its parents")]
    NoComposeFile { dir: PathBuf },
    /// Not `#[source]`: the message already holds it, and a chained
    /// report (`{:#}`) would print it twice.
    #[error("{path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// YAML syntax; `message` carries serde_norway's line and column.
    #[error("{file}: {message}")]
    Yaml { file: PathBuf, message: String },
    #[error("{file}: top-level object must be a mapping")]
    NotAMapping { file: PathBuf },
    #[error("{file}: {key}: {message}")]
    Interpolation {
        file: PathBuf,
        key: String,
        message: String,
    },
    #[error("{file}: {key}: unknown key")]
    UnknownKey { file: PathBuf, key: String },
    #[error("{file}: {key}: {message}")]
    Invalid {
        file: PathBuf,
        key: String,
        message: String,
    },
    #[error("{file} line {line}: {message}")]
    EnvFile {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("service {service:?} extends unknown service {base:?} ({file})")]
    ExtendsUnknown {
        service: String,
        base: String,
        file: PathBuf,
    },
    #[error("circular extends: {chain}")]
    ExtendsCycle { chain: String },
    #[error("service {service:?} depends on undefined service {dependency:?}")]
    UndefinedDependency { service: String, dependency: String },
    #[error("dependency cycle between services: {services}")]
    DependencyCycle { services: String },
    #[error("service {service:?} refers to undefined {kind} {name:?}")]
    Undefined {
        service: String,
        kind: &'static str,
        name: String,
    },
    #[error("service {service:?} has neither an image nor a build context specified")]
    NoImage { service: String },
    #[error("invalid project name {name:?}: must contain only lowercase letters, digits, dashes and underscores, and start with a letter or digit")]
    ProjectName { name: String },
    /// A project-wide problem (a reference, a cycle) found after merging.
    #[error("{file}: {error}")]
    Project { file: PathBuf, error: Box<Error> },
    #[error("no such service: {0}")]
    NoSuchService(String),
}

pub type Result<T> = std::result::Result<T, Error>;

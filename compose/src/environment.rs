//! The variables interpolation sees: the `.env` of the project directory
//! (or the `--env-file`s instead), overridden by the process environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::envfile;
use crate::error::Result;
use crate::interpolate::Lookup;

#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// `env_files` when given (each must exist), else `DIR/.env` if present;
    /// then `process` on top.
    pub fn load(
        project_dir: &Path,
        env_files: &[PathBuf],
        process: &BTreeMap<String, String>,
    ) -> Result<Environment> {
        let mut vars = BTreeMap::new();
        let default = project_dir.join(".env");
        let files: Vec<PathBuf> = if env_files.is_empty() {
            Some(default).filter(|p| p.is_file()).into_iter().collect()
        } else {
            env_files.to_vec()
        };
        for f in &files {
            for (k, v) in envfile::read(f)? {
                if let Some(v) = v {
                    vars.insert(k, v);
                }
            }
        }
        vars.extend(process.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(Environment { vars })
    }

    pub fn from_map(vars: BTreeMap<String, String>) -> Environment {
        Environment { vars }
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

impl Lookup for Environment {
    fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

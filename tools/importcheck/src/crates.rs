//! The workspace's crates and their hull dependencies, from the manifests.

use std::path::{Path, PathBuf};

use crate::rules;
use crate::{read, Error, Violation};

/// A workspace member: its package name, directory and the names of the
/// packages it depends on (normal, build and target-specific dependencies;
/// dev-dependencies are for tests and may reach anywhere).
#[derive(Debug)]
pub struct Member {
    pub name: String,
    /// Relative to the workspace root.
    pub dir: PathBuf,
    pub deps: Vec<String>,
}

#[derive(Debug)]
pub struct Workspace {
    pub members: Vec<Member>,
}

impl Workspace {
    pub fn read(root: &Path) -> Result<Workspace, Error> {
        let manifest = parse(&root.join("Cargo.toml"))?;
        let dirs = manifest
            .get("workspace")
            .and_then(|w| w.get("members"))
            .and_then(|m| m.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut members = Vec::new();
        for dir in dirs {
            let path = root.join(dir).join("Cargo.toml");
            let manifest = parse(&path)?;
            let name = manifest
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str())
                .ok_or_else(|| Error::Parse {
                    path: path.clone(),
                    message: "no package.name".to_string(),
                })?
                .to_string();
            members.push(Member {
                name,
                dir: PathBuf::from(dir),
                deps: dependency_packages(&manifest),
            });
        }
        Ok(Workspace { members })
    }

    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// Every dependency of a member on another member that its rule does
    /// not allow, and every member without a rule.
    pub fn dependency_violations(&self) -> Vec<Violation> {
        let mut found = Vec::new();
        for member in &self.members {
            if rules::UNRESTRICTED.contains(&member.name.as_str()) {
                continue;
            }
            let file = member.dir.join("Cargo.toml");
            let Some(allowed) = rules::allowed_deps(&member.name) else {
                found.push(Violation {
                    file,
                    line: 0,
                    message: format!(
                        "crate {} has no place in the floors (add it to tools/importcheck/src/rules.rs)",
                        member.name
                    ),
                });
                continue;
            };
            for dep in &member.deps {
                if self.member(dep).is_some() && !allowed.contains(&dep.as_str()) {
                    found.push(Violation {
                        file: file.clone(),
                        line: 0,
                        message: format!("{} may not depend on {dep}", member.name),
                    });
                }
            }
        }
        found
    }
}

fn parse(path: &Path) -> Result<toml::Table, Error> {
    read(path)?
        .parse::<toml::Table>()
        .map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })
}

/// Package names of the normal and build dependencies, including
/// `[target.'cfg(..)'.dependencies]` and renamed ones (`package = ".."`).
fn dependency_packages(manifest: &toml::Table) -> Vec<String> {
    let mut tables: Vec<&toml::Table> = Vec::new();
    for key in ["dependencies", "build-dependencies"] {
        if let Some(t) = manifest.get(key).and_then(|v| v.as_table()) {
            tables.push(t);
        }
    }
    if let Some(targets) = manifest.get("target").and_then(|v| v.as_table()) {
        for target in targets.values() {
            for key in ["dependencies", "build-dependencies"] {
                if let Some(t) = target.get(key).and_then(|v| v.as_table()) {
                    tables.push(t);
                }
            }
        }
    }
    let mut names = Vec::new();
    for table in tables {
        for (key, spec) in table {
            let package = spec.get("package").and_then(|p| p.as_str()).unwrap_or(key);
            names.push(package.to_string());
        }
    }
    names
}

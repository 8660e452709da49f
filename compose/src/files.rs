//! Finding the Compose files and reading one into a YAML value: the
//! default names in the working directory or its parents, YAML errors with
//! file, line and column, merge keys (`<<: *anchor`) applied, and the
//! `x-` extension keys set aside.

use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::error::{Error, Result};

/// The names Compose looks for, in its order of preference.
pub const DEFAULT_NAMES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// The first default-named file in `dir` or its nearest parent that has one.
pub fn discover(dir: &Path) -> Result<PathBuf> {
    for d in dir.ancestors() {
        for name in DEFAULT_NAMES {
            let p = d.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(Error::NoComposeFile {
        dir: dir.to_path_buf(),
    })
}

/// Reads a file into a YAML mapping.
pub fn read_yaml(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|error| Error::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse_yaml(path, &text)
}

pub fn parse_yaml(path: &Path, text: &str) -> Result<Value> {
    let yaml_err = |e: serde_norway::Error| Error::Yaml {
        file: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut value: Value = serde_norway::from_str(text).map_err(yaml_err)?;
    value.apply_merge().map_err(yaml_err)?;
    if value.is_null() {
        value = Value::Mapping(Default::default());
    }
    if !value.is_mapping() {
        return Err(Error::NotAMapping {
            file: path.to_path_buf(),
        });
    }
    strip_extensions(&mut value);
    Ok(value)
}

/// Drops `x-*` keys at the top level and in each service, network and
/// volume definition, where Compose allows them.
fn strip_extensions(top: &mut Value) {
    fn strip(v: &mut Value) {
        if let Value::Mapping(m) = v {
            m.retain(|k, _| !k.as_str().is_some_and(|k| k.starts_with("x-")));
        }
    }
    strip(top);
    for section in ["services", "networks", "volumes"] {
        if let Some(Value::Mapping(defs)) = top.get_mut(section) {
            for (_, def) in defs.iter_mut() {
                strip(def);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_errors_name_file_and_line() {
        let err = parse_yaml(
            Path::new("/p/compose.yaml"),
            "services:\n  web:\n    image: [a\n",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/p/compose.yaml: "), "{msg}");
        assert!(msg.contains("line"), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn merge_keys_and_extensions() {
        let v = parse_yaml(
            Path::new("c.yaml"),
            "x-common: &c\n  image: busybox\nservices:\n  web:\n    <<: *c\n    x-note: hi\n",
        )
        .unwrap();
        assert!(v.get("x-common").is_none());
        assert_eq!(v["services"]["web"]["image"].as_str(), Some("busybox"));
        assert!(v["services"]["web"].get("x-note").is_none());
    }

    #[test]
    fn discover_walks_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), "services: {}\n").unwrap();
        std::fs::write(dir.path().join("compose.yaml"), "services: {}\n").unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(discover(&sub).unwrap(), dir.path().join("compose.yaml"));
    }
}

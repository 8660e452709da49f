//! Loading and validating a bundle's config.json (OCI runtime spec 1.x).

use crate::error::{Error, Result};
use oci_spec::runtime::Spec;
use std::path::{Component, Path, PathBuf};

/// The bundle's config plus the absolute rootfs path it names.
pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
    pub rootfs: PathBuf,
}

pub fn load_bundle(dir: &Path) -> Result<Bundle> {
    let dir = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join("config.json");
    let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let spec = parse_spec(&text, &path)?;
    let root = spec.root().as_ref().ok_or_else(|| Error::Config {
        path: path.clone(),
        msg: "root.path is missing".into(),
    })?;
    let rootfs = dir.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs).map_err(|e| Error::Config {
        path: path.clone(),
        msg: format!("rootfs {}: {e}", rootfs.display()),
    })?;
    if !rootfs.is_dir() {
        return Err(Error::Config {
            path,
            msg: format!("rootfs {} is not a directory", rootfs.display()),
        });
    }
    Ok(Bundle { dir, spec, rootfs })
}

/// Parse and validate a config; errors name `path`.
pub fn parse_spec(text: &[u8], path: &Path) -> Result<Spec> {
    let spec: Spec = serde_json::from_slice(text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    validate(&spec).map_err(|msg| Error::Config {
        path: path.to_path_buf(),
        msg,
    })?;
    Ok(spec)
}

/// Semantic checks that serde cannot do.
pub fn validate(spec: &Spec) -> std::result::Result<(), String> {
    let version = spec.version();
    let major = version.split('.').next().unwrap_or("");
    if major != "1" {
        return Err(format!(
            "unsupported ociVersion {version:?} (hullc supports 1.x)"
        ));
    }
    let process = spec.process().as_ref();
    if let Some(p) = process {
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err("process.args must not be empty".into());
        }
        if !p.cwd().is_absolute() {
            return Err(format!(
                "process.cwd {:?} must be an absolute path",
                p.cwd()
            ));
        }
    } else {
        return Err("process is missing".into());
    }
    for m in spec.mounts().iter().flatten() {
        check_destination(m.destination())?;
    }
    if let Some(linux) = spec.linux() {
        for p in linux
            .masked_paths()
            .iter()
            .flatten()
            .chain(linux.readonly_paths().iter().flatten())
        {
            if !p.starts_with('/') {
                return Err(format!("path {p:?} must be absolute"));
            }
        }
        let has_user_ns =
            linux.namespaces().iter().flatten().any(|n| {
                n.typ() == oci_spec::runtime::LinuxNamespaceType::User && n.path().is_none()
            });
        let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty());
        if has_user_ns && !has_maps {
            return Err("a new user namespace needs linux.uidMappings and gidMappings".into());
        }
        let mut seen = std::collections::HashSet::new();
        for n in linux.namespaces().iter().flatten() {
            if !seen.insert(n.typ()) {
                return Err(format!("namespace {} listed twice", n.typ()));
            }
        }
    }
    crate::security::host_namespaces::validate(spec)?;
    Ok(())
}

/// A mount destination must stay inside the rootfs when read lexically:
/// `..` may not climb above `/`. (Symlinks are resolved inside the rootfs at
/// mount time, see rootfs::paths.)
pub fn check_destination(dest: &Path) -> std::result::Result<(), String> {
    let mut depth: i32 = 0;
    for c in dest.components() {
        match c {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!(
                        "mount destination {} escapes the rootfs",
                        dest.display()
                    ));
                }
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_json(version: &str) -> String {
        format!(
            r#"{{"ociVersion":"{version}","root":{{"path":"rootfs"}},
            "process":{{"args":["sh"],"cwd":"/","user":{{"uid":0,"gid":0}}}},
            "linux":{{"namespaces":[{{"type":"mount"}}]}}}}"#
        )
    }

    #[test]
    fn accepts_1x() {
        assert!(parse_spec(spec_json("1.2.0").as_bytes(), Path::new("c.json")).is_ok());
        assert!(parse_spec(spec_json("1.0.2-dev").as_bytes(), Path::new("c.json")).is_ok());
    }

    #[test]
    fn rejects_major_2_naming_the_file() {
        let err = parse_spec(spec_json("2.0.0").as_bytes(), Path::new("/b/config.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/b/config.json") && err.contains("2.0.0"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn malformed_json_is_one_line() {
        let err = parse_spec(b"{\"ociVersion\": ", Path::new("config.json"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("config.json: invalid config"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn sysctls_must_be_namespaced() {
        let with = |sysctl: &str, ns: &str| {
            format!(
                r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
                "process":{{"args":["sh"],"cwd":"/","user":{{"uid":0,"gid":0}}}},
                "linux":{{"namespaces":[{{"type":"mount"}},{{"type":"{ns}"}}],"sysctl":{{"{sysctl}":"1"}}}}}}"#
            )
        };
        let p = Path::new("config.json");
        assert!(parse_spec(with("net.ipv4.ip_forward", "network").as_bytes(), p).is_ok());
        assert!(parse_spec(with("kernel.shmmax", "ipc").as_bytes(), p).is_ok());
        let e = parse_spec(with("net.ipv4.ip_forward", "ipc").as_bytes(), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("shares the host's net namespace"), "{e}");
        let e = parse_spec(with("vm.swappiness", "ipc").as_bytes(), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not in a separate kernel namespace"), "{e}");
    }

    #[test]
    fn escaping_destination() {
        assert!(check_destination(Path::new("/../../etc")).is_err());
        assert!(check_destination(Path::new("/a/../../x")).is_err());
        assert!(check_destination(Path::new("/a/../b")).is_ok());
        assert!(check_destination(Path::new("/proc")).is_ok());
    }
}

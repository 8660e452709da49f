//! Which runtime binary and root a container uses: the create request's
//! options (containerd's runc `Options`, or CRI/ctr `runtimeoptions` naming a
//! TOML file), then `HULL_SHIM_RUNTIME` / `HULL_SHIM_RUNTIME_ROOT`, then
//! `hullc` next to the shim binary or on PATH.

use std::path::{Path, PathBuf};

use containerd_shim_protos::shim::oci::Options as RuncOptions;
use protobuf::well_known_types::any::Any;
use protobuf::{CodedInputStream, Message};
use serde_json::json;

use crate::error::{Error, Result};

pub const RUNTIME_ENV: &str = "HULL_SHIM_RUNTIME";
pub const ROOT_ENV: &str = "HULL_SHIM_RUNTIME_ROOT";
pub const DEFAULT_BINARY: &str = "hullc";
pub const DEFAULT_ROOT: &str = "/run/hull/runtime";
/// Where the shim records its runtime choice in the bundle, for `delete`.
pub const SAVED: &str = "hull-shim.json";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeChoice {
    pub binary: PathBuf,
    pub root: PathBuf,
    pub systemd_cgroup: bool,
    pub no_pivot: bool,
}

#[derive(Debug, Default)]
struct Given {
    binary: String,
    root: String,
    systemd_cgroup: bool,
    no_pivot: bool,
}

fn type_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Decode the create options, if any.
fn decode(opts: Option<&Any>) -> Result<Given> {
    let mut g = Given::default();
    let Some(any) = opts else { return Ok(g) };
    match type_name(&any.type_url) {
        "" => {}
        "containerd.runc.v1.Options" | "containerd.linux.runc.RuncOptions" => {
            let o = RuncOptions::parse_from_bytes(&any.value)
                .map_err(|e| Error::InvalidArgument(format!("bad runc options: {e}")))?;
            g.binary = o.binary_name;
            g.root = o.root;
            g.systemd_cgroup = o.systemd_cgroup;
            g.no_pivot = o.no_pivot_root;
        }
        "runtimeoptions.v1.Options" => {
            let (path, body) = decode_runtimeoptions(&any.value)?;
            let text = if !body.is_empty() {
                body
            } else if !path.is_empty() {
                std::fs::read_to_string(&path)
                    .map_err(|e| Error::io(format!("read runtime config {path}"), e))?
            } else {
                String::new()
            };
            for (k, v) in toml_pairs(&text) {
                match k.as_str() {
                    "BinaryName" | "binary_name" => g.binary = v,
                    "Root" | "root" => g.root = v,
                    "SystemdCgroup" | "systemd_cgroup" => g.systemd_cgroup = v == "true",
                    "NoPivotRoot" | "no_pivot_root" => g.no_pivot = v == "true",
                    _ => {}
                }
            }
        }
        other => {
            return Err(Error::InvalidArgument(format!(
                "unsupported create options type {other:?}"
            )))
        }
    }
    Ok(g)
}

/// runtimeoptions.v1.Options { type_url = 1; config_path = 2; config_body = 3 }
/// (not in containerd-shim-protos; three string fields read by hand).
fn decode_runtimeoptions(bytes: &[u8]) -> Result<(String, String)> {
    let bad = |e: protobuf::Error| Error::InvalidArgument(format!("bad runtime options: {e}"));
    let mut s = CodedInputStream::from_bytes(bytes);
    let (mut path, mut body) = (String::new(), String::new());
    while let Some(tag) = s.read_raw_tag_or_eof().map_err(bad)? {
        match tag {
            0x12 => path = s.read_string().map_err(bad)?,
            0x1a => body = s.read_string().map_err(bad)?,
            t => s
                .skip_field(protobuf::rt::WireType::new(t & 7).ok_or_else(|| {
                    Error::InvalidArgument("bad runtime options: wire type".into())
                })?)
                .map_err(bad)?,
        }
    }
    Ok((path, body))
}

/// `key = "value"` / `key = true` lines of a flat TOML file.
fn toml_pairs(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') || l.starts_with('[') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

fn default_binary() -> PathBuf {
    if let Ok(b) = std::env::var(RUNTIME_ENV) {
        if !b.is_empty() {
            return PathBuf::from(b);
        }
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let p = dir.join(DEFAULT_BINARY);
            if p.exists() {
                return p;
            }
        }
    }
    PathBuf::from(DEFAULT_BINARY)
}

fn default_root(namespace: &str) -> PathBuf {
    let base = std::env::var(ROOT_ENV)
        .ok()
        .filter(|r| !r.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
    base.join(namespace)
}

pub fn choose(opts: Option<&Any>, namespace: &str) -> Result<RuntimeChoice> {
    let g = decode(opts)?;
    Ok(RuntimeChoice {
        binary: if g.binary.is_empty() {
            default_binary()
        } else {
            PathBuf::from(g.binary)
        },
        root: if g.root.is_empty() {
            default_root(namespace)
        } else {
            PathBuf::from(g.root).join(namespace)
        },
        systemd_cgroup: g.systemd_cgroup,
        no_pivot: g.no_pivot,
    })
}

pub fn save(bundle: &Path, c: &RuntimeChoice) -> Result<()> {
    let v = json!({
        "binary": c.binary,
        "root": c.root,
        "systemd_cgroup": c.systemd_cgroup,
    });
    let p = bundle.join(SAVED);
    crate::private::write(&p, v.to_string())
        .map_err(|e| Error::io(format!("write {}", p.display()), e))
}

pub fn load(bundle: &Path, namespace: &str) -> RuntimeChoice {
    let fallback = || RuntimeChoice {
        binary: default_binary(),
        root: default_root(namespace),
        ..Default::default()
    };
    let Ok(text) = std::fs::read_to_string(bundle.join(SAVED)) else {
        return fallback();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return fallback();
    };
    let mut c = fallback();
    if let Some(b) = v.get("binary").and_then(|b| b.as_str()) {
        c.binary = PathBuf::from(b);
    }
    if let Some(r) = v.get("root").and_then(|b| b.as_str()) {
        c.root = PathBuf::from(r);
    }
    c.systemd_cgroup = v
        .get("systemd_cgroup")
        .and_then(|b| b.as_bool())
        .unwrap_or(false);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_options_pick_binary_and_root() {
        let mut o = RuncOptions::new();
        o.binary_name = "/usr/sbin/runc".into();
        o.root = "/run/x".into();
        let mut any = Any::new();
        any.type_url = "containerd.runc.v1.Options".into();
        any.value = o.write_to_bytes().unwrap();
        let c = choose(Some(&any), "ns1").unwrap();
        assert_eq!(c.binary, PathBuf::from("/usr/sbin/runc"));
        assert_eq!(c.root, PathBuf::from("/run/x/ns1"));
    }

    #[test]
    fn runtimeoptions_with_config_body() {
        // type_url (1) and config_body (3) by hand.
        let body = "# comment\nBinaryName = \"/usr/sbin/runc\"\nSystemdCgroup = false\n";
        let mut v = vec![0x0a, 1, b'x', 0x1a, body.len() as u8];
        v.extend_from_slice(body.as_bytes());
        let mut any = Any::new();
        any.type_url = "runtimeoptions.v1.Options".into();
        any.value = v;
        let c = choose(Some(&any), "default").unwrap();
        assert_eq!(c.binary, PathBuf::from("/usr/sbin/runc"));
    }

    #[test]
    fn unknown_options_are_rejected() {
        let mut any = Any::new();
        any.type_url = "example.Unknown".into();
        assert!(choose(Some(&any), "default").is_err());
    }

    #[test]
    fn save_and_load() {
        let d = tempfile::tempdir().unwrap();
        let c = RuntimeChoice {
            binary: "/usr/sbin/runc".into(),
            root: "/run/r/ns".into(),
            ..Default::default()
        };
        save(d.path(), &c).unwrap();
        let l = load(d.path(), "ns");
        assert_eq!(l.binary, c.binary);
        assert_eq!(l.root, c.root);
    }
}

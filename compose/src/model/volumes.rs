//! A service's `volumes`: the short syntax `[SOURCE:]TARGET[:MODE]` and the
//! long syntax, both read into the long form. A source that starts with
//! `/`, `.` or `~` is a bind mount (resolved against the project directory
//! later); any other source names a volume; no source is an anonymous volume.

use serde::{Deserialize, Serialize};

use super::syntax::{opt_bool, opt_num, opt_scalar, ShortSyntax};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    #[serde(rename = "type")]
    pub kind: MountKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub target: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_bool"
    )]
    pub read_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<TmpfsOptions>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Volume,
    Bind,
    Tmpfs,
    Npipe,
    Cluster,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_bool"
    )]
    pub create_host_path: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeOptions {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_bool"
    )]
    pub nocopy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subpath: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TmpfsOptions {
    #[serde(
        default,
        deserialize_with = "opt_scalar",
        skip_serializing_if = "Option::is_none"
    )]
    pub size: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_num"
    )]
    pub mode: Option<u32>,
}

/// Whether a short-syntax source is a host path rather than a volume name.
pub fn is_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~')
}

impl ShortSyntax for Mount {
    const EXPECTING: &'static str = "a volume (\"[SOURCE:]TARGET[:MODE]\") or a mapping";

    fn parse_short(s: &str) -> Result<Vec<Mount>, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let (source, target, mode) = match parts.as_slice() {
            [t] => (None, *t, None),
            [a, b] if b.starts_with('/') => (Some(*a), *b, None),
            [t, m] => (None, *t, Some(*m)),
            [a, b, m] => (Some(*a), *b, Some(*m)),
            _ => return Err(format!("invalid volume {s:?}")),
        };
        if target.is_empty() || !target.starts_with('/') {
            return Err(format!(
                "invalid volume {s:?}: the target must be an absolute path"
            ));
        }
        let mut read_only = None;
        let mut selinux = None;
        let mut propagation = None;
        let mut nocopy = None;
        for opt in mode.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
            match opt {
                "ro" => read_only = Some(true),
                "rw" => {}
                "z" | "Z" => selinux = Some(opt.to_string()),
                "nocopy" => nocopy = Some(true),
                "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                    propagation = Some(opt.to_string())
                }
                "cached" | "delegated" | "consistent" => {}
                other => return Err(format!("invalid mode {other:?} in volume {s:?}")),
            }
        }
        let mount = match source {
            Some(src) if is_path(src) => Mount {
                kind: MountKind::Bind,
                source: Some(src.to_string()),
                target: target.to_string(),
                read_only,
                consistency: None,
                bind: Some(BindOptions {
                    propagation,
                    create_host_path: Some(true),
                    selinux,
                }),
                volume: None,
                tmpfs: None,
            },
            source => Mount {
                kind: MountKind::Volume,
                source: source.map(str::to_string),
                target: target.to_string(),
                read_only,
                consistency: None,
                bind: None,
                volume: Some(VolumeOptions {
                    nocopy,
                    subpath: None,
                }),
                tmpfs: None,
            },
        };
        Ok(vec![mount])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Mount {
        Mount::parse_short(s).unwrap().remove(0)
    }

    #[test]
    fn short_forms() {
        let m = one("data:/data");
        assert_eq!(
            (m.kind, m.source.as_deref(), m.target.as_str()),
            (MountKind::Volume, Some("data"), "/data")
        );
        let m = one("./sub:/sub:ro");
        assert_eq!(
            (m.kind, m.source.as_deref(), m.read_only),
            (MountKind::Bind, Some("./sub"), Some(true))
        );
        let m = one("/cache");
        assert_eq!(
            (m.kind, m.source, m.target.as_str()),
            (MountKind::Volume, None, "/cache")
        );
        let m = one("/cache:ro");
        assert_eq!((m.source, m.read_only), (None, Some(true)));
        let m = one("~/x:/x:rw,z");
        assert_eq!(m.bind.and_then(|b| b.selinux).as_deref(), Some("z"));
    }

    #[test]
    fn bad_short_forms() {
        for s in ["data:rel", "a:/b:xx", "a:b:c:d", ""] {
            assert!(Mount::parse_short(s).is_err(), "{s}");
        }
    }
}

//! `RUN --mount=type=cache,target=/root/.cache,sharing=locked` as a typed value.

use crate::error::ErrorKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    Shared,
    Private,
    Locked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountType,
    /// Where it appears in the build container. Required except for secret
    /// and ssh mounts, which have default locations.
    pub target: Option<String>,
    pub source: Option<String>,
    /// Stage or image the source comes from (bind and cache mounts).
    pub from: Option<String>,
    pub readonly: bool,
    pub id: Option<String>,
    pub sharing: Sharing,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub required: bool,
    pub size: Option<String>,
    /// Secret mounts: expose the secret as this environment variable.
    pub env: Option<String>,
}

fn bad(problem: String) -> ErrorKind {
    ErrorKind::BadFlag {
        flag: "mount".into(),
        problem,
    }
}

fn parse_bool(key: &str, value: Option<&str>) -> Result<bool, ErrorKind> {
    match value {
        None => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(bad(format!("has {key}={v}: expected true or false"))),
    }
}

fn parse_number(key: &str, value: &str, radix: u32) -> Result<u32, ErrorKind> {
    u32::from_str_radix(value, radix).map_err(|_| bad(format!("has {key}={value}: not a number")))
}

/// Expands the variables in one mount option value.
pub type Expand<'a> = &'a dyn Fn(&str) -> Result<String, ErrorKind>;

/// Options that stay text, so a `$VAR` in them can wait for substitution.
const TEXT_OPTIONS: [&str; 9] = [
    "target",
    "dst",
    "destination",
    "source",
    "src",
    "from",
    "id",
    "size",
    "env",
];

impl Mount {
    /// Parses the value of one `--mount=` flag before substitution: text
    /// options keep `$VAR` as written, other options holding one are left
    /// at their defaults until [`Mount::parse_with`] runs with the build's
    /// variables.
    pub fn parse(spec: &str) -> Result<Mount, ErrorKind> {
        Self::parse_with(spec, None)
    }

    /// Parses a mount spec, expanding each option value with `expand` (as
    /// BuildKit does) when given.
    pub fn parse_with(spec: &str, expand: Option<Expand<'_>>) -> Result<Mount, ErrorKind> {
        let mut kind = MountType::Bind;
        let mut m = Mount {
            kind,
            target: None,
            source: None,
            from: None,
            readonly: false,
            id: None,
            sharing: Sharing::Shared,
            mode: None,
            uid: None,
            gid: None,
            required: false,
            size: None,
            env: None,
        };
        let mut readonly: Option<bool> = None;
        for field in spec.split(',').filter(|f| !f.is_empty()) {
            let (key, value) = match field.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_string())),
                None => (field.trim().to_ascii_lowercase(), None),
            };
            let value = match (value, expand) {
                (Some(v), Some(expand)) => Some(expand(&v)?),
                (Some(v), None) if v.contains('$') && !TEXT_OPTIONS.contains(&key.as_str()) => {
                    continue
                }
                (v, _) => v,
            };
            let value = value.as_deref();
            let need = |v: Option<&str>| -> Result<String, ErrorKind> {
                v.map(str::to_string)
                    .ok_or_else(|| bad(format!("has {key} without a value")))
            };
            match key.as_str() {
                "type" => {
                    kind = match need(value)?.as_str() {
                        "bind" => MountType::Bind,
                        "cache" => MountType::Cache,
                        "tmpfs" => MountType::Tmpfs,
                        "secret" => MountType::Secret,
                        "ssh" => MountType::Ssh,
                        other => return Err(bad(format!("has unknown type {other:?}"))),
                    }
                }
                "target" | "dst" | "destination" => m.target = Some(need(value)?),
                "source" | "src" => m.source = Some(need(value)?),
                "from" => m.from = Some(need(value)?),
                "id" => m.id = Some(need(value)?),
                "size" => m.size = Some(need(value)?),
                "env" => m.env = Some(need(value)?),
                "ro" | "readonly" => readonly = Some(parse_bool(&key, value)?),
                "rw" | "readwrite" => readonly = Some(!parse_bool(&key, value)?),
                "required" => m.required = parse_bool(&key, value)?,
                "sharing" => {
                    m.sharing = match need(value)?.as_str() {
                        "shared" => Sharing::Shared,
                        "private" => Sharing::Private,
                        "locked" => Sharing::Locked,
                        other => return Err(bad(format!("has unknown sharing {other:?}"))),
                    }
                }
                "mode" => m.mode = Some(parse_number(&key, &need(value)?, 8)?),
                "uid" => m.uid = Some(parse_number(&key, &need(value)?, 10)?),
                "gid" => m.gid = Some(parse_number(&key, &need(value)?, 10)?),
                other => return Err(bad(format!("has unknown option {other:?}"))),
            }
        }
        m.kind = kind;
        // Bind mounts are read-only unless `rw` is given; the others writable.
        m.readonly = readonly.unwrap_or(kind == MountType::Bind);
        let target_optional = matches!(kind, MountType::Secret | MountType::Ssh);
        if m.target.is_none() && !target_optional {
            return Err(bad("needs target=<path>".into()));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_mount_with_options() {
        let m = Mount::parse(
            "type=cache,target=/root/.cache/go-build,sharing=locked,id=go,uid=1000,mode=0755",
        )
        .unwrap();
        assert_eq!(m.kind, MountType::Cache);
        assert_eq!(m.target.as_deref(), Some("/root/.cache/go-build"));
        assert_eq!(m.sharing, Sharing::Locked);
        assert_eq!(m.id.as_deref(), Some("go"));
        assert_eq!(m.uid, Some(1000));
        assert_eq!(m.mode, Some(0o755));
        assert!(!m.readonly);
    }

    #[test]
    fn bind_is_default_type_and_read_only_unless_rw() {
        let m = Mount::parse("target=/src,from=builder,source=/out").unwrap();
        assert_eq!(m.kind, MountType::Bind);
        assert!(m.readonly);
        assert_eq!(m.from.as_deref(), Some("builder"));
        assert!(!Mount::parse("dst=/src,rw").unwrap().readonly);
    }

    #[test]
    fn secret_and_ssh_need_no_target() {
        let s = Mount::parse("type=secret,id=aws,required,env=AWS_KEY").unwrap();
        assert!(s.required);
        assert_eq!(s.env.as_deref(), Some("AWS_KEY"));
        assert!(Mount::parse("type=ssh").is_ok());
    }

    #[test]
    fn variables_wait_for_substitution() {
        let m = Mount::parse("type=cache,target=$DIR,uid=$UID,id=${ID}").unwrap();
        assert_eq!(
            (m.target.as_deref(), m.uid, m.id.as_deref()),
            (Some("$DIR"), None, Some("${ID}"))
        );
        let expand = |v: &str| {
            Ok(v.replace("$DIR", "/c")
                .replace("$UID", "7")
                .replace("${ID}", "x"))
        };
        let m =
            Mount::parse_with("type=cache,target=$DIR,uid=$UID,id=${ID}", Some(&expand)).unwrap();
        assert_eq!(
            (m.target.as_deref(), m.uid, m.id.as_deref()),
            (Some("/c"), Some(7), Some("x"))
        );
    }

    #[test]
    fn errors() {
        for spec in [
            "type=cache",
            "type=nfs,target=/x",
            "target=/x,color=red",
            "target=/x,uid=me",
            "target=/x,ro=maybe",
        ] {
            assert!(Mount::parse(spec).is_err(), "{spec}");
        }
    }
}

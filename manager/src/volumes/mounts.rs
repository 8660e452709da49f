//! `-v`, `--mount` and `--tmpfs` as Docker reads them, and the OCI mounts
//! they become.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{valid_name, Volumes};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A named volume, or (None) a new anonymous one.
    Volume(Option<String>),
    Bind(PathBuf),
    Tmpfs,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MountSpec {
    pub source: Source,
    pub dest: String,
    pub readonly: bool,
    /// Extra mount options (tmpfs size/mode, bind propagation).
    pub options: Vec<String>,
    /// `-v /host:/c` makes a missing host directory; `--mount` refuses.
    pub create_host_dir: bool,
    /// `volume-nocopy` / `nocopy`: do not seed from the image.
    pub nocopy: bool,
}

fn bad(what: &str, s: &str, why: &str) -> Error {
    Error::InvalidArgument(format!("invalid {what} {s:?}: {why}"))
}

fn check_dest(what: &str, s: &str, dest: &str) -> Result<()> {
    if !dest.starts_with('/') {
        return Err(bad(what, s, "the destination must be an absolute path"));
    }
    if Path::new(dest).components().count() < 2 {
        return Err(bad(what, s, "the destination cannot be /"));
    }
    if dest.split('/').any(|c| c == "..") {
        return Err(bad(what, s, "the destination may not contain '..'"));
    }
    Ok(())
}

/// `-v [SRC:]DEST[:OPTS]`: SRC absolute → bind; a name → named volume; none
/// → anonymous volume. OPTS: ro, rw, nocopy, z, Z (labels are ignored).
pub fn parse_volume_flag(s: &str) -> Result<MountSpec> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dest, opts) = match parts.as_slice() {
        [d] => (None, *d, ""),
        [a, b] if b.starts_with('/') => (Some(*a), *b, ""),
        [d, o] => (None, *d, *o),
        [a, b, o] => (Some(*a), *b, *o),
        _ => return Err(bad("volume specification", s, "too many colons")),
    };
    check_dest("volume specification", s, dest)?;
    let mut m = MountSpec {
        source: Source::Volume(None),
        dest: dest.to_string(),
        readonly: false,
        options: Vec::new(),
        create_host_dir: true,
        nocopy: false,
    };
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => m.readonly = true,
            "rw" => m.readonly = false,
            "nocopy" => m.nocopy = true,
            "z" | "Z" => {}
            "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave" => {
                m.options.push(o.to_string())
            }
            _ => {
                return Err(bad(
                    "volume specification",
                    s,
                    &format!("unknown option {o:?}"),
                ))
            }
        }
    }
    m.source = match src {
        None => Source::Volume(None),
        Some(p) if p.starts_with('/') => Source::Bind(PathBuf::from(p)),
        Some(n) if valid_name(n) => Source::Volume(Some(n.to_string())),
        Some(n) => {
            return Err(bad(
                "volume specification",
                s,
                &format!("{n:?} is not an absolute host path nor a valid volume name"),
            ))
        }
    };
    Ok(m)
}

/// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,…]`.
pub fn parse_mount_flag(s: &str) -> Result<MountSpec> {
    let mut kind = "volume";
    let (mut src, mut dest, mut ro, mut nocopy) = (None, None, false, false);
    let mut options = Vec::new();
    for kv in s.split(',').filter(|x| !x.is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .map(|(k, v)| (k, Some(v)))
            .unwrap_or((kv, None));
        let flag = |v: Option<&str>| -> Result<bool> {
            match v {
                None | Some("true") | Some("1") => Ok(true),
                Some("false") | Some("0") => Ok(false),
                Some(x) => Err(bad("mount", s, &format!("invalid value {x:?} for {k}"))),
            }
        };
        match (k, v) {
            ("type", Some(t)) => kind = t,
            ("source" | "src", Some(v)) => src = Some(v.to_string()),
            ("destination" | "dst" | "target", Some(v)) => dest = Some(v.to_string()),
            ("readonly" | "ro", v) => ro = flag(v)?,
            ("volume-nocopy", v) => nocopy = flag(v)?,
            ("bind-propagation", Some(p)) => options.push(p.to_string()),
            ("tmpfs-size", Some(v)) => options.push(format!("size={v}")),
            ("tmpfs-mode", Some(v)) => options.push(format!("mode={v}")),
            _ => return Err(bad("mount", s, &format!("unexpected key {k:?}"))),
        }
    }
    let dest = dest.ok_or_else(|| bad("mount", s, "target is required"))?;
    check_dest("mount", s, &dest)?;
    let source = match (kind, src) {
        ("bind", Some(p)) if p.starts_with('/') => {
            if !Path::new(&p).exists() {
                return Err(Error::InvalidArgument(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {p}"
                )));
            }
            Source::Bind(PathBuf::from(p))
        }
        ("bind", _) => return Err(bad("mount", s, "bind needs an absolute source path")),
        ("volume", None) => Source::Volume(None),
        ("volume", Some(n)) if valid_name(&n) => Source::Volume(Some(n)),
        ("volume", Some(n)) => return Err(bad("mount", s, &format!("invalid volume name {n:?}"))),
        ("tmpfs", None) => Source::Tmpfs,
        ("tmpfs", Some(_)) => return Err(bad("mount", s, "tmpfs takes no source")),
        (t, _) => return Err(bad("mount", s, &format!("unknown type {t:?}"))),
    };
    Ok(MountSpec {
        source,
        dest,
        readonly: ro,
        options,
        create_host_dir: false,
        nocopy,
    })
}

/// `--tmpfs /path[:opts]`.
pub fn parse_tmpfs_flag(s: &str) -> Result<MountSpec> {
    let (dest, opts) = s.split_once(':').unwrap_or((s, ""));
    check_dest("tmpfs", s, dest)?;
    let mut options: Vec<String> = Vec::new();
    let mut readonly = false;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => readonly = true,
            "rw" => readonly = false,
            o => options.push(o.to_string()),
        }
    }
    Ok(MountSpec {
        source: Source::Tmpfs,
        dest: dest.to_string(),
        readonly,
        options,
        create_host_dir: false,
        nocopy: true,
    })
}

/// What a container's volume mounts came to.
#[derive(Debug, Default)]
pub struct Plan {
    /// OCI mount entries, parents before children.
    pub oci: Vec<Value>,
    /// (volume name, destination) to seed from the image.
    pub seeds: Vec<(String, String)>,
    /// Volumes made now (removed again if the container cannot be made).
    pub created: Vec<String>,
    /// Anonymous volumes of the container (`rm -v` removes them).
    pub anonymous: Vec<String>,
}

/// Turn the user's mounts plus the image's VOLUMEs (those the user did
/// not cover) into OCI mounts, creating volumes as needed.
pub fn plan(
    vols: &Volumes,
    ns: &str,
    specs: &[MountSpec],
    image_volumes: &[String],
) -> Result<Plan> {
    let mut specs = specs.to_vec();
    for d in image_volumes {
        let d = d.trim_end_matches('/');
        if !d.is_empty() && !specs.iter().any(|s| s.dest.trim_end_matches('/') == d) {
            specs.push(parse_volume_flag(d)?);
        }
    }
    for (i, s) in specs.iter().enumerate() {
        if specs[..i]
            .iter()
            .any(|o| o.dest.trim_end_matches('/') == s.dest.trim_end_matches('/'))
        {
            return Err(Error::InvalidArgument(format!(
                "Duplicate mount point: {}",
                s.dest
            )));
        }
    }
    specs.sort_by_key(|s| Path::new(&s.dest).components().count());
    let mut plan = Plan::default();
    let result = (|| -> Result<()> {
        for s in &specs {
            let rw = if s.readonly { "ro" } else { "rw" };
            match &s.source {
                Source::Volume(name) => {
                    let (v, new) =
                        vols.create(ns, name.as_deref().unwrap_or(""), Default::default())?;
                    if new {
                        plan.created.push(v.name.clone());
                    }
                    if v.anonymous {
                        plan.anonymous.push(v.name.clone());
                    }
                    if !s.nocopy && !v.seeded {
                        plan.seeds.push((v.name.clone(), s.dest.clone()));
                    }
                    let mut o = vec!["rbind".to_string(), rw.to_string()];
                    o.extend(s.options.iter().cloned());
                    plan.oci.push(json!({"destination": s.dest, "type": "bind",
                        "source": v.mountpoint, "options": o}));
                }
                Source::Bind(p) => {
                    if !p.exists() {
                        if !s.create_host_dir {
                            return Err(Error::InvalidArgument(format!(
                                "bind source path does not exist: {}",
                                p.display()
                            )));
                        }
                        crate::private::content_dir_all(p, crate::private::CONTENT_DIR_MODE)
                            .map_err(|e| {
                                Error::InvalidArgument(format!(
                                    "error while creating mount source path '{}': {e}",
                                    p.display()
                                ))
                            })?;
                    }
                    let mut o = vec!["rbind".to_string(), rw.to_string()];
                    o.extend(s.options.iter().cloned());
                    plan.oci.push(json!({"destination": s.dest, "type": "bind",
                        "source": p, "options": o}));
                }
                Source::Tmpfs => {
                    let mut o: Vec<String> = ["nosuid", "nodev", "noexec", rw]
                        .iter()
                        .map(|x| x.to_string())
                        .collect();
                    if !s.options.iter().any(|x| x.starts_with("mode=")) {
                        o.push("mode=1777".into());
                    }
                    o.extend(s.options.iter().cloned());
                    plan.oci.push(json!({"destination": s.dest, "type": "tmpfs",
                        "source": "tmpfs", "options": o}));
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        undo(vols, ns, &plan);
        return Err(e);
    }
    Ok(plan)
}

/// Remove the volumes `plan` created.
pub fn undo(vols: &Volumes, ns: &str, plan: &Plan) {
    for n in &plan.created {
        let _ = vols.remove(ns, n);
    }
}

/// Put the plan's mounts into a spec: they replace default mounts at the
/// same destination and come after the rest.
pub fn apply(spec: &mut Value, plan: &Plan) {
    let Some(mounts) = spec["mounts"].as_array_mut() else {
        spec["mounts"] = Value::Array(plan.oci.clone());
        return;
    };
    for m in &plan.oci {
        mounts.retain(|x| x["destination"] != m["destination"]);
    }
    mounts.extend(plan.oci.iter().cloned());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flags() {
        let m = parse_volume_flag("data:/srv:ro").unwrap();
        assert_eq!(m.source, Source::Volume(Some("data".into())));
        assert!(m.readonly && m.dest == "/srv");
        let m = parse_volume_flag("/host/dir:/c").unwrap();
        assert_eq!(m.source, Source::Bind("/host/dir".into()));
        assert!(m.create_host_dir);
        let m = parse_volume_flag("/anon").unwrap();
        assert_eq!(m.source, Source::Volume(None));
        let m = parse_volume_flag("/anon:ro").unwrap();
        assert!(m.readonly && m.source == Source::Volume(None));
        assert!(parse_volume_flag("data:rel").is_err());
        assert!(parse_volume_flag("da ta:/x").is_err());
        assert!(parse_volume_flag("data:/x:bogus").is_err());
        assert!(parse_volume_flag("data:/").is_err());
        assert!(parse_volume_flag("a:/b:ro:x").is_err());
    }

    #[test]
    fn mount_and_tmpfs_flags() {
        let m = parse_mount_flag("type=volume,source=v1,target=/data,readonly").unwrap();
        assert_eq!(m.source, Source::Volume(Some("v1".into())));
        assert!(m.readonly);
        let e = parse_mount_flag("type=bind,source=/definitely/missing/x,target=/x").unwrap_err();
        assert!(
            e.to_string().contains("bind source path does not exist"),
            "{e}"
        );
        assert!(parse_mount_flag("type=bind,source=/tmp,target=/x").is_ok());
        assert!(parse_mount_flag("type=nfs,target=/x").is_err());
        assert!(parse_mount_flag("source=v").is_err());
        let t = parse_tmpfs_flag("/run:size=1m,ro").unwrap();
        assert_eq!(t.source, Source::Tmpfs);
        assert!(t.readonly && t.options == ["size=1m"]);
    }

    #[test]
    fn plan_creates_covers_image_volumes_and_undoes() {
        let t = tempfile::tempdir().unwrap();
        let vols = Volumes::new(t.path());
        let specs = vec![
            parse_volume_flag("named:/data").unwrap(),
            parse_tmpfs_flag("/data/tmp").unwrap(),
        ];
        let p = plan(&vols, "ns", &specs, &["/data".into(), "/cache".into()]).unwrap();
        assert_eq!(p.oci.len(), 3, "{:?}", p.oci);
        assert_eq!(p.created.len(), 2);
        assert_eq!(p.anonymous.len(), 1);
        assert_eq!(p.seeds.len(), 2);
        // Parents first.
        assert_eq!(p.oci[2]["destination"], "/data/tmp");
        let dup = vec![
            parse_volume_flag("a:/x").unwrap(),
            parse_volume_flag("b:/x").unwrap(),
        ];
        assert!(plan(&vols, "ns", &dup, &[]).is_err());
        undo(&vols, "ns", &p);
        assert!(vols.list("ns").unwrap().is_empty());
        let mut spec = json!({"mounts": [{"destination": "/data", "type": "tmpfs"}]});
        apply(&mut spec, &p);
        assert_eq!(spec["mounts"].as_array().unwrap().len(), 3);
    }
}

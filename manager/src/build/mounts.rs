//! `RUN --mount`: what the build container gets mounted for one RUN.
//! `type=cache` is a directory of hulld's kept across builds (by `id`, else
//! by target); `type=bind` a read-only view of the context, another stage
//! or an image; `type=tmpfs` a tmpfs. Secrets and SSH agents are not
//! supported. Each becomes a `--mount` spec of the container.

use std::path::{Path, PathBuf};

use hull_dockerfile::mount::{Mount, MountType};
use hull_dockerfile::stages::Stages;
use sha2::{Digest as _, Sha256};

use super::rootpath;
use super::sources::{self, Found};
use super::stage::Builder;
use crate::error::{Error, Result};
use crate::volumes::seed::Mounted;

/// The mounts of one RUN: container `--mount` specs, what the cache key
/// must cover, and the views to keep mounted while it runs.
#[derive(Default)]
pub struct RunMounts {
    pub specs: Vec<String>,
    /// Digests of bind sources (their content decides the step).
    pub key: String,
    /// Targets (container paths) the runtime may create to mount over.
    pub targets: Vec<String>,
    pub views: Vec<Option<Mounted>>,
}

/// Where cache mounts live: `<root>/build-cache-mounts/<hash of id>`.
fn cache_dir(b: &Builder, id: &str) -> PathBuf {
    let h = hex::encode(Sha256::digest(id.as_bytes()));
    b.m.root.join("build-cache-mounts").join(&h[..32])
}

fn spec_path(p: &Path) -> Result<String> {
    let s = p.display().to_string();
    if s.contains(',') {
        return Err(Error::InvalidArgument(format!(
            "RUN --mount: a source path with a comma is not supported: {s}"
        )));
    }
    Ok(s)
}

impl Builder {
    /// The container mounts for `mounts` of a RUN in a stage of `stages`.
    pub(super) fn run_mounts(
        &mut self,
        stages: &Stages,
        workdir: &str,
        mounts: &[Mount],
    ) -> Result<RunMounts> {
        let mut out = RunMounts::default();
        let mut bind_sources: Vec<Found> = Vec::new();
        for m in mounts {
            let target = m
                .target
                .as_deref()
                .ok_or_else(|| Error::InvalidArgument("RUN --mount needs a target".into()))?;
            let target = rootpath::absolute(workdir, target);
            let target = if target.len() > 1 {
                target.trim_end_matches('/').to_string()
            } else {
                target
            };
            match m.kind {
                MountType::Cache => {
                    let id = m.id.clone().unwrap_or_else(|| target.clone());
                    let dir = cache_dir(self, &id);
                    if !dir.exists() {
                        std::fs::create_dir_all(&dir)
                            .map_err(|e| Error::io(format!("create cache mount {id}"), e))?;
                        use std::os::unix::fs::PermissionsExt;
                        let mode = m.mode.unwrap_or(0o755);
                        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
                            .map_err(|e| Error::io("chmod cache mount", e))?;
                        let (uid, gid) = (m.uid.unwrap_or(0), m.gid.unwrap_or(0));
                        nix::unistd::chown(
                            &dir,
                            Some(nix::unistd::Uid::from_raw(uid)),
                            Some(nix::unistd::Gid::from_raw(gid)),
                        )
                        .map_err(|e| Error::io("chown cache mount", e.into()))?;
                    }
                    let mut spec = format!("type=bind,source={},target={target}", spec_path(&dir)?);
                    if m.readonly {
                        spec.push_str(",readonly");
                    }
                    out.specs.push(spec);
                }
                MountType::Bind => {
                    let root = match &m.from {
                        None => self.ctx.clone(),
                        Some(f) => {
                            let (at, view) = self.view_of(stages, f)?;
                            out.views.push(view);
                            at
                        }
                    };
                    let source = m.source.as_deref().unwrap_or("/");
                    let found = sources::expand(&root, source, "RUN --mount source")?;
                    let host = rootpath::resolve(&root, source, true)?;
                    bind_sources.extend(found);
                    out.specs.push(format!(
                        "type=bind,source={},target={target},readonly",
                        spec_path(&host)?
                    ));
                }
                MountType::Tmpfs => out.specs.push(format!("type=tmpfs,target={target}")),
                MountType::Secret | MountType::Ssh => {
                    return Err(Error::Unsupported(
                        "RUN --mount=type=secret and type=ssh are not supported".into(),
                    ))
                }
            }
            // The target and its parents, deepest first.
            let mut p = target.trim_start_matches('/').to_string();
            while !p.is_empty() {
                out.targets.push(p.clone());
                p = match p.rsplit_once('/') {
                    Some((parent, _)) => parent.to_string(),
                    None => String::new(),
                };
            }
        }
        out.key = sources::digest(&bind_sources)?;
        Ok(out)
    }
}

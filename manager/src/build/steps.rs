//! The steps that change files: RUN (in a container), COPY/ADD (from the
//! context, another stage or an image) and WORKDIR (the directory made),
//! each on a new snapshot of the stage's filesystem.

use std::path::{Path, PathBuf};

use hull_dockerfile::flags::NetworkMode;
use hull_dockerfile::instructions::{CommandLine, Copy, Run, Source};
use hull_dockerfile::stages::{FromRef, Stages};

use super::copy::{copy_into, make_dirs, Attrs};
use super::extract::{archive_kind, extract_into};
use super::rootpath;
use super::sources::{self, Found};
use super::stage::{ActiveSnapshot, Builder, StageState};
use super::{run, Event};
use crate::error::{Error, Result};
use crate::snapshots::Mount;
use crate::volumes::seed::Mounted;

/// A read-only view of snapshot `top` at `at` (None when `top` is "": an
/// empty filesystem, `at` made empty).
fn mount_view(b: &Builder, top: &str, at: &Path) -> Result<Option<Mounted>> {
    if top.is_empty() {
        crate::private::dir(at).map_err(|e| Error::io("create mount point", e))?;
        return Ok(None);
    }
    // `top` itself first, then its parents.
    let lowers = b.m.snapshots.lower_dirs(Some(top))?;
    let names: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
    let mount = if names.len() == 1 {
        Mount {
            kind: "bind".into(),
            source: names[0].clone(),
            options: vec!["ro".into(), "rbind".into()],
        }
    } else {
        Mount {
            kind: "overlay".into(),
            source: "overlay".into(),
            options: vec!["ro".into(), format!("lowerdir={}", names.join(":"))],
        }
    };
    Mounted::new(&[mount], at).map(Some)
}

/// A new snapshot on the stage's filesystem, mounted read-write.
fn prepare_mounted(
    b: &mut Builder,
    state: &StageState,
) -> Result<(ActiveSnapshot, Mounted, PathBuf)> {
    let key = b.unique("step");
    let snap = ActiveSnapshot::prepare(&b.m, key, &state.img.top())?;
    let at = b.scratch_path("root");
    let mounted = Mounted::new(&b.m.snapshots.mounts(&snap.key)?, &at)?;
    Ok((snap, mounted, at))
}

impl Builder {
    /// A read-only view of what `--from=f` names (a stage or an image),
    /// mounted in the workspace for the life of the returned guard.
    pub(super) fn view_of(
        &mut self,
        stages: &Stages,
        f: &str,
    ) -> Result<(PathBuf, Option<Mounted>)> {
        let top = match stages
            .from_ref(f, 0)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?
        {
            FromRef::Stage(j) => self.shared.built(j)?.img.top(),
            FromRef::Image(name) => self.base_image(&name)?.0.top(),
        };
        let at = self.scratch_path("from");
        let view = mount_view(self, &top, &at)?;
        Ok((at, view))
    }

    pub(super) fn run_step(
        &mut self,
        stages: &Stages,
        state: &mut StageState,
        r: &Run,
        text: &str,
    ) -> Result<()> {
        let shell = state.img.shell();
        let argv = match (r.script(), &r.command) {
            (Some(h), _) => shell.iter().cloned().chain([h.content.clone()]).collect(),
            (None, CommandLine::Shell(s)) if !r.heredocs.is_empty() => {
                let mut script = format!("{s}\n");
                for h in &r.heredocs {
                    script.push_str(&h.content);
                    script.push_str(&h.name);
                    script.push('\n');
                }
                shell.iter().cloned().chain([script]).collect()
            }
            (None, c) => c.argv(&shell),
        };
        if argv.is_empty() {
            return Err(Error::InvalidArgument("RUN has no command".into()));
        }
        let mounts = self.run_mounts(stages, &state.img.workdir(), &r.flags.mounts)?;
        let _views = mounts.views;
        let env: Vec<String> = state.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let network = match r.flags.network {
            Some(NetworkMode::None) => "none".to_string(),
            Some(NetworkMode::Host) => "host".to_string(),
            _ if self.opts.network.is_empty() => "bridge".to_string(),
            _ => self.opts.network.clone(),
        };
        let env_key = env.join("\n");
        let (specs, stubs) = (mounts.specs, mounts.targets);
        self.fs_step(state, text, &[&env_key, &mounts.key], |b, state| {
            let step = run::RunStep {
                parent: state.img.top(),
                config: state.img.doc.clone(),
                argv: argv.clone(),
                env,
                network,
                mounts: specs,
                stubs,
            };
            let index = b.index;
            let events = b.events();
            let output = move |stream: u32, data: Vec<u8>| {
                let _ = events.blocking_send(Event::Output {
                    index,
                    stream,
                    data,
                });
            };
            let (container, code) = run::run(&b.m, &b.ns, step, &output, &b.cancel)?;
            let snap = ActiveSnapshot {
                m: b.m.clone(),
                key: container.snapshot_key().to_string(),
            };
            if code != 0 {
                return Err(Error::FailedPrecondition(format!(
                    "The command '{}' returned a non-zero code: {code}",
                    argv.join(" ")
                )));
            }
            Ok((snap, container))
        })
    }

    pub(super) fn workdir_step(
        &mut self,
        state: &mut StageState,
        dir: &str,
        text: &str,
    ) -> Result<()> {
        let mut abs = rootpath::absolute(&state.img.workdir(), dir);
        if abs.len() > 1 {
            abs = abs.trim_end_matches('/').to_string();
        }
        state.img.set_workdir(&abs);
        self.fs_step(state, text, &[], |b, state| {
            let (snap, mounted, at) = prepare_mounted(b, state)?;
            make_dirs(&at, &abs, &Attrs::default())?;
            drop(mounted);
            Ok((snap, ()))
        })
    }

    pub(super) fn copy_step(
        &mut self,
        stages: &Stages,
        state: &mut StageState,
        c: &Copy,
        text: &str,
        add: bool,
    ) -> Result<()> {
        // Where the sources are read: the context, another stage, an image.
        let (root, what, _view) = match &c.flags.from {
            None => (self.ctx.clone(), "build context".to_string(), None),
            Some(f) => {
                let (at, view) = self.view_of(stages, f)?;
                (at, format!("stage or image {f:?}"), view)
            }
        };
        let mut found: Vec<Found> = Vec::new();
        // Downloads are copied as they are, never unpacked.
        let mut downloads = Vec::new();
        for s in &c.sources {
            match s {
                Source::Path(p)
                    if add && (p.starts_with("http://") || p.starts_with("https://")) =>
                {
                    let dir = self.scratch_path("download");
                    let f = super::fetch::download(p, c.flags.checksum.as_deref(), &dir)?;
                    downloads.push(f.path.clone());
                    found.push(f);
                }
                Source::Path(p) => found.extend(sources::expand(&root, p, &what)?),
                Source::Heredoc(h) => {
                    let dir = self.scratch_path("heredoc");
                    crate::private::dir(&dir).map_err(|e| Error::io("create heredoc dir", e))?;
                    let path = dir.join(&h.name);
                    std::fs::write(&path, &h.content).map_err(|e| Error::io("write heredoc", e))?;
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
                        .map_err(|e| Error::io("chmod heredoc", e))?;
                    found.push(Found {
                        path,
                        name: h.name.clone(),
                        is_dir: false,
                    });
                }
            }
        }
        let digest = sources::digest(&found)?;
        let mode = c
            .flags
            .mode()
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let chown = c.flags.chown.clone();
        let from_elsewhere = c.flags.from.is_some();
        let dest = rootpath::absolute(&state.img.workdir(), &c.dest);
        self.fs_step(state, text, &[&digest], |b, state| {
            let (snap, mounted, at) = prepare_mounted(b, state)?;
            let (uid, gid) = match &chown {
                None => (0, 0),
                Some(ch) => {
                    let spec = match &ch.group {
                        Some(g) => format!("{}:{g}", ch.user),
                        None => ch.user.clone(),
                    };
                    let (u, g, _) = crate::containers::spec::resolve_user(&at, &spec)
                        .map_err(|e| Error::InvalidArgument(format!("--chown={spec}: {e}")))?;
                    // A user alone owns with its UID as the GID too (Docker's rule).
                    (u, if ch.group.is_some() { g } else { u })
                }
            };
            let (archives, plain): (Vec<_>, Vec<_>) = found.iter().cloned().partition(|f| {
                add && !f.is_dir && !downloads.contains(&f.path) && archive_kind(&f.path).is_some()
            });
            for a in &archives {
                if let Some(kind) = archive_kind(&a.path) {
                    extract_into(&at, &a.path, kind, &dest)?;
                }
            }
            if !plain.is_empty() {
                let attrs = Attrs {
                    uid,
                    gid,
                    mode,
                    keep_owner: from_elsewhere && chown.is_none(),
                };
                copy_into(&at, &plain, &dest, &attrs)?;
            }
            drop(mounted);
            Ok((snap, ()))
        })
    }
}

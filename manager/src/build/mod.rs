//! `hull build` inside hulld (issue 15): a Dockerfile (read by the
//! `hull-dockerfile` front end) built into an image of the namespace's
//! store. FROM takes an image of the store (pulled when missing) or
//! nothing; COPY/ADD write into a snapshot of the previous step; RUN runs
//! in a container on one; each step that changes files becomes one layer
//! (the snapshot's upper directory as a reproducible tar); every step has
//! a cache key, and a step whose key is in the cache is not run again.
//!
//! Everything a build makes lives in `<state>/build/<id>` and in snapshots
//! and containers it removes again, whatever way the build ends.

pub mod cache;
mod context;
mod copy;
mod describe;
mod extract;
mod fetch;
mod image;
pub mod layer;
mod mounts;
mod rootpath;
mod run;
mod schedule;
mod sources;
mod stage;
mod steps;
mod xattrs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::images::Compression;
use crate::manager::Manager;

pub use image::Committed;
pub use run::remove_leftover_containers;

/// What the client asks for.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub tags: Vec<String>,
    /// Path of the Dockerfile in the context ("" = "Dockerfile").
    pub dockerfile_path: String,
    /// The Dockerfile's text, when not read from the context.
    pub dockerfile: Option<Vec<u8>>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub pull: bool,
    pub labels: BTreeMap<String, String>,
    /// RUN's network: bridge, host or none.
    pub network: String,
    pub compression: Compression,
    pub source_date_epoch: Option<i64>,
    /// Credentials by registry host for the images pulled (FROM, --from).
    pub registry_auths: BTreeMap<String, crate::registry::Credentials>,
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Started,
    Cached,
    Done,
}

/// Progress of a build.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Step {
        index: u32,
        total: u32,
        stage: String,
        instruction: String,
        state: StepState,
        seconds: f64,
    },
    Output {
        index: u32,
        stream: u32,
        data: Vec<u8>,
    },
}

/// Set when the client went away: the build stops at the next chance.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    own: Arc<AtomicBool>,
    parent: Option<Arc<AtomicBool>>,
}

impl Cancel {
    pub fn set(&self) {
        self.own.store(true, Ordering::SeqCst);
    }
    pub fn is_set(&self) -> bool {
        self.own.load(Ordering::SeqCst)
            || self
                .parent
                .as_ref()
                .is_some_and(|p| p.load(Ordering::SeqCst))
    }
    /// A cancel of its own that is also set when this one is (a build's
    /// stages stop when one of them fails, and when the client goes).
    fn child(&self) -> Cancel {
        Cancel {
            own: Arc::new(AtomicBool::new(false)),
            parent: Some(self.own.clone()),
        }
    }
    fn check(&self) -> Result<()> {
        if self.is_set() {
            return Err(Error::FailedPrecondition("build cancelled".into()));
        }
        Ok(())
    }
}

/// A build's private directory under `<state>/build`, removed (after
/// unmounting anything left under it) when dropped.
pub struct Workspace {
    pub dir: PathBuf,
}

impl Workspace {
    pub fn new(m: &Manager) -> Result<Workspace> {
        let base = m.state.join("build");
        crate::private::dir(&base)
            .map_err(|e| Error::io(format!("create {}", base.display()), e))?;
        let dir = base.join(&crate::ids::new_id()[..16]);
        crate::private::dir(&dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        Ok(Workspace { dir })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        unmount_under(&self.dir);
        let _ = crate::snapshots::remove_tree(&self.dir);
    }
}

/// Lazily unmount every mount below `dir` (deepest first).
fn unmount_under(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(hull_linux::mountinfo::unescape(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Remove what an earlier hulld's builds left (a crash mid-build): their
/// directories and their steps' snapshots.
pub fn remove_stale(state: &Path, snapshots: &crate::snapshots::Snapshotter) {
    let base = state.join("build");
    unmount_under(&base);
    let _ = crate::snapshots::remove_tree(&base);
    if let Ok(list) = snapshots.list() {
        for s in list {
            if s.name.starts_with(STEP_SNAPSHOT_PREFIX)
                && s.kind != crate::snapshots::Kind::Committed
            {
                let _ = snapshots.remove(&s.name);
            }
        }
    }
}

/// Name prefix of the snapshots COPY and WORKDIR steps write to.
pub const STEP_SNAPSHOT_PREFIX: &str = "build-";

/// Build: read the context tar from `context` (chunks; the channel closing
/// ends it), report progress on `events`, and name the image `opts.tags`
/// in `ns`.
pub async fn build(
    m: Arc<Manager>,
    ns: String,
    opts: BuildOptions,
    context: mpsc::Receiver<Vec<u8>>,
    events: mpsc::Sender<Event>,
    cancel: Cancel,
) -> Result<Committed> {
    if m.snapshots.driver() != crate::snapshots::Driver::Overlay {
        return Err(Error::Unsupported(
            "hull build needs the overlayfs snapshotter".into(),
        ));
    }
    let ws = Workspace::new(&m)?;
    let ctx_dir = context::receive(&ws, context, &cancel).await?;
    let m2 = m.clone();
    let ws = Arc::new(ws);
    let res = tokio::task::spawn_blocking(move || {
        let b = stage::Builder::new(m2, ns, opts, ctx_dir, ws, events, cancel)?;
        b.run()
    })
    .await
    .map_err(|e| Error::Internal(format!("build task: {e}")))?;
    res
}

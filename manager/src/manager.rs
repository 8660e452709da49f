//! The daemon's shared state: stores, metadata, snapshotter, registries,
//! event bus. gRPC services and the pull/push code work on this.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::content::ContentStore;
use crate::error::{IoContext, Result};
use crate::events::Bus;
use crate::metadata::Db;
use crate::registry::Registries;
use crate::snapshots::space::{Reserve, SpaceLimit};
use crate::snapshots::unpack::{ApplyOptions, WhiteoutMode};
use crate::snapshots::{overlay_supported, Driver, Snapshotter};

pub struct Manager {
    pub root: PathBuf,
    pub state: PathBuf,
    pub address: PathBuf,
    pub cfg: Arc<Config>,
    pub content: ContentStore,
    pub db: Arc<Db>,
    pub snapshots: Snapshotter,
    pub events: Bus,
    /// The ttrpc Events socket shims forward their events to, once served.
    pub events_ttrpc: std::sync::OnceLock<PathBuf>,
    pub registries: Registries,
    /// Held shared by pulls/imports, exclusively by garbage collection.
    pub gc_lock: tokio::sync::RwLock<()>,
    /// Running tasks (one shim each).
    pub tasks: crate::containers::Tasks,
    /// Serialises container creation and renames (name uniqueness).
    pub containers_lock: std::sync::Mutex<()>,
}

impl Manager {
    pub fn open(root: &Path, state: &Path, address: &Path, cfg: Config) -> Result<Arc<Manager>> {
        crate::private::dir(root).ctx(|| format!("create {}", root.display()))?;
        crate::private::dir(state).ctx(|| format!("create {}", state.display()))?;
        // What an older hulld made with open modes.
        crate::private::close_daemon_dirs(root, state);
        // hullc's --root (the runtime makes its own entries in it).
        let runtime = state.join("runtime");
        crate::private::dir(&runtime).ctx(|| format!("create {}", runtime.display()))?;
        let cfg = Arc::new(cfg);
        let content = ContentStore::open(&root.join("content"))?;
        let db = Arc::new(Db::open(&root.join("meta.redb"))?);
        let driver = match cfg.snapshotter.as_str() {
            "native" | "copy" | "native-copy" => Driver::Copy,
            "overlayfs" | "overlay" => Driver::Overlay,
            _ => {
                if overlay_supported(root) {
                    Driver::Overlay
                } else {
                    tracing::warn!("overlayfs cannot be mounted here; using the copy snapshotter");
                    Driver::Copy
                }
            }
        };
        let snapshots = Snapshotter::open(
            &root.join("snapshots").join(driver.name()),
            db.clone(),
            driver,
        )?;
        // Unfinished unpacks and stale ingests from a previous run.
        match snapshots.remove_stale_extracts() {
            Ok(v) if !v.is_empty() => tracing::info!(count = v.len(), "removed unfinished unpacks"),
            Ok(_) => {}
            Err(e) => tracing::warn!("listing unfinished unpacks: {e}"),
        }
        crate::build::remove_stale(state, &snapshots);
        let _ = snapshots.cleanup_orphans();
        let freed = content.cleanup_ingests(false);
        if freed > 0 {
            tracing::info!(bytes = freed, "removed stale ingests");
        }
        Ok(Arc::new(Manager {
            root: root.to_path_buf(),
            state: state.to_path_buf(),
            address: address.to_path_buf(),
            registries: Registries::new(cfg.clone()),
            cfg,
            content,
            db,
            snapshots,
            events: Bus::new(),
            events_ttrpc: std::sync::OnceLock::new(),
            gc_lock: tokio::sync::RwLock::new(()),
            tasks: Default::default(),
            containers_lock: std::sync::Mutex::new(()),
        }))
    }

    pub fn apply_options(&self) -> ApplyOptions {
        ApplyOptions {
            whiteouts: match self.snapshots.driver() {
                Driver::Overlay => WhiteoutMode::Overlay,
                Driver::Copy => WhiteoutMode::Delete,
            },
            allow_devices: self.cfg.allow_device_nodes,
            space: self.space_limit(),
        }
    }

    /// Free-space bounds from the config (validated at load).
    pub fn space_limit(&self) -> SpaceLimit {
        self.cfg.space_limit().unwrap_or(SpaceLimit {
            reserve: Reserve::Auto,
            max_file_size: 0,
        })
    }
}

//! The state directory: `<root>/<id>/state.json` and `exec.fifo`.

use super::status::{is_alive, Status};
use crate::cgroups::CgroupConfig;
use crate::error::{Error, IoContext, Result};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// What hullc remembers about a container between invocations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    /// Host pid of the container's init; 0 once it is known to be gone.
    pub pid: i32,
    /// Start time of `pid` (from /proc/<pid>/stat), to detect pid reuse.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339, UTC.
    pub created: String,
    pub owner: String,
    pub cgroup: CgroupConfig,
    /// The config the container was created from.
    pub config: Spec,
}

/// `--root`: one directory per container.
pub struct Store {
    root: PathBuf,
}

pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId(id.to_string()))
    }
}

impl Store {
    pub fn new(root: &Path) -> Self {
        Store {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Reserve `id`: mkdir is atomic, so two creates of one id cannot both win.
    pub fn reserve(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.root)
            .ctx(&self.root)?;
        let dir = self.dir(id);
        match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {
                // The container's user (maybe not root) must reach exec.fifo.
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).ctx(&dir)?;
                Ok(dir)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::AlreadyExists(id.to_string()))
            }
            Err(e) => Err(Error::io(dir, e)),
        }
    }

    pub fn load(&self, id: &str) -> Result<ContainerState> {
        validate_id(id)?;
        let path = self.dir(id).join(STATE_FILE);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()))
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        serde_json::from_slice(&text).map_err(|source| Error::StateFile { path, source })
    }

    /// Write state.json atomically (temp file + rename).
    pub fn save(&self, st: &ContainerState) -> Result<()> {
        let dir = self.dir(&st.id);
        let tmp = dir.join(".state.json.tmp");
        let text = serde_json::to_vec(st).map_err(|source| Error::Encode {
            what: "state.json",
            source,
        })?;
        std::fs::write(&tmp, text).ctx(&tmp)?;
        std::fs::rename(&tmp, dir.join(STATE_FILE)).ctx(dir.join(STATE_FILE))
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(dir, e)),
        }
    }

    pub fn ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        for entry in rd.flatten() {
            if entry.path().join(STATE_FILE).exists() {
                ids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        ids.sort();
        Ok(ids)
    }

    pub fn status(&self, st: &ContainerState) -> Status {
        if st.pid == 0 && self.dir(&st.id).join(EXEC_FIFO).exists() {
            return Status::Creating;
        }
        if !is_alive(st.pid, st.pid_start) {
            return Status::Stopped;
        }
        if self.dir(&st.id).join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        if crate::cgroups::open(&st.cgroup).is_ok_and(|cg| cg.is_frozen()) {
            return Status::Paused;
        }
        Status::Running
    }
}

/// The OCI state document (`hullc state`, and hooks' stdin).
pub fn oci_state(st: &ContainerState, status: Status) -> serde_json::Value {
    let mut v = serde_json::json!({
        "ociVersion": st.config.version(),
        "id": st.id,
        "status": status.to_string(),
        "pid": if status == Status::Stopped { 0 } else { st.pid },
        "bundle": st.bundle,
        "rootfs": st.rootfs,
        "created": st.created,
        "owner": st.owner,
    });
    if let Some(a) = st.config.annotations() {
        v["annotations"] = serde_json::json!(a);
    } else {
        v["annotations"] = serde_json::json!({});
    }
    v
}

/// What `state` and `list --format json` print: runc's containerState,
/// in its key order (annotations only when there are some).
#[derive(Debug, Serialize)]
pub struct StateReport {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
    pub owner: String,
}

impl StateReport {
    pub fn new(st: &ContainerState, status: Status, owner: String) -> Self {
        StateReport {
            oci_version: st.config.version().clone(),
            id: st.id.clone(),
            pid: if status == Status::Stopped { 0 } else { st.pid },
            status: status.to_string(),
            bundle: st.bundle.clone(),
            rootfs: st.rootfs.clone(),
            created: st.created.clone(),
            annotations: st
                .config
                .annotations()
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            owner,
        }
    }
}

/// RFC 3339 UTC timestamp with nanoseconds, without a date crate.
pub fn rfc3339_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hull_linux::civil::rfc3339_nanos(d.as_secs() as i64, d.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("abc-1_2+3.x").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "x\n"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reserve_is_exclusive() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(&tmp.path().join("root"));
        store.reserve("c1").unwrap();
        assert!(matches!(store.reserve("c1"), Err(Error::AlreadyExists(_))));
        assert!(matches!(store.load("c1"), Err(Error::NotFound(_))));
    }
}

//! Containers: their metadata and the OCI runtime spec hulld generates for
//! them from an image's config and the user's options (Docker's defaults),
//! and their tasks, run by one `containerd-shim-hull-v2` per container.
//!
//! A container lives in the `containers` table (key `<ns>/<id>`) with its
//! Docker-style state; its bundle (config.json, /etc files, output logs) is
//! `<state>/containers/<ns>/<id>`; its writable layer is the active snapshot
//! `container/<ns>/<id>` on the image's top layer.

pub mod attach;
pub mod copy;
pub mod exec;
pub mod files;
pub mod logfile;
pub mod options;
pub mod recover;
pub mod restart;
pub mod shim;
pub mod spec;
pub mod stats;
pub mod tasks;
pub mod top;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::content::now_secs;
use crate::error::{Error, IoContext, Result};
use crate::images::{ops, Platform};
use crate::manager::Manager;
use crate::metadata::{ns_key, Table};

pub use crate::ids::{new_id, valid_name};
pub use options::{CreateOptions, RunSpec};

use crate::ids::names;

pub const CREATED: &str = "created";
pub const RUNNING: &str = "running";
pub const EXITED: &str = "exited";
pub const PAUSED: &str = "paused";
/// Annotation holding `--stop-timeout` (seconds).
pub use hull_types::annotations::STOP_TIMEOUT as STOP_TIMEOUT_ANNOTATION;

/// The runtime name recorded for containers (the shim's containerd name).
pub const RUNTIME: &str = "io.containerd.hull.v2";

/// `--init`: the init binary hulld finds next to itself or on PATH, and
/// where it lands in the container (Docker's is /sbin/docker-init).
pub const INIT_BINARY: &str = "hull-init";
pub const INIT_PATH: &str = "/sbin/hull-init";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ContainerState {
    pub status: String,
    pub pid: u32,
    pub exit_code: i32,
    pub started_at: i64,
    pub finished_at: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub image: String,
    /// The image's ID (its config digest) when the container was made: what
    /// `rmi` checks for users of an image, whatever its tags became since.
    #[serde(default)]
    pub image_id: String,
    /// The image's target digest (manifest or index) when the container was
    /// made: garbage collection keeps it, also after `rmi -f` untagged it.
    #[serde(default)]
    pub image_target: String,
    /// OCI runtime spec (JSON text). Stored apart, in `container_specs`
    /// (records written before that carry it inline): `list` leaves it
    /// empty, `find`, `get` and `update` fill it.
    #[serde(default, skip_serializing)]
    pub spec: String,
    pub snapshot_key: String,
    pub snapshotter: String,
    pub runtime: String,
    pub labels: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub auto_remove: bool,
    pub bundle: PathBuf,
    pub state: ContainerState,
    /// Log rotation (`--log-opt max-size`, `max-file`); 0: none.
    #[serde(default)]
    pub log_max_size: u64,
    #[serde(default)]
    pub log_max_file: u32,
    /// `--restart` policy ("" = no).
    #[serde(default)]
    pub restart_policy: String,
    /// Restarts hulld did under the policy since the user last started it.
    #[serde(default)]
    pub restart_count: u32,
    /// The user stopped or killed it: no restart (and `unless-stopped`
    /// stays down across daemon restarts).
    #[serde(default)]
    pub stopped_by_user: bool,
    /// Anonymous volumes made for it (`rm -v` and `--rm` remove them).
    #[serde(default)]
    pub anon_volumes: Vec<String>,
    /// Creation time in Unix nanoseconds (orders containers made within
    /// one second: `ps`, `--filter before/since`).
    #[serde(default)]
    pub created_nanos: i64,
    /// What a listing shows, taken from the spec when the container is made
    /// (records from before it have none: see `summary`).
    #[serde(default)]
    pub summary: Option<Summary>,
}

/// What `hull ps` shows of a container's spec, kept apart so that a
/// listing carries no spec (~19 KB each with the default seccomp profile).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// The process's argv.
    pub command: Vec<String>,
    /// Host sources of the user's bind mounts and volumes (not hulld's own
    /// /etc files in the bundle).
    pub mounts: Vec<String>,
    /// The spec gives the container a network namespace of its own.
    #[serde(default)]
    pub own_netns: bool,
}

impl Summary {
    pub fn of_spec(spec: &str, bundle: &Path) -> Summary {
        let v: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let strings = |x: &serde_json::Value| -> Vec<String> {
            x.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mounts = v["mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|mt| {
                mt["type"].as_str() == Some("bind")
                    || strings(&mt["options"])
                        .iter()
                        .any(|o| o == "bind" || o == "rbind")
            })
            .filter(|mt| mt["destination"] != INIT_PATH)
            .filter_map(|mt| mt["source"].as_str())
            .filter(|src| src.starts_with('/') && !Path::new(src).starts_with(bundle))
            .map(String::from)
            .collect();
        let own_netns = v["linux"]["namespaces"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x["type"] == "network"));
        let mut command = strings(&v["process"]["args"]);
        // `--init` shows as Docker shows it: the program alone.
        if command.first().is_some_and(|a| a == INIT_PATH)
            && command.get(1).is_some_and(|a| a == "--")
        {
            command.drain(..2);
        }
        Summary {
            command,
            mounts,
            own_netns,
        }
    }
}

impl ContainerRecord {
    /// The stored summary, or one made from the spec for older records.
    pub fn summary(&self) -> Summary {
        self.summary
            .clone()
            .unwrap_or_else(|| Summary::of_spec(&self.spec, &self.bundle))
    }

    pub fn policy(&self) -> restart::RestartPolicy {
        self.restart_policy.parse().unwrap_or_default()
    }
}

/// Tasks hulld is running now (container key → its live shim).
#[derive(Default)]
pub struct Tasks {
    live: Mutex<HashMap<String, Arc<shim::Live>>>,
    /// Shims (pid by container key) of tasks that ended, still publishing
    /// their last events: a new task or a removal waits for them.
    exiting: Mutex<HashMap<String, i32>>,
}

impl Tasks {
    pub fn get(&self, key: &str) -> Option<Arc<shim::Live>> {
        self.lock().get(key).cloned()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<shim::Live>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn insert(&self, key: String, l: Arc<shim::Live>) {
        self.lock().insert(key, l);
    }
    pub(crate) fn remove(&self, key: &str) {
        self.lock().remove(key);
    }
    fn exiting(&self) -> std::sync::MutexGuard<'_, HashMap<String, i32>> {
        self.exiting.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn shim_exiting(&self, key: &str, pid: i32) {
        self.exiting().insert(key.to_string(), pid);
    }
    /// Wait until the ended task's shim of `key` (if any) is gone, killing
    /// it when it takes too long.
    pub(crate) fn wait_shim_gone(&self, key: &str) {
        let pid = self.exiting().get(key).copied();
        if let Some(pid) = pid {
            shim::finish_shim(pid);
            self.exiting().remove(key);
        }
    }
}

/// The containers of `ns` without their specs (`spec` is empty): what a
/// listing or a name lookup needs, without reading ~19 KB per container.
pub fn list(m: &Manager, ns: &str) -> Result<Vec<ContainerRecord>> {
    Ok(m.db
        .list::<ContainerRecord>(Table::Containers, &format!("{ns}/"))?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// Fill in the spec of a record read from the `containers` table.
pub(crate) fn with_spec(m: &Manager, ns: &str, mut r: ContainerRecord) -> Result<ContainerRecord> {
    if r.spec.is_empty() {
        if let Some(b) = m.db.get_raw(Table::ContainerSpecs, &ns_key(ns, &r.id))? {
            r.spec = String::from_utf8_lossy(&b).into_owned();
        }
    }
    Ok(r)
}

/// A container by full ID, with its spec.
pub fn get(m: &Manager, ns: &str, id: &str) -> Result<Option<ContainerRecord>> {
    match m
        .db
        .get::<ContainerRecord>(Table::Containers, &ns_key(ns, id))?
    {
        Some(r) => Ok(Some(with_spec(m, ns, r)?)),
        None => Ok(None),
    }
}

/// A container by full ID, name, or unique ID prefix (Docker's lookup).
pub fn find(m: &Manager, ns: &str, what: &str) -> Result<ContainerRecord> {
    let what = what.trim_start_matches('/');
    if what.is_empty() {
        return Err(Error::InvalidArgument("empty container name or ID".into()));
    }
    if let Some(r) = get(m, ns, what)? {
        return Ok(r);
    }
    let mut all = list(m, ns)?;
    if let Some(i) = all.iter().position(|c| c.name == what) {
        return with_spec(m, ns, all.swap_remove(i));
    }
    let hits: Vec<usize> = (0..all.len())
        .filter(|i| all[*i].id.starts_with(what))
        .collect();
    match hits.len() {
        1 => with_spec(m, ns, all.swap_remove(hits[0])),
        0 => Err(Error::NotFound(format!("No such container: {what}"))),
        _ => Err(Error::InvalidArgument(format!(
            "multiple IDs found with provided prefix: {what}"
        ))),
    }
}

/// The ID and name of the container `what` (ID, prefix or name).
pub fn named(m: &Manager, ns: &str, what: &str) -> Result<crate::ids::Named> {
    let c = find(m, ns, what)?;
    Ok(crate::ids::Named {
        id: c.id,
        name: c.name,
    })
}

/// The containers of `ns` as image removal sees them.
pub fn image_users(m: &Manager, ns: &str) -> Result<Vec<ops::ImageUser>> {
    Ok(list(m, ns)?
        .into_iter()
        .map(|c| ops::ImageUser {
            running: [RUNNING, PAUSED].contains(&c.state.status.as_str()),
            container_id: c.id,
            image: c.image,
            image_id: c.image_id,
        })
        .collect())
}

/// Store a record and its spec (the spec first: a record is never without).
pub fn save(m: &Manager, ns: &str, r: &ContainerRecord) -> Result<()> {
    let key = ns_key(ns, &r.id);
    if !r.spec.is_empty() {
        m.db.put_raw(Table::ContainerSpecs, &key, r.spec.as_bytes())?;
    }
    m.db.put(Table::Containers, &key, r)
}

/// Held while a record is read, changed and written back, and while it is
/// deleted: a change never writes back a record removed since its read.
fn records_lock() -> std::sync::MutexGuard<'static, ()> {
    static RECORDS: Mutex<()> = Mutex::new(());
    RECORDS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Update a container's record in place (no-op when it is gone).
pub fn update(
    m: &Manager,
    ns: &str,
    id: &str,
    f: impl FnOnce(&mut ContainerRecord),
) -> Result<Option<ContainerRecord>> {
    // Read, change, write as one step: the exit waiter and a Start that
    // returns after the task already exited both update the state, and
    // neither may write back a copy read before the other's write.
    let _serial = records_lock();
    let key = ns_key(ns, id);
    let Some(r) = m.db.get::<ContainerRecord>(Table::Containers, &key)? else {
        return Ok(None);
    };
    // A record from before `container_specs` moves its spec there now.
    let legacy = !r.spec.is_empty();
    let mut r = with_spec(m, ns, r)?;
    f(&mut r);
    r.updated_at = now_secs();
    if legacy {
        save(m, ns, &r)?;
    } else {
        m.db.put(Table::Containers, &key, &r)?;
    }
    Ok(Some(r))
}

fn bundle_dir(m: &Manager, ns: &str, id: &str) -> PathBuf {
    m.state.join("containers").join(ns).join(id)
}

/// Soft and hard limits of RLIMIT_NOFILE hulld runs with: a container may
/// not ask for more (raising a hard limit needs CAP_SYS_RESOURCE).
fn nofile_limit() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(_, hard)| hard)
        .unwrap_or(1024)
}

/// The top-most layer directory holding `rel` (for /etc/passwd lookups
/// without mounting the image).
fn image_file(m: &Manager, top: &str, rel: &str) -> Option<PathBuf> {
    let mut dirs = vec![m.snapshots.fs_dir(top).ok()?];
    dirs.extend(m.snapshots.lower_dirs(Some(top)).ok()?);
    dirs.into_iter().map(|d| d.join(rel)).find(|p| p.exists())
}

/// `user[:group]` → uid, gid, extra gids from the image's /etc/passwd and
/// /etc/group (the layers of snapshot `top`).
pub fn resolve_user(
    m: &Manager,
    top: &str,
    scratch: &Path,
    user: &str,
) -> Result<(u32, u32, Vec<u32>)> {
    // resolve_user reads <root>/etc/passwd and <root>/etc/group: give it a
    // directory with the image's copies.
    let tmp = scratch.join(format!("userdb-{}", &new_id()[..8]));
    crate::private::dir(&tmp.join("etc")).ctx(|| "create userdb".into())?;
    for f in ["etc/passwd", "etc/group"] {
        if let Some(p) = image_file(m, top, f) {
            let _ = std::fs::copy(&p, tmp.join(f));
        }
    }
    let r = spec::resolve_user(&tmp, user);
    let _ = std::fs::remove_dir_all(&tmp);
    r.map_err(|e| Error::InvalidArgument(e.to_string()))
}

/// Create a container: record, snapshot, bundle with config.json.
pub fn create(m: &Manager, ns: &str, o: CreateOptions) -> Result<ContainerRecord> {
    let id = if o.id.is_empty() { new_id() } else { o.id };
    if !valid_name(&id) || id.len() > 64 {
        return Err(Error::InvalidArgument(format!(
            "invalid container ID {id:?}"
        )));
    }
    let given = o.name.trim_start_matches('/').to_string();
    if !given.is_empty() && !valid_name(&given) {
        return Err(Error::InvalidArgument(format!(
            "Invalid container name ({given}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    let policy: restart::RestartPolicy = o
        .run
        .restart_policy
        .parse()
        .map_err(|e: restart::PolicyError| Error::InvalidArgument(e.to_string()))?;
    if o.auto_remove && policy != restart::RestartPolicy::No {
        return Err(Error::InvalidArgument(
            "Conflicting options: --restart and --rm".into(),
        ));
    }
    let _g = m.containers_lock.lock().unwrap_or_else(|e| e.into_inner());
    let existing = list(m, ns)?;
    // No name given: a generated one, unique in the namespace.
    let name = if given.is_empty() {
        names::generate(|n| existing.iter().any(|c| c.name == n))
    } else {
        given
    };
    for c in existing {
        if c.name == name {
            return Err(Error::AlreadyExists(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                c.id
            )));
        }
        if c.id == id {
            return Err(Error::AlreadyExists(format!(
                "container {id} already exists"
            )));
        }
    }
    let img = ops::get_one(m, ns, &o.image)?;
    let resolved = ops::resolve(m, &img, &Platform::host())?;
    let top = resolved
        .chain_ids
        .last()
        .cloned()
        .ok_or_else(|| Error::FailedPrecondition(format!("image {} has no layers", o.image)))?;
    if !m.snapshots.exists(&top) {
        return Err(Error::FailedPrecondition(format!(
            "image {} is not unpacked (pull it again)",
            o.image
        )));
    }
    let bundle = bundle_dir(m, ns, &id);
    let rootfs = bundle.join("rootfs");
    let vols = crate::volumes::Volumes::new(&m.root);
    let mut vplan = crate::volumes::mounts::Plan::default();
    let mut endpoint = None;
    let spec = match o.spec {
        Some(s) => s,
        None => {
            let cfg: serde_json::Value = serde_json::from_slice(&resolved.config_raw)?;
            let img_cfg: spec::ImageConfig = cfg
                .get("config")
                .cloned()
                .map(serde_json::from_value)
                .transpose()?
                .unwrap_or_default();
            let run = &o.run;
            let user_spec = if run.user.is_empty() {
                img_cfg.user.clone().unwrap_or_default()
            } else {
                run.user.clone()
            };
            let user = if user_spec.is_empty() {
                None
            } else {
                Some(resolve_user(m, &top, &m.state.join("tmp"), &user_spec)?)
            };
            let seccomp = match run.seccomp.as_str() {
                "" => spec::Seccomp::Default,
                "unconfined" => spec::Seccomp::Unconfined,
                p => spec::Seccomp::Profile(serde_json::from_str(p)?),
            };
            let ro = spec::RunOptions {
                id: id.clone(),
                args: run.args.clone(),
                entrypoint: run.has_entrypoint.then(|| run.entrypoint.clone()),
                env: run.env.clone(),
                workdir: (!run.workdir.is_empty()).then(|| run.workdir.clone()),
                user,
                hostname: (!run.hostname.is_empty()).then(|| run.hostname.clone()),
                tty: run.tty,
                memory: (run.memory > 0).then_some(run.memory),
                cpus: (run.cpus != 0.0).then_some(run.cpus),
                pids_limit: (run.pids_limit != 0).then_some(run.pids_limit),
                cap_add: run.cap_add.clone(),
                cap_drop: run.cap_drop.clone(),
                privileged: run.privileged,
                read_only: run.read_only,
                no_new_privileges: run.no_new_privileges,
                seccomp,
                host_network: run.host_network,
                etc_files: vec![
                    (bundle.join("hostname"), "/etc/hostname"),
                    (bundle.join("hosts"), "/etc/hosts"),
                    (bundle.join("resolv.conf"), "/etc/resolv.conf"),
                ],
                cgroup_parent: None,
            };
            let mut v = spec::generate(&img_cfg, &ro, &rootfs)
                .map_err(|e| Error::InvalidArgument(e.to_string()))?;
            // RLIMIT_NOFILE no higher than hulld's own hard limit.
            let cap = nofile_limit();
            if let Some(rl) = v["process"]["rlimits"].as_array_mut() {
                for r in rl {
                    for k in ["hard", "soft"] {
                        if r[k].as_u64().is_some_and(|x| x > cap) {
                            r[k] = cap.into();
                        }
                    }
                }
            }
            if !run.stop_signal.is_empty() {
                v["annotations"]["org.opencontainers.image.stopSignal"] =
                    run.stop_signal.clone().into();
            }
            if run.init {
                // Docker's --init: hull-init (init/), found like the shim,
                // bind-mounted read-only as PID 1 with the program its child.
                let init = shim::find_binary(INIT_BINARY)?;
                let args = v["process"]["args"].take();
                let mut with_init = vec![INIT_PATH.into(), "--".into()];
                with_init.extend(args.as_array().into_iter().flatten().cloned());
                v["process"]["args"] = with_init.into();
                let mount = serde_json::json!({
                    "destination": INIT_PATH,
                    "type": "bind",
                    "source": init,
                    "options": ["bind", "ro", "nosuid", "nodev"],
                });
                match v["mounts"].as_array_mut() {
                    Some(mounts) => mounts.push(mount),
                    None => v["mounts"] = vec![mount].into(),
                }
            }
            if run.stop_timeout > 0 {
                v["annotations"][STOP_TIMEOUT_ANNOTATION] = run.stop_timeout.to_string().into();
            }
            let hostname = v["hostname"].as_str().unwrap_or("").to_string();
            // Checked before any volume is made (it makes nothing itself).
            let ep = crate::network::plan(m, ns, &id, &name, &hostname, run, &img_cfg, &bundle)?;
            vplan = volume_plan(&vols, ns, run, &img_cfg)?;
            crate::volumes::mounts::apply(&mut v, &vplan);
            attach::annotate(&mut v, run);
            crate::network::apply_spec(&ep, &mut v);
            crate::private::dir(&bundle).ctx(|| format!("create {}", bundle.display()))?;
            write_etc_files(&bundle, &hostname)?;
            crate::network::write_etc(&ep)?;
            endpoint = Some(ep);
            serde_json::to_string_pretty(&v)?
        }
    };
    let snapshot_key = format!("container/{ns}/{id}");
    let made = (|| -> Result<()> {
        crate::private::dir(&rootfs).ctx(|| format!("create {}", rootfs.display()))?;
        // The spec holds the `-e` values: root's alone.
        crate::private::write(&bundle.join("config.json"), &spec)
            .ctx(|| "write config.json".into())?;
        m.snapshots.prepare(&snapshot_key, &top, BTreeMap::new())?;
        if let Err(e) = seed_volumes(m, ns, &vols, &vplan, &snapshot_key, &id) {
            let _ = m.snapshots.remove(&snapshot_key);
            return Err(e);
        }
        Ok(())
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&bundle);
        crate::volumes::mounts::undo(&vols, ns, &vplan);
        return Err(e);
    }
    if let Some(ep) = &endpoint {
        if let Err(e) = crate::network::save(m, ep) {
            let _ = m.snapshots.remove(&snapshot_key);
            let _ = std::fs::remove_dir_all(&bundle);
            crate::volumes::mounts::undo(&vols, ns, &vplan);
            return Err(e);
        }
    }
    let summary = Summary::of_spec(&spec, &bundle);
    let now = now_secs();
    let r = ContainerRecord {
        id,
        name,
        image: img.name.clone(),
        image_id: resolved.manifest.config.digest.clone(),
        image_target: img.target.digest.clone(),
        snapshot_key,
        snapshotter: m.snapshots.driver().name().into(),
        runtime: RUNTIME.into(),
        labels: o.labels,
        created_at: now,
        updated_at: now,
        auto_remove: o.auto_remove,
        bundle,
        state: ContainerState {
            status: CREATED.into(),
            ..Default::default()
        },
        log_max_size: o.run.log_max_size.max(0) as u64,
        log_max_file: o.run.log_max_file.max(0) as u32,
        restart_policy: if policy == restart::RestartPolicy::No {
            String::new()
        } else {
            policy.to_string()
        },
        restart_count: 0,
        stopped_by_user: false,
        anon_volumes: vplan.anonymous.clone(),
        created_nanos: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(now * 1_000_000_000),
        summary: Some(summary),
        spec,
    };
    save(m, ns, &r)?;
    m.events.publish(
        ns,
        "/containers/create",
        serde_json::json!({"id": r.id, "name": r.name, "image": r.image}),
    );
    Ok(r)
}

/// The user's `-v`/`--mount`/`--tmpfs` plus the image's VOLUMEs.
fn volume_plan(
    vols: &crate::volumes::Volumes,
    ns: &str,
    run: &RunSpec,
    img: &spec::ImageConfig,
) -> Result<crate::volumes::mounts::Plan> {
    use crate::volumes::mounts;
    let mut specs = Vec::new();
    for s in &run.volumes {
        specs.push(mounts::parse_volume_flag(s)?);
    }
    for s in &run.mounts {
        specs.push(mounts::parse_mount_flag(s)?);
    }
    for s in &run.tmpfs {
        specs.push(mounts::parse_tmpfs_flag(s)?);
    }
    let image_volumes: Vec<String> = img
        .volumes
        .as_ref()
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    mounts::plan(vols, ns, &specs, &image_volumes)
}

/// Copy the image's content at each new volume's mount point into it.
fn seed_volumes(
    m: &Manager,
    ns: &str,
    vols: &crate::volumes::Volumes,
    plan: &crate::volumes::mounts::Plan,
    snapshot_key: &str,
    id: &str,
) -> Result<()> {
    use crate::volumes::seed;
    if plan.seeds.is_empty() {
        return Ok(());
    }
    let at = m.state.join("tmp").join(format!("seed-{id}"));
    let mounted = seed::Mounted::new(&m.snapshots.mounts(snapshot_key)?, &at)?;
    for (name, dest) in &plan.seeds {
        let v = vols.get(ns, name)?;
        let empty = std::fs::read_dir(&v.mountpoint)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if empty {
            if let Some(src) = seed::source_in(&at, dest)? {
                seed::copy_tree(&src, &v.mountpoint)?;
            }
        }
        vols.mark_seeded(ns, name)?;
    }
    drop(mounted);
    Ok(())
}

/// Containers of `ns` whose spec mounts `path`.
pub fn users_of(m: &Manager, ns: &str, path: &Path) -> Result<Vec<String>> {
    let mut users = Vec::new();
    for c in list(m, ns)? {
        // Records from before summaries: their spec tells.
        let c = if c.summary.is_none() {
            with_spec(m, ns, c)?
        } else {
            c
        };
        if c.summary().mounts.iter().any(|s| Path::new(s) == path) {
            users.push(c.id);
        }
    }
    Ok(users)
}

/// Remove a removed container's anonymous volumes no other container uses.
pub fn remove_anonymous_volumes(m: &Manager, ns: &str, r: &ContainerRecord) {
    let vols = crate::volumes::Volumes::new(&m.root);
    for name in &r.anon_volumes {
        let Ok(v) = vols.get(ns, name) else { continue };
        if users_of(m, ns, &v.mountpoint).is_ok_and(|u| u.is_empty()) {
            if let Err(e) = vols.remove(ns, name) {
                tracing::warn!(volume = %name, "remove anonymous volume: {e}");
            }
        }
    }
}

/// The container's hostname, hosts and resolv.conf, bind-mounted into it:
/// 0644 (in a 0700 bundle) so that any user in the container reads them.
fn write_etc_files(bundle: &Path, hostname: &str) -> Result<()> {
    use crate::private::{write_mode, SHARED_FILE_MODE};
    write_mode(
        &bundle.join("hostname"),
        format!("{hostname}\n").as_bytes(),
        SHARED_FILE_MODE,
    )
    .ctx(|| "write hostname".into())?;
    write_mode(
        &bundle.join("hosts"),
        format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
        )
        .as_bytes(),
        SHARED_FILE_MODE,
    )
    .ctx(|| "write hosts".into())?;
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    write_mode(
        &bundle.join("resolv.conf"),
        resolv.as_bytes(),
        SHARED_FILE_MODE,
    )
    .ctx(|| "write resolv.conf".into())?;
    Ok(())
}

/// Remove a container that has no running task: snapshot, bundle, record.
pub fn remove(m: &Manager, ns: &str, r: &ContainerRecord) -> Result<()> {
    // A policy restart of this container is either done (its task is
    // seen below) or has not begun (it will find no record).
    let _one = restart::exclusive(ns, &r.id);
    if m.tasks.get(&ns_key(ns, &r.id)).is_some() {
        return Err(Error::FailedPrecondition(format!(
            "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
            r.name
        )));
    }
    // No shim of this container may outlive it.
    m.tasks.wait_shim_gone(&ns_key(ns, &r.id));
    let rootfs = r.bundle.join("rootfs");
    // The shim unmounts the rootfs when it deletes the task; be sure.
    let _ = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH);
    match m.snapshots.remove(&r.snapshot_key) {
        Ok(()) | Err(Error::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    crate::network::forget(m, ns, &r.id);
    if r.bundle.starts_with(m.state.join("containers")) {
        crate::snapshots::remove_tree(&r.bundle)?;
    }
    {
        let _serial = records_lock();
        m.db.delete(Table::Containers, &ns_key(ns, &r.id))?;
        m.db.delete(Table::ContainerSpecs, &ns_key(ns, &r.id))?;
    }
    // `--rm` takes its anonymous volumes along, as Docker's does.
    if r.auto_remove {
        remove_anonymous_volumes(m, ns, r);
    }
    m.events.publish(
        ns,
        "/containers/delete",
        serde_json::json!({"id": r.id, "name": r.name}),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_takes_argv_and_user_binds_only() {
        let bundle = Path::new("/state/containers/default/c1");
        let spec = serde_json::json!({
            "process": {"args": ["sh", "-c", "echo hi"]},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/etc/hosts", "type": "bind",
                 "source": "/state/containers/default/c1/hosts", "options": ["rbind"]},
                {"destination": "/data", "type": "none",
                 "source": "/srv/data", "options": ["rbind", "ro"]},
                {"destination": "/v", "type": "bind", "source": "/var/lib/hull/volumes/v1/_data"},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}
            ]
        })
        .to_string();
        let s = Summary::of_spec(&spec, bundle);
        assert_eq!(s.command, ["sh", "-c", "echo hi"]);
        assert_eq!(s.mounts, ["/srv/data", "/var/lib/hull/volumes/v1/_data"]);
    }

    #[test]
    fn record_without_summary_derives_it_from_the_spec() {
        let r = ContainerRecord {
            spec: r#"{"process":{"args":["true"]}}"#.into(),
            ..Default::default()
        };
        assert_eq!(r.summary().command, ["true"]);
        let bad = ContainerRecord {
            spec: "not json".into(),
            ..Default::default()
        };
        assert!(bad.summary().command.is_empty());
    }
}

//! Creating a container: its record, writable snapshot, volumes and
//! bundle (config.json and the /etc files it bind-mounts).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

/// Soft and hard limits of RLIMIT_NOFILE hulld runs with: a container may
/// not ask for more (raising a hard limit needs CAP_SYS_RESOURCE).
fn nofile_limit() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(_, hard)| hard)
        .unwrap_or(1024)
}

/// RLIMIT_NOFILE of a generated spec no higher than hulld's own hard limit.
pub fn cap_rlimits(spec: &mut serde_json::Value) {
    let cap = nofile_limit();
    if let Some(rl) = spec["process"]["rlimits"].as_array_mut() {
        for r in rl {
            for k in ["hard", "soft"] {
                if r[k].as_u64().is_some_and(|x| x > cap) {
                    r[k] = cap.into();
                }
            }
        }
    }
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
    if let Some(h) = &o.run.health {
        health::validate(h).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    }
    // No image: a ready spec over a root file system of the bundle's own
    // (a pod's pause), no snapshot.
    if o.image.is_empty() && o.rootfs.is_none() {
        return match o.spec {
            Some(spec) => create_without_image(m, ns, id, name, o.labels, spec),
            None => Err(Error::InvalidArgument("no image given".into())),
        };
    }
    let base = match &o.rootfs {
        Some(r) => Base {
            name: r.label.clone(),
            id: String::new(),
            target: String::new(),
            top: r.parent.clone(),
            config: r.config.clone(),
        },
        None => image_base(m, ns, &o.image)?,
    };
    let top = base.top.clone();
    let bundle = bundle_dir(m, ns, &id);
    let rootfs = bundle.join("rootfs");
    let vols = crate::volumes::Volumes::new(&m.root);
    let mut vplan = crate::volumes::mounts::Plan::default();
    let mut endpoint = None;
    let mut image_health = None;
    let spec = match o.spec {
        Some(s) => s,
        None => {
            let img_cfg: spec::ImageConfig = base
                .config
                .get("config")
                .cloned()
                .map(serde_json::from_value)
                .transpose()?
                .unwrap_or_default();
            image_health = img_cfg.healthcheck.clone();
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
            cap_rlimits(&mut v);
            kernel_opts::apply(&mut v, run)?;
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
            let ep = crate::network::plan(
                m,
                ns,
                &id,
                &name,
                &hostname,
                run,
                img_cfg.exposed_ports.as_ref(),
                &bundle,
            )?;
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
    let mut r = new_record(id, name, bundle, o.labels, spec);
    r.image = base.name;
    r.image_id = base.id;
    r.image_target = base.target;
    r.snapshot_key = snapshot_key;
    r.snapshotter = m.snapshots.driver().name().into();
    r.auto_remove = o.auto_remove;
    r.log_max_size = o.run.log_max_size.max(0) as u64;
    r.log_max_file = o.run.log_max_file.max(0) as u32;
    r.cri_log = o.cri_log;
    r.healthcheck = health::merge(o.run.health.as_ref(), image_health.as_ref());
    if policy != restart::RestartPolicy::No {
        r.restart_policy = policy.to_string();
    }
    r.anon_volumes = vplan.anonymous.clone();
    publish_created(m, ns, r)
}

/// A created container's record, before its image and options.
fn new_record(
    id: String,
    name: String,
    bundle: PathBuf,
    labels: BTreeMap<String, String>,
    spec: String,
) -> ContainerRecord {
    let now = now_secs();
    ContainerRecord {
        id,
        name,
        runtime: RUNTIME.into(),
        labels,
        created_at: now,
        updated_at: now,
        summary: Some(Summary::of_spec(&spec, &bundle)),
        bundle,
        state: ContainerState {
            status: CREATED.into(),
            ..Default::default()
        },
        created_nanos: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(now * 1_000_000_000),
        spec,
        ..Default::default()
    }
}

fn publish_created(m: &Manager, ns: &str, r: ContainerRecord) -> Result<ContainerRecord> {
    save(m, ns, &r)?;
    m.events.publish(
        ns,
        "/containers/create",
        serde_json::json!({"id": r.id, "name": r.name, "image": r.image}),
    );
    Ok(r)
}

/// A container without an image: `spec` names `<bundle>/rootfs`, an empty
/// directory its mounts fill (a pod's pause, bind-mounted).
fn create_without_image(
    m: &Manager,
    ns: &str,
    id: String,
    name: String,
    labels: BTreeMap<String, String>,
    spec: String,
) -> Result<ContainerRecord> {
    let bundle = bundle_dir(m, ns, &id);
    let made = (|| -> Result<()> {
        let rootfs = bundle.join("rootfs");
        crate::private::dir(&rootfs).ctx(|| format!("create {}", rootfs.display()))?;
        crate::private::write(&bundle.join("config.json"), &spec).ctx(|| "write config.json".into())
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&bundle);
        return Err(e);
    }
    let r = new_record(id, name, bundle, labels, spec);
    publish_created(m, ns, r)
}

/// What a container is made from: an image's names, top layer and config.
struct Base {
    name: String,
    id: String,
    target: String,
    top: String,
    config: serde_json::Value,
}

fn image_base(m: &Manager, ns: &str, image: &str) -> Result<Base> {
    let img = ops::get_one(m, ns, image)?;
    let resolved = ops::resolve(m, &img, &Platform::host())?;
    let top = resolved
        .chain_ids
        .last()
        .cloned()
        .ok_or_else(|| Error::FailedPrecondition(format!("image {image} has no layers")))?;
    if !m.snapshots.exists(&top) {
        return Err(Error::FailedPrecondition(format!(
            "image {image} is not unpacked (pull it again)"
        )));
    }
    Ok(Base {
        name: img.name,
        id: resolved.manifest.config.digest,
        target: img.target.digest,
        top,
        config: serde_json::from_slice(&resolved.config_raw)?,
    })
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

//! Tear-down and "nothing left behind" checks shared by the integration suites.
//!
//! Everything here works on real kernel state: /proc/self/mountinfo, the
//! cgroup hierarchies mounted on this host, and /proc/<pid>.
//! Functions never kill by name: only pids proven to belong to a test's own
//! bundle or cgroup are signalled.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One line of /proc/self/mountinfo, reduced to what tests need.
#[derive(Debug, Clone)]
pub struct MountInfo {
    pub mount_id: u32,
    pub parent_id: u32,
    /// Root of the mount inside its file system.
    pub root: String,
    pub mount_point: PathBuf,
    pub mount_options: String,
    /// Optional fields such as `shared:12` or `master:3`.
    pub optional: Vec<String>,
    pub fs_type: String,
    pub source: String,
    pub super_options: String,
}

/// Decode the octal escapes (`\040` for space, ...) mountinfo uses.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.len() - i > 3 {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = (oct[0] - b'0') as u32 * 64
                    + (oct[1] - b'0') as u32 * 8
                    + (oct[2] - b'0') as u32;
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse a mountinfo text (from /proc/<pid>/mountinfo).
pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    let mut v = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if sep < 6 || fields.len() < sep + 4 {
            continue;
        }
        v.push(MountInfo {
            mount_id: fields[0].parse().unwrap_or(0),
            parent_id: fields[1].parse().unwrap_or(0),
            root: unescape(fields[3]),
            mount_point: PathBuf::from(unescape(fields[4])),
            mount_options: fields[5].to_string(),
            optional: fields[6..sep].iter().map(|s| s.to_string()).collect(),
            fs_type: fields[sep + 1].to_string(),
            source: unescape(fields[sep + 2]),
            super_options: fields[sep + 3].to_string(),
        });
    }
    v
}

/// The mounts of this process's mount namespace.
pub fn mountinfo() -> Vec<MountInfo> {
    parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
}

/// Mount points at or below `path` in this mount namespace, deepest first.
pub fn mounts_under(path: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = mountinfo()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(path))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

/// Lazily unmount everything at or below `path` (deepest first, repeated
/// while stacked mounts remain). Returns the mount points still present.
pub fn unmount_under(path: &Path) -> Vec<PathBuf> {
    for _ in 0..16 {
        let mounts = mounts_under(path);
        if mounts.is_empty() {
            return mounts;
        }
        for m in &mounts {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    mounts_under(path)
}

/// Remove a directory tree without crossing into other file systems: any
/// entry whose device differs from the tree root's is left alone (and so
/// is its parent directory). Symlinks are removed, never followed.
pub fn remove_tree_one_fs(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    remove_dir_contents(path, meta.dev())?;
    fs::remove_dir(path)
}

fn remove_dir_contents(dir: &Path, dev: u64) -> io::Result<()> {
    let mut first_err: Option<io::Error> = None;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let p = entry.path();
        let m = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(_) => continue,
        };
        let res = if m.is_dir() {
            if m.dev() != dev {
                Err(io::Error::other(format!(
                    "{} is another file system",
                    p.display()
                )))
            } else {
                remove_dir_contents(&p, dev).and_then(|_| fs::remove_dir(&p))
            }
        } else {
            fs::remove_file(&p)
        };
        if let Err(e) = res {
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Unmount everything under `path`, then delete it without crossing file
/// systems. Errors are returned for the caller to report (Drop ignores them).
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let left = unmount_under(path);
    if !left.is_empty() {
        return Err(io::Error::other(format!(
            "mounts remain under {}: {:?}",
            path.display(),
            left
        )));
    }
    remove_tree_one_fs(path)
}

/// Mount points of the cgroup hierarchies of this host: every v1 controller
/// mount (`cgroup`) and the v2 mount (`cgroup2`).
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = mountinfo()
        .into_iter()
        .filter(|m| m.fs_type == "cgroup" || m.fs_type == "cgroup2")
        .map(|m| m.mount_point)
        .collect();
    v.dedup();
    v
}

/// Host directories that a container with `cgroups_path` would own, that
/// exist now (one per hierarchy).
pub fn cgroup_dirs(cgroups_path: &str) -> Vec<PathBuf> {
    let rel = cgroups_path.trim_start_matches('/');
    if rel.is_empty() {
        return Vec::new();
    }
    cgroup_mounts()
        .into_iter()
        .map(|m| m.join(rel))
        .filter(|p| p.is_dir())
        .collect()
}

/// The directory of `cgroups_path` under one controller (v1 name such as
/// "memory", or "unified" for the v2 mount), whether or not it exists.
pub fn cgroup_dir(controller: &str, cgroups_path: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(cgroups_path.trim_start_matches('/'))
}

/// Pids listed in `cgroup.procs` of every existing dir (and sub-dir) of
/// `cgroups_path`.
pub fn cgroup_pids(cgroups_path: &str) -> HashSet<i32> {
    let mut pids = HashSet::new();
    for d in cgroup_dirs(cgroups_path) {
        collect_cgroup_pids(&d, &mut pids);
    }
    pids
}

fn collect_cgroup_pids(dir: &Path, pids: &mut HashSet<i32>) {
    if let Ok(t) = fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(t.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_cgroup_pids(&e.path(), pids);
            }
        }
    }
}

/// Remove the cgroup dirs of `cgroups_path` under every hierarchy: kill
/// whatever is still inside (those pids are the test's own: the path is
/// unique per test), then rmdir children first. The shared parent dirs are
/// left alone (other tests create siblings concurrently).
pub fn remove_cgroup(cgroups_path: &str) -> Vec<PathBuf> {
    let pids = cgroup_pids(cgroups_path);
    // A frozen v1 cgroup would keep SIGKILLed tasks alive: thaw first.
    let freezer = cgroup_dir("freezer", cgroups_path).join("freezer.state");
    if freezer.exists() {
        let _ = fs::write(&freezer, "THAWED");
    }
    for p in &pids {
        kill_pid(*p);
    }
    crate::runtime::wait_until(Duration::from_secs(5), || {
        cgroup_pids(cgroups_path).is_empty()
    });
    let mut left = Vec::new();
    for d in cgroup_dirs(cgroups_path) {
        rmdir_cgroup_tree(&d);
        if d.exists() {
            left.push(d);
        }
    }
    left
}

fn rmdir_cgroup_tree(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                rmdir_cgroup_tree(&e.path());
            }
        }
    }
    // rmdir may briefly fail with EBUSY while killed tasks are reaped.
    crate::runtime::wait_until(Duration::from_secs(2), || {
        fs::remove_dir(dir).is_ok() || !dir.exists()
    });
}

fn kill_pid(pid: i32) {
    if pid > 1 {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Pids whose root directory is `rootfs` (same device and inode, which holds
/// across bind mounts and pivot_root, where readlink shows only "/"), or
/// whose root or cwd path as seen from here lies under `bundle`.
pub fn procs_rooted_in(bundle: &Path, rootfs: &Path) -> Vec<i32> {
    let me = std::process::id() as i32;
    let target = fs::metadata(rootfs).ok().map(|m| (m.dev(), m.ino()));
    let mut v = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let base = e.path();
        let by_inode = match (target, fs::metadata(base.join("root"))) {
            (Some(t), Ok(m)) => (m.dev(), m.ino()) == t,
            _ => false,
        };
        let by_path = ["root", "cwd"].iter().any(|l| {
            fs::read_link(base.join(l))
                .map(|p| p.starts_with(bundle))
                .unwrap_or(false)
        });
        if by_inode || by_path {
            // Zombies keep their /proc entry but hold nothing: skip them.
            let zombie = fs::read_to_string(base.join("stat"))
                .map(|s| {
                    s.rsplit(')')
                        .next()
                        .map(|r| r.trim_start().starts_with('Z'))
                        .unwrap_or(false)
                })
                .unwrap_or(false);
            if !zombie {
                v.push(pid);
            }
        }
    }
    v
}

/// SIGKILL every process rooted in the bundle and wait (bounded) for them to go.
pub fn kill_procs_rooted_in(bundle: &Path, rootfs: &Path) {
    for p in procs_rooted_in(bundle, rootfs) {
        kill_pid(p);
    }
    crate::runtime::wait_until(Duration::from_secs(5), || {
        procs_rooted_in(bundle, rootfs).is_empty()
    });
}

/// Everything a container (or a failed attempt at one) may leave behind.
/// Returns human-readable findings; empty means clean.
pub fn leftovers(
    state_root: &Path,
    id: &str,
    bundle: &Path,
    rootfs: &Path,
    cgroups_path: Option<&str>,
) -> Vec<String> {
    let mut found = Vec::new();
    let state = state_root.join(id);
    if fs::symlink_metadata(&state).is_ok() {
        found.push(format!("state dir {} still exists", state.display()));
    }
    // Any other entry named after the container (e.g. `<id>.json`, locks).
    for e in fs::read_dir(state_root).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{id}.")) {
            found.push(format!("state entry {} still exists", e.path().display()));
        }
    }
    if let Some(cg) = cgroups_path {
        for d in cgroup_dirs(cg) {
            found.push(format!("cgroup dir {} still exists", d.display()));
        }
    }
    for m in mounts_under(bundle) {
        found.push(format!("mount {} still present", m.display()));
    }
    for p in procs_rooted_in(bundle, rootfs) {
        let cmd = fs::read_to_string(format!("/proc/{p}/cmdline"))
            .unwrap_or_default()
            .replace('\0', " ");
        found.push(format!(
            "process {p} ({}) still rooted in the bundle",
            cmd.trim()
        ));
    }
    found
}

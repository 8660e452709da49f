//! Tearing a containerd down to nothing: its namespace's cgroups and
//! processes, its shims, mounts under its dirs and its trees.

use super::*;

/// Directories `/sys/fs/cgroup/<hierarchy>/<namespace>` (v1) and
/// `/sys/fs/cgroup/<namespace>` (pure v2) that exist.
pub(super) fn namespace_cgroups(namespace: &str) -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let mut out = Vec::new();
    if base.join(namespace).is_dir() {
        out.push(base.join(namespace));
    }
    if let Ok(rd) = fs::read_dir(base) {
        for e in rd.flatten() {
            let p = e.path().join(namespace);
            if p.is_dir() {
                out.push(p);
            }
        }
    }
    out
}

/// Every cgroup dir under `top`, deepest first.
pub(super) fn cgroup_tree(top: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(top) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(cgroup_tree(&e.path()));
            }
        }
    }
    out.push(top.to_path_buf());
    out
}

/// SIGKILL every process left in our namespace's cgroups (thawing frozen ones
/// first, since a frozen task does not act on SIGKILL).
pub(super) fn kill_cgroup_procs(namespace: &str) {
    for top in namespace_cgroups(namespace) {
        for cg in cgroup_tree(&top) {
            let freezer = cg.join("freezer.state");
            if freezer.exists() {
                let _ = fs::write(&freezer, "THAWED");
            }
            let v2_freeze = cg.join("cgroup.freeze");
            if v2_freeze.exists() {
                let _ = fs::write(&v2_freeze, "0");
            }
            if let Ok(procs) = fs::read_to_string(cg.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    tracing::debug!(pid, cgroup = %cg.display(), "killing leftover container process");
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
    }
}

/// rmdir our namespace's cgroup dirs, deepest first, retrying briefly while
/// killed processes are still exiting.
pub(super) fn remove_cgroups(namespace: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut left = false;
        for top in namespace_cgroups(namespace) {
            for cg in cgroup_tree(&top) {
                if fs::remove_dir(&cg).is_err() && cg.exists() {
                    left = true;
                }
            }
        }
        if !left || Instant::now() >= deadline {
            if left {
                tracing::warn!(namespace, "cgroups left behind");
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGKILL shim processes whose command line names our containerd socket
/// (`-address <sock>`): the socket path is unique to this instance, so these
/// are exactly the shims our containerd started.
pub(super) fn kill_our_shims(address: &Path) {
    let needle = address.as_os_str().as_encoded_bytes();
    let Ok(rd) = fs::read_dir("/proc") else {
        return;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_shim = args.first().map(|a| a.ends_with(b"-v2")).unwrap_or(false);
        if is_shim && args.contains(&needle) {
            tracing::debug!(pid, "killing leftover shim");
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Mount points at or below `dir` (from /proc/self/mountinfo), deepest first.
pub fn mounts_under(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let info = fs::read_to_string("/proc/self/mountinfo")?;
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    Ok(out)
}

pub(super) fn unescape_mountinfo(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lazily unmount everything mounted at or below `dir`, deepest first, until
/// nothing is left (stacked mounts need several rounds).
pub fn unmount_under(dir: &Path) -> io::Result<()> {
    for _ in 0..16 {
        let mounts = mounts_under(dir)?;
        if mounts.is_empty() {
            return Ok(());
        }
        for m in mounts {
            if let Err(e) = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH) {
                tracing::debug!(mount = %m.display(), error = %e, "umount2");
            }
        }
    }
    let left = mounts_under(dir)?;
    if left.is_empty() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "mounts left under {}: {left:?}",
            dir.display()
        )))
    }
}

/// Recursive delete that never leaves the file system `dir` lives on (so a
/// leaked bind of /proc or / under it cannot make us walk into the host).
pub fn remove_tree_same_fs(dir: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    remove_inner(dir, meta.dev())
}

pub(super) fn remove_inner(path: &Path, dev: u64) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.dev() != dev {
        return Err(io::Error::other(format!(
            "{} is on another file system; not descending",
            path.display()
        )));
    }
    if meta.is_dir() {
        let mut first_err = None;
        for e in fs::read_dir(path)? {
            let e = e?;
            if let Err(err) = remove_inner(&e.path(), dev) {
                first_err.get_or_insert(err);
            }
        }
        if let Some(err) = first_err {
            return Err(err);
        }
        fs::remove_dir(path)
    } else {
        fs::remove_file(path)
    }
}

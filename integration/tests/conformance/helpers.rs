//! Helpers shared by the conformance cases.

use super::*;

pub(crate) fn rt(bin: &Path) -> Runtime {
    Runtime::with_bin(bin.to_path_buf())
}

pub(crate) fn short(o: &Output) -> String {
    one_line(&describe(o), 400)
}

/// A `/bin/sh -c script` bundle, adjusted by `f`, written.
pub(crate) fn sh(tag: &str, script: &str, f: impl FnOnce(&mut Bundle)) -> Bundle {
    let mut b = Bundle::sh(tag, script);
    f(&mut b);
    b.write().expect("write config.json");
    b
}

/// Run in the foreground; stdout if the container exited 0.
pub(crate) fn run_ok(bin: &Path, b: &Bundle) -> Result<String, String> {
    let rt = rt(bin);
    let o = rt.run_container(b.id(), b, &[]);
    ensure!(o.status.success(), "run failed: {}", short(&o));
    Ok(stdout_of(&o))
}

/// Run in the foreground; the whole Output whatever the exit status.
pub(crate) fn run_any(bin: &Path, b: &Bundle) -> Output {
    let rt = rt(bin);
    rt.run_container(b.id(), b, &[])
}

pub(crate) fn lines(s: &str) -> Vec<String> {
    s.lines().map(|l| l.trim_end().to_string()).collect()
}

pub(crate) fn expect_lines(out: &str, want: &[&str]) -> R {
    let got = lines(out);
    ensure!(got == want, "expected {want:?}, got {got:?}");
    Ok(())
}

pub(crate) fn expect_contains(out: &str, want: &str) -> R {
    ensure!(out.contains(want), "expected {want:?} in {out:?}");
    Ok(())
}

/// `create` must fail (or, when `start_may_fail`, `start` may be the one
/// that fails) and leave nothing behind: no state, cgroup, mount, process.
pub(crate) fn expect_refused(bin: &Path, b: &Bundle, start_may_fail: bool) -> R {
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, b);
    if o.status.success() {
        ensure!(
            start_may_fail,
            "create succeeded (status {:?})",
            rt.status(id)
        );
        let s = rt.start(id);
        ensure!(
            !s.status.success(),
            "neither create nor start failed: {}",
            short(&s)
        );
        let _ = rt.delete_force(id);
    }
    ensure!(
        rt.status(id).is_none(),
        "the refused container is still known: {:?}",
        rt.status(id)
    );
    let mut last = Vec::new();
    let clean = wait_until(Duration::from_secs(5), || {
        last = rt.leftovers(id, b);
        last.is_empty()
    });
    ensure!(clean, "left behind: {last:?}");
    Ok(())
}

pub(crate) fn host_ns(kind: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{kind}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// /proc/self/status field (e.g. "CapEff") parsed as hex.
pub(crate) fn status_hex(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| u64::from_str_radix(v, 16).ok())
}

pub(crate) fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .map(|l| l[key.len() + 1..].trim().to_string())
        .unwrap_or_default()
}

pub(crate) fn cap_mask(caps: &[u32]) -> u64 {
    caps.iter().fold(0, |m, c| m | (1u64 << c))
}

/// A host process in fresh namespaces (unshare), killed on drop.
pub(crate) struct NsHolder(Child);

impl NsHolder {
    pub(crate) fn spawn(flags: &[&str]) -> Result<NsHolder, String> {
        let child = Command::new("unshare")
            .args(flags)
            .args(["/bin/busybox", "sleep", "1000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn unshare: {e}"))?;
        let h = NsHolder(child);
        let pid = h.pid();
        // unshare(1) execs sleep once its namespaces exist.
        let ok = wait_until(Duration::from_secs(10), || {
            fs::read_link(format!("/proc/{pid}/exe"))
                .map(|p| p.ends_with("busybox"))
                .unwrap_or(false)
        });
        ensure!(ok, "unshare did not exec sleep");
        Ok(h)
    }
    pub(crate) fn pid(&self) -> u32 {
        self.0.id()
    }
    pub(crate) fn ns(&self, kind: &str) -> String {
        fs::read_link(format!("/proc/{}/ns/{kind}", self.pid()))
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
}

impl Drop for NsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Create + start with a sleep loop process; `f` inspects it, then the
/// Runtime guard removes it.
pub(crate) fn with_running(bin: &Path, b: &Bundle, f: impl FnOnce(&Runtime, i32) -> R) -> R {
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let s = rt.start(id);
    ensure!(s.status.success(), "start: {}", short(&s));
    let pid = rt.pid(id);
    f(&rt, pid)
}

/// Create only; `f` gets the init pid (resources are applied at create).
pub(crate) fn with_created(bin: &Path, b: &Bundle, f: impl FnOnce(&Runtime, i32) -> R) -> R {
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let pid = rt.pid(id);
    f(&rt, pid)
}

pub(crate) fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p.as_ref())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("<read {}: {e}>", p.as_ref().display()))
}

pub(crate) fn wait_file(p: &Path, timeout: Duration) -> bool {
    wait_until(timeout, || p.exists())
}

pub(crate) const T10: Duration = Duration::from_secs(10);

/// Only on a cgroup v1 host with `controller` mounted.
pub(crate) fn need_v1(controller: &str) -> R {
    if Path::new("/sys/fs/cgroup").join(controller).is_dir() {
        Ok(())
    } else {
        skip(format!("no cgroup v1 {controller} controller"))
    }
}

//! OCI runtime-spec conformance suite, hullc next to Debian's runc.
//!
//! One test binary (`harness = false`): a table of cases, each naming the
//! spec section it checks. Every case builds its own bundle, runs a real
//! container with the runtime under test (own container id, `--root`,
//! cgroups path) and checks from inside the container (or from the host
//! where the spec talks about host-visible state: cgroup knobs, state JSON,
//! hooks). Coverage follows the list of the OCI runtime-tools validation
//! suite (create, delete, hooks, hooks_stdin, kill, killsig, kill_no_effect,
//! linux_cgroups_*, linux_devices, linux_masked_paths, linux_ns_*,
//! linux_readonly_paths, linux_rootfs_propagation*, linux_seccomp,
//! linux_sysctl, linux_uid_mappings, misc_props, mounts, pidfile,
//! poststart*, poststop*, prestart*, process*, root_readonly, start, state,
//! config_updates_without_affect); the tests are our own.
//!
//! The same cases run against hullc and /usr/sbin/runc (the runc column is
//! skipped when runc is missing); a side-by-side table is printed. The
//! binary exits non-zero iff a hullc case of level MUST or SHOULD fails.
//! runc failures are only reported; where the spec says MUST and runc does
//! not, the note says so.
//!
//! Run alone: `cargo test -p hull-integration --test conformance [-- FILTER]`
//! (FILTER: substring of case names). `CONFORMANCE_JOBS` sets parallelism
//! (default 4), `CONFORMANCE_RUNC` the reference runtime ("" to skip).
//! Under nextest the binary lists a single test, `conformance`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hull_integration::bundle::Bundle;
use hull_integration::cleanup::parse_mountinfo;
use hull_integration::runtime::{
    describe, read_until, stderr_of, stdout_of, wait_until, ConsoleSocket, Runtime,
};
use hull_integration::{is_root, runtime_bin};
use nix::mount::{mount, MsFlags};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

type R = Result<(), String>;

/// How binding the spec text behind a case is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Level {
    /// The spec says MUST (or the field's meaning leaves no choice).
    Must,
    /// SHOULD, or runc-CLI compatibility the spec leaves open.
    Should,
    /// Informational (e.g. newer spec versions): reported, never fatal.
    Info,
}

struct Case {
    name: &'static str,
    spec: &'static str,
    level: Level,
    run: fn(&Path) -> R,
}

/// One cell of the table: outcome and how long the case took.
type Cell = Option<(Outcome, Duration)>;

#[derive(Clone, Debug)]
enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}

macro_rules! case {
    ($name:ident, $spec:expr, $level:ident) => {
        Case {
            name: stringify!($name),
            spec: $spec,
            level: Level::$level,
            run: $name,
        }
    };
}

/// A case that needs something this machine lacks returns this reason.
const SKIP: &str = "SKIP: ";

fn skip(why: impl std::fmt::Display) -> R {
    Err(format!("{SKIP}{why}"))
}

fn run_case(case: &Case, bin: &Path) -> (Outcome, Duration) {
    let t0 = Instant::now();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (case.run)(bin)));
    let out = match r {
        Ok(Ok(())) => Outcome::Pass,
        Ok(Err(e)) if e.starts_with(SKIP) => Outcome::Skip(e[SKIP.len()..].to_string()),
        Ok(Err(e)) => Outcome::Fail(e),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Outcome::Fail(format!("panic: {msg}"))
        }
    };
    (out, t0.elapsed())
}

fn one_line(s: &str, max: usize) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > max {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        s
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // nextest / libtest list protocol: one test named "conformance".
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            println!("conformance: test");
        }
        return;
    }
    let filter: Vec<&String> = args
        .iter()
        .filter(|a| !a.starts_with('-') && a.as_str() != "conformance")
        .collect();

    assert!(is_root(), "the conformance suite must run as root");
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|c| filter.is_empty() || filter.iter().any(|f| c.name.contains(f.as_str())))
        .collect();

    let hullc = runtime_bin();
    assert!(
        hullc.exists(),
        "runtime {} does not exist (build hullc)",
        hullc.display()
    );
    let runc = match std::env::var("CONFORMANCE_RUNC") {
        Ok(s) if s.is_empty() => None,
        Ok(s) => Some(PathBuf::from(s)),
        Err(_) => Some(PathBuf::from("/usr/sbin/runc")),
    }
    .filter(|p| p.exists());
    let mut runtimes = vec![hullc.clone()];
    if let Some(r) = &runc {
        runtimes.push(r.clone());
    }

    // Panics inside cases become Fail(reason); keep stderr clean.
    std::panic::set_hook(Box::new(|_| {}));

    let jobs: Vec<(usize, usize)> = (0..cases.len())
        .flat_map(|c| (0..runtimes.len()).map(move |r| (c, r)))
        .collect();
    let results: Mutex<Vec<Vec<Cell>>> = Mutex::new(vec![vec![None; runtimes.len()]; cases.len()]);
    let next = AtomicUsize::new(0);
    let threads: usize = std::env::var("CONFORMANCE_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&(c, r)) = jobs.get(i) else { break };
                let res = run_case(&cases[c], &runtimes[r]);
                results.lock().unwrap_or_else(|p| p.into_inner())[c][r] = Some(res);
            });
        }
    });
    let elapsed = t0.elapsed();
    let _ = std::panic::take_hook();
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());

    let text = render(&cases, &results, runc.is_some(), elapsed);
    println!("{text}");
    // Also leave the table next to the binaries: nextest hides the output
    // of passing tests.
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        let _ = fs::write(Path::new(&dir).join("conformance-table.txt"), &text);
    }
    let fatal = cases
        .iter()
        .zip(&results)
        .any(|(c, r)| c.level != Level::Info && matches!(r[0], Some((Outcome::Fail(_), _))));
    std::process::exit(if fatal { 1 } else { 0 });
}

fn render(cases: &[Case], results: &[Vec<Cell>], have_runc: bool, elapsed: Duration) -> String {
    let mut o = String::new();
    let cell = |r: &Cell| match r {
        Some((Outcome::Pass, _)) => "pass".to_string(),
        Some((Outcome::Fail(_), _)) => "FAIL".to_string(),
        Some((Outcome::Skip(_), _)) => "skip".to_string(),
        None => "-".to_string(),
    };
    let wn = cases.iter().map(|c| c.name.len()).max().unwrap_or(4).max(4);
    let ws = cases.iter().map(|c| c.spec.len()).max().unwrap_or(4).max(8);
    o.push_str(&format!(
        "\nOCI runtime-spec conformance: hullc vs {}\n",
        if have_runc { "runc" } else { "(runc missing)" }
    ));
    o.push_str(&format!(
        "{:<wn$} | {:<ws$} | {:<6} | {:<5} | {:<5} | note\n",
        "case", "spec ref", "level", "hullc", "runc"
    ));
    o.push_str(&format!("{}\n", "-".repeat(wn + ws + 40)));
    let (mut hp, mut hf, mut hs, mut rp, mut rf, mut rs) = (0, 0, 0, 0, 0, 0);
    for (c, r) in cases.iter().zip(results) {
        let h = &r[0];
        let rc = if have_runc { &r[1] } else { &None };
        match h {
            Some((Outcome::Pass, _)) => hp += 1,
            Some((Outcome::Fail(_), _)) => hf += 1,
            _ => hs += 1,
        }
        match rc {
            Some((Outcome::Pass, _)) => rp += 1,
            Some((Outcome::Fail(_), _)) => rf += 1,
            Some(_) => rs += 1,
            None => {}
        }
        let mut notes = Vec::new();
        if let Some((Outcome::Fail(e), _)) = h {
            notes.push(format!("hullc: {}", one_line(e, 110)));
        }
        if let Some((Outcome::Skip(e), _)) = h {
            notes.push(format!("skipped: {}", one_line(e, 60)));
        }
        if let Some((Outcome::Fail(e), _)) = rc {
            let tag = if c.level == Level::Must {
                "runc violates MUST"
            } else {
                "runc differs"
            };
            notes.push(format!("{tag}: {}", one_line(e, 110)));
            if let Some(why) = known_runc_difference(c.name) {
                notes.push(format!("({why})"));
            }
        }
        let level = match c.level {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::Info => "info",
        };
        o.push_str(&format!(
            "{:<wn$} | {:<ws$} | {:<6} | {:<5} | {:<5} | {}\n",
            c.name,
            c.spec,
            level,
            cell(h),
            if have_runc { cell(rc) } else { "n/a".into() },
            notes.join("; ")
        ));
    }
    o.push_str(&format!("{}\n", "-".repeat(wn + ws + 40)));
    o.push_str(&format!(
        "{} cases in {:.1}s. hullc: {hp} pass, {hf} fail, {hs} skip.",
        cases.len(),
        elapsed.as_secs_f64()
    ));
    if have_runc {
        o.push_str(&format!(" runc: {rp} pass, {rf} fail, {rs} skip."));
    }
    o.push('\n');
    let failures: Vec<_> = cases
        .iter()
        .zip(results)
        .filter_map(|(c, r)| match &r[0] {
            Some((Outcome::Fail(e), _)) => Some((c, e)),
            _ => None,
        })
        .collect();
    if !failures.is_empty() {
        o.push_str("\nhullc failures in full:\n");
        for (c, e) in failures {
            o.push_str(&format!("- {} [{}]: {}\n", c.name, c.spec, e));
        }
    }
    let runc_failures: Vec<_> = cases
        .iter()
        .zip(results)
        .filter_map(|(c, r)| match r.get(1) {
            Some(Some((Outcome::Fail(e), _))) => Some((c, e)),
            _ => None,
        })
        .collect();
    if !runc_failures.is_empty() {
        o.push_str("\nrunc failures in full (reported only):\n");
        for (c, e) in runc_failures {
            o.push_str(&format!(
                "- {} [{}]: {}\n",
                c.name,
                c.spec,
                one_line(e, 600)
            ));
        }
    }
    o
}

/// What is known about runc 1.1.5's behaviour behind a failing runc cell.
fn known_runc_difference(case: &str) -> Option<&'static str> {
    Some(match case {
        "cgroup_devices_deny" => "runc appends its default allow list, which includes /dev/net/tun, after the user's rules",
        "hooks_order" | "hooks_poststart_fail" => "runc 1.1 runs poststart hooks during create",
        "delete_created_refused" => "runc delete kills and removes a created container without --force",
        "invalid_oci_version" | "invalid_missing_oci_version" => "runc does not validate ociVersion",
        "rootfs_propagation_shared" | "rootfs_propagation_unbindable" => "under runc 1.1.5 the container's / ends up private for these values",
        "domainname" => "runc 1.1 predates the domainname field",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Helpers shared by cases
// ---------------------------------------------------------------------------

fn rt(bin: &Path) -> Runtime {
    Runtime::with_bin(bin.to_path_buf())
}

fn short(o: &Output) -> String {
    one_line(&describe(o), 400)
}

/// A `/bin/sh -c script` bundle, adjusted by `f`, written.
fn sh(tag: &str, script: &str, f: impl FnOnce(&mut Bundle)) -> Bundle {
    let mut b = Bundle::sh(tag, script);
    f(&mut b);
    b.write().expect("write config.json");
    b
}

/// Run in the foreground; stdout if the container exited 0.
fn run_ok(bin: &Path, b: &Bundle) -> Result<String, String> {
    let rt = rt(bin);
    let o = rt.run_container(b.id(), b, &[]);
    ensure!(o.status.success(), "run failed: {}", short(&o));
    Ok(stdout_of(&o))
}

/// Run in the foreground; the whole Output whatever the exit status.
fn run_any(bin: &Path, b: &Bundle) -> Output {
    let rt = rt(bin);
    rt.run_container(b.id(), b, &[])
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(|l| l.trim_end().to_string()).collect()
}

fn expect_lines(out: &str, want: &[&str]) -> R {
    let got = lines(out);
    ensure!(got == want, "expected {want:?}, got {got:?}");
    Ok(())
}

fn expect_contains(out: &str, want: &str) -> R {
    ensure!(out.contains(want), "expected {want:?} in {out:?}");
    Ok(())
}

/// `create` must fail (or, when `start_may_fail`, `start` may be the one
/// that fails) and leave nothing behind: no state, cgroup, mount, process.
fn expect_refused(bin: &Path, b: &Bundle, start_may_fail: bool) -> R {
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

fn host_ns(kind: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{kind}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// /proc/self/status field (e.g. "CapEff") parsed as hex.
fn status_hex(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| u64::from_str_radix(v, 16).ok())
}

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .map(|l| l[key.len() + 1..].trim().to_string())
        .unwrap_or_default()
}

fn cap_mask(caps: &[u32]) -> u64 {
    caps.iter().fold(0, |m, c| m | (1u64 << c))
}

/// A host process in fresh namespaces (unshare), killed on drop.
struct NsHolder(Child);

impl NsHolder {
    fn spawn(flags: &[&str]) -> Result<NsHolder, String> {
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
    fn pid(&self) -> u32 {
        self.0.id()
    }
    fn ns(&self, kind: &str) -> String {
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
fn with_running(bin: &Path, b: &Bundle, f: impl FnOnce(&Runtime, i32) -> R) -> R {
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
fn with_created(bin: &Path, b: &Bundle, f: impl FnOnce(&Runtime, i32) -> R) -> R {
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let pid = rt.pid(id);
    f(&rt, pid)
}

fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p.as_ref())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("<read {}: {e}>", p.as_ref().display()))
}

fn wait_file(p: &Path, timeout: Duration) -> bool {
    wait_until(timeout, || p.exists())
}

const T10: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

fn cases() -> Vec<Case> {
    vec![
        // root
        case!(root_path_absolute, "config.md#root path", Must),
        case!(root_readonly_true, "config.md#root readonly", Must),
        case!(root_readonly_false, "config.md#root readonly", Must),
        // mounts
        case!(mounts_default_types, "config.md#mounts type", Must),
        case!(mounts_tmpfs_data_options, "config.md#mounts options", Must),
        case!(mounts_flag_options, "config.md#mounts options", Must),
        case!(mounts_atime_options, "config.md#mounts options", Must),
        case!(mounts_bind_rw, "config.md#mounts bind", Must),
        case!(mounts_bind_ro, "config.md#mounts bind ro", Must),
        case!(mounts_bind_file, "config.md#mounts bind", Must),
        case!(mounts_bind_flags, "config.md#mounts bind options", Must),
        case!(mounts_bind_vs_rbind, "config.md#mounts rbind", Must),
        case!(mounts_in_order, "config.md#mounts order", Must),
        case!(
            mounts_destination_created,
            "config.md#mounts destination",
            Should
        ),
        case!(
            mounts_bind_propagation,
            "config.md#mounts rslave/rprivate",
            Must
        ),
        // process
        case!(process_args, "config.md#process args", Must),
        case!(
            process_args_path_lookup,
            "config.md#process args (execvp)",
            Must
        ),
        case!(
            process_stdio_passthrough,
            "runc CLI run (terminal false)",
            Should
        ),
        case!(process_env, "config.md#process env", Must),
        case!(process_cwd, "config.md#process cwd", Must),
        case!(process_user_uid_gid, "config.md#user uid/gid", Must),
        case!(
            process_user_additional_gids,
            "config.md#user additionalGids",
            Must
        ),
        case!(process_user_umask, "config.md#user umask", Must),
        case!(process_terminal, "config.md#process terminal", Must),
        case!(process_console_size, "config.md#process consoleSize", Must),
        case!(
            caps_root_bounding_effective_permitted,
            "config.md#capabilities",
            Must
        ),
        case!(caps_inheritable, "config.md#capabilities inheritable", Must),
        case!(caps_ambient, "config.md#capabilities ambient", Must),
        case!(caps_dropped_are_enforced, "config.md#capabilities", Must),
        case!(rlimits_applied, "config.md#process rlimits", Must),
        case!(
            rlimits_soft_above_hard_error,
            "config.md#process rlimits",
            Must
        ),
        case!(
            rlimits_unknown_type_error,
            "config.md#process rlimits",
            Must
        ),
        case!(rlimits_duplicate_error, "config.md#process rlimits", Must),
        case!(
            rlimits_raise_hard_without_cap_error,
            "config.md#process rlimits",
            Must
        ),
        case!(no_new_privileges_true, "config.md#noNewPrivileges", Must),
        case!(no_new_privileges_false, "config.md#noNewPrivileges", Must),
        case!(oom_score_adj, "config.md#oomScoreAdj", Must),
        case!(
            oom_score_adj_unsettable_error,
            "config.md#oomScoreAdj",
            Must
        ),
        case!(hostname, "config.md#hostname", Must),
        case!(domainname, "config.md#domainname (1.1)", Should),
        case!(
            personality_linux32,
            "config-linux.md#personality (1.1)",
            Info
        ),
        // namespaces
        case!(ns_pid, "config-linux.md#namespaces pid", Must),
        case!(ns_network, "config-linux.md#namespaces network", Must),
        case!(ns_ipc, "config-linux.md#namespaces ipc", Must),
        case!(ns_uts, "config-linux.md#namespaces uts", Must),
        case!(ns_mount, "config-linux.md#namespaces mount", Must),
        case!(ns_cgroup, "config-linux.md#namespaces cgroup", Must),
        case!(ns_user_mappings, "config-linux.md#user ns mappings", Must),
        case!(
            ns_user_distinct_gid_mappings,
            "config-linux.md#user ns mappings",
            Must
        ),
        case!(ns_absent_inherits_host, "config-linux.md#namespaces", Must),
        case!(ns_path_join, "config-linux.md#namespaces path", Must),
        case!(
            ns_path_wrong_type_error,
            "config-linux.md#namespaces path",
            Must
        ),
        case!(
            ns_unknown_type_error,
            "config-linux.md#namespaces type",
            Must
        ),
        case!(
            ns_time_offsets,
            "config-linux.md#namespaces time (1.1)",
            Info
        ),
        // devices
        case!(devices_created, "config-linux.md#devices", Must),
        case!(devices_default, "config-linux.md#default-devices", Must),
        case!(dev_symlinks, "runtime-linux.md#dev-symbolic-links", Must),
        // cgroups
        case!(cgroups_path, "config-linux.md#cgroups-path", Must),
        case!(
            cgroups_path_relative,
            "config-linux.md#cgroups-path",
            Should
        ),
        case!(cgroup_memory, "config-linux.md#memory", Must),
        case!(cgroup_memory_oom_kill, "config-linux.md#memory limit", Must),
        case!(cgroup_cpu, "config-linux.md#cpu", Must),
        case!(cgroup_pids, "config-linux.md#pids", Must),
        case!(cgroup_blkio, "config-linux.md#block-io", Must),
        case!(
            cgroup_devices_allow,
            "config-linux.md#allowed-device-list",
            Must
        ),
        case!(
            cgroup_devices_deny,
            "config-linux.md#allowed-device-list",
            Must
        ),
        // sysctl, seccomp
        case!(sysctl, "config-linux.md#sysctl", Must),
        case!(
            sysctl_not_namespaced_refused,
            "config-linux.md#sysctl",
            Should
        ),
        case!(
            seccomp_errno_default_allowlist,
            "config-linux.md#seccomp",
            Must
        ),
        case!(seccomp_kill_rule, "config-linux.md#seccomp action", Must),
        case!(
            seccomp_arg_rule_errno_ret,
            "config-linux.md#seccomp args/errnoRet",
            Must
        ),
        case!(seccomp_operators, "config-linux.md#seccomp args op", Must),
        case!(
            seccomp_actions_log_trace_kill_thread,
            "config-linux.md#seccomp action",
            Must
        ),
        case!(seccomp_flags, "config-linux.md#seccomp flags", Must),
        case!(
            seccomp_actions_kill_process_trap_errno,
            "config-linux.md#seccomp action",
            Must
        ),
        // propagation, masked/readonly
        case!(
            rootfs_propagation_shared,
            "config-linux.md#rootfs-mount-propagation",
            Must
        ),
        case!(
            rootfs_propagation_slave,
            "config-linux.md#rootfs-mount-propagation",
            Must
        ),
        case!(
            rootfs_propagation_private,
            "config-linux.md#rootfs-mount-propagation",
            Must
        ),
        case!(
            rootfs_propagation_unbindable,
            "config-linux.md#rootfs-mount-propagation",
            Must
        ),
        case!(masked_paths_files, "config-linux.md#masked-paths", Must),
        case!(masked_paths_dirs, "config-linux.md#masked-paths", Must),
        case!(readonly_paths, "config-linux.md#readonly-paths", Must),
        // hooks
        case!(hooks_order, "config.md#posix-platform-hooks", Must),
        case!(hooks_state_stdin, "runtime.md#lifecycle hooks state", Must),
        case!(
            hooks_state_status,
            "runtime.md#lifecycle hooks state",
            Should
        ),
        case!(hooks_args_env, "config.md#hooks args/env", Must),
        case!(
            hooks_namespaces,
            "config.md#posix-platform-hooks namespaces",
            Must
        ),
        case!(hooks_prestart_fail, "runtime.md#lifecycle 3", Must),
        case!(hooks_create_runtime_fail, "runtime.md#lifecycle 4", Must),
        case!(hooks_create_container_fail, "runtime.md#lifecycle 5", Must),
        case!(hooks_start_container_fail, "runtime.md#lifecycle 7", Must),
        case!(hooks_poststart_fail, "runtime.md#lifecycle 9", Must),
        case!(hooks_poststop_fail_warns, "runtime.md#lifecycle 13", Must),
        case!(
            hooks_failed_create_runs_poststop,
            "runtime.md#lifecycle 4+12+13",
            Must
        ),
        case!(hooks_timeout, "config.md#hooks timeout", Must),
        // state and lifecycle
        case!(annotations_in_state, "runtime.md#state annotations", Must),
        case!(state_fields, "runtime.md#state", Must),
        case!(
            lifecycle_create_does_not_run_program,
            "runtime.md#create",
            Must
        ),
        case!(lifecycle_start_runs_program, "runtime.md#start", Must),
        case!(lifecycle_exit_is_stopped, "runtime.md#lifecycle 10", Must),
        case!(
            lifecycle_delete_removes_everything,
            "runtime.md#delete",
            Must
        ),
        case!(config_updates_without_affect, "runtime.md#create", Must),
        case!(create_duplicate_id_error, "runtime.md#create", Must),
        case!(start_running_refused, "runtime.md#start", Must),
        case!(start_stopped_refused, "runtime.md#start", Must),
        case!(delete_running_refused, "runtime.md#delete", Must),
        case!(delete_created_refused, "runtime.md#delete", Must),
        case!(kill_signal_delivered, "runtime.md#kill", Must),
        case!(kill_signal_forms, "runc CLI kill", Should),
        case!(kill_created_container, "runtime.md#kill", Must),
        case!(kill_stopped_error, "runtime.md#kill", Must),
        case!(ops_on_unknown_id_error, "runtime.md#operations", Must),
        case!(pid_file, "runc CLI --pid-file", Should),
        case!(run_exit_code, "runc CLI run", Should),
        case!(cli_exec, "runc CLI exec", Should),
        case!(cli_ps, "runc CLI ps", Should),
        case!(cli_pause_resume, "runc CLI pause/resume", Should),
        case!(cli_update, "runc CLI update", Should),
        case!(cli_events_stats, "runc CLI events --stats", Should),
        // runc's observable CLI contract (issue 17 A-G; hullc vs runc side
        // by side in integration/tests/runc_contract.rs)
        case!(cli_spec_defaults, "runc CLI spec (A)", Should),
        case!(
            cli_console_socket_needs_terminal,
            "runc CLI create --console-socket (A)",
            Should
        ),
        case!(cli_kill_signal_zero, "runc CLI kill 0 (B)", Should),
        case!(cli_run_keep, "runc CLI run --keep (B)", Should),
        case!(
            cli_update_cpu_share,
            "runc CLI update --cpu-share (B)",
            Should
        ),
        case!(cli_version_shape, "runc CLI --version (B)", Should),
        case!(cli_debug_log, "runc CLI --debug --log (C)", Should),
        case!(
            cli_list_json_fields,
            "runc CLI list --format json (D)",
            Should
        ),
        case!(cli_ps_args, "runc CLI ps -- ps(1) options (E)", Should),
        case!(
            cli_exec_start_failure_255,
            "runc CLI exec exit 255 (F)",
            Should
        ),
        case!(
            cli_exec_paused_refused,
            "runc CLI exec --ignore-paused (F)",
            Should
        ),
        case!(
            cli_delete_force_missing,
            "runc CLI delete --force (F)",
            Should
        ),
        case!(
            cgroup_v1_unified_invalid,
            "config-linux.md#unified (F)",
            Should
        ),
        case!(cgroup_frozen_refused, "runc cgroup frozen (G)", Should),
        case!(
            cgroup_nested_cpuset_parent,
            "runc cgroup v1 cpuset parents (G)",
            Should
        ),
        case!(
            cli_update_memory_unlimited,
            "runc CLI update --memory -1 (G)",
            Should
        ),
        case!(
            devices_access_normalised,
            "config-linux.md#device-allowlist access (G)",
            Should
        ),
        // issue 17 H-L (side by side in runtime_runc_order.rs,
        // runtime_seccomp_notify.rs and runtime_rootless.rs)
        case!(
            cwd_root_only_dir,
            "runc setup order: cwd before setuid (H)",
            Should
        ),
        case!(
            stdio_owned_by_user,
            "runc setup order: stdio chown (H)",
            Should
        ),
        case!(mount_rro, "config.md#mounts rro (J)", Should),
        case!(
            readonly_dev_tmpfs,
            "runc rootfs: read-only /dev (J)",
            Should
        ),
        case!(
            hook_create_container_cwd,
            "runc hooks: createContainer cwd (J)",
            Should
        ),
        case!(
            seccomp_same_argument_ored,
            "config-linux.md#seccomp args, as runc (K)",
            Should
        ),
        case!(
            userns_bind_source_root_only,
            "runc userns: bind sources opened on the host (J)",
            Should
        ),
        case!(
            no_pivot_host_mounts_hidden,
            "runc CLI run --no-pivot: host mounts detached (J)",
            Should
        ),
        // invalid configs
        case!(invalid_oci_version, "config.md#specification-version", Must),
        case!(invalid_json, "bundle.md#config", Must),
        case!(invalid_missing_process, "config.md#process (start)", Must),
        case!(invalid_relative_cwd, "config.md#process cwd", Must),
        case!(invalid_empty_args, "config.md#process args", Must),
        case!(invalid_missing_rootfs, "config.md#root path", Must),
        case!(invalid_missing_executable, "runtime.md#create/start", Must),
        case!(invalid_seccomp_action, "config-linux.md#seccomp", Must),
        case!(invalid_hook_relative_path, "config.md#hooks path", Must),
        case!(invalid_mount_option, "runtime.md#lifecycle 2", Must),
        case!(invalid_bind_source_missing, "runtime.md#lifecycle 2", Must),
        case!(
            invalid_missing_oci_version,
            "config.md#specification-version",
            Must
        ),
        // features document
        case!(features_document, "features.md (1.1)", Info),
        case!(caps_all_claimed, "features.md linux.capabilities", Must),
        case!(mounts_claimed_options, "features.md mountOptions", Must),
    ]
}

// --- root ------------------------------------------------------------------

fn root_path_absolute(bin: &Path) -> R {
    let mut b = Bundle::sh("rootabs", "cat /marker");
    // Move the rootfs elsewhere in the bundle and name it by absolute path.
    let alt = b.dir().join("alt-root");
    fs::rename(b.default_rootfs(), &alt).map_err(|e| e.to_string())?;
    fs::write(alt.join("marker"), "abs-root\n").map_err(|e| e.to_string())?;
    b.config_mut()["root"]["path"] = json!(alt.display().to_string());
    b.write().map_err(|e| e.to_string())?;
    let out = run_ok(bin, &b);
    // Put it back so the bundle guard finds the rootfs where it expects.
    let _ = fs::rename(&alt, b.default_rootfs());
    expect_lines(&out?, &["abs-root"])
}

fn root_readonly_true(bin: &Path) -> R {
    let b = sh(
        "rootro",
        "touch /newfile 2>&1; echo rc=$?; awk '$5 == \"/\" {print $6}' /proc/self/mountinfo",
        |b| b.config_mut()["root"]["readonly"] = json!(true),
    );
    let out = run_ok(bin, &b)?;
    expect_contains(&out, "Read-only file system")?;
    expect_contains(&out, "rc=1")?;
    let opts = out.lines().last().unwrap_or_default();
    ensure!(
        opts.split(',').any(|o| o == "ro"),
        "/ is not mounted ro: {opts}"
    );
    Ok(())
}

fn root_readonly_false(bin: &Path) -> R {
    let b = sh("rootrw", "echo hi > /newfile && cat /newfile", |b| {
        b.config_mut()["root"]["readonly"] = json!(false)
    });
    expect_lines(&run_ok(bin, &b)?, &["hi"])
}

// --- mounts ----------------------------------------------------------------

fn mountinfo_of(out: &str) -> Vec<hull_integration::cleanup::MountInfo> {
    parse_mountinfo(out)
}

fn find_mount<'a>(
    mi: &'a [hull_integration::cleanup::MountInfo],
    at: &str,
) -> Result<&'a hull_integration::cleanup::MountInfo, String> {
    mi.iter()
        .rev()
        .find(|m| m.mount_point == Path::new(at))
        .ok_or_else(|| format!("no mount at {at}"))
}

fn mounts_default_types(bin: &Path) -> R {
    let b = sh("mnttypes", "cat /proc/self/mountinfo", |_| {});
    let out = run_ok(bin, &b)?;
    let mi = mountinfo_of(&out);
    for (at, ty) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ] {
        let m = find_mount(&mi, at)?;
        ensure!(m.fs_type == ty, "{at} is {} not {ty}", m.fs_type);
    }
    let sys = find_mount(&mi, "/sys")?;
    ensure!(
        sys.mount_options.split(',').any(|o| o == "ro"),
        "/sys not ro: {}",
        sys.mount_options
    );
    // type "cgroup" at /sys/fs/cgroup: a tmpfs with controller mounts
    // under it (v1) or a cgroup2 mount.
    ensure!(
        mi.iter()
            .any(|m| m.mount_point.starts_with("/sys/fs/cgroup")
                && (m.fs_type == "cgroup" || m.fs_type == "cgroup2")),
        "no cgroup file system under /sys/fs/cgroup"
    );
    Ok(())
}

fn mounts_tmpfs_data_options(bin: &Path) -> R {
    let b = sh(
        "mnttmpfs",
        "stat -c %a /data; cat /proc/self/mountinfo",
        |b| {
            b.add_mount(
                json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                "options": ["mode=1750", "size=1m", "uid=12", "gid=34"]}),
            );
        },
    );
    let out = run_ok(bin, &b)?;
    ensure!(out.starts_with("1750\n"), "mode: {out:?}");
    let m = find_mount(&mountinfo_of(&out), "/data")?.clone();
    ensure!(m.fs_type == "tmpfs", "type {}", m.fs_type);
    for want in ["size=1024k", "mode=1750", "uid=12", "gid=34"] {
        ensure!(
            m.super_options.split(',').any(|o| o == want),
            "{want} missing: {}",
            m.super_options
        );
    }
    Ok(())
}

fn mounts_flag_options(bin: &Path) -> R {
    let b = sh("mntflags", "cat /proc/self/mountinfo", |b| {
        b.add_mount(
            json!({"destination": "/f", "type": "tmpfs", "source": "tmpfs",
            "options": ["ro", "nosuid", "nodev", "noexec", "sync", "dirsync"]}),
        );
    });
    let out = run_ok(bin, &b)?;
    let m = find_mount(&mountinfo_of(&out), "/f")?.clone();
    for want in ["ro", "nosuid", "nodev", "noexec"] {
        ensure!(
            m.mount_options.split(',').any(|o| o == want),
            "{want} missing: {}",
            m.mount_options
        );
    }
    for want in ["sync", "dirsync"] {
        ensure!(
            m.super_options.split(',').any(|o| o == want),
            "{want} missing: {}",
            m.super_options
        );
    }
    Ok(())
}

fn mounts_atime_options(bin: &Path) -> R {
    let b = sh("mntatime", "cat /proc/self/mountinfo", |b| {
        b.add_mount(json!({"destination": "/a", "type": "tmpfs", "source": "tmpfs", "options": ["noatime"]}));
        b.add_mount(json!({"destination": "/s", "type": "tmpfs", "source": "tmpfs", "options": ["strictatime"]}));
        b.add_mount(json!({"destination": "/n", "type": "tmpfs", "source": "tmpfs", "options": ["nodiratime", "relatime"]}));
    });
    let out = run_ok(bin, &b)?;
    let mi = mountinfo_of(&out);
    let opts = |at: &str| -> Result<Vec<String>, String> {
        Ok(find_mount(&mi, at)?
            .mount_options
            .split(',')
            .map(str::to_string)
            .collect())
    };
    let a = opts("/a")?;
    ensure!(a.contains(&"noatime".into()), "/a: {a:?}");
    let s = opts("/s")?;
    ensure!(
        !s.contains(&"noatime".into()) && !s.contains(&"relatime".into()),
        "/s (strictatime): {s:?}"
    );
    let n = opts("/n")?;
    ensure!(
        n.contains(&"nodiratime".into()) && n.contains(&"relatime".into()),
        "/n: {n:?}"
    );
    Ok(())
}

fn mounts_bind_rw(bin: &Path) -> R {
    let mut b = Bundle::sh("bindrw", "cat /h/in; echo from-ctr > /h/out");
    let h = b.host_dir("h");
    fs::write(h.join("in"), "from-host\n").unwrap();
    b.add_bind(&h, "/h", false);
    b.write().unwrap();
    expect_lines(&run_ok(bin, &b)?, &["from-host"])?;
    ensure!(
        read(h.join("out")) == "from-ctr",
        "write not visible on the host"
    );
    Ok(())
}

fn mounts_bind_ro(bin: &Path) -> R {
    let mut b = Bundle::sh("bindro", "cat /h/in; { echo x > /h/out; } 2>&1; echo rc=$?");
    let h = b.host_dir("h");
    fs::write(h.join("in"), "from-host\n").unwrap();
    b.add_bind(&h, "/h", true);
    b.write().unwrap();
    let out = run_ok(bin, &b)?;
    expect_contains(&out, "from-host")?;
    expect_contains(&out, "Read-only file system")?;
    ensure!(!h.join("out").exists(), "ro bind was written");
    Ok(())
}

fn mounts_bind_file(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "bindfile",
        "cat /etc/motd-bound; stat -c %F /etc/motd-bound",
    );
    let f = b.dir().join("motd");
    fs::write(&f, "one-file\n").unwrap();
    b.add_mount(json!({"destination": "/etc/motd-bound", "type": "bind",
        "source": f.display().to_string(), "options": ["bind"]}));
    b.write().unwrap();
    expect_lines(&run_ok(bin, &b)?, &["one-file", "regular file"])
}

fn mounts_bind_vs_rbind(bin: &Path) -> R {
    let mut b = Bundle::sh("rbind", "ls /r/sub; echo --; ls /nr/sub; echo end");
    let h = b.host_dir("h");
    let sub = h.join("sub");
    fs::create_dir_all(&sub).unwrap();
    fs::write(sub.join("under"), "").unwrap();
    // A submount on the host: visible through rbind, not through bind.
    mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .map_err(|e| format!("host tmpfs: {e}"))?;
    fs::write(sub.join("submount-file"), "").unwrap();
    b.add_mount(json!({"destination": "/r", "type": "bind", "source": h.display().to_string(), "options": ["rbind"]}));
    b.add_mount(json!({"destination": "/nr", "type": "bind", "source": h.display().to_string(), "options": ["bind"]}));
    b.write().unwrap();
    let out = run_ok(bin, &b)?;
    expect_lines(&out, &["submount-file", "--", "under", "end"])
}

fn mounts_in_order(bin: &Path) -> R {
    let mut b = Bundle::sh("mntorder", "cat /t/sub/f; ls /t");
    let h = b.host_dir("h");
    fs::write(h.join("f"), "bound\n").unwrap();
    // tmpfs first, then a bind on a path inside it: order matters.
    b.add_mount(json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": []}));
    b.add_bind(&h, "/t/sub", false);
    b.write().unwrap();
    expect_lines(&run_ok(bin, &b)?, &["bound", "sub"])
}

fn mounts_destination_created(bin: &Path) -> R {
    let b = sh("mntmkdir", "stat -c %F /new/deep/dir", |b| {
        b.add_mount(json!({"destination": "/new/deep/dir", "type": "tmpfs", "source": "tmpfs", "options": []}));
    });
    expect_lines(&run_ok(bin, &b)?, &["directory"])
}

fn mounts_bind_propagation(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "bindprop",
        "echo ready; i=0; while [ ! -e /slave/sub/m ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; \
         [ -e /slave/sub/m ] && echo slave-sees; [ -e /priv/sub/m ] && echo private-sees; echo done",
    );
    let d = b.dir().to_path_buf();
    // The bundle dir becomes a shared mount so the binds have a peer group.
    mount(Some(&d), &d, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(|e| e.to_string())?;
    mount(
        None::<&str>,
        &d,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .map_err(|e| e.to_string())?;
    let s = b.host_dir("s");
    let p = b.host_dir("p");
    fs::create_dir_all(s.join("sub")).unwrap();
    fs::create_dir_all(p.join("sub")).unwrap();
    b.add_mount(json!({"destination": "/slave", "type": "bind", "source": s.display().to_string(), "options": ["rbind", "rslave"]}));
    b.add_mount(json!({"destination": "/priv", "type": "bind", "source": p.display().to_string(), "options": ["rbind", "rprivate"]}));
    b.write().unwrap();
    with_running(bin, &b, |_rt, _pid| {
        let id = b.id();
        ensure!(
            wait_until(T10, || Runtime::container_stdout(&b, id).contains("ready")),
            "container never ready"
        );
        for dir in [&p, &s] {
            mount(
                Some("tmpfs"),
                &dir.join("sub"),
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .map_err(|e| e.to_string())?;
            fs::write(dir.join("sub/m"), "").unwrap();
        }
        ensure!(
            wait_until(Duration::from_secs(30), || Runtime::container_stdout(
                &b, id
            )
            .contains("done")),
            "container did not finish: {:?}",
            Runtime::container_stdout(&b, id)
        );
        let out = Runtime::container_stdout(&b, id);
        expect_lines(&out, &["ready", "slave-sees", "done"])
    })
}

// --- process ---------------------------------------------------------------

fn process_args(bin: &Path) -> R {
    // printf interprets the "\\n" itself: the runtime passes it verbatim.
    let b = Bundle::new(
        "args",
        &["/bin/printf", "[%s]\\n", "a b", "$HOME", "*", "", "'q\""],
    );
    expect_lines(
        &run_ok(bin, &b)?,
        &["[a b]", "[$HOME]", "[*]", "[]", "['q\"]"],
    )
}

fn process_env(bin: &Path) -> R {
    let mut b = Bundle::new("env", &["/bin/env"]);
    let env = ["PATH=/bin", "A=1", "B=with space", "C=x=y", "EMPTY="];
    b.process_mut()["env"] = json!(env);
    b.write().unwrap();
    let out = run_ok(bin, &b)?;
    let got: BTreeSet<String> = lines(&out).into_iter().collect();
    for e in env {
        ensure!(got.contains(e), "{e} missing from {got:?}");
    }
    let extra: Vec<_> = got
        .iter()
        .filter(|l| !env.contains(&l.as_str()) && !l.starts_with("HOME="))
        .collect();
    ensure!(extra.is_empty(), "unexpected variables {extra:?}");
    Ok(())
}

fn process_cwd(bin: &Path) -> R {
    let b = sh("cwd", "pwd", |b| b.process_mut()["cwd"] = json!("/var"));
    expect_lines(&run_ok(bin, &b)?, &["/var"])
}

fn process_user_uid_gid(bin: &Path) -> R {
    let b = sh(
        "user",
        "id -u; id -g; grep -E '^(Uid|Gid):' /proc/self/status",
        |b| b.process_mut()["user"] = json!({"uid": 1234, "gid": 5678}),
    );
    let out = run_ok(bin, &b)?;
    let l = lines(&out);
    ensure!(l.len() == 4, "output {l:?}");
    ensure!(l[0] == "1234" && l[1] == "5678", "id: {l:?}");
    let w = |s: &str| s.split_whitespace().skip(1).collect::<Vec<_>>().join(" ");
    ensure!(w(&l[2]) == "1234 1234 1234 1234", "Uid: {}", l[2]);
    ensure!(w(&l[3]) == "5678 5678 5678 5678", "Gid: {}", l[3]);
    Ok(())
}

fn process_user_additional_gids(bin: &Path) -> R {
    let b = sh("gids", "cat /proc/self/status", |b| {
        b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20, 30]})
    });
    let st = run_ok(bin, &b)?;
    let groups: BTreeSet<String> = status_field(&st, "Groups")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    for g in ["10", "20", "30"] {
        ensure!(groups.contains(g), "group {g} missing: {groups:?}");
    }
    ensure!(
        groups
            .iter()
            .all(|g| ["10", "20", "30", "1000"].contains(&g.as_str())),
        "extra groups: {groups:?}"
    );
    Ok(())
}

fn process_user_umask(bin: &Path) -> R {
    let b = sh(
        "umask",
        "umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d",
        |b| b.process_mut()["user"]["umask"] = json!(0o027),
    );
    expect_lines(&run_ok(bin, &b)?, &["0027", "640", "750"])
}

/// Create with a console socket, start, read the pty until `done`.
fn via_console(bin: &Path, b: &Bundle, done: impl FnMut(&str) -> bool) -> Result<String, String> {
    let rt = rt(bin);
    let sock = ConsoleSocket::bind(&b.dir().join("console.sock"));
    let id = b.id();
    let o = rt.create_with(id, b, &["--console-socket", &sock.path().to_string_lossy()]);
    ensure!(o.status.success(), "create: {}", short(&o));
    let master = sock
        .receive_fd(T10)
        .map_err(|e| format!("no pty master: {e}"))?;
    let s = rt.start(id);
    ensure!(s.status.success(), "start: {}", short(&s));
    Ok(read_until(&master, T10, done))
}

fn process_terminal(bin: &Path) -> R {
    let b = sh(
        "tty",
        "tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys; echo end",
        |b| b.process_mut()["terminal"] = json!(true),
    );
    let t = via_console(bin, &b, |t| t.contains("end"))?;
    expect_contains(&t, "/dev/pts/0")?;
    expect_contains(&t, "all-ttys")
}

fn process_console_size(bin: &Path) -> R {
    let b = sh("consz", "stty size; echo end", |b| {
        b.process_mut()["terminal"] = json!(true);
        b.process_mut()["consoleSize"] = json!({"height": 33, "width": 111});
    });
    let t = via_console(bin, &b, |t| t.contains("end"))?;
    expect_contains(&t, "33 111")
}

fn set_caps(b: &mut Bundle, bnd: &[&str], eff: &[&str], prm: &[&str], inh: &[&str], amb: &[&str]) {
    b.process_mut()["capabilities"] = json!({
        "bounding": bnd, "effective": eff, "permitted": prm,
        "inheritable": inh, "ambient": amb
    });
}

fn caps_of(bin: &Path, b: &Bundle) -> Result<[u64; 5], String> {
    let st = run_ok(bin, b)?;
    let g = |k: &str| status_hex(&st, k).ok_or_else(|| format!("no {k} in {st}"));
    Ok([
        g("CapBnd")?,
        g("CapEff")?,
        g("CapPrm")?,
        g("CapInh")?,
        g("CapAmb")?,
    ])
}

fn caps_root_bounding_effective_permitted(bin: &Path) -> R {
    let set = ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"];
    let b = sh("capsroot", "cat /proc/self/status", |b| {
        set_caps(b, &set, &set, &set, &[], &[])
    });
    let m = cap_mask(&[0, 5, 7]);
    let got = caps_of(bin, &b)?;
    ensure!(
        got == [m, m, m, 0, 0],
        "Bnd/Eff/Prm/Inh/Amb {:x?}, want {:x?}",
        got,
        [m, m, m, 0, 0]
    );
    Ok(())
}

fn caps_inheritable(bin: &Path) -> R {
    let b = sh("capsinh", "cat /proc/self/status", |b| {
        b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000});
        set_caps(
            b,
            &["CAP_KILL", "CAP_NET_RAW", "CAP_CHOWN"],
            &["CAP_KILL"],
            &["CAP_KILL"],
            &["CAP_NET_RAW", "CAP_CHOWN"],
            &[],
        )
    });
    let got = caps_of(bin, &b)?;
    let want = [cap_mask(&[0, 5, 13]), 0, 0, cap_mask(&[0, 13]), 0];
    ensure!(got == want, "Bnd/Eff/Prm/Inh/Amb {got:x?}, want {want:x?}");
    Ok(())
}

fn caps_ambient(bin: &Path) -> R {
    let set = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let b = sh("capsamb", "cat /proc/self/status", |b| {
        b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000});
        set_caps(b, &set, &set, &set, &set, &set)
    });
    let got = caps_of(bin, &b)?;
    let m = cap_mask(&[5, 10]);
    ensure!(
        got == [m, m, m, m, m],
        "Bnd/Eff/Prm/Inh/Amb {got:x?}, want all {m:x}"
    );
    Ok(())
}

fn caps_dropped_are_enforced(bin: &Path) -> R {
    // Root without CAP_DAC_OVERRIDE cannot write a mode-000 file it does not own.
    let b = sh(
        "capsenf",
        "echo a > /tmp/f; chmod 000 /tmp/f; chown 1 /tmp/f && echo chown-ok; echo b > /tmp/f 2>/dev/null && echo WROTE; echo end",
        |b| {
            let s = ["CAP_CHOWN"];
            set_caps(b, &s, &s, &s, &[], &[])
        },
    );
    expect_lines(&run_ok(bin, &b)?, &["chown-ok", "end"])
}

fn limits_line(limits: &str, name: &str) -> Vec<String> {
    limits
        .lines()
        .find(|l| l.starts_with(name))
        .map(|l| {
            l[name.len()..]
                .split_whitespace()
                .take(2)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn rlimits_applied(bin: &Path) -> R {
    let b = sh("rlim", "cat /proc/self/limits", |b| {
        b.process_mut()["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
            {"type": "RLIMIT_STACK", "soft": 1048576, "hard": 2097152}
        ])
    });
    let out = run_ok(bin, &b)?;
    for (name, want) in [
        ("Max open files", ["512", "1024"]),
        ("Max core file size", ["0", "4096"]),
        ("Max processes", ["300", "400"]),
        ("Max stack size", ["1048576", "2097152"]),
    ] {
        let got = limits_line(&out, name);
        ensure!(got == want, "{name}: {got:?}, want {want:?}");
    }
    Ok(())
}

fn rlimits_soft_above_hard_error(bin: &Path) -> R {
    let b =
        sh(
            "rlimbad",
            "echo ran",
            |b| {
                b.process_mut()["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}])
            },
        );
    expect_refused(bin, &b, true)
}

fn rlimits_unknown_type_error(bin: &Path) -> R {
    let b =
        sh(
            "rlimunk",
            "echo ran",
            |b| {
                b.process_mut()["rlimits"] =
                    json!([{"type": "RLIMIT_NOSUCHTHING", "soft": 1, "hard": 1}])
            },
        );
    expect_refused(bin, &b, true)
}

fn rlimits_duplicate_error(bin: &Path) -> R {
    let b = sh("rlimdup", "echo ran", |b| {
        b.process_mut()["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100},
            {"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200}
        ])
    });
    expect_refused(bin, &b, true)
}

fn no_new_privileges_true(bin: &Path) -> R {
    let b = sh("nnp1", "grep NoNewPrivs /proc/self/status", |b| {
        b.process_mut()["noNewPrivileges"] = json!(true)
    });
    let out = run_ok(bin, &b)?;
    ensure!(status_field(&out, "NoNewPrivs") == "1", "{out:?}");
    Ok(())
}

fn no_new_privileges_false(bin: &Path) -> R {
    let b = sh("nnp0", "grep NoNewPrivs /proc/self/status", |b| {
        b.process_mut()["noNewPrivileges"] = json!(false)
    });
    let out = run_ok(bin, &b)?;
    ensure!(status_field(&out, "NoNewPrivs") == "0", "{out:?}");
    Ok(())
}

fn oom_score_adj(bin: &Path) -> R {
    let b = sh("oomadj", "cat /proc/self/oom_score_adj", |b| {
        b.process_mut()["oomScoreAdj"] = json!(500)
    });
    expect_lines(&run_ok(bin, &b)?, &["500"])
}

fn hostname(bin: &Path) -> R {
    let b = sh("hostname", "hostname; cat /proc/sys/kernel/hostname", |b| {
        b.config_mut()["hostname"] = json!("conf-host")
    });
    expect_lines(&run_ok(bin, &b)?, &["conf-host", "conf-host"])
}

fn domainname(bin: &Path) -> R {
    let b = sh("domain", "cat /proc/sys/kernel/domainname", |b| {
        b.config_mut()["domainname"] = json!("conf.example")
    });
    expect_lines(&run_ok(bin, &b)?, &["conf.example"])
}

// --- namespaces ------------------------------------------------------------

/// Container's view of /proc/self/ns/<proc_name> with namespace `kind` set.
fn ns_differs(bin: &Path, kind: &str, proc_name: &str, f: impl FnOnce(&mut Bundle)) -> R {
    let b = sh(
        &format!("ns{proc_name}"),
        &format!("readlink /proc/self/ns/{proc_name}"),
        |b| {
            b.set_namespace(kind, None);
            f(b);
        },
    );
    let inside = run_ok(bin, &b)?.trim().to_string();
    ensure!(
        inside.starts_with(&format!("{proc_name}:[")),
        "readlink: {inside:?}"
    );
    ensure!(
        inside != host_ns(proc_name),
        "{kind} namespace is the host's ({inside})"
    );
    Ok(())
}

fn ns_pid(bin: &Path) -> R {
    ns_differs(bin, "pid", "pid", |_| {})?;
    let b = sh("pid1", "echo $$; ps -o pid= 2>/dev/null | wc -l", |_| {});
    let out = run_ok(bin, &b)?;
    ensure!(
        out.lines().next() == Some("1"),
        "process is not pid 1: {out:?}"
    );
    Ok(())
}

fn ns_network(bin: &Path) -> R {
    ns_differs(bin, "network", "net", |_| {})?;
    let b = sh("netlo", "ls /sys/class/net", |_| {});
    expect_lines(&run_ok(bin, &b)?, &["lo"])
}

fn ns_ipc(bin: &Path) -> R {
    ns_differs(bin, "ipc", "ipc", |_| {})
}

fn ns_uts(bin: &Path) -> R {
    ns_differs(bin, "uts", "uts", |_| {})
}

fn ns_mount(bin: &Path) -> R {
    ns_differs(bin, "mount", "mnt", |_| {})
}

fn ns_cgroup(bin: &Path) -> R {
    ns_differs(bin, "cgroup", "cgroup", |_| {})?;
    let b = sh("cgns", "cat /proc/self/cgroup", |b| {
        b.set_namespace("cgroup", None);
    });
    let out = run_ok(bin, &b)?;
    for l in out.lines() {
        let path = l.splitn(3, ':').nth(2).unwrap_or_default();
        ensure!(path == "/", "cgroup path not / inside a cgroup ns: {l}");
    }
    Ok(())
}

fn ns_user_mappings(bin: &Path) -> R {
    let b = sh(
        "userns",
        "id -u; cat /proc/self/uid_map /proc/self/gid_map; readlink /proc/self/ns/user",
        |b| {
            b.set_user_namespace(200000, 65536);
        },
    );
    let out = run_ok(bin, &b)?;
    let l = lines(&out);
    ensure!(l.len() == 4, "output {l:?}");
    let w = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    ensure!(l[0] == "0", "uid inside {}", l[0]);
    ensure!(w(&l[1]) == "0 200000 65536", "uid_map {}", l[1]);
    ensure!(w(&l[2]) == "0 200000 65536", "gid_map {}", l[2]);
    ensure!(l[3] != host_ns("user"), "user ns is the host's");
    Ok(())
}

fn ns_absent_inherits_host(bin: &Path) -> R {
    let b = sh(
        "nsabsent",
        "for n in net ipc uts cgroup; do readlink /proc/self/ns/$n; done",
        |b| {
            for k in ["network", "ipc", "uts", "cgroup"] {
                b.remove_namespace(k);
            }
            if let Some(o) = b.config_mut().as_object_mut() {
                o.remove("hostname");
            }
        },
    );
    let out = run_ok(bin, &b)?;
    let want: Vec<String> = ["net", "ipc", "uts", "cgroup"]
        .iter()
        .map(|n| host_ns(n))
        .collect();
    ensure!(
        lines(&out) == want,
        "got {:?}, want host's {want:?}",
        lines(&out)
    );
    Ok(())
}

fn ns_path_join(bin: &Path) -> R {
    let holder = NsHolder::spawn(&["--net", "--ipc", "--uts"])?;
    let pid = holder.pid();
    let b = sh(
        "nsjoin",
        "for n in net ipc uts; do readlink /proc/self/ns/$n; done",
        |b| {
            for (k, p) in [("network", "net"), ("ipc", "ipc"), ("uts", "uts")] {
                b.set_namespace(k, Some(Path::new(&format!("/proc/{pid}/ns/{p}"))));
            }
        },
    );
    let out = run_ok(bin, &b)?;
    let want: Vec<String> = ["net", "ipc", "uts"].iter().map(|n| holder.ns(n)).collect();
    ensure!(lines(&out) == want, "got {:?}, want {want:?}", lines(&out));
    Ok(())
}

fn ns_path_wrong_type_error(bin: &Path) -> R {
    let holder = NsHolder::spawn(&["--net"])?;
    let pid = holder.pid();
    let b = sh("nswrong", "echo ran", |b| {
        b.set_namespace("ipc", Some(Path::new(&format!("/proc/{pid}/ns/net"))));
    });
    expect_refused(bin, &b, false)
}

fn ns_unknown_type_error(bin: &Path) -> R {
    let b = sh("nsunknown", "echo ran", |b| {
        b.set_namespace("nosuchns", None);
    });
    expect_refused(bin, &b, false)
}

// --- devices ---------------------------------------------------------------

fn devices_created(bin: &Path) -> R {
    let b = sh(
        "devs",
        "stat -c '%n|%F|%t:%T|%a|%u|%g' /dev/tc /dev/tb /dev/tp",
        |b| {
            b.linux_mut()["devices"] = json!([
                {"path": "/dev/tc", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1, "gid": 2},
                {"path": "/dev/tb", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600, "uid": 0, "gid": 0},
                {"path": "/dev/tp", "type": "p", "fileMode": 0o620, "uid": 3, "gid": 4}
            ]);
        },
    );
    expect_lines(
        &run_ok(bin, &b)?,
        &[
            "/dev/tc|character special file|1:3|640|1|2",
            "/dev/tb|block special file|7:0|600|0|0",
            "/dev/tp|fifo|0:0|620|3|4",
        ],
    )
}

fn devices_default(bin: &Path) -> R {
    let b = sh(
        "defdevs",
        "stat -c '%n|%F|%t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; \
         [ -e /dev/ptmx ] && echo ptmx; echo x > /dev/null && echo null-w; head -c 3 /dev/zero | wc -c; \
         echo x 2>/dev/null > /dev/full || echo full-enospc",
        |_| {},
    );
    expect_lines(
        &run_ok(bin, &b)?,
        &[
            "/dev/null|character special file|1:3",
            "/dev/zero|character special file|1:5",
            "/dev/full|character special file|1:7",
            "/dev/random|character special file|1:8",
            "/dev/urandom|character special file|1:9",
            "/dev/tty|character special file|5:0",
            "ptmx",
            "null-w",
            "3",
            "full-enospc",
        ],
    )
}

fn dev_symlinks(bin: &Path) -> R {
    let b = sh(
        "devlinks",
        "for l in fd stdin stdout stderr; do readlink /dev/$l; done",
        |_| {},
    );
    expect_lines(
        &run_ok(bin, &b)?,
        &[
            "/proc/self/fd",
            "/proc/self/fd/0",
            "/proc/self/fd/1",
            "/proc/self/fd/2",
        ],
    )
}

// --- cgroups ---------------------------------------------------------------

fn cgroups_path(bin: &Path) -> R {
    let b = sh("cgpath", "cat /proc/self/cgroup", |_| {});
    let cg = b.cgroups_path().unwrap_or_default();
    let out = run_ok(bin, &b)?;
    for ctl in ["memory", "pids", "cpu", "devices", "freezer"] {
        let line = out
            .lines()
            .find(|l| {
                l.split(':')
                    .nth(1)
                    .map(|c| c.split(',').any(|x| x == ctl))
                    .unwrap_or(false)
            })
            .ok_or_else(|| format!("no {ctl} line in {out:?}"))?;
        ensure!(
            line.ends_with(&format!(":{cg}")),
            "{ctl}: {line} (want {cg})"
        );
    }
    Ok(())
}

fn cg_knob(b: &Bundle, ctl: &str, file: &str) -> String {
    read(b.cgroup_dir(ctl).join(file))
}

fn cgroup_memory(bin: &Path) -> R {
    let b = sh("cgmem", "exec sleep 1000", |b| {
        b.resources_mut()["memory"] = json!({
            "limit": 67108864_i64, "reservation": 33554432_i64, "swap": 134217728_i64,
            "swappiness": 10, "disableOOMKiller": true
        });
    });
    with_created(bin, &b, |_, _| {
        let memsw = b.cgroup_dir("memory").join("memory.memsw.limit_in_bytes");
        for (f, want) in [
            ("memory.limit_in_bytes", "67108864"),
            ("memory.soft_limit_in_bytes", "33554432"),
            ("memory.swappiness", "10"),
        ] {
            let got = cg_knob(&b, "memory", f);
            ensure!(got == want, "{f} = {got}, want {want}");
        }
        if memsw.exists() {
            ensure!(read(&memsw) == "134217728", "memsw = {}", read(&memsw));
        }
        let oom = cg_knob(&b, "memory", "memory.oom_control");
        ensure!(oom.contains("oom_kill_disable 1"), "oom_control: {oom}");
        Ok(())
    })
}

fn cgroup_memory_oom_kill(bin: &Path) -> R {
    let mut b = Bundle::new("cgoom", &["/bin/tail", "/dev/zero"]);
    b.resources_mut()["memory"] = json!({"limit": 16777216_i64, "swap": 16777216_i64});
    b.write().unwrap();
    let o = run_any(bin, &b);
    ensure!(
        o.status.code() == Some(137),
        "want exit 137 (SIGKILL by the OOM killer): {}",
        short(&o)
    );
    Ok(())
}

fn cgroup_cpu(bin: &Path) -> R {
    let b = sh("cgcpu", "grep Cpus_allowed_list /proc/self/status", |b| {
        b.resources_mut()["cpu"] = json!({
            "shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"
        });
    });
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    ensure!(o.status.success(), "create: {}", short(&o));
    for (ctl, f, want) in [
        ("cpu", "cpu.shares", "512"),
        ("cpu", "cpu.cfs_quota_us", "50000"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpuset", "cpuset.cpus", "0"),
        ("cpuset", "cpuset.mems", "0"),
    ] {
        let got = cg_knob(&b, ctl, f);
        ensure!(got == want, "{f} = {got}, want {want}");
    }
    let s = rt.start(id);
    ensure!(s.status.success(), "start: {}", short(&s));
    ensure!(rt.wait_status(id, "stopped", T10), "never stopped");
    let out = Runtime::container_stdout(&b, id);
    ensure!(
        status_field(&out, "Cpus_allowed_list") == "0",
        "inside: {out:?}"
    );
    Ok(())
}

fn cgroup_pids(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "cgpids",
        "sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo all-forked' 2>&1; echo rc=$?",
    );
    b.resources_mut()["pids"] = json!({"limit": 4});
    b.write().unwrap();
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let knob = cg_knob(&b, "pids", "pids.max");
    ensure!(knob == "4", "pids.max = {knob}");
    drop(rt);
    let out = run_ok(bin, &b)?;
    // pid 1 + the inner sh + 2 sleeps, then fork must fail.
    ensure!(
        !out.contains("all-forked") && !out.contains("rc=0"),
        "more than 4 pids: {out:?}"
    );
    expect_contains(&out, "can't fork")
}

/// A block device of this machine (major, minor), for blkio rules.
fn some_block_device() -> Option<(u64, u64)> {
    for e in fs::read_dir("/sys/block").ok()?.flatten() {
        let dev = fs::read_to_string(e.path().join("dev")).ok()?;
        let (ma, mi) = dev.trim().split_once(':')?;
        if e.file_name().to_string_lossy().starts_with("loop") {
            continue;
        }
        return Some((ma.parse().ok()?, mi.parse().ok()?));
    }
    None
}

fn cgroup_blkio(bin: &Path) -> R {
    let Some((ma, mi)) = some_block_device() else {
        return skip("no block device");
    };
    let b = sh("cgblk", "exec sleep 1000", |b| {
        b.resources_mut()["blockIO"] = json!({
            "throttleReadBpsDevice": [{"major": ma, "minor": mi, "rate": 1048576}],
            "throttleWriteIOPSDevice": [{"major": ma, "minor": mi, "rate": 300}]
        });
    });
    with_created(bin, &b, |_, _| {
        let r = cg_knob(&b, "blkio", "blkio.throttle.read_bps_device");
        ensure!(r.contains(&format!("{ma}:{mi} 1048576")), "read_bps: {r:?}");
        let w = cg_knob(&b, "blkio", "blkio.throttle.write_iops_device");
        ensure!(w.contains(&format!("{ma}:{mi} 300")), "write_iops: {w:?}");
        Ok(())
    })
}

fn tun_bundle(tag: &str, allow: bool) -> Bundle {
    sh(
        tag,
        "if (exec 3<>/dev/net/tun) 2>/dev/null; then echo open-ok; else echo open-failed; fi",
        |b| {
            // The node comes from a bind of the host's, not linux.devices
            // (runtimes allow listed devices implicitly): only the cgroup
            // rules decide whether it opens.
            b.add_mount(json!({"destination": "/dev/net/tun", "type": "bind",
                "source": "/dev/net/tun", "options": ["bind"]}));
            let mut rules = vec![json!({"allow": false, "access": "rwm"})];
            if allow {
                rules.push(
                    json!({"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rw"}),
                );
            }
            b.resources_mut()["devices"] = json!(rules);
        },
    )
}

fn cgroup_devices_allow(bin: &Path) -> R {
    if !Path::new("/dev/net/tun").exists() {
        return skip("no /dev/net/tun on the host");
    }
    let b = tun_bundle("devallow", true);
    let out = run_ok(bin, &b)?;
    expect_lines(&out, &["open-ok"])
}

fn cgroup_devices_deny(bin: &Path) -> R {
    if !Path::new("/dev/net/tun").exists() {
        return skip("no /dev/net/tun on the host");
    }
    let b = tun_bundle("devdeny", false);
    let out = run_ok(bin, &b)?;
    expect_lines(&out, &["open-failed"])
}

// --- sysctl / seccomp ------------------------------------------------------

fn sysctl(bin: &Path) -> R {
    let b = sh(
        "sysctl",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced",
        |b| {
            b.linux_mut()["sysctl"] =
                json!({"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"});
        },
    );
    expect_lines(&run_ok(bin, &b)?, &["1", "1"])
}

/// x86_64 syscalls a busybox shell and the runtimes' last steps need:
/// everything common except mkdir/mkdirat.
const ALLOW: &[&str] = &[
    "read",
    "write",
    "open",
    "close",
    "stat",
    "fstat",
    "lstat",
    "poll",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "pipe",
    "select",
    "sched_yield",
    "mremap",
    "madvise",
    "dup",
    "dup2",
    "nanosleep",
    "getitimer",
    "alarm",
    "setitimer",
    "getpid",
    "socket",
    "connect",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "bind",
    "socketpair",
    "setsockopt",
    "getsockopt",
    "clone",
    "fork",
    "vfork",
    "execve",
    "exit",
    "wait4",
    "kill",
    "uname",
    "fcntl",
    "flock",
    "fsync",
    "ftruncate",
    "getdents",
    "getcwd",
    "chdir",
    "fchdir",
    "rename",
    "rmdir",
    "creat",
    "link",
    "unlink",
    "symlink",
    "readlink",
    "chmod",
    "fchmod",
    "chown",
    "fchown",
    "lchown",
    "umask",
    "gettimeofday",
    "getrlimit",
    "getrusage",
    "sysinfo",
    "times",
    "getuid",
    "getgid",
    "setuid",
    "setgid",
    "geteuid",
    "getegid",
    "setpgid",
    "getppid",
    "getpgrp",
    "setsid",
    "setreuid",
    "setregid",
    "getgroups",
    "setgroups",
    "setresuid",
    "getresuid",
    "setresgid",
    "getresgid",
    "getpgid",
    "getsid",
    "capget",
    "capset",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigsuspend",
    "sigaltstack",
    "statfs",
    "fstatfs",
    "prctl",
    "arch_prctl",
    "setrlimit",
    "gettid",
    "tkill",
    "futex",
    "sched_getaffinity",
    "set_tid_address",
    "exit_group",
    "epoll_wait",
    "epoll_ctl",
    "tgkill",
    "openat",
    "fchownat",
    "newfstatat",
    "unlinkat",
    "renameat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "faccessat",
    "pselect6",
    "ppoll",
    "set_robust_list",
    "get_robust_list",
    "epoll_pwait",
    "utimensat",
    "eventfd2",
    "epoll_create1",
    "dup3",
    "pipe2",
    "prlimit64",
    "getrandom",
    "execveat",
    "statx",
    "rseq",
    "clock_gettime",
    "clock_nanosleep",
    "getdents64",
    "faccessat2",
    "close_range",
    "waitid",
    "restart_syscall",
    "mincore",
    "time",
    "clone3",
    "sched_getparam",
    "membarrier",
];

fn seccomp_errno_default_allowlist(bin: &Path) -> R {
    let b = sh(
        "secallow",
        "echo ok > /tmp/f && cat /tmp/f; mkdir /tmp/d 2>&1; echo rc=$?; [ -d /tmp/d ] || echo absent",
        |b| {
            b.linux_mut()["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [{"names": ALLOW, "action": "SCMP_ACT_ALLOW"}]
            });
        },
    );
    let out = run_ok(bin, &b)?;
    expect_contains(&out, "ok\n")?;
    expect_contains(&out, "Operation not permitted")?;
    expect_contains(&out, "rc=1")?;
    expect_contains(&out, "absent")
}

fn seccomp_kill_rule(bin: &Path) -> R {
    let b = sh(
        "seckill",
        "(mkdir /tmp/d); echo rc=$?; [ -d /tmp/d ] || echo absent",
        |b| {
            b.linux_mut()["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}]
            });
        },
    );
    // 159 = 128 + SIGSYS
    expect_lines(&run_ok(bin, &b)?, &["rc=159", "absent"])
}

fn seccomp_arg_rule_errno_ret(bin: &Path) -> R {
    let b = sh(
        "secargs",
        "touch /tmp/f; chmod 777 /tmp/f 2>&1; echo rc=$?; chmod 751 /tmp/f; echo rc=$?; stat -c %a /tmp/f",
        |b| {
            b.linux_mut()["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                     "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                     "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}]}
                ]
            });
        },
    );
    let out = run_ok(bin, &b)?;
    expect_contains(&out, "Permission denied")?;
    let l = lines(&out);
    ensure!(
        l.ends_with(&["rc=1".into(), "rc=0".into(), "751".into()]),
        "output {l:?}"
    );
    Ok(())
}

// --- rootfs propagation, masked/readonly paths -------------------------------

fn root_propagation_tags(bin: &Path, prop: &str) -> Result<Vec<String>, String> {
    let mut b = Bundle::sh("rootprop", "awk '$5 == \"/\"' /proc/self/mountinfo");
    b.linux_mut()["rootfsPropagation"] = json!(prop);
    b.write().unwrap();
    let d = b.dir().to_path_buf();
    mount(Some(&d), &d, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(|e| e.to_string())?;
    mount(
        None::<&str>,
        &d,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .map_err(|e| e.to_string())?;
    let out = run_ok(bin, &b)?;
    let mi = parse_mountinfo(&out);
    Ok(mi
        .last()
        .ok_or_else(|| format!("no / mount: {out}"))?
        .optional
        .clone())
}

fn rootfs_propagation_shared(bin: &Path) -> R {
    let t = root_propagation_tags(bin, "shared")?;
    ensure!(
        t.iter().any(|t| t.starts_with("shared:")),
        "/ not shared: {t:?}"
    );
    Ok(())
}

fn rootfs_propagation_slave(bin: &Path) -> R {
    let t = root_propagation_tags(bin, "slave")?;
    // As runtime-tools checks it: mounts made under a slave / do not
    // propagate back (not shared). A master exists only if the rootfs's
    // source mount was shared, which the runtime may first make private
    // (pivot_root needs a non-shared parent).
    ensure!(
        !t.iter().any(|t| t.starts_with("shared:")) && !t.iter().any(|t| t == "unbindable"),
        "/ not a slave: {t:?}"
    );
    Ok(())
}

fn rootfs_propagation_private(bin: &Path) -> R {
    let t = root_propagation_tags(bin, "private")?;
    ensure!(t.is_empty(), "/ not private: {t:?}");
    Ok(())
}

fn rootfs_propagation_unbindable(bin: &Path) -> R {
    let t = root_propagation_tags(bin, "unbindable")?;
    ensure!(
        t.iter().any(|t| t == "unbindable"),
        "/ not unbindable: {t:?}"
    );
    Ok(())
}

fn masked_paths_files(bin: &Path) -> R {
    // /proc/timer_list is in the default maskedPaths and never empty.
    ensure!(
        !read("/proc/timer_list").is_empty(),
        "precondition: host /proc/timer_list is empty"
    );
    let mut b = Bundle::sh(
        "maskf",
        "wc -c < /proc/timer_list; wc -c < /secret; echo x > /secret 2>/dev/null; wc -c < /secret",
    );
    fs::write(b.default_rootfs().join("secret"), "top secret\n").unwrap();
    let lm = b.linux_mut();
    let mut masked: Vec<Value> = lm["maskedPaths"].as_array().cloned().unwrap_or_default();
    masked.push(json!("/secret"));
    masked.push(json!("/no/such/path"));
    lm["maskedPaths"] = json!(masked);
    b.write().unwrap();
    expect_lines(&run_ok(bin, &b)?, &["0", "0", "0"])
}

fn masked_paths_dirs(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "maskd",
        "ls -A /sys/firmware | wc -l; ls -A /secretdir | wc -l; touch /secretdir/x 2>/dev/null || echo ro",
    );
    let sd = b.default_rootfs().join("secretdir");
    fs::create_dir_all(&sd).unwrap();
    fs::write(sd.join("a"), "a").unwrap();
    let lm = b.linux_mut();
    let mut masked: Vec<Value> = lm["maskedPaths"].as_array().cloned().unwrap_or_default();
    masked.push(json!("/secretdir"));
    lm["maskedPaths"] = json!(masked);
    b.write().unwrap();
    expect_lines(&run_ok(bin, &b)?, &["0", "0", "ro"])
}

fn readonly_paths(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "rop",
        "cat /rodir/f; touch /rodir/x 2>&1; echo rc=$?; awk '$5 == \"/proc/sys\" {print $6}' /proc/self/mountinfo",
    );
    let rd = b.default_rootfs().join("rodir");
    fs::create_dir_all(&rd).unwrap();
    fs::write(rd.join("f"), "readable\n").unwrap();
    let lm = b.linux_mut();
    let mut ro: Vec<Value> = lm["readonlyPaths"].as_array().cloned().unwrap_or_default();
    ro.push(json!("/rodir"));
    lm["readonlyPaths"] = json!(ro);
    b.write().unwrap();
    let out = run_ok(bin, &b)?;
    expect_contains(&out, "readable")?;
    expect_contains(&out, "Read-only file system")?;
    let procsys = out.lines().last().unwrap_or_default();
    ensure!(
        procsys.split(',').any(|o| o == "ro"),
        "/proc/sys not ro: {procsys:?}"
    );
    Ok(())
}

// --- hooks -----------------------------------------------------------------

fn host_hook(script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

fn log_lines(p: &Path) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Bundle with a host dir `m` bound at /m and a hook of each kind that
/// appends its name to m/log and saves its stdin to m/<kind>.json.
fn hooks_bundle(tag: &str, args: &[&str]) -> (Bundle, PathBuf) {
    let mut b = Bundle::new(tag, args);
    let m = b.host_dir("m");
    let hm = m.display().to_string();
    b.add_bind(&m, "/m", false);
    for kind in ["prestart", "createRuntime", "poststart", "poststop"] {
        b.add_hook(
            kind,
            host_hook(&format!("cat > {hm}/{kind}.json; echo {kind} >> {hm}/log")),
        );
    }
    // Runs in the container's namespaces: write via either path.
    b.add_hook(
        "createContainer",
        host_hook(&format!(
            "if [ -d {hm} ]; then d={hm}; else d=/m; fi; cat > $d/createContainer.json; echo createContainer >> $d/log"
        )),
    );
    // Path resolves in the container: the rootfs's busybox sh.
    b.add_hook(
        "startContainer",
        json!({"path": "/bin/sh", "args": ["sh", "-c", "cat > /m/startContainer.json; echo startContainer >> /m/log"]}),
    );
    b.config_mut()["annotations"] = json!({"org.hull.test": "hooks"});
    b.write().unwrap();
    (b, m)
}

fn hooks_order(bin: &Path) -> R {
    let (b, m) = hooks_bundle("hookorder", &["/bin/sleep", "1000"]);
    let log = m.join("log");
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let got = log_lines(&log);
    ensure!(
        got == ["prestart", "createRuntime", "createContainer"],
        "after create: {got:?}"
    );
    let s = rt.start(id);
    ensure!(s.status.success(), "start: {}", short(&s));
    let want = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
    ];
    // poststart MUST run before `start` returns.
    let got = log_lines(&log);
    ensure!(got == want, "after start: {got:?}");
    ensure!(rt.kill(id, "KILL").status.success(), "kill failed");
    ensure!(rt.wait_status(id, "stopped", T10), "never stopped");
    let got = log_lines(&log);
    ensure!(got == want, "before delete: {got:?}");
    let d = rt.delete(id);
    ensure!(d.status.success(), "delete: {}", short(&d));
    let got = log_lines(&log);
    ensure!(
        got.last().map(String::as_str) == Some("poststop") && got.len() == 6,
        "after delete: {got:?}"
    );
    Ok(())
}

fn hook_states(m: &Path) -> Result<Vec<(String, Value)>, String> {
    let mut v = Vec::new();
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        let p = m.join(format!("{kind}.json"));
        let text = fs::read_to_string(&p).map_err(|e| format!("{kind}: no state ({e})"))?;
        let j: Value =
            serde_json::from_str(&text).map_err(|e| format!("{kind}: not JSON ({e}): {text:?}"))?;
        v.push((kind.to_string(), j));
    }
    Ok(v)
}

fn run_hooks_lifecycle(bin: &Path, b: &Bundle) -> R {
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let s = rt.start(id);
    ensure!(s.status.success(), "start: {}", short(&s));
    ensure!(rt.kill(id, "KILL").status.success(), "kill failed");
    ensure!(rt.wait_status(id, "stopped", T10), "never stopped");
    let d = rt.delete(id);
    ensure!(d.status.success(), "delete: {}", short(&d));
    Ok(())
}

fn hooks_state_stdin(bin: &Path) -> R {
    let (b, m) = hooks_bundle("hookstdin", &["/bin/sleep", "1000"]);
    run_hooks_lifecycle(bin, &b)?;
    let bundle = b.dir().display().to_string();
    for (kind, j) in hook_states(&m)? {
        ensure!(j["id"] == b.id(), "{kind}: id {}", j["id"]);
        ensure!(
            j["bundle"] == bundle.as_str(),
            "{kind}: bundle {}",
            j["bundle"]
        );
        ensure!(
            j["ociVersion"]
                .as_str()
                .map(|s| !s.is_empty())
                .unwrap_or(false),
            "{kind}: ociVersion {}",
            j["ociVersion"]
        );
        ensure!(j["status"].is_string(), "{kind}: status {}", j["status"]);
        ensure!(
            j["annotations"]["org.hull.test"] == "hooks",
            "{kind}: annotations {}",
            j["annotations"]
        );
        if kind != "poststop" {
            ensure!(
                j["pid"].as_i64().map(|p| p > 0).unwrap_or(false),
                "{kind}: pid {}",
                j["pid"]
            );
        }
    }
    Ok(())
}

fn hooks_state_status(bin: &Path) -> R {
    let (b, m) = hooks_bundle("hookstatus", &["/bin/sleep", "1000"]);
    run_hooks_lifecycle(bin, &b)?;
    let want = [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("startContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ];
    let got: Vec<(String, String)> = hook_states(&m)?
        .into_iter()
        .map(|(k, j)| (k, j["status"].as_str().unwrap_or("?").to_string()))
        .collect();
    let bad: Vec<String> = got
        .iter()
        .zip(want)
        .filter(|((_, g), (_, w))| g != w)
        .map(|((k, g), (_, w))| format!("{k}={g} (want {w})"))
        .collect();
    ensure!(bad.is_empty(), "{}", bad.join(", "));
    Ok(())
}

fn hooks_args_env(bin: &Path) -> R {
    let mut b = Bundle::new("hookargs", &["/bin/true"]);
    let m = b.host_dir("m");
    let out = m.join("out");
    b.add_hook(
        "createRuntime",
        json!({"path": "/bin/sh",
               "args": ["sh", "-c", format!("echo \"$0|$1|$X|$PATH\" > {}", out.display()), "zero", "one"],
               "env": ["X=ex", "PATH=/hookpath"]}),
    );
    b.write().unwrap();
    run_ok(bin, &b)?;
    let got = read(&out);
    ensure!(got == "zero|one|ex|/hookpath", "hook saw {got:?}");
    Ok(())
}

/// Hook `kind` fails: the lifecycle MUST error and stop; the program never runs.
fn hook_fails(bin: &Path, kind: &str, at_start: bool) -> R {
    let mut b = Bundle::new(
        &format!("hf{}", &kind[..4]),
        &["/bin/sh", "-c", "echo ran > /m/ran; exec sleep 1000"],
    );
    let m = b.host_dir("m");
    b.add_bind(&m, "/m", false);
    let hook = if kind == "startContainer" {
        json!({"path": "/bin/false"})
    } else {
        host_hook("exit 3")
    };
    b.add_hook(kind, hook);
    b.write().unwrap();
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    if !at_start {
        ensure!(
            !o.status.success(),
            "create succeeded despite a failing {kind} hook"
        );
    } else {
        ensure!(o.status.success(), "create: {}", short(&o));
        let s = rt.start(id);
        // "generate an error": runc-style runtimes run startContainer in
        // the init after `start` returned; then the error must at least be
        // reported on the container's stderr (the runtime's log).
        if s.status.success() {
            let reported = wait_until(T10, || {
                !fs::read_to_string(Runtime::stderr_path(&b, id))
                    .unwrap_or_default()
                    .trim()
                    .is_empty()
            });
            ensure!(
                reported,
                "start succeeded and no error was reported for the failing {kind} hook"
            );
        }
        // "stop the container": it must end up stopped (or be gone).
        let st = rt.status(id);
        ensure!(
            st.is_none() || st.as_deref() == Some("stopped") || rt.wait_status(id, "stopped", T10),
            "container not stopped after failing {kind}: {st:?}"
        );
        let _ = rt.delete(id);
    }
    ensure!(!m.join("ran").exists(), "the user program ran");
    ensure!(
        rt.status(id).is_none(),
        "container still known: {:?}",
        rt.status(id)
    );
    let mut last = Vec::new();
    ensure!(
        wait_until(Duration::from_secs(5), || {
            last = rt.leftovers(id, &b);
            last.is_empty()
        }),
        "left behind: {last:?}"
    );
    Ok(())
}

fn hooks_prestart_fail(bin: &Path) -> R {
    hook_fails(bin, "prestart", false)
}

fn hooks_create_runtime_fail(bin: &Path) -> R {
    hook_fails(bin, "createRuntime", false)
}

fn hooks_create_container_fail(bin: &Path) -> R {
    hook_fails(bin, "createContainer", false)
}

fn hooks_start_container_fail(bin: &Path) -> R {
    hook_fails(bin, "startContainer", true)
}

/// runtime-spec 1.0.2: a failing poststart hook is a warning and the
/// container keeps running; 1.1+: `start` generates an error and the
/// container is stopped. Either is accepted; anything else is not (e.g.
/// running poststart during `create`).
fn hooks_poststart_fail(bin: &Path) -> R {
    let mut b = Bundle::sh("hfpost", "echo ran > /m/ran; exec sleep 1000");
    let m = b.host_dir("m");
    b.add_bind(&m, "/m", false);
    b.add_hook("poststart", host_hook("exit 3"));
    b.write().unwrap();
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let s = rt.start(id);
    if s.status.success() {
        ensure!(wait_file(&m.join("ran"), T10), "program did not run");
        ensure!(
            rt.status(id).as_deref() == Some("running"),
            "start succeeded (1.0.2 semantics) but status is {:?}",
            rt.status(id)
        );
    } else {
        let st = rt.status(id);
        ensure!(
            st.is_none() || rt.wait_status(id, "stopped", T10),
            "start failed (1.1 semantics) but the container was not stopped: {st:?}"
        );
    }
    Ok(())
}

fn hooks_failed_create_runs_poststop(bin: &Path) -> R {
    let mut b = Bundle::new("hfpoststop", &["/bin/true"]);
    let m = b.host_dir("m");
    b.add_hook("createRuntime", host_hook("exit 3"));
    b.add_hook(
        "poststop",
        host_hook(&format!("echo poststop >> {}/log", m.display())),
    );
    b.write().unwrap();
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    ensure!(
        !o.status.success(),
        "create succeeded despite a failing createRuntime hook"
    );
    // The failed create may leave a stopped container to delete.
    if rt.status(id).is_some() {
        let _ = rt.delete(id);
    }
    ensure!(
        log_lines(&m.join("log")) == ["poststop"],
        "poststop hooks did not run once after the failed create: {:?}",
        log_lines(&m.join("log"))
    );
    Ok(())
}

fn hooks_poststop_fail_warns(bin: &Path) -> R {
    let mut b = Bundle::new("hfstop", &["/bin/true"]);
    b.add_hook("poststop", host_hook("exit 3"));
    b.write().unwrap();
    let rt = rt(bin);
    let id = b.id();
    let o = rt.create(id, &b);
    ensure!(o.status.success(), "create: {}", short(&o));
    let s = rt.start(id);
    ensure!(s.status.success(), "start: {}", short(&s));
    ensure!(rt.wait_status(id, "stopped", T10), "never stopped");
    let d = rt.delete(id);
    ensure!(
        d.status.success(),
        "delete failed on a failing poststop: {}",
        short(&d)
    );
    ensure!(rt.status(id).is_none(), "still known after delete");
    Ok(())
}

fn hooks_timeout(bin: &Path) -> R {
    let mut b = Bundle::new("htime", &["/bin/true"]);
    let mut h = host_hook("exec sleep 30");
    h["timeout"] = json!(1);
    b.add_hook("createRuntime", h);
    b.write().unwrap();
    let t0 = Instant::now();
    let r = expect_refused(bin, &b, false);
    ensure!(
        t0.elapsed() < Duration::from_secs(20),
        "hook not aborted after its timeout: {:?}",
        t0.elapsed()
    );
    r
}

// --- state and lifecycle ---------------------------------------------------

fn annotations_in_state(bin: &Path) -> R {
    let b = sh("annot", "exec sleep 1000", |b| {
        b.config_mut()["annotations"] = json!({"org.hull.a": "1", "org.hull.b": "two words"});
    });
    with_created(bin, &b, |rt, _| {
        let st = rt.state_json(b.id());
        ensure!(
            st["annotations"] == json!({"org.hull.a": "1", "org.hull.b": "two words"}),
            "annotations {}",
            st["annotations"]
        );
        Ok(())
    })
}

fn state_fields(bin: &Path) -> R {
    let b = sh("statef", "exec sleep 1000", |_| {});
    with_created(bin, &b, |rt, pid| {
        let st = rt.state_json(b.id());
        ensure!(
            st["ociVersion"].is_string(),
            "ociVersion {}",
            st["ociVersion"]
        );
        ensure!(st["id"] == b.id(), "id {}", st["id"]);
        ensure!(st["status"] == "created", "status {}", st["status"]);
        ensure!(
            pid > 0 && Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid}"
        );
        ensure!(
            st["bundle"] == b.dir().display().to_string().as_str(),
            "bundle {}",
            st["bundle"]
        );
        Ok(())
    })
}

fn marker_bundle(tag: &str) -> (Bundle, PathBuf) {
    let mut b = Bundle::sh(tag, "echo ran >> /m/ran; exec sleep 1000");
    let m = b.host_dir("m");
    b.add_bind(&m, "/m", false);
    b.write().unwrap();
    (b, m.join("ran"))
}

fn lifecycle_create_does_not_run_program(bin: &Path) -> R {
    let (b, ran) = marker_bundle("lccreate");
    with_created(bin, &b, |rt, pid| {
        ensure!(rt.status(b.id()).as_deref() == Some("created"), "status");
        // The init exists (pid is live) but the program has not run; the
        // runtime returned, so any run would have had every chance to start.
        ensure!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "no init process"
        );
        ensure!(!ran.exists(), "program ran before start");
        Ok(())
    })
}

fn lifecycle_start_runs_program(bin: &Path) -> R {
    let (b, ran) = marker_bundle("lcstart");
    with_running(bin, &b, |rt, _| {
        ensure!(wait_file(&ran, T10), "program did not run after start");
        ensure!(
            rt.status(b.id()).as_deref() == Some("running"),
            "status {:?}",
            rt.status(b.id())
        );
        ensure!(
            read(&ran) == "ran",
            "program ran more than once: {:?}",
            read(&ran)
        );
        Ok(())
    })
}

fn lifecycle_exit_is_stopped(bin: &Path) -> R {
    let b = sh("lcexit", "exit 0", |_| {});
    with_running(bin, &b, |rt, _| {
        ensure!(
            rt.wait_status(b.id(), "stopped", T10),
            "status {:?}",
            rt.status(b.id())
        );
        Ok(())
    })
}

fn lifecycle_delete_removes_everything(bin: &Path) -> R {
    let b = sh("lcdel", "exit 0", |_| {});
    with_running(bin, &b, |rt, _| {
        ensure!(rt.wait_status(b.id(), "stopped", T10), "never stopped");
        let d = rt.delete(b.id());
        ensure!(d.status.success(), "delete: {}", short(&d));
        ensure!(
            rt.status(b.id()).is_none(),
            "state still answers after delete"
        );
        let left = rt.leftovers(b.id(), &b);
        ensure!(left.is_empty(), "left behind: {left:?}");
        Ok(())
    })
}

fn config_updates_without_affect(bin: &Path) -> R {
    let (mut b, ran) = marker_bundle("cfgupd");
    let rt = rt(bin);
    let id = b.id().to_string();
    let o = rt.create(&id, &b);
    ensure!(o.status.success(), "create: {}", short(&o));
    // Changing config.json after create MUST NOT affect the container.
    b.set_args(&["/bin/sh", "-c", "echo changed >> /m/ran; exec sleep 1000"]);
    b.write().unwrap();
    let s = rt.start(&id);
    ensure!(s.status.success(), "start: {}", short(&s));
    ensure!(
        wait_until(T10, || !read(&ran).starts_with('<')
            && !read(&ran).is_empty()),
        "program did not run"
    );
    ensure!(
        read(&ran) == "ran",
        "config change after create took effect: {:?}",
        read(&ran)
    );
    Ok(())
}

fn create_duplicate_id_error(bin: &Path) -> R {
    let b = sh("dupid", "exec sleep 1000", |_| {});
    with_created(bin, &b, |rt, pid| {
        let o = rt.create(b.id(), &b);
        ensure!(
            !o.status.success(),
            "second create with the same id succeeded"
        );
        ensure!(
            rt.status(b.id()).as_deref() == Some("created"),
            "first container changed: {:?}",
            rt.status(b.id())
        );
        ensure!(rt.pid(b.id()) == pid, "first container's pid changed");
        Ok(())
    })
}

fn start_running_refused(bin: &Path) -> R {
    let (b, ran) = marker_bundle("startrun");
    with_running(bin, &b, |rt, pid| {
        ensure!(wait_file(&ran, T10), "program did not run");
        let s = rt.start(b.id());
        ensure!(
            !s.status.success(),
            "start of a running container succeeded"
        );
        ensure!(
            rt.status(b.id()).as_deref() == Some("running") && rt.pid(b.id()) == pid,
            "container affected"
        );
        ensure!(read(&ran) == "ran", "program ran twice");
        Ok(())
    })
}

fn start_stopped_refused(bin: &Path) -> R {
    let (b, ran) = marker_bundle("startstop");
    with_running(bin, &b, |rt, _| {
        ensure!(wait_file(&ran, T10), "program did not run");
        ensure!(rt.kill(b.id(), "KILL").status.success(), "kill");
        ensure!(rt.wait_status(b.id(), "stopped", T10), "never stopped");
        let s = rt.start(b.id());
        ensure!(
            !s.status.success(),
            "start of a stopped container succeeded"
        );
        ensure!(
            rt.status(b.id()).as_deref() == Some("stopped"),
            "status {:?}",
            rt.status(b.id())
        );
        ensure!(read(&ran) == "ran", "program ran again");
        Ok(())
    })
}

fn delete_running_refused(bin: &Path) -> R {
    let b = sh("delrun", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, pid| {
        let d = rt.delete(b.id());
        ensure!(
            !d.status.success(),
            "delete of a running container succeeded"
        );
        ensure!(
            rt.status(b.id()).as_deref() == Some("running")
                && Path::new(&format!("/proc/{pid}")).exists(),
            "container affected: {:?}",
            rt.status(b.id())
        );
        Ok(())
    })
}

fn delete_created_refused(bin: &Path) -> R {
    let b = sh("delcreated", "exec sleep 1000", |_| {});
    with_created(bin, &b, |rt, pid| {
        let d = rt.delete(b.id());
        ensure!(
            !d.status.success(),
            "delete of a created container succeeded"
        );
        ensure!(
            rt.status(b.id()).as_deref() == Some("created")
                && Path::new(&format!("/proc/{pid}")).exists(),
            "container affected: {:?}",
            rt.status(b.id())
        );
        Ok(())
    })
}

fn kill_signal_delivered(bin: &Path) -> R {
    let b = sh(
        "killsig",
        "trap 'echo got-usr1; exit 0' USR1; echo ready; while :; do sleep 0.05; done",
        |_| {},
    );
    with_running(bin, &b, |rt, _| {
        let id = b.id();
        ensure!(
            wait_until(T10, || Runtime::container_stdout(&b, id).contains("ready")),
            "not ready"
        );
        let k = rt.kill(id, "USR1");
        ensure!(k.status.success(), "kill USR1: {}", short(&k));
        ensure!(
            rt.wait_status(id, "stopped", T10),
            "did not stop after USR1"
        );
        expect_contains(&Runtime::container_stdout(&b, id), "got-usr1")
    })
}

fn kill_created_container(bin: &Path) -> R {
    let (b, ran) = marker_bundle("killcreated");
    with_created(bin, &b, |rt, _| {
        let k = rt.kill(b.id(), "KILL");
        ensure!(
            k.status.success(),
            "kill of a created container: {}",
            short(&k)
        );
        ensure!(
            rt.wait_status(b.id(), "stopped", T10),
            "status {:?}",
            rt.status(b.id())
        );
        ensure!(!ran.exists(), "program ran");
        Ok(())
    })
}

fn kill_stopped_error(bin: &Path) -> R {
    let b = sh("killstopped", "exit 0", |_| {});
    with_running(bin, &b, |rt, _| {
        ensure!(rt.wait_status(b.id(), "stopped", T10), "never stopped");
        let k = rt.kill(b.id(), "TERM");
        ensure!(!k.status.success(), "kill of a stopped container succeeded");
        ensure!(
            rt.status(b.id()).as_deref() == Some("stopped"),
            "status {:?}",
            rt.status(b.id())
        );
        Ok(())
    })
}

fn ops_on_unknown_id_error(bin: &Path) -> R {
    let rt = rt(bin);
    let id = "no-such-container-xyz";
    for args in [
        vec!["state", id],
        vec!["start", id],
        vec!["kill", id, "KILL"],
        vec!["delete", id],
    ] {
        let o = rt.run(&args);
        ensure!(!o.status.success(), "{args:?} succeeded");
    }
    Ok(())
}

fn pid_file(bin: &Path) -> R {
    let b = sh("pidfile", "exec sleep 1000", |_| {});
    let rt = rt(bin);
    let pf = b.dir().join("init.pid");
    let o = rt.create_with(b.id(), &b, &["--pid-file", &pf.display().to_string()]);
    ensure!(o.status.success(), "create: {}", short(&o));
    let txt = fs::read_to_string(&pf).map_err(|e| format!("pid file: {e}"))?;
    let pid: i32 = txt
        .trim()
        .parse()
        .map_err(|e| format!("pid file {txt:?}: {e}"))?;
    ensure!(
        pid == rt.pid(b.id()),
        "pid file {pid} != state pid {}",
        rt.pid(b.id())
    );
    Ok(())
}

fn run_exit_code(bin: &Path) -> R {
    let b = sh("exitcode", "exit 42", |_| {});
    let o = run_any(bin, &b);
    ensure!(o.status.code() == Some(42), "{}", short(&o));
    Ok(())
}

// --- invalid configs ----------------------------------------------------------

fn invalid_oci_version(bin: &Path) -> R {
    let b = sh("badver", "echo ran", |b| {
        b.config_mut()["ociVersion"] = json!("not-a-version")
    });
    expect_refused(bin, &b, false)
}

fn invalid_json(bin: &Path) -> R {
    let b = sh("badjson", "echo ran", |_| {});
    fs::write(b.config_path(), "{\"ociVersion\": \"1.0.2\", \"process\": ").unwrap();
    expect_refused(bin, &b, false)
}

fn invalid_missing_process(bin: &Path) -> R {
    let b = sh("noproc", "echo ran", |b| {
        if let Some(o) = b.config_mut().as_object_mut() {
            o.remove("process");
        }
    });
    expect_refused(bin, &b, true)
}

fn invalid_relative_cwd(bin: &Path) -> R {
    let b = sh("relcwd", "echo ran", |b| {
        b.process_mut()["cwd"] = json!("tmp")
    });
    expect_refused(bin, &b, false)
}

fn invalid_empty_args(bin: &Path) -> R {
    let b = sh("noargs", "echo ran", |b| {
        b.process_mut()["args"] = json!([])
    });
    expect_refused(bin, &b, true)
}

fn invalid_missing_rootfs(bin: &Path) -> R {
    let b = sh("norootfs", "echo ran", |b| {
        b.config_mut()["root"]["path"] = json!("no-such-rootfs")
    });
    expect_refused(bin, &b, false)
}

fn invalid_missing_executable(bin: &Path) -> R {
    let b = Bundle::new("noexe", &["/no/such/binary"]);
    expect_refused(bin, &b, true)
}

fn invalid_seccomp_action(bin: &Path) -> R {
    let b = sh("badsec", "echo ran", |b| {
        b.linux_mut()["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NO_SUCH_ACTION"}]
        });
    });
    expect_refused(bin, &b, false)
}

// --- features --------------------------------------------------------------

/// The runtime's `features` document (runtime-spec features.md).
fn features(bin: &Path) -> Result<Value, String> {
    let o = Command::new(bin)
        .arg("features")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    ensure!(
        o.status.success(),
        "`features` failed: {}",
        one_line(&String::from_utf8_lossy(&o.stderr), 120)
    );
    serde_json::from_slice(&o.stdout).map_err(|e| format!("features is not JSON: {e}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

/// Every claim of the features document has a case here (mount options
/// and capabilities are each exercised by a case that walks the claims).
fn features_document(bin: &Path) -> R {
    let j = features(bin)?;
    ensure!(
        j["ociVersionMin"].is_string() && j["ociVersionMax"].is_string(),
        "no ociVersionMin/Max"
    );
    let covered: [(&str, &Value, &[&str]); 5] = [
        (
            "namespace",
            &j["linux"]["namespaces"],
            &[
                "pid", "network", "ipc", "uts", "mount", "cgroup", "user", "time",
            ],
        ),
        (
            "hook",
            &j["hooks"],
            &[
                "prestart",
                "createRuntime",
                "createContainer",
                "startContainer",
                "poststart",
                "poststop",
            ],
        ),
        (
            "seccomp action",
            &j["linux"]["seccomp"]["actions"],
            &[
                "SCMP_ACT_ALLOW",
                "SCMP_ACT_ERRNO",
                "SCMP_ACT_KILL",
                "SCMP_ACT_KILL_PROCESS",
                "SCMP_ACT_KILL_THREAD",
                "SCMP_ACT_LOG",
                "SCMP_ACT_TRACE",
                "SCMP_ACT_TRAP",
            ],
        ),
        (
            "seccomp operator",
            &j["linux"]["seccomp"]["operators"],
            &[
                "SCMP_CMP_EQ",
                "SCMP_CMP_NE",
                "SCMP_CMP_GT",
                "SCMP_CMP_GE",
                "SCMP_CMP_LT",
                "SCMP_CMP_LE",
                "SCMP_CMP_MASKED_EQ",
            ],
        ),
        (
            "seccomp flag",
            &j["linux"]["seccomp"]["supportedFlags"],
            &[
                "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                "SECCOMP_FILTER_FLAG_TSYNC",
            ],
        ),
    ];
    let mut uncovered = Vec::new();
    for (what, claimed, ours) in covered {
        for c in strings(claimed) {
            if !ours.contains(&c.as_str()) {
                uncovered.push(format!("{what} {c}"));
            }
        }
    }
    ensure!(
        uncovered.is_empty(),
        "claimed but not covered here: {uncovered:?}"
    );
    Ok(())
}

/// Number of a capability name (capabilities(7)).
fn cap_number(name: &str) -> Option<u32> {
    const CAPS: [&str; 41] = [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    let n = name.strip_prefix("CAP_")?;
    CAPS.iter().position(|c| *c == n).map(|i| i as u32)
}

fn caps_all_claimed(bin: &Path) -> R {
    let claimed = strings(&features(bin)?["linux"]["capabilities"]);
    ensure!(!claimed.is_empty(), "features claims no capabilities");
    // Only what this (root) process can grant: its own bounding set.
    let host_bnd = status_hex(&read("/proc/self/status"), "CapBnd").unwrap_or(0);
    let mut names = Vec::new();
    let mut mask = 0u64;
    for c in &claimed {
        let n = cap_number(c).ok_or_else(|| format!("unknown capability {c} claimed"))?;
        if host_bnd & (1 << n) != 0 {
            names.push(c.as_str());
            mask |= 1 << n;
        }
    }
    let b = sh("capsall", "cat /proc/self/status", |b| {
        set_caps(b, &names, &names, &names, &[], &[])
    });
    let got = caps_of(bin, &b)?;
    ensure!(
        got == [mask, mask, mask, 0, 0],
        "Bnd/Eff/Prm/Inh/Amb {got:x?}, want {mask:x} for {} claimed caps",
        names.len()
    );
    Ok(())
}

/// What a claimed mount option must show in /proc/self/mountinfo
/// (mount options, super options, propagation tags) when set alone on a
/// bind mount. None: the option has no observable effect on its own
/// (accepted is enough).
fn mount_option_effect(opt: &str) -> Option<(bool, &'static str)> {
    // (present?, token)
    Some(match opt {
        "ro" | "rro" => (true, "ro"),
        "rw" | "rrw" | "defaults" => (true, "rw"),
        "nosuid" | "rnosuid" => (true, "nosuid"),
        "suid" | "rsuid" => (false, "nosuid"),
        "nodev" | "rnodev" => (true, "nodev"),
        "dev" | "rdev" => (false, "nodev"),
        "noexec" | "rnoexec" => (true, "noexec"),
        "exec" | "rexec" => (false, "noexec"),
        "noatime" | "rnoatime" => (true, "noatime"),
        "nodiratime" | "rnodiratime" => (true, "nodiratime"),
        "relatime" | "rrelatime" => (true, "relatime"),
        "strictatime" | "rstrictatime" => (false, "relatime"),
        "nosymfollow" | "rnosymfollow" => (true, "nosymfollow"),
        // sync/dirsync are superblock flags: a bind mount cannot change them
        // (mounts_flag_options checks them on a tmpfs).
        "shared" | "rshared" => (true, "shared:"),
        "unbindable" | "runbindable" => (true, "unbindable"),
        "private" | "rprivate" => (false, "shared:"),
        _ => return None,
    })
}

fn mounts_claimed_options(bin: &Path) -> R {
    let claimed = strings(&features(bin)?["mountOptions"]);
    ensure!(!claimed.is_empty(), "features claims no mount options");
    // Options that only make sense elsewhere: tmpfs-only, or id-mapping
    // (needs a user namespace), or the remount flag itself.
    let skip_opts = ["tmpcopyup", "idmap", "ridmap", "remount"];
    let opts: Vec<&String> = claimed
        .iter()
        .filter(|o| !skip_opts.contains(&o.as_str()))
        .collect();
    let mut b = Bundle::sh("mntclaims", "cat /proc/self/mountinfo");
    let h = b.host_dir("h");
    for (i, o) in opts.iter().enumerate() {
        let mut options = vec!["rbind".to_string()];
        if o.as_str() != "rbind" {
            options.push(o.to_string());
        }
        b.add_mount(json!({"destination": format!("/mo/{i}"), "type": "bind",
            "source": h.display().to_string(), "options": options}));
    }
    b.write().unwrap();
    let out = match run_ok(bin, &b) {
        Ok(out) => out,
        Err(e) => {
            // Find which claimed options are refused, one container each.
            let mut refused = Vec::new();
            for o in &opts {
                let mut one = Bundle::sh("mntclaim1", "true");
                let h = one.host_dir("h");
                one.add_mount(json!({"destination": "/mo", "type": "bind",
                    "source": h.display().to_string(), "options": ["rbind", o.as_str()]}));
                one.write().unwrap();
                if run_ok(bin, &one).is_err() {
                    refused.push(o.to_string());
                }
            }
            return Err(format!("claimed mount options refused: {refused:?} ({e})"));
        }
    };
    let mi = mountinfo_of(&out);
    let mut bad = Vec::new();
    for (i, o) in opts.iter().enumerate() {
        let m = find_mount(&mi, &format!("/mo/{i}"))?;
        let Some((present, token)) = mount_option_effect(o) else {
            continue;
        };
        let has = m.mount_options.split(',').any(|x| x == token)
            || m.super_options.split(',').any(|x| x == token)
            || m.optional
                .iter()
                .any(|x| x == token || (token.ends_with(':') && x.starts_with(token)));
        if has != present {
            bad.push(format!(
                "{o}: {} {token} ({} | {} | {:?})",
                if present { "missing" } else { "unexpected" },
                m.mount_options,
                m.super_options,
                m.optional
            ));
        }
    }
    ensure!(bad.is_empty(), "{}", bad.join("; "));
    Ok(())
}

fn seccomp_operators(bin: &Path) -> R {
    let errno = |names: &[&str], idx: u32, op: &str, value: u64, mask: Option<u64>| {
        let mut arg = json!({"index": idx, "value": value, "op": op});
        if let Some(m) = mask {
            // MASKED_EQ: (arg & value) == valueTwo
            arg = json!({"index": idx, "value": m, "valueTwo": value, "op": op});
        }
        json!({"names": names, "action": "SCMP_ACT_ERRNO", "args": [arg]})
    };
    let rules = vec![
        // NE: kill(pid, sig) with sig != 0 is refused; kill -0 works.
        errno(&["kill"], 1, "SCMP_CMP_NE", 0, None),
        // GT: chown to a uid above 100 is refused.
        errno(&["chown", "lchown"], 1, "SCMP_CMP_GT", 100, None),
        errno(&["fchownat"], 2, "SCMP_CMP_GT", 100, None),
        // GE: chown to a gid of 1000 or more is refused.
        errno(&["chown", "lchown"], 2, "SCMP_CMP_GE", 1000, None),
        errno(&["fchownat"], 3, "SCMP_CMP_GE", 1000, None),
        // LE: truncating to 5 bytes or less is refused.
        errno(&["ftruncate"], 1, "SCMP_CMP_LE", 5, None),
        errno(&["truncate"], 1, "SCMP_CMP_LE", 5, None),
        // LT: setting resource limits numbered below RLIMIT_NOFILE (7).
        errno(&["prlimit64"], 1, "SCMP_CMP_LT", 7, None),
        errno(&["setrlimit"], 0, "SCMP_CMP_LT", 7, None),
        // MASKED_EQ: setting the setuid bit (mode & 07000 == 04000).
        errno(&["chmod"], 1, "SCMP_CMP_MASKED_EQ", 0o4000, Some(0o7000)),
        errno(&["fchmodat"], 2, "SCMP_CMP_MASKED_EQ", 0o4000, Some(0o7000)),
    ];
    let b = sh(
        "secops",
        "trap 'echo usr1' USR1; touch /tmp/f; \
         kill -0 $$ && echo ne-allowed; kill -USR1 $$ 2>/dev/null || echo ne-refused; \
         chown 50:0 /tmp/f && echo gt-allowed; chown 150:0 /tmp/f 2>/dev/null || echo gt-refused; \
         chown 0:999 /tmp/f && echo ge-allowed; chown 0:1000 /tmp/f 2>/dev/null || echo ge-refused; \
         truncate -s 6 /tmp/f && echo le-allowed; truncate -s 5 /tmp/f 2>/dev/null || echo le-refused; \
         ulimit -n 100 && echo lt-allowed; (ulimit -c 0) 2>/dev/null || echo lt-refused; \
         chmod 755 /tmp/f && echo masked-allowed; chmod 4755 /tmp/f 2>/dev/null || echo masked-refused",
        |b| {
            b.linux_mut()["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules});
            // chown to other ids needs CAP_CHOWN: without it the "allowed"
            // calls would fail for reasons other than the filter.
            let c = ["CAP_CHOWN", "CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"];
            set_caps(b, &c, &c, &c, &[], &[]);
        },
    );
    expect_lines(
        &run_ok(bin, &b)?,
        &[
            "ne-allowed",
            "ne-refused",
            "gt-allowed",
            "gt-refused",
            "ge-allowed",
            "ge-refused",
            "le-allowed",
            "le-refused",
            "lt-allowed",
            "lt-refused",
            "masked-allowed",
            "masked-refused",
        ],
    )
}

fn seccomp_actions_log_trace_kill_thread(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "secacts2",
        "mkdir /tmp/l && echo log-allowed; rmdir /tmp/r 2>&1; echo rm=$?; \
         touch /tmp/x; (ln /tmp/x /tmp/y); echo ln=$?",
    );
    fs::create_dir_all(b.default_rootfs().join("tmp/r")).unwrap();
    b.linux_mut()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"},
            {"names": ["rmdir"], "action": "SCMP_ACT_TRACE"},
            {"names": ["link", "linkat"], "action": "SCMP_ACT_KILL_THREAD"}
        ]
    });
    b.write().unwrap();
    // TRACE without a tracer fails the call with ENOSYS.
    expect_lines(
        &run_ok(bin, &b)?,
        &[
            "log-allowed",
            "rmdir: '/tmp/r': Function not implemented",
            "rm=1",
            "ln=159",
        ],
    )
}

fn seccomp_flags(bin: &Path) -> R {
    let b = sh(
        "secflags",
        "grep -E '^Seccomp:' /proc/self/status; mkdir /tmp/d 2>&1; echo rc=$?",
        |b| {
            b.linux_mut()["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
            });
        },
    );
    let out = run_ok(bin, &b)?;
    let l = lines(&out);
    ensure!(
        l.first().map(|s| s.split_whitespace().collect::<Vec<_>>()) == Some(vec!["Seccomp:", "2"]),
        "not in seccomp filter mode: {l:?}"
    );
    expect_contains(&out, "Operation not permitted")?;
    expect_contains(&out, "rc=1")
}

// --- cases added in the second round -----------------------------------------

fn mounts_bind_flags(bin: &Path) -> R {
    let mut b = Bundle::sh("bindflags", "cat /proc/self/mountinfo");
    let h = b.host_dir("h");
    b.add_mount(
        json!({"destination": "/bf", "type": "bind", "source": h.display().to_string(),
        "options": ["rbind", "ro", "nosuid", "nodev", "noexec", "noatime"]}),
    );
    b.write().unwrap();
    let out = run_ok(bin, &b)?;
    let m = find_mount(&mountinfo_of(&out), "/bf")?.clone();
    for want in ["ro", "nosuid", "nodev", "noexec", "noatime"] {
        ensure!(
            m.mount_options.split(',').any(|o| o == want),
            "{want} missing on the bind: {}",
            m.mount_options
        );
    }
    Ok(())
}

/// Whether this process has CAP_SYS_RESOURCE (root here does not).
fn have_cap_sys_resource() -> bool {
    status_hex(&read("/proc/self/status"), "CapEff")
        .map(|m| m & (1 << 24) != 0)
        .unwrap_or(true)
}

fn rlimits_raise_hard_without_cap_error(bin: &Path) -> R {
    if have_cap_sys_resource() {
        return skip("root has CAP_SYS_RESOURCE here: raising a hard limit works");
    }
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) } != 0 {
        return Err("getrlimit failed".into());
    }
    if cur.rlim_max == libc::RLIM_INFINITY {
        return skip("hard NOFILE limit is unlimited");
    }
    let hard = cur.rlim_max + 1;
    let b =
        sh(
            "rlimhard",
            "echo ran",
            |b| {
                b.process_mut()["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": hard}])
            },
        );
    let t0 = Instant::now();
    let r = expect_refused(bin, &b, true);
    ensure!(
        t0.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t0.elapsed()
    );
    r
}

fn oom_score_adj_unsettable_error(bin: &Path) -> R {
    if have_cap_sys_resource() {
        return skip("root has CAP_SYS_RESOURCE here: a negative oom_score_adj works");
    }
    // Lowering below our own value needs CAP_SYS_RESOURCE: the runtime
    // cannot honour the field and MUST say so rather than run anyway.
    let b = sh("oomneg", "cat /proc/self/oom_score_adj", |b| {
        b.process_mut()["oomScoreAdj"] = json!(-999)
    });
    expect_refused(bin, &b, true)
}

fn personality_linux32(bin: &Path) -> R {
    let b = sh("pers", "uname -m", |b| {
        b.linux_mut()["personality"] = json!({"domain": "LINUX32"})
    });
    let out = run_ok(bin, &b)?;
    let m = out.trim();
    ensure!(
        m.starts_with('i') && m.ends_with("86"),
        "uname -m under LINUX32 is {m:?}"
    );
    Ok(())
}

fn ns_time_offsets(bin: &Path) -> R {
    if !Path::new("/proc/self/ns/time").exists() {
        return skip("kernel has no time namespaces");
    }
    let b = sh(
        "timens",
        "cut -d. -f1 /proc/uptime; readlink /proc/self/ns/time",
        |b| {
            b.set_namespace("time", None);
            b.linux_mut()["timeOffsets"] = json!({"monotonic": {"secs": 0, "nanosecs": 0}, "boottime": {"secs": 864000, "nanosecs": 0}});
        },
    );
    let out = run_ok(bin, &b)?;
    let l = lines(&out);
    ensure!(l.len() == 2, "output {l:?}");
    let host_up: u64 = read("/proc/uptime")
        .split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    ensure!(l[1] != host_ns("time"), "no time namespace was created");
    let up: u64 = l[0]
        .parse()
        .map_err(|e| format!("uptime {:?}: {e}", l[0]))?;
    ensure!(
        up >= host_up + 864000 - 60,
        "boottime offset not applied: {up} vs host {host_up}"
    );
    ensure!(l[1] != host_ns("time"), "time ns is the host's");
    Ok(())
}

fn hooks_namespaces(bin: &Path) -> R {
    let mut b = Bundle::sh(
        "hookns",
        "readlink /proc/self/ns/mnt > /m/container; exec sleep 1000",
    );
    let m = b.host_dir("m");
    let hm = m.display().to_string();
    b.add_bind(&m, "/m", false);
    for kind in ["prestart", "createRuntime", "poststart", "poststop"] {
        b.add_hook(
            kind,
            host_hook(&format!("readlink /proc/self/ns/mnt > {hm}/{kind}")),
        );
    }
    b.add_hook(
        "createContainer",
        host_hook(&format!(
            "if [ -d {hm} ]; then d={hm}; else d=/m; fi; readlink /proc/self/ns/mnt > $d/createContainer"
        )),
    );
    b.add_hook(
        "startContainer",
        json!({"path": "/bin/sh", "args": ["sh", "-c", "readlink /proc/self/ns/mnt > /m/startContainer"]}),
    );
    b.write().unwrap();
    run_hooks_lifecycle(bin, &b)?;
    let host = host_ns("mnt");
    let ctr = read(m.join("container"));
    ensure!(
        ctr != host && ctr.starts_with("mnt:"),
        "container mnt ns {ctr}"
    );
    let mut bad = Vec::new();
    for (kind, want, what) in [
        ("prestart", &host, "runtime"),
        ("createRuntime", &host, "runtime"),
        ("createContainer", &ctr, "container"),
        ("startContainer", &ctr, "container"),
        ("poststart", &host, "runtime"),
        ("poststop", &host, "runtime"),
    ] {
        let got = read(m.join(kind));
        if &got != want {
            bad.push(format!(
                "{kind} ran in {got} (want the {what} namespace {want})"
            ));
        }
    }
    ensure!(bad.is_empty(), "{}", bad.join("; "));
    Ok(())
}

fn invalid_hook_relative_path(bin: &Path) -> R {
    let mut b = Bundle::new("hookrel", &["/bin/true"]);
    b.add_hook("createRuntime", json!({"path": "bin/true"}));
    b.write().unwrap();
    expect_refused(bin, &b, false)
}

fn invalid_missing_oci_version(bin: &Path) -> R {
    let b = sh("nover", "echo ran", |b| {
        if let Some(o) = b.config_mut().as_object_mut() {
            o.remove("ociVersion");
        }
    });
    expect_refused(bin, &b, false)
}

// --- third round -----------------------------------------------------------

fn process_args_path_lookup(bin: &Path) -> R {
    // args[0] without a slash is looked up in the container's PATH.
    let mut b = Bundle::new("pathlookup", &["sh", "-c", "echo $X"]);
    b.process_mut()["env"] = json!(["PATH=/usr/bin:/bin", "X=found-via-path"]);
    b.write().unwrap();
    expect_lines(&run_ok(bin, &b)?, &["found-via-path"])
}

fn process_stdio_passthrough(bin: &Path) -> R {
    let b = sh("stdio", "echo to-out; echo to-err >&2; exit 0", |_| {});
    let rt = rt(bin);
    let o = rt.run_container(b.id(), &b, &[]);
    ensure!(o.status.success(), "run: {}", short(&o));
    ensure!(stdout_of(&o) == "to-out\n", "stdout {:?}", stdout_of(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    ensure!(err.contains("to-err"), "stderr {err:?}");
    ensure!(!err.contains("to-out"), "stdout leaked into stderr {err:?}");
    Ok(())
}

fn ns_user_distinct_gid_mappings(bin: &Path) -> R {
    let b = sh(
        "usergid",
        "cat /proc/self/uid_map /proc/self/gid_map; stat -c '%u %g' /etc/passwd",
        |b| {
            b.set_namespace("user", None);
            b.linux_mut()["uidMappings"] =
                json!([{"containerID": 0, "hostID": 300000, "size": 1000}]);
            b.linux_mut()["gidMappings"] = json!([
                {"containerID": 0, "hostID": 400000, "size": 500},
                {"containerID": 500, "hostID": 410000, "size": 500}
            ]);
        },
    );
    let out = run_ok(bin, &b)?;
    let l: Vec<String> = lines(&out)
        .iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    ensure!(
        l == [
            "0 300000 1000",
            "0 400000 500",
            "500 410000 500",
            "65534 65534"
        ],
        "maps / unmapped owner: {l:?}"
    );
    Ok(())
}

fn cgroups_path_relative(bin: &Path) -> R {
    let b = sh("cgrel", "cat /proc/self/cgroup", |b| {
        let rel = format!("hull-test-rel/{}", b.id());
        b.linux_mut()["cgroupsPath"] = json!(rel);
    });
    let rel = b.cgroups_path().unwrap_or_default();
    let out = run_ok(bin, &b);
    // The Bundle guard only removes absolute paths under the root: remove
    // what a runtime made for the relative one (wherever it put it).
    for line in out.as_deref().unwrap_or_default().lines() {
        if let Some(p) = line.splitn(3, ':').nth(2) {
            if p.ends_with(&rel) {
                let _ = hull_integration::cleanup::remove_cgroup(p);
                let _ = hull_integration::cleanup::remove_cgroup(
                    p.trim_end_matches(b.id()).trim_end_matches('/'),
                );
            }
        }
    }
    let out = out?;
    let mem = out
        .lines()
        .find(|l| l.contains(":memory:"))
        .ok_or_else(|| format!("no memory line: {out:?}"))?;
    ensure!(
        mem.ends_with(&rel),
        "memory cgroup {mem} does not end in {rel}"
    );
    Ok(())
}

fn seccomp_actions_kill_process_trap_errno(bin: &Path) -> R {
    // /tmp/r is made on the host: under the filter mkdir kills.
    let mut b = Bundle::sh(
        "secacts",
        "(mkdir /tmp/a); echo mk=$?; (rmdir /tmp/r); echo rm=$?; \
         touch /tmp/x; ln /tmp/x /tmp/y 2>&1; echo ln=$?",
    );
    fs::create_dir_all(b.default_rootfs().join("tmp/r")).unwrap();
    b.linux_mut()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["rmdir"], "action": "SCMP_ACT_TRAP"},
            {"names": ["link", "linkat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18}
        ]
    });
    b.write().unwrap();
    let out = run_ok(bin, &b)?;
    let l = lines(&out);
    ensure!(
        l.first().map(String::as_str) == Some("mk=159")
            && l.get(1).map(String::as_str) == Some("rm=159")
            && l.last().map(String::as_str) == Some("ln=1")
            && out.contains("cross-device"),
        "want mk=159 (SIGSYS), rm=159 (SIGSYS), EXDEV from ln: {l:?}"
    );
    ensure!(
        b.default_rootfs().join("tmp/r").exists(),
        "rmdir was not trapped"
    );
    Ok(())
}

fn sysctl_not_namespaced_refused(bin: &Path) -> R {
    // Same value as the host's: harmless if a runtime wrongly applies it
    // to the host, which is what this checks it refuses to do.
    let cur = read("/proc/sys/vm/swappiness");
    let b = sh("sysctlhost", "echo ran", |b| {
        b.linux_mut()["sysctl"] = json!({"vm.swappiness": cur});
    });
    expect_refused(bin, &b, false)
}

fn kill_signal_forms(bin: &Path) -> R {
    let b = sh(
        "killforms",
        "n=0; trap 'n=$((n+1)); echo usr1-$n' USR1; echo ready; while [ $n -lt 3 ]; do sleep 0.05; done; echo done",
        |_| {},
    );
    with_running(bin, &b, |rt, _| {
        let id = b.id();
        ensure!(
            wait_until(T10, || Runtime::container_stdout(&b, id).contains("ready")),
            "not ready"
        );
        for (i, sig) in ["USR1", "SIGUSR1", "10"].iter().enumerate() {
            let k = rt.kill(id, sig);
            ensure!(k.status.success(), "kill {sig}: {}", short(&k));
            let want = format!("usr1-{}", i + 1);
            ensure!(
                wait_until(T10, || Runtime::container_stdout(&b, id).contains(&want)),
                "signal {sig} not delivered: {:?}",
                Runtime::container_stdout(&b, id)
            );
        }
        ensure!(rt.wait_status(id, "stopped", T10), "did not stop");
        Ok(())
    })
}

fn invalid_mount_option(bin: &Path) -> R {
    let b = sh("badmntopt", "echo ran", |b| {
        b.add_mount(
            json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuchoption=1"]}),
        );
    });
    expect_refused(bin, &b, false)
}

fn invalid_bind_source_missing(bin: &Path) -> R {
    let b = sh("badbind", "echo ran", |b| {
        let src = b.dir().join("no-such-source");
        b.add_mount(json!({"destination": "/x", "type": "bind",
            "source": src.display().to_string(), "options": ["rbind"]}));
    });
    expect_refused(bin, &b, false)
}

// --- runc command-line contract (not the OCI spec; what shims rely on) -----

fn cli_exec(bin: &Path) -> R {
    let b = sh("cliexec", "exec sleep 1000", |b| {
        b.config_mut()["hostname"] = json!("exec-host")
    });
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&[
            "exec",
            b.id(),
            "sh",
            "-c",
            "hostname; cat /proc/1/comm; exit 7",
        ]);
        ensure!(o.status.code() == Some(7), "exit code: {}", short(&o));
        expect_lines(&stdout_of(&o), &["exec-host", "sleep"])
    })
}

fn cli_ps(bin: &Path) -> R {
    let b = sh("clips", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, pid| {
        let o = rt.run(&["ps", "--format", "json", b.id()]);
        ensure!(o.status.success(), "ps: {}", short(&o));
        let v: Value = serde_json::from_slice(&o.stdout)
            .map_err(|e| format!("ps json: {e}: {}", short(&o)))?;
        ensure!(v == json!([pid]), "ps lists {v}, want [{pid}]");
        Ok(())
    })
}

fn cli_pause_resume(bin: &Path) -> R {
    let b = sh("clipause", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let id = b.id();
        let o = rt.run(&["pause", id]);
        ensure!(o.status.success(), "pause: {}", short(&o));
        ensure!(
            rt.status(id).as_deref() == Some("paused"),
            "status {:?}",
            rt.status(id)
        );
        let fz = read(b.cgroup_dir("freezer").join("freezer.state"));
        ensure!(fz == "FROZEN", "freezer {fz}");
        let o = rt.run(&["resume", id]);
        ensure!(o.status.success(), "resume: {}", short(&o));
        ensure!(
            rt.status(id).as_deref() == Some("running"),
            "status {:?}",
            rt.status(id)
        );
        Ok(())
    })
}

fn cli_update(bin: &Path) -> R {
    let b = sh("cliupdate", "exec sleep 1000", |b| {
        b.resources_mut()["memory"] = json!({"limit": 67108864_i64});
        b.resources_mut()["pids"] = json!({"limit": 50});
    });
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&[
            "update",
            "--memory",
            "33554432",
            "--pids-limit",
            "20",
            b.id(),
        ]);
        ensure!(o.status.success(), "update: {}", short(&o));
        let m = cg_knob(&b, "memory", "memory.limit_in_bytes");
        let p = cg_knob(&b, "pids", "pids.max");
        ensure!(m == "33554432" && p == "20", "memory {m}, pids {p}");
        Ok(())
    })
}

fn cli_events_stats(bin: &Path) -> R {
    let b = sh("clievents", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&["events", "--stats", b.id()]);
        ensure!(o.status.success(), "events --stats: {}", short(&o));
        let line = stdout_of(&o);
        let v: Value = serde_json::from_str(line.lines().next().unwrap_or_default())
            .map_err(|e| format!("not JSON ({e}): {line:?}"))?;
        ensure!(v["type"] == "stats" && v["id"] == b.id(), "event {v}");
        ensure!(
            v["data"]["pids"]["current"].as_u64() == Some(1),
            "pids.current {}",
            v["data"]["pids"]["current"]
        );
        ensure!(
            v["data"]["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
            "memory usage {}",
            v["data"]["memory"]["usage"]
        );
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// runc's CLI contract (issue 17, groups A-G)
// ---------------------------------------------------------------------------

/// Only on a cgroup v1 host with `controller` mounted.
fn need_v1(controller: &str) -> R {
    if Path::new("/sys/fs/cgroup").join(controller).is_dir() {
        Ok(())
    } else {
        skip(format!("no cgroup v1 {controller} controller"))
    }
}

fn cli_spec_defaults(bin: &Path) -> R {
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    let o = rt(bin).run(&["spec", "--bundle", &d.path().to_string_lossy()]);
    ensure!(o.status.success(), "spec: {}", short(&o));
    let text = read(d.path().join("config.json"));
    let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    ensure!(
        v["ociVersion"] == "1.0.2-dev",
        "ociVersion {}",
        v["ociVersion"]
    );
    ensure!(
        v["process"]["terminal"] == true,
        "terminal {}",
        v["process"]["terminal"]
    );
    ensure!(v["root"]["readonly"] == true, "root {}", v["root"]);
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .map(|a| a.iter().filter_map(|n| n["type"].as_str()).collect())
        .unwrap_or_default();
    ensure!(
        ns == ["pid", "network", "ipc", "uts", "mount"],
        "namespaces {ns:?}"
    );
    Ok(())
}

fn cli_console_socket_needs_terminal(bin: &Path) -> R {
    let b = sh("clicsock", "exec sleep 1000", |_| {});
    let sock = ConsoleSocket::bind(&b.dir().join("console.sock"));
    let rt = rt(bin);
    let o = rt.create_with(
        b.id(),
        &b,
        &["--console-socket", &sock.path().to_string_lossy()],
    );
    ensure!(!o.status.success(), "create succeeded: {}", short(&o));
    ensure!(
        stderr_of(&o).contains("cannot use console socket"),
        "message: {}",
        short(&o)
    );
    ensure!(!rt.state(b.id()).status.success(), "state left behind");
    Ok(())
}

fn cli_kill_signal_zero(bin: &Path) -> R {
    let b = sh("clikill0", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let o = rt.kill(b.id(), "0");
        ensure!(
            o.status.success(),
            "kill 0 on a running container: {}",
            short(&o)
        );
        let o = rt.kill(b.id(), "KILL");
        ensure!(o.status.success(), "kill KILL: {}", short(&o));
        ensure!(rt.wait_status(b.id(), "stopped", T10), "did not stop");
        let o = rt.kill(b.id(), "0");
        ensure!(
            !o.status.success(),
            "kill 0 on a stopped container succeeded"
        );
        Ok(())
    })
}

fn cli_run_keep(bin: &Path) -> R {
    let b = sh("clikeep", "exit 3", |_| {});
    let rt = rt(bin);
    let o = rt.run_container(b.id(), &b, &["--keep"]);
    ensure!(o.status.code() == Some(3), "run --keep: {}", short(&o));
    ensure!(
        rt.status(b.id()).as_deref() == Some("stopped"),
        "status after run --keep: {:?}",
        rt.status(b.id())
    );
    let o = rt.delete(b.id());
    ensure!(o.status.success(), "delete: {}", short(&o));
    Ok(())
}

fn cli_update_cpu_share(bin: &Path) -> R {
    need_v1("cpu")?;
    let b = sh("clishare", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&["update", "--cpu-share", "512", b.id()]);
        ensure!(o.status.success(), "update: {}", short(&o));
        let v = cg_knob(&b, "cpu", "cpu.shares");
        ensure!(v == "512", "cpu.shares {v}");
        Ok(())
    })
}

fn cli_version_shape(bin: &Path) -> R {
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for flag in ["--version", "-v"] {
        let o = rt(bin).run(&[flag]);
        ensure!(o.status.success(), "{flag}: {}", short(&o));
        let text = stdout_of(&o);
        ensure!(
            text.starts_with(&format!("{name} version ")),
            "{flag}: {text:?}"
        );
        ensure!(
            text.lines().any(|l| l.starts_with("commit: "))
                && text.lines().any(|l| l.starts_with("spec: 1.")),
            "{flag}: {text:?}"
        );
    }
    Ok(())
}

fn cli_debug_log(bin: &Path) -> R {
    let b = sh("clidebug", "exec sleep 1000", |_| {});
    let mut rt = rt(bin);
    let log = b.dir().join("debug.log");
    rt.global_args = vec![
        "--debug".into(),
        "--log".into(),
        log.to_string_lossy().into_owned(),
        "--log-format".into(),
        "json".into(),
    ];
    let o = rt.run_detached(b.id(), &b);
    ensure!(o.status.success(), "run -d: {}", short(&o));
    let text = read(&log);
    let mut debug = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("log line {line:?}: {e}"))?;
        ensure!(v["msg"].is_string() && v["time"].is_string(), "{line}");
        if v["level"] == "debug" {
            debug += 1;
        }
    }
    ensure!(debug > 0, "no level=debug line in {text:?}");
    Ok(())
}

fn cli_list_json_fields(bin: &Path) -> R {
    let b = sh("clilist", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&["list", "--format", "json"]);
        ensure!(o.status.success(), "list: {}", short(&o));
        let text = stdout_of(&o);
        let keys = [
            "ociVersion",
            "id",
            "pid",
            "status",
            "bundle",
            "rootfs",
            "created",
            "owner",
        ];
        let at: Vec<Option<usize>> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")))
            .collect();
        ensure!(
            at.iter().all(Option::is_some) && at.windows(2).all(|w| w[0] < w[1]),
            "keys not in runc's order {keys:?}: {text}"
        );
        ensure!(
            !text.contains("\"annotations\""),
            "empty annotations printed: {text}"
        );
        Ok(())
    })
}

fn cli_ps_args(bin: &Path) -> R {
    let b = sh("clipsargs", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, pid| {
        let o = rt.run(&["ps", b.id(), "-o", "pid,comm"]);
        ensure!(o.status.success(), "ps: {}", short(&o));
        let rows: Vec<Vec<String>> = stdout_of(&o)
            .lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect();
        let want = vec![
            vec!["PID".to_string(), "COMMAND".to_string()],
            vec![pid.to_string(), "sleep".to_string()],
        ];
        ensure!(rows == want, "ps table {rows:?}");
        Ok(())
    })
}

fn cli_exec_start_failure_255(bin: &Path) -> R {
    let b = sh("cliexec255", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&["exec", b.id(), "/no/such/program"]);
        ensure!(
            o.status.code() == Some(255),
            "exit {:?}: {}",
            o.status.code(),
            short(&o)
        );
        Ok(())
    })
}

fn cli_exec_paused_refused(bin: &Path) -> R {
    need_v1("freezer")?;
    let b = sh("cliexecpause", "exec sleep 1000", |_| {});
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&["pause", b.id()]);
        ensure!(o.status.success(), "pause: {}", short(&o));
        let e = rt.run(&["exec", b.id(), "true"]);
        let _ = rt.run(&["resume", b.id()]);
        ensure!(!e.status.success(), "exec in a paused container succeeded");
        ensure!(
            stderr_of(&e).contains("--ignore-paused"),
            "message: {}",
            short(&e)
        );
        Ok(())
    })
}

fn cli_delete_force_missing(bin: &Path) -> R {
    let o = rt(bin).run(&["delete", "--force", "no-such-container"]);
    ensure!(o.status.success(), "delete --force: {}", short(&o));
    ensure!(o.stderr.is_empty(), "delete --force printed: {}", short(&o));
    Ok(())
}

fn cgroup_v1_unified_invalid(bin: &Path) -> R {
    need_v1("memory")?;
    let b = sh("cgunifiedv1", "exec sleep 1000", |b| {
        b.resources_mut()["unified"] = json!({"memory.max": "100000000"});
    });
    let rt = rt(bin);
    let o = rt.create(b.id(), &b);
    ensure!(!o.status.success(), "create succeeded");
    ensure!(
        stderr_of(&o).contains("invalid configuration"),
        "message: {}",
        short(&o)
    );
    ensure!(!b.cgroup_dir("memory").exists(), "cgroup left behind");
    Ok(())
}

fn cgroup_frozen_refused(bin: &Path) -> R {
    need_v1("freezer")?;
    let b = sh("cgfrozen", "exec sleep 1000", |_| {});
    let dir = b.cgroup_dir("freezer");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    fs::write(dir.join("freezer.state"), "FROZEN").map_err(|e| e.to_string())?;
    let rt = rt(bin);
    let o = rt.run_detached(b.id(), &b);
    let _ = fs::write(dir.join("freezer.state"), "THAWED");
    ensure!(!o.status.success(), "run -d in a frozen cgroup succeeded");
    ensure!(stderr_of(&o).contains("frozen"), "message: {}", short(&o));
    Ok(())
}

fn cgroup_nested_cpuset_parent(bin: &Path) -> R {
    need_v1("cpuset")?;
    let mut b = sh("cgpodparent", "exec sleep 1000", |_| {});
    let parent = format!("/hull-test-pod-{}", b.id());
    let pdir = Path::new("/sys/fs/cgroup/cpuset").join(&parent[1..]);
    fs::create_dir(&pdir).map_err(|e| e.to_string())?;
    b.linux_mut()["cgroupsPath"] = json!(format!("{parent}/{}", b.id()));
    b.write().map_err(|e| e.to_string())?;
    let r = (|| {
        let rt = rt(bin);
        let o = rt.run_detached(b.id(), &b);
        ensure!(
            o.status.success(),
            "run -d under an empty parent cpuset: {}",
            short(&o)
        );
        ensure!(
            !read(pdir.join("cpuset.cpus")).is_empty(),
            "parent cpuset still empty"
        );
        Ok(())
    })();
    hull_integration::cleanup::remove_cgroup(&parent);
    r
}

fn cli_update_memory_unlimited(bin: &Path) -> R {
    need_v1("memory")?;
    if !Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        return skip("no swap accounting");
    }
    let b = sh("climemunl", "exec sleep 1000", |b| {
        b.resources_mut()["memory"] = json!({"limit": 33554432_i64, "swap": 67108864_i64});
    });
    with_running(bin, &b, |rt, _| {
        let o = rt.run(&["update", "--memory", "-1", b.id()]);
        ensure!(o.status.success(), "update --memory -1: {}", short(&o));
        for f in ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"] {
            let v: u64 = cg_knob(&b, "memory", f).parse().unwrap_or(0);
            ensure!(v > 1 << 62, "{f} = {v}, want unlimited");
        }
        Ok(())
    })
}

fn devices_access_normalised(bin: &Path) -> R {
    need_v1("devices")?;
    let b = sh("devaccess", "exec sleep 1000", |b| {
        if let Some(rules) = b.resources_mut()["devices"].as_array_mut() {
            rules.push(
                json!({"allow": true, "type": "c", "major": 42, "minor": 1, "access": "rwa"}),
            );
        }
    });
    with_running(bin, &b, |_, _| {
        let list = cg_knob(&b, "devices", "devices.list");
        ensure!(
            list.lines().any(|l| l == "c 42:1 rw"),
            "devices.list: {list}"
        );
        Ok(())
    })
}

fn cwd_root_only_dir(bin: &Path) -> R {
    let b = sh("cwdroot", "pwd", |b| {
        b.process_mut()["cwd"] = json!("/secret");
        b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000});
    });
    let dir = b.rootfs().join("secret");
    fs::create_dir(&dir).map_err(|e| e.to_string())?;
    fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(|e| e.to_string())?;
    expect_lines(&run_ok(bin, &b)?, &["/secret"])
}

fn stdio_owned_by_user(bin: &Path) -> R {
    let b = sh("stdiouser", "stat -c %u /proc/self/fd/1", |b| {
        b.process_mut()["user"] = json!({"uid": 1000, "gid": 1000});
    });
    expect_lines(&run_ok(bin, &b)?, &["1000"])
}

fn mount_rro(bin: &Path) -> R {
    let b = sh(
        "rro",
        "touch /data/sub/x 2>/dev/null && echo SUB-WRITABLE; echo done",
        |_| {},
    );
    let host = b.dir().join("rro-src");
    let sub = host.join("sub");
    fs::create_dir_all(&sub).map_err(|e| e.to_string())?;
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&sub)
        .status()
        .map_err(|e| e.to_string())?;
    ensure!(ok.success(), "mount tmpfs");
    let mut b = b;
    b.add_mount(json!({"destination": "/data", "type": "bind",
        "source": host.to_string_lossy(), "options": ["rbind", "rro"]}));
    b.write().map_err(|e| e.to_string())?;
    let out = run_ok(bin, &b);
    let _ = nix::mount::umount2(&sub, nix::mount::MntFlags::MNT_DETACH);
    expect_lines(&out?, &["done"])
}

fn readonly_dev_tmpfs(bin: &Path) -> R {
    let b = sh(
        "rodev",
        "test -c /dev/null && echo null; test -d /dev/pts && echo pts; touch /dev/x 2>/dev/null && echo DEV-WRITABLE; echo done",
        |b| {
            for m in b.config_mut()["mounts"].as_array_mut().into_iter().flatten() {
                if m["destination"] == "/dev" {
                    if let Some(o) = m["options"].as_array_mut() {
                        o.push(json!("ro"));
                    }
                }
            }
        },
    );
    expect_lines(&run_ok(bin, &b)?, &["null", "pts", "done"])
}

fn hook_create_container_cwd(bin: &Path) -> R {
    let b = sh("hookcwd", "true", |_| {});
    let out = b.dir().join("hook-cwd");
    let mut b = b;
    b.add_hook(
        "createContainer",
        json!({"path": "/bin/sh", "args": ["sh", "-c", format!("pwd > {}", out.display())]}),
    );
    b.write().map_err(|e| e.to_string())?;
    run_ok(bin, &b)?;
    let cwd = fs::read_to_string(&out).map_err(|e| e.to_string())?;
    let rootfs = fs::canonicalize(b.rootfs()).map_err(|e| e.to_string())?;
    ensure!(Path::new(cwd.trim()) == rootfs, "hook cwd {cwd:?}");
    Ok(())
}

/// A user-namespaced container's bind source under a 0700 root-owned
/// directory: opened by the runtime on the host, mounted inside.
fn userns_bind_source_root_only(bin: &Path) -> R {
    let b = sh("usernsbind", "cat /data/file", |b| {
        b.set_user_namespace(200000, 65536);
    });
    let secret = b.dir().join("secret");
    let vol = secret.join("vol");
    fs::create_dir_all(&vol).map_err(|e| e.to_string())?;
    fs::write(vol.join("file"), "from the host\n").map_err(|e| e.to_string())?;
    fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(|e| e.to_string())?;
    fs::create_dir(b.rootfs().join("data")).map_err(|e| e.to_string())?;
    let mut b = b;
    b.add_bind(&vol, "/data", true);
    b.write().map_err(|e| e.to_string())?;
    expect_lines(&run_ok(bin, &b)?, &["from the host"])
}

/// `run --no-pivot`: a tmpfs mounted on the host is not in the
/// container's mountinfo.
fn no_pivot_host_mounts_hidden(bin: &Path) -> R {
    let b = sh("nopivot", "cat /proc/self/mountinfo", |_| {});
    let mp = b.dir().join("hostonly");
    fs::create_dir(&mp).map_err(|e| e.to_string())?;
    let source = format!("hull-conf-nopivot-{}", b.id());
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", &source])
        .arg(&mp)
        .status()
        .map_err(|e| e.to_string())?;
    ensure!(ok.success(), "mount tmpfs");
    let o = rt(bin).run_container(b.id(), &b, &["--no-pivot"]);
    let _ = nix::mount::umount2(&mp, nix::mount::MntFlags::MNT_DETACH);
    ensure!(o.status.success(), "run --no-pivot failed: {}", short(&o));
    let out = stdout_of(&o);
    ensure!(!out.contains(&source), "host mount visible inside: {out:?}");
    Ok(())
}

fn seccomp_same_argument_ored(bin: &Path) -> R {
    // Two conditions on argument 1: ANDed they would hold only for 0, ORed
    // (runc) every mkdir matches one of them and gets EPERM.
    let b = sh("secor", "mkdir /tmp/a 2>&1; echo rc=$?", |b| {
        b.linux_mut()["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_GE"},
                         {"index": 1, "value": 1, "op": "SCMP_CMP_LT"}]}]
        });
    });
    let out = run_ok(bin, &b)?;
    expect_contains(&out, "Operation not permitted")?;
    expect_contains(&out, "rc=1")
}

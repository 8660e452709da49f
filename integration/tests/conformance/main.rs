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

mod cases;
mod cgroups;
mod features;
mod helpers;
mod hooks;
mod invalid;
mod lifecycle;
mod mounts;
mod namespaces;
mod paths;
mod process;
mod runc_cli;
mod seccomp;

use cases::*;
use cgroups::*;
use features::*;
use helpers::*;
use hooks::*;
use invalid::*;
use lifecycle::*;
use mounts::*;
use namespaces::*;
use paths::*;
use process::*;
use runc_cli::*;
use seccomp::*;

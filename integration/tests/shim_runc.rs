//! The containerd-shim-hull-v2 suite with BinaryName = runc (Debian's runc),
//! proving the shim/runtime border: the shim only speaks the runc CLI.

mod shim_suite;

use std::path::Path;

const RUNC: &str = "/usr/sbin/runc";

#[test]
fn foreground_exit_codes() {
    shim_suite::foreground_exit_codes(Path::new(RUNC));
}

#[test]
fn stdin_forwarded() {
    shim_suite::stdin_forwarded(Path::new(RUNC));
}

#[test]
fn tty_run() {
    shim_suite::tty_run(Path::new(RUNC));
}

#[test]
fn detached_lifecycle() {
    shim_suite::detached_lifecycle(Path::new(RUNC));
}

#[test]
fn containerd_restart() {
    shim_suite::containerd_restart(Path::new(RUNC));
}

#[test]
fn shim_killed() {
    shim_suite::shim_killed(Path::new(RUNC));
}

#[test]
fn bad_input_via_ctr() {
    shim_suite::bad_input_via_ctr(Path::new(RUNC));
}

/// `cargo test -p hull-integration --test shim_runc -- --ignored --nocapture idle_rss`
#[test]
#[ignore = "measurement, not a check: prints idle RSS of both shims"]
fn idle_rss() {
    let (hull, runc) = shim_suite::idle_rss(Path::new(RUNC), 5);
    assert!(hull > 0 && runc > 0);
}

#[test]
fn events_published() {
    shim_suite::events_published(Path::new(RUNC));
}

#[test]
fn no_thread_leak() {
    shim_suite::no_thread_leak(Path::new(RUNC));
}

#[test]
fn exec_burst() {
    shim_suite::exec_burst(Path::new(RUNC));
}

#[test]
fn log_uris() {
    shim_suite::log_uris(Path::new(RUNC));
}

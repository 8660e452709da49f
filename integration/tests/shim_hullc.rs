//! The containerd-shim-hull-v2 suite with the runtime under test
//! (`HULL_RUNTIME`, else the built hullc) as BinaryName.

mod shim_suite;

use hull_integration::runtime_bin;

#[test]
fn foreground_exit_codes() {
    shim_suite::foreground_exit_codes(&runtime_bin());
}

#[test]
fn stdin_forwarded() {
    shim_suite::stdin_forwarded(&runtime_bin());
}

#[test]
fn tty_run() {
    shim_suite::tty_run(&runtime_bin());
}

#[test]
fn detached_lifecycle() {
    shim_suite::detached_lifecycle(&runtime_bin());
}

#[test]
fn containerd_restart() {
    shim_suite::containerd_restart(&runtime_bin());
}

#[test]
fn shim_killed() {
    shim_suite::shim_killed(&runtime_bin());
}

#[test]
fn bad_input_via_ctr() {
    shim_suite::bad_input_via_ctr(&runtime_bin());
}

#[test]
fn events_published() {
    shim_suite::events_published(&runtime_bin());
}

#[test]
fn no_thread_leak() {
    shim_suite::no_thread_leak(&runtime_bin());
}

#[test]
fn exec_burst() {
    shim_suite::exec_burst(&runtime_bin());
}

#[test]
fn log_uris() {
    shim_suite::log_uris(&runtime_bin());
}

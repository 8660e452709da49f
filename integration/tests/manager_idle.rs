//! An idle hulld stays idle: with running containers (each with a `Wait`
//! in flight on its shim) it does not wake up per container, and its
//! threads do not grow with their number.

mod manager_support;

use std::collections::HashMap;
use std::time::Duration;

use hull_integration::registry::{Auth, Registry};
use manager_support::*;

/// Context switches (voluntary and not) of every thread of `pid`, by tid.
fn switches(pid: u32) -> HashMap<u32, u64> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in dir.flatten() {
        let Ok(tid) = t.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(t.path().join("status")) else {
            continue; // the thread ended meanwhile
        };
        let n: u64 = status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        out.insert(tid, n);
    }
    out
}

/// How often the threads of `pid` ran during `window` (threads started
/// meanwhile count from zero).
fn wakeups_over(pid: u32, window: Duration) -> u64 {
    let before = switches(pid);
    std::thread::sleep(window);
    switches(pid)
        .iter()
        .map(|(tid, n)| n.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum()
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn idle_hulld_does_not_wake_per_running_container() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    l.layer("empty", "bb", |r| {
        hull_integration::rootfs::build_busybox_rootfs(r).unwrap();
    });
    l.config("bb", &["--config.cmd", "/bin/sh"]);
    let image = reg.reference("idle/busybox:v1");
    l.push("bb", &image, &[]);
    // No bridge: the host's network is not this test's.
    let h = Hulld::start_with_config("default_network = \"none\"\n");
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["pull", "-q", &image]);

    let n = 6;
    let one = h.hull_ok(&["run", "-d", &image, "sleep", "600"]);
    let one = one.trim().to_string();
    let threads_one = threads(h.pid());
    for _ in 1..n {
        h.hull_ok(&["run", "-d", &image, "sleep", "600"]);
    }
    let up = h.hull_ok(&["ps", "-q"]);
    assert_eq!(up.lines().count(), n, "running: {up}");

    // ttrpc's synchronous client polled every 10 ms per connection: 100
    // wake-ups a second per running container, 1200 here over 2 s. Idle
    // now means a few timer ticks, whatever the number of containers.
    let woke = wakeups_over(h.pid(), Duration::from_secs(2));
    assert!(
        woke < 100,
        "idle hulld with {n} running containers ran {woke} times in 2 s"
    );
    // One waiter thread per task is gone too: the Waits are futures. (The
    // runtime's blocking threads that served the runs may linger; they are
    // not per container.)
    let threads_n = threads(h.pid());
    eprintln!("idle: {woke} wake-ups in 2 s; threads {threads_one} with one container, {threads_n} with {n}");
    assert!(
        threads_n < threads_one + n - 1,
        "hulld has {threads_n} threads with {n} running containers, {threads_one} with one"
    );

    // Exits still come through: a kill records the code, a wait returns it.
    h.hull_ok(&["kill", &one]);
    let code = h.hull_ok(&["wait", &one]);
    assert_eq!(code.trim(), "137", "exit code of a SIGKILLed sleep");
    h.hull_ok(&["rm", &one]);
}

//! `hull run --ulimit/--sysctl/--shm-size/--pid/--ipc` (RunOptions'
//! kernel settings, `manager/src/containers/kernel_opts.rs`) as the
//! process inside the container sees them, with a real hulld, shim and
//! hullc; and each kind of bad value refused with one error line, exit code 125
//! (Docker's) and no container left.

mod manager_support;

use manager_support::cli::setup;
use manager_support::*;

/// `hull run --rm --network none FLAGS… IMAGE sh -c SCRIPT`: its stdout.
fn inside(h: &Hulld, image: &str, flags: &[&str], script: &str) -> String {
    let mut a = vec!["run", "--rm", "--network", "none"];
    a.extend_from_slice(flags);
    a.extend_from_slice(&[image, "sh", "-c", script]);
    h.hull_ok(&a)
}

/// The namespace link of ours (the host's, for the test).
fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .expect("readlink")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn ulimit_sysctl_and_shm_size_inside_the_container() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _c = Containers::of(&h);

    let out = inside(
        &h,
        &image,
        &["--ulimit", "nofile=123:456", "--ulimit", "nproc=77"],
        "ulimit -Sn; ulimit -Hn; ulimit -u",
    );
    assert_eq!(out, "123\n456\n77\n");

    // One of the IPC namespace's and one of the network namespace's.
    let out = inside(
        &h,
        &image,
        &[
            "--sysctl",
            "kernel.shmmni=1234",
            "--sysctl",
            "net.ipv4.ip_forward=1",
        ],
        "cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_forward",
    );
    assert_eq!(out, "1234\n1\n");
    // The host's values are not touched.
    let host = std::fs::read_to_string("/proc/sys/kernel/shmmni").expect("host shmmni");
    assert_ne!(host.trim(), "1234");

    // /dev/shm is a tmpfs of that size (df -k: its 1K blocks).
    let df = |flags: &[&str]| {
        let out = inside(&h, &image, flags, "df -k /dev/shm");
        let row = out.lines().nth(1).unwrap_or_default().to_string();
        row.split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(df(&["--shm-size", "8m"]), "8192");
    assert_eq!(df(&[]), "65536", "Docker's default is 64m");
}

#[test]
fn pid_and_ipc_host_share_the_host_namespaces() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _c = Containers::of(&h);
    let script = "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc";
    let own = inside(&h, &image, &[], script);
    let (pid, ipc) = (host_ns("pid"), host_ns("ipc"));
    assert!(!own.contains(&pid) && !own.contains(&ipc), "{own}");
    let shared = inside(&h, &image, &["--pid", "host", "--ipc", "host"], script);
    assert_eq!(shared, format!("{pid}\n{ipc}\n"));
    // With the host's PID namespace, the test process is visible inside.
    let me = std::process::id().to_string();
    let out = inside(
        &h,
        &image,
        &["--pid", "host"],
        &format!("test -d /proc/{me} && echo seen"),
    );
    assert_eq!(out, "seen\n");
}

#[test]
fn bad_kernel_options_fail_with_one_line_and_leave_nothing() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _c = Containers::of(&h);
    let cases: &[(&[&str], &str)] = &[
        (&["--ulimit", "nofile"], "expected NAME=SOFT[:HARD]"),
        (&["--ulimit", "files=1"], "unknown limit"),
        (
            &["--ulimit", "nofile=2:1"],
            "soft limit above the hard limit",
        ),
        (&["--sysctl", "kernel.hostname=x"], "is not allowed"),
        (&["--sysctl", "noequals"], "noequals"),
        (
            &["--network", "host", "--sysctl", "net.core.somaxconn=1"],
            "with the host's network",
        ),
        (&["--shm-size", "lots"], "lots"),
        (&["--pid", "container:other"], "--pid"),
        (&["--ipc", "weird"], "--ipc"),
    ];
    for (flags, want) in cases {
        let mut a = vec!["run", "--name", "bad"];
        a.extend_from_slice(flags);
        a.extend_from_slice(&[&image, "true"]);
        let o = h.hull(&a);
        // Docker's code for a `run` that could not create its container.
        assert_eq!(code(&o), 125, "{flags:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert_eq!(e.trim_end().lines().count(), 1, "{flags:?}: {e:?}");
        assert!(e.contains(want), "{flags:?}: {want:?} not in {e:?}");
        let left = h.hull_ok(&["ps", "-a", "-q"]);
        assert!(left.trim().is_empty(), "{flags:?} left a container: {left}");
    }
}

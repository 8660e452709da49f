//! The CLI under faults and at scale, and where Docker protects the user:
//! stop/kill/rm of many containers at once, a daemon killed mid-call,
//! `logs --tail` on a 1 GiB log, `rmi` of an image a container uses, the
//! prune prompts, and a `load` whose layer is refused.

mod manager_support;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use hull_integration::registry::{Auth, Registry};
use manager_support::*;

/// A registry with a busybox image (Cmd /bin/sh) and a hulld; the image's
/// reference.
fn setup() -> (Registry, Layout, Hulld, String) {
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    l.layer("empty", "bb", |r| {
        hull_integration::rootfs::build_busybox_rootfs(r).unwrap();
    });
    l.config("bb", &["--config.cmd", "/bin/sh"]);
    let image = reg.reference("robust/busybox:v1");
    l.push("bb", &image, &[]);
    let h = Hulld::start();
    h.hull_ok(&["pull", "-q", &image]);
    (reg, l, h, image)
}

/// Seconds since midnight of an RFC 3339 UTC time, and its date.
fn time_of(rfc3339: &str) -> (String, f64) {
    let (date, time) = rfc3339.trim().split_once('T').expect("a date and a time");
    let time = time.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next().unwrap().parse().unwrap();
    let m: f64 = parts.next().unwrap().parse().unwrap();
    let s: f64 = parts.next().unwrap().parse().unwrap();
    (date.to_string(), h * 3600.0 + m * 60.0 + s)
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} of {pid}"))
}

#[test]
fn stop_kill_and_rm_work_on_many_containers_at_once() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    // Each ignores SIGTERM: a stop waits its -t 1 and then kills it.
    let names: Vec<String> = (0..6).map(|i| format!("stubborn{i}")).collect();
    for n in &names {
        h.hull_ok(&[
            "run",
            "-d",
            "--name",
            n,
            &image,
            "sh",
            "-c",
            "trap '' TERM; echo ready; sleep 1000",
        ]);
    }
    for n in &names {
        wait_until("the trap to be set", Duration::from_secs(20), || {
            h.hull_ok(&["logs", n]).contains("ready")
        });
    }
    // One name in the middle does not exist: it is reported, the others
    // are stopped, and the exit code says something failed.
    let mut args = vec!["stop", "-t", "1"];
    args.extend(names[..3].iter().map(String::as_str));
    args.push("no-such-container");
    args.extend(names[3..].iter().map(String::as_str));
    let out = h.hull(&args);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let printed: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(printed, names, "the argument order");
    assert!(
        stderr(&out).contains("no-such-container") && stderr(&out).lines().count() == 1,
        "{}",
        stderr(&out)
    );
    // Stopped at once, not one after the other: one after the other, each
    // would end at least a second (its -t 1) after the one before.
    let mut ends = Vec::new();
    for n in &names {
        let st = h.hull_ok(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.FinishedAt}}",
            n,
        ]);
        let (status, finished) = st.trim().split_once(' ').unwrap();
        assert_eq!(status, "exited", "{n}");
        ends.push(time_of(finished));
    }
    assert!(ends.iter().all(|(d, _)| *d == ends[0].0), "{ends:?}");
    let first = ends.iter().map(|e| e.1).fold(f64::MAX, f64::min);
    let last = ends.iter().map(|e| e.1).fold(f64::MIN, f64::max);
    assert!(last - first < 2.0, "stops did not overlap: {ends:?}");

    // kill and rm -f: every container, in order, errors named.
    for n in &names[..3] {
        h.hull_ok(&["start", n]);
    }
    let out = h.hull(&["kill", &names[0], "nope", &names[1], &names[2]]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        stdout(&out),
        format!("{}\n{}\n{}\n", names[0], names[1], names[2])
    );
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    for n in &names[..3] {
        wait_until("the kill to land", Duration::from_secs(20), || {
            h.hull_ok(&["inspect", "--format", "{{.State.Status}}", n])
                .trim()
                == "exited"
        });
    }
    h.hull_ok(&["start", &names[4]]);
    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    let out = h.hull_ok(&args);
    assert_eq!(out.lines().collect::<Vec<_>>(), names);
    assert!(h.hull_ok(&["ps", "-a", "-q"]).trim().is_empty());
}

/// hull's one line when hulld dies under a call: `wait`, `logs -f` and a
/// `pull` from a registry that does not answer.
#[test]
fn a_daemon_killed_mid_call_is_reported_as_gone() {
    require_root!();
    let (_reg, _l, mut h, image) = setup();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        &image,
        "sh",
        "-c",
        "while :; do echo tick; sleep 0.2; done",
    ]);
    let mut follow = h.hull_cmd(&["logs", "-f", "ticker"]);
    let mut follow = follow
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "tick");
    let wait = h
        .hull_cmd(&["wait", "ticker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A pull from a registry that never answers (a listener on loopback
    // that accepts nothing): hulld waits on it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let pull = h
        .hull_cmd(&["pull", &format!("127.0.0.1:{port}/silent/image:v1")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Connected: from here on a lost daemon is lost during the call.
    wait_until(
        "`hull wait` and `hull pull` to connect",
        Duration::from_secs(10),
        || connected(wait.id()) && connected(pull.id()),
    );
    h.kill();
    for (what, child) in [("wait", wait), ("logs -f", follow), ("pull", pull)] {
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        let sock = h.sock.display().to_string();
        assert_eq!(
            err.trim_end(),
            format!(
                "hull: the daemon at unix://{sock} went away during the call (was it stopped?)"
            ),
            "{what}: exit {:?}, stdout {}",
            out.status,
            stdout(&out)
        );
        assert_eq!(code(&out), 125, "{what}");
    }
    // A new call says hulld is not there.
    let out = h.hull(&["ps"]);
    assert_ne!(code(&out), 0);
    assert!(
        stderr(&out).contains("Is hulld running?"),
        "{}",
        stderr(&out)
    );
    h.spawn(); // for the cleanup
}

/// Process `pid` holds a connected unix socket (its connection to hulld).
fn connected(pid: u32) -> bool {
    let mut inodes = std::collections::HashSet::new();
    for fd in fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let link = fs::read_link(fd.path()).unwrap_or_default();
        let link = link.to_string_lossy();
        if let Some(i) = link
            .strip_prefix("socket:[")
            .and_then(|l| l.strip_suffix(']'))
        {
            inodes.insert(i.to_string());
        }
    }
    // Num RefCount Protocol Flags Type St Inode [Path]; St 03: connected.
    fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .any(|f| f.len() >= 7 && f[5] == "03" && inodes.contains(f[6]))
}

/// Write a json-file log of about `size` bytes: lines of ~4 KiB, the last
/// two distinct.
fn write_big_log(path: &Path, size: u64) -> u64 {
    let pad = "x".repeat(4000);
    let mut block = String::new();
    for i in 0..256 {
        block.push_str(&format!(
            "{{\"log\":\"filler {i} {pad}\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05.000000001Z\",\"t\":1704164645000000001}}\n"
        ));
    }
    let mut f = std::io::BufWriter::with_capacity(1 << 20, fs::File::create(path).unwrap());
    let mut written = 0u64;
    let mut lines = 0u64;
    while written < size {
        f.write_all(block.as_bytes()).unwrap();
        written += block.len() as u64;
        lines += 256;
    }
    for (i, s) in ["stdout", "stderr"].iter().enumerate() {
        writeln!(
            f,
            "{{\"log\":\"last line {i}\\n\",\"stream\":\"{s}\",\"time\":\"2024-01-02T03:04:06.000000001Z\",\"t\":1704164646000000001}}"
        )
        .unwrap();
    }
    f.flush().unwrap();
    lines + 2
}

#[test]
fn logs_tail_of_a_1_gib_log_reads_only_its_end() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let id = h.hull_ok(&["create", "--name", "chatty", &image, "true"]);
    let id = id.trim();
    let log = h
        .state
        .join("containers/default")
        .join(id)
        .join("container.log");
    assert!(log.parent().unwrap().is_dir(), "{}", log.display());
    let lines = write_big_log(&log, 1 << 30);
    let pid = h.pid();
    // The peak from here on (writing 5 resets VmHWM to the current RSS).
    fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let before = status_kib(pid, "VmRSS:");

    let t = std::time::Instant::now();
    let out = h.hull(&["logs", "--tail", "2", "chatty"]);
    eprintln!("logs --tail 2 of a 1 GiB log: {:?}", t.elapsed()); // a figure, not a check
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "last line 0\n");
    assert_eq!(stderr(&out), "last line 1\n");
    let out = h.hull_ok(&["logs", "--tail", "3", "chatty"]);
    assert!(
        out.starts_with("filler 255 xxx") && out.ends_with("last line 0\n"),
        "{}",
        &out[..40]
    );
    let peak = status_kib(pid, "VmHWM:");
    eprintln!("hulld RSS before: {before} KiB, peak during the tails: {peak} KiB");
    assert!(
        peak < before + 64 * 1024,
        "hulld grew from {before} KiB to {peak} KiB for a tail"
    );

    // The whole log streams through without hulld holding it.
    let mut all = h
        .hull_cmd(&["logs", "chatty"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut n = 0u64;
    let mut last = String::new();
    let mut r = BufReader::with_capacity(1 << 20, all.stdout.take().unwrap());
    let mut line = String::new();
    while r.read_line(&mut line).unwrap() > 0 {
        n += 1;
        std::mem::swap(&mut last, &mut line);
        line.clear();
    }
    assert!(all.wait().unwrap().success());
    assert_eq!(n, lines - 1, "every stdout line");
    assert_eq!(last, "last line 0\n");
    let peak = status_kib(pid, "VmHWM:");
    eprintln!("hulld RSS peak streaming the whole log: {peak} KiB");
    assert!(
        peak < before + 64 * 1024,
        "hulld grew from {before} KiB to {peak} KiB streaming the log"
    );
}

#[test]
fn rmi_refuses_an_image_a_container_uses_unless_forced() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let img_id = h.inspect(&image)["Id"].as_str().unwrap().to_string();
    let img12 = &img_id["sha256:".len().."sha256:".len() + 12];
    let stopped = h.hull_ok(&["create", &image, "true"]).trim().to_string();
    let s12 = &stopped[..12];

    // By its only tag: Docker's "must force", naming the container.
    let out = h.hull(&["rmi", &image]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        stderr(&out).trim_end(),
        format!("Error response from daemon: conflict: unable to remove repository reference \"{image}\" (must force) - container {s12} is using its referenced image {img12}")
    );
    // By ID: a stopped container needs -f.
    let out = h.hull(&["rmi", img12]);
    assert_eq!(
        stderr(&out).trim_end(),
        format!("Error response from daemon: conflict: unable to delete {img12} (must be forced) - image is being used by stopped container {s12}")
    );
    assert!(h.hull_ok(&["images", "-q"]).contains(img12));

    // A running container: by ID not even with -f.
    let running = h
        .hull_ok(&["run", "-d", &image, "sleep", "1000"])
        .trim()
        .to_string();
    let r12 = &running[..12];
    let out = h.hull(&["rmi", "-f", img12]);
    assert_eq!(
        stderr(&out).trim_end(),
        format!("Error response from daemon: conflict: unable to delete {img12} (cannot be forced) - image is being used by running container {r12}")
    );

    // Two tags: removing one by name only untags; by ID needs -f.
    h.hull_ok(&["tag", &image, "second/name:t"]);
    let out = h.hull(&["rmi", img12]);
    assert!(
        stderr(&out).contains("(cannot be forced) - image is being used by running container"),
        "{}",
        stderr(&out)
    );
    let out = h.hull_ok(&["rmi", &image]);
    assert!(out.starts_with("Untagged: "), "{out}");
    assert!(!out.contains("Deleted:"), "{out}");

    // The last tag with -f: untagged only; the containers keep what they
    // need (the stopped one starts again, its image's content is kept).
    let out = h.hull(&["rmi", "second/name:t"]);
    assert!(
        stderr(&out).contains("(must force) - container"),
        "{}",
        stderr(&out)
    );
    let out = h.hull_ok(&["rmi", "-f", "second/name:t"]);
    assert!(out.contains("Untagged: second/name:t"), "{out}");
    assert!(!out.contains("Deleted:"), "{out}");
    assert!(h.hull_ok(&["images", "-q"]).trim().is_empty());
    assert_eq!(
        h.hull_ok(&["inspect", "--format", "{{.State.Status}}", &running])
            .trim(),
        "running"
    );
    h.hull_ok(&["start", &stopped]);
    h.hull_ok(&["rm", "-f", &stopped, &running]);

    // No user left: a plain rmi by ID of a fresh pull removes it.
    h.hull_ok(&["pull", "-q", &image]);
    h.hull_ok(&["tag", &image, "third/name:t"]);
    let out = h.hull(&["rmi", img12]);
    assert!(
        stderr(&out).contains(&format!("conflict: unable to delete {img12} (must be forced) - image is referenced in multiple repositories")),
        "{}",
        stderr(&out)
    );
    let out = h.hull_ok(&["rmi", "-f", img12]);
    assert!(
        out.contains("Untagged: third/name:t") && out.contains("Deleted: "),
        "{out}"
    );
}

#[test]
fn prunes_ask_first_unless_forced() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let id = h.hull_ok(&["create", &image, "true"]).trim().to_string();
    let exists = |id: &str| h.hull(&["inspect", id]).status.success();

    let container_prompt =
        "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ";
    for answer in ["n\n", "", "yes\n", " y\n", "\n"] {
        let out = h.hull_stdin(&["container", "prune"], answer);
        assert_eq!(code(&out), 0, "{answer:?}: {}", stderr(&out));
        assert!(
            stdout(&out).starts_with(container_prompt),
            "{answer:?}: {}",
            stdout(&out)
        );
        assert!(!stdout(&out).contains(&id), "{answer:?}");
        assert!(exists(&id), "{answer:?} removed it");
    }
    let out = h.hull_stdin(&["container", "prune"], "n\n");
    assert_eq!(
        stdout(&out),
        format!("{container_prompt}Total reclaimed space: 0B\n")
    );
    let out = h.hull_stdin(&["container", "prune"], "Y\n");
    let printed = stdout(&out);
    let rest = printed
        .strip_prefix(container_prompt)
        .unwrap_or_else(|| panic!("{printed}"));
    assert!(
        rest.starts_with(&format!(
            "Deleted Containers:\n{id}\n\nTotal reclaimed space: "
        )),
        "{rest}"
    );
    assert!(!exists(&id));
    let id2 = h.hull_ok(&["create", &image, "true"]).trim().to_string();
    let out = h.hull_stdin(&["container", "prune", "-f"], "");
    assert!(!stdout(&out).contains("WARNING"), "{}", stdout(&out));
    assert!(!exists(&id2));

    // Volumes: the wording of each mode, nothing removed on "n".
    h.hull_ok(&["volume", "create", "keepme"]);
    let out = h.hull_stdin(&["volume", "prune", "-a"], "n\n");
    assert!(
        stdout(&out).starts_with("WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "),
        "{}",
        stdout(&out)
    );
    assert!(h.hull_ok(&["volume", "ls", "-q"]).contains("keepme"));
    let out = h.hull_stdin(&["volume", "prune"], "n\n");
    assert!(stdout(&out).starts_with("WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "));
    let out = h.hull_stdin(&["volume", "prune", "--all"], "y\n");
    assert!(stdout(&out).contains("keepme"), "{}", stdout(&out));
    assert!(!h.hull_ok(&["volume", "ls", "-q"]).contains("keepme"));

    // Images, networks and the system: asked, and "n" keeps the image.
    let out = h.hull_stdin(&["image", "prune", "-a"], "n\n");
    assert!(stdout(&out).starts_with("WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] "));
    let out = h.hull_stdin(&["image", "prune"], "n\n");
    assert!(stdout(&out).starts_with(
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
    ));
    let out = h.hull_stdin(&["network", "prune"], "n\n");
    assert_eq!(
        stdout(&out),
        "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "
    );
    let out = h.hull_stdin(&["system", "prune", "-a"], "n\n");
    assert_eq!(
        stdout(&out),
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all images without at least one container associated to them\n  - all build cache\n\nAre you sure you want to continue? [y/N] "
    );
    assert!(!h.hull_ok(&["images", "-q"]).trim().is_empty());
    let out = h.hull_stdin(&["image", "prune", "-a"], "y\n");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(h.hull_ok(&["images", "-q"]).trim().is_empty());
}

#[test]
fn load_of_an_archive_with_a_refused_layer_records_no_image() {
    require_root!();
    let h = Hulld::start();
    let work = tempfile::tempdir().unwrap();
    let mut good = Vec::new();
    tar_entry(&mut good, "etc/", b'5', "", b"", 0o755);
    tar_entry(&mut good, "etc/ok", b'0', "", b"ok", 0o644);
    tar_finish(&mut good);
    let mut bad = Vec::new();
    tar_entry(
        &mut bad,
        "hl",
        b'1',
        "../../../../../../../../etc/passwd",
        b"",
        0o644,
    );
    tar_finish(&mut bad);
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    let layout = layout_from_tars(work.path(), "refused", &[good, bad], arch);
    let oci_tar = work.path().join("oci.tar");
    sh(Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&oci_tar)
        .arg("."));
    let dk_tar = work.path().join("docker.tar");
    skopeo_copy(
        &format!("oci:{}:refused", layout.display()),
        &format!("docker-archive:{}:refused/image:v1", dk_tar.display()),
        &[],
    );
    for tar in [&oci_tar, &dk_tar] {
        let out = h.hull(&["load", "-i", tar.to_str().unwrap()]);
        assert_ne!(code(&out), 0, "{}: load must fail", tar.display());
        assert!(stderr(&out).contains("unpack refused"), "{}", stderr(&out));
        assert!(
            h.hull_ok(&["images", "-q"]).trim().is_empty(),
            "{}",
            tar.display()
        );
        let out = h.hull(&[
            "save",
            "-o",
            work.path().join("x.tar").to_str().unwrap(),
            "refused/image:v1",
        ]);
        assert_ne!(code(&out), 0);
    }
}

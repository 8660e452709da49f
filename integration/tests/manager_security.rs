//! hulld's root and state are closed to other local users (the
//! CVE-2021-41091 class: an image's setuid binary run straight from a
//! snapshot, `-e` secrets read from the metadata, a bundle or a log), also
//! after a hulld that left them open; and text from hostile images reaches
//! the terminal with its control characters escaped.

mod manager_support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hull_integration::registry::{Auth, Registry};
use manager_support::*;

/// A uid and gid no account on these machines has.
const OTHER_ID: &str = "65533";

/// Bundle files bind-mounted into the container (0644 inside the 0700
/// bundle: documented in README's "Security choices").
const SHARED: [&str; 3] = ["hosts", "hostname", "resolv.conf"];

/// A registry with a busybox image carrying a setuid-root copy of busybox
/// at /bin/suid-sh; the image's reference.
fn setup_image() -> (Registry, Layout, String) {
    let reg = Registry::start(Auth::None).unwrap();
    let l = Layout::new();
    l.layer("empty", "bb", |r| {
        hull_integration::rootfs::build_busybox_rootfs(r).unwrap();
        fs::copy(r.join("bin/busybox"), r.join("bin/suid-sh")).unwrap();
        fs::set_permissions(r.join("bin/suid-sh"), fs::Permissions::from_mode(0o4755)).unwrap();
    });
    l.config("bb", &["--config.cmd", "/bin/sh"]);
    let image = reg.reference("sec/busybox:v1");
    l.push("bb", &image, &[]);
    (reg, l, image)
}

/// Start a hulld whose temp dir other users may traverse, so that only
/// hulld's own modes stand between them and its root and state.
fn open_hulld() -> Hulld {
    let h = Hulld::start();
    fs::set_permissions(h.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    h
}

/// Run a container that logs a secret given with `-e`, with a named
/// volume; its ID and the secret.
fn run_secret_container(h: &Hulld, image: &str) -> (String, String) {
    let secret = hull_integration::unique_id("hunter2");
    h.hull_ok(&["volume", "create", "secvol"]);
    let id = h
        .hull_ok(&[
            "run",
            "-d",
            "--name",
            "sec",
            "-e",
            &format!("SECRET={secret}"),
            "-v",
            "secvol:/data",
            image,
            "sh",
            "-c",
            "echo \"the secret is $SECRET\"; exec sleep 600",
        ])
        .trim()
        .to_string();
    wait_until("the container's log", Duration::from_secs(20), || {
        stdout(&h.hull(&["logs", "sec"])).contains(&secret)
    });
    (id, secret)
}

/// Is `rel` (relative to hulld's root or state) container content, whose
/// modes are the image's and not hulld's?
fn is_content(rel: &[&str]) -> bool {
    matches!(
        rel,
        ["snapshots", _, _, "fs" | "work", ..]
            | ["volumes", _, _, "_data", ..]
            | ["containers", _, _, "rootfs", ..]
            | ["runtime", _, ..]
    )
}

/// Every path under `top` that "other" may read, write or traverse (the
/// documented exceptions aside), as `mode path` lines.
fn open_paths(top: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let dev = fs::symlink_metadata(top).unwrap().dev();
    let mut stack = vec![top.to_path_buf()];
    let mut seen = 0;
    while let Some(p) = stack.pop() {
        let Ok(md) = fs::symlink_metadata(&p) else {
            continue; // gone meanwhile
        };
        if md.file_type().is_symlink() || md.dev() != dev {
            continue;
        }
        let rel_path = p.strip_prefix(top).unwrap().to_path_buf();
        let rel: Vec<&str> = rel_path.iter().map(|c| c.to_str().unwrap()).collect();
        if is_content(&rel) {
            continue;
        }
        seen += 1;
        let mode = md.mode() & 0o7777;
        let shared = matches!(rel.as_slice(), ["containers", _, _, f] if SHARED.contains(f));
        if shared {
            if mode != 0o644 {
                bad.push(format!("{mode:o} {} (want 644)", p.display()));
            }
        } else if mode & 0o007 != 0 || (md.is_file() && mode & 0o077 != 0) {
            bad.push(format!("{mode:o} {}", p.display()));
        }
        if md.is_dir() {
            for e in fs::read_dir(&p).unwrap().flatten() {
                stack.push(e.path());
            }
        }
    }
    assert!(seen > 10, "walked too little of {}", top.display());
    bad
}

/// `setpriv` as an unprivileged user: the command's output.
fn as_other(args: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args([
            "--reuid",
            OTHER_ID,
            "--regid",
            OTHER_ID,
            "--clear-groups",
            "--",
        ])
        .args(args)
        .output()
        .expect("run setpriv")
}

/// The paths a local user went for: the setuid binary in the image's
/// layer, the metadata, the bundle's spec and the container's log.
fn targets(h: &Hulld, id: &str) -> Vec<PathBuf> {
    let mut suid = Vec::new();
    for d in fs::read_dir(h.root.join("snapshots/overlayfs"))
        .unwrap()
        .flatten()
    {
        let p = d.path().join("fs/bin/suid-sh");
        if p.exists() {
            suid.push(p);
        }
    }
    assert!(!suid.is_empty(), "no setuid binary under the snapshots");
    let bundle = h.state.join("containers/default").join(id);
    let mut t = suid;
    t.push(h.root.join("meta.redb"));
    t.push(bundle.join("config.json"));
    t.push(bundle.join("container.log"));
    for p in &t {
        assert!(p.exists(), "{} missing", p.display());
    }
    t
}

/// Every target is out of reach of an unprivileged user (EACCES), while
/// the test's own temp dir is not (so the check can fail).
fn assert_unreachable(h: &Hulld, id: &str, secret: &str) {
    let probe = as_other(&["stat", "-c", "%a", h.dir.path().to_str().unwrap()]);
    assert!(
        probe.status.success(),
        "the test's dir should be reachable: {}",
        stderr(&probe)
    );
    for p in targets(h, id) {
        let ps = p.to_str().unwrap();
        // The exec goes through a shell: setpriv itself still holds its
        // capabilities when it execs its command.
        let run = ["sh", "-c", "exec \"$0\" id -u", ps];
        for cmd in [vec!["stat", ps], vec!["cat", ps], run.to_vec()] {
            let out = as_other(&cmd);
            let err = stderr(&out);
            assert!(!out.status.success(), "{cmd:?} as {OTHER_ID} worked");
            assert!(err.contains("Permission denied"), "{cmd:?}: {err}");
            assert!(!stdout(&out).contains(secret), "{cmd:?} read the secret");
        }
    }
}

/// The shim's socket (outside hulld's state, in the shim's socket dir).
fn assert_shim_socket_closed(h: &Hulld, id: &str) {
    let addr =
        fs::read_to_string(h.state.join("containers/default").join(id).join("address")).unwrap();
    let sock = PathBuf::from(addr.trim().trim_start_matches("unix://"));
    let mode = fs::symlink_metadata(&sock).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o} {}", sock.display());
    let dir = sock.parent().unwrap();
    let dmode = fs::metadata(dir).unwrap().mode() & 0o777;
    assert_eq!(dmode, 0o700, "{dmode:o} {}", dir.display());
}

fn assert_closed(h: &Hulld) {
    for top in [&h.root, &h.state] {
        let mode = fs::metadata(top).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o700, "{mode:o} {}", top.display());
        let bad = open_paths(top);
        assert!(bad.is_empty(), "open to other users:\n{}", bad.join("\n"));
    }
}

#[test]
fn root_and_state_are_closed_to_other_users() {
    require_root!();
    let (_reg, _l, image) = setup_image();
    let h = open_hulld();
    let _cleanup = Containers::of(&h);
    let (id, secret) = run_secret_container(&h, &image);

    assert_closed(&h);
    assert_shim_socket_closed(&h, &id);
    assert_unreachable(&h, &id, &secret);
    // The container itself still sees its image's modes, and what hulld
    // makes for it (a volume, the bind-mounted /etc files) keeps Docker's
    // modes whatever hulld's umask.
    let out = h.hull_ok(&[
        "exec",
        "sec",
        "stat",
        "-c",
        "%a",
        "/",
        "/bin/suid-sh",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/data",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["755", "4755", "644", "644", "755"]
    );
    // A non-root user in the container reads them and lists the volume.
    let out = h.hull_ok(&[
        "exec",
        "-u",
        "65533",
        "sec",
        "sh",
        "-c",
        "cat /etc/hosts /etc/hostname >/dev/null && ls /data /bin/busybox && id -u",
    ]);
    assert!(out.trim_end().ends_with("65533"), "{out}");
    h.hull_ok(&["rm", "-f", "sec"]);
}

/// Open every mode below `top` (as an older hulld left them), content aside.
fn open_up(top: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![top.to_path_buf()];
    while let Some(p) = stack.pop() {
        let md = fs::symlink_metadata(&p).unwrap();
        let rel_path = p.strip_prefix(top).unwrap().to_path_buf();
        let rel: Vec<&str> = rel_path.iter().map(|c| c.to_str().unwrap()).collect();
        if md.file_type().is_symlink() || is_content(&rel) {
            continue;
        }
        let mode = if md.is_dir() { 0o755 } else { 0o644 };
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        n += 1;
        if md.is_dir() {
            for e in fs::read_dir(&p).unwrap().flatten() {
                stack.push(e.path());
            }
        }
    }
    n
}

#[test]
fn modes_an_older_hulld_left_open_are_closed_on_start() {
    require_root!();
    let (_reg, _l, image) = setup_image();
    let mut h = open_hulld();
    let _cleanup = Containers::of(&h);
    let (id, secret) = run_secret_container(&h, &image);
    h.hull_ok(&["stop", "-t", "1", "sec"]);
    h.stop();

    // What an older hulld made: 0755 directories, 0644 files. Content
    // (a volume's data, a layer's files) has modes of its own that stay.
    assert!(open_up(&h.root) > 10);
    assert!(open_up(&h.state) > 5);
    let data = h.root.join("volumes/default/secvol/_data");
    fs::set_permissions(&data, fs::Permissions::from_mode(0o1777)).unwrap();
    assert!(!open_paths(&h.root).is_empty(), "opening failed");

    h.spawn();
    assert_closed(&h);
    assert_unreachable(&h, &id, &secret);
    assert_eq!(fs::metadata(&data).unwrap().mode() & 0o7777, 0o1777);
    for p in targets(&h, &id)
        .iter()
        .filter(|p| p.ends_with("bin/suid-sh"))
    {
        assert_eq!(fs::metadata(p).unwrap().mode() & 0o7777, 0o4755);
    }
    // And the container still starts and logs.
    h.hull_ok(&["start", "sec"]);
    wait_until(
        "the restarted container's log",
        Duration::from_secs(20),
        || stdout(&h.hull(&["logs", "sec"])).matches(&secret).count() >= 2,
    );
    assert_closed(&h);
    h.hull_ok(&["rm", "-f", "sec"]);
}

// ------------------------------------------------------------ terminal escapes

/// A name that would turn the rest of a terminal red on a line of its own.
const EVIL: &str = "\n\x1b[31mEVIL";
/// How it must show.
const EVIL_SHOWN: &str = "\\n\\u{1b}[31mEVIL";

/// A GNU long-name entry (a name longer than ustar's 100 bytes) and the
/// entry it names.
fn long_name_entry(t: &mut Vec<u8>, name: &str, kind: u8, data: &[u8], mode: u32) {
    let mut long = name.as_bytes().to_vec();
    long.push(0);
    tar_entry(t, "././@LongLink", b'L', "", &long, 0o644);
    tar_entry(t, "placeholder", kind, "", data, mode);
}

/// The CLI's stderr carries the hostile name escaped, on one line.
fn assert_escaped(what: &str, out: &std::process::Output) {
    assert!(!out.status.success(), "{what}: must fail");
    assert!(
        !out.stderr.contains(&0x1b),
        "{what}: raw ESC on stderr: {:?}",
        stderr(out)
    );
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: one error line: {err:?}");
    assert!(lines[0].contains(EVIL_SHOWN), "{what}: {err:?}");
}

#[test]
fn hostile_names_reach_the_terminal_escaped() {
    require_root!();
    let reg = Registry::start(Auth::None).unwrap();
    let h = Hulld::start();
    let work = tempfile::tempdir().unwrap();

    // A layer whose file name is too long to create (ENAMETOOLONG): the
    // unpack error quotes it.
    let mut layer = Vec::new();
    tar_entry(&mut layer, "etc/", b'5', "", b"", 0o755);
    let name = format!("etc/x{EVIL}{}", "y".repeat(300));
    long_name_entry(&mut layer, &name, b'0', b"x", 0o644);
    tar_finish(&mut layer);
    let layout = layout_from_tars(work.path(), "evil", &[layer], "amd64");
    let r = reg.reference("hostile/escape:v1");
    skopeo_copy(
        &format!("oci:{}:evil", layout.display()),
        &format!("docker://{r}"),
        &[],
    );
    let out = h.hull(&["pull", "-q", &r]);
    assert_escaped("pull", &out);
    assert!(
        stderr(&out).contains("File name too long"),
        "{}",
        stderr(&out)
    );

    // The same image from an archive: `hull load` unpacks it too.
    let archive = work.path().join("evil.tar");
    sh(Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&archive)
        .arg("."));
    let out = h.hull(&["load", "-i", archive.to_str().unwrap()]);
    assert_escaped("load (layer)", &out);
    let imgs = h.hull_ok(&["images", "-q"]);
    assert!(imgs.trim().is_empty(), "a failed load left {imgs:?}");

    // An archive whose own entries clash (a file, then a file under it).
    let mut t = Vec::new();
    tar_entry(&mut t, &format!("d{EVIL}"), b'0', "", b"x", 0o644);
    tar_entry(&mut t, &format!("d{EVIL}/f"), b'0', "", b"x", 0o644);
    tar_finish(&mut t);
    let bad = work.path().join("clash.tar");
    fs::write(&bad, &t).unwrap();
    let out = h.hull(&["load", "-i", bad.to_str().unwrap()]);
    assert_escaped("load (archive)", &out);

    let imgs = h.hull_ok(&["images", "-q"]);
    assert!(imgs.trim().is_empty(), "{imgs:?}");
}

#[test]
fn hostile_image_commands_are_listed_escaped() {
    require_root!();
    let (reg, l, _) = setup_image();
    let h = Hulld::start();
    let _cleanup = Containers::of(&h);
    let cmd = format!("echo{EVIL}");
    l.config("bb", &["--config.cmd", &cmd]);
    let image = reg.reference("sec/evilcmd:v1");
    l.push("bb", &image, &[]);
    h.hull_ok(&["pull", "-q", &image]);
    h.hull_ok(&[
        "create",
        "--name",
        "evilcmd",
        "-l",
        &format!("k=v{EVIL}"),
        &image,
    ]);

    for args in [
        vec!["ps", "-a", "--no-trunc"],
        vec!["ps", "-a", "--format", "{{.Command}} {{.Labels}}"],
        vec![
            "inspect",
            "--format",
            "{{.Config.Cmd}} {{.Config.Labels}}",
            "evilcmd",
        ],
    ] {
        let out = h.hull_ok(&args);
        assert!(!out.contains('\x1b'), "{args:?}: raw ESC: {out:?}");
        assert!(out.contains("EVIL"), "{args:?}: {out:?}");
        assert!(
            out.lines()
                .all(|l| !l.starts_with("\x1b") && !l.starts_with("[31mEVIL")),
            "{args:?}: {out:?}"
        );
    }
    // JSON output stays JSON (escaped by its own rules, decodable).
    let out = h.hull_ok(&["inspect", "evilcmd"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["Config"]["Cmd"][0], cmd);
    h.hull_ok(&["rm", "-f", "evilcmd"]);
}

/// This test thread in a network namespace of its own (deleted on drop):
/// the bridge, veths and iptables rules of hulld's networking stay off the
/// host.
struct NetNs {
    name: String,
    orig: std::os::fd::OwnedFd,
}

impl NetNs {
    fn enter() -> NetNs {
        use std::os::fd::AsFd;
        let name = format!("hullsec-{}", std::process::id());
        sh(Command::new("ip").args(["netns", "add", &name]));
        let orig = fs::File::open("/proc/thread-self/ns/net").unwrap().into();
        let ns = NetNs { name, orig };
        let f = fs::File::open(format!("/run/netns/{}", ns.name)).unwrap();
        nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        sh(Command::new("ip").args(["link", "set", "lo", "up"]));
        ns
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        use std::os::fd::AsFd;
        let _ = nix::sched::setns(self.orig.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET);
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn networked_container_state_is_closed_too() {
    require_root!();
    let _ns = NetNs::enter();
    let (_reg, _l, image) = setup_image();
    let h = Hulld::start_with_config("default_network = \"bridge\"\n");
    fs::set_permissions(h.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let _cleanup = Containers::of(&h);
    h.hull_ok(&["network", "create", "secnet"]);
    let id = h
        .hull_ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "secnet",
            "-p",
            "8080",
            &image,
            "sleep",
            "600",
        ])
        .trim()
        .to_string();
    let netns = h.state.join("netns");
    assert!(
        fs::read_dir(&netns).unwrap().count() > 0,
        "no netns file in {}",
        netns.display()
    );
    assert_closed(&h);
    let probe = as_other(&["ls", netns.to_str().unwrap()]);
    assert!(!probe.status.success(), "{}", stdout(&probe));
    // /etc/hosts is rewritten in place on the network: still 0644.
    let hosts = h.state.join("containers/default").join(&id).join("hosts");
    assert_eq!(fs::metadata(&hosts).unwrap().mode() & 0o7777, 0o644);
    h.hull_ok(&["rm", "-f", "web"]);
    h.hull_ok(&["network", "rm", "secnet"]);
}

/// A "registry" on loopback that answers every request with a 500 whose
/// plain-text body is `message`; stops when dropped.
struct HostileRegistry {
    addr: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostileRegistry {
    fn start(message: &str) -> HostileRegistry {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let body = message.to_string();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((mut s, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = write!(
                    s,
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        HostileRegistry {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HostileRegistry {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn hostile_registry_answers_reach_the_terminal_escaped() {
    require_root!();
    let reg = HostileRegistry::start(&format!("no{EVIL}"));
    let h = Hulld::start();
    let out = h.hull(&["pull", "-q", &format!("{}/evil/answer:v1", reg.addr)]);
    assert_escaped("pull from a hostile registry", &out);
}

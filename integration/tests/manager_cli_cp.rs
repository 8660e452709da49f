//! `hull cp` both ways, into and out of running and stopped containers,
//! confined to the container's rootfs, and its bad input.

mod manager_support;

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use manager_support::cli::{assert_one_line_error, exec, setup};
use manager_support::*;

/// hull with binary stdin.
fn hull_bytes(h: &Hulld, args: &[&str], input: &[u8]) -> Output {
    let mut c = h.hull_cmd(args);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut ch = c.spawn().unwrap();
    let mut stdin = ch.stdin.take().unwrap();
    let data = input.to_vec();
    let w = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = ch.wait_with_output().unwrap();
    let _ = w.join();
    out
}

/// No temporary copy mounts left in hulld's state dir (a copy the client
/// gave up on ends on the daemon's side a moment later).
fn assert_no_copy_mounts(h: &Hulld) {
    let tmp = h.state.join("tmp");
    wait_until("copy mounts gone", Duration::from_secs(10), || {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mounted = info.contains(&format!("{}/cp-", tmp.display()));
        let dirs = std::fs::read_dir(&tmp)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("cp-"));
        !mounted && !dirs
    });
}

// ------------------------------------------------------------------- cp
fn host_tree(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::write(src.join("a.txt"), "alpha\n").unwrap();
    std::fs::set_permissions(src.join("a.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(src.join("sub/b.sh"), "#!/bin/sh\necho bee\n").unwrap();
    std::fs::set_permissions(src.join("sub/b.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(src.join("sub/deeper/c"), vec![b'c'; 700_000]).unwrap();
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    src
}

#[test]
fn cp_both_ways_running_and_stopped() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let tmp = tempfile::tempdir().unwrap();
    let src = host_tree(tmp.path());
    let s = |p: &Path| p.display().to_string();
    h.hull_ok(&["run", "-d", "--name", "c1", &image, "sleep", "1000"]);

    // Host → running container.
    h.hull_ok(&["cp", &s(&src.join("a.txt")), "c1:/tmp/"]);
    assert_eq!(
        exec(&h, "c1", "cat /tmp/a.txt; stat -c %a /tmp/a.txt"),
        "alpha\n640\n"
    );
    h.hull_ok(&["cp", &s(&src.join("a.txt")), "c1:/tmp/renamed.txt"]);
    assert_eq!(exec(&h, "c1", "cat /tmp/renamed.txt"), "alpha\n");
    // A directory to a missing path: created with the contents.
    h.hull_ok(&["cp", &s(&src), "c1:/tmp/dst"]);
    assert_eq!(
        exec(
            &h,
            "c1",
            "cat /tmp/dst/a.txt; /tmp/dst/sub/b.sh; stat -c %a /tmp/dst/sub/b.sh; readlink /tmp/dst/link; wc -c < /tmp/dst/sub/deeper/c"
        ),
        "alpha\nbee\n755\na.txt\n700000\n"
    );
    // To an existing directory: inside it; with /. only the contents.
    h.hull_ok(&["cp", &s(&src), "c1:/tmp/dst"]);
    h.hull_ok(&["cp", &format!("{}/.", s(&src.join("sub"))), "c1:/tmp/dst"]);
    h.hull_ok(&["cp", &format!("{}/.", s(&src.join("sub"))), "c1:/tmp/only"]);
    assert_eq!(
        exec(
            &h,
            "c1",
            "cat /tmp/dst/src/a.txt; /tmp/dst/b.sh; ls /tmp/only | tr '\\n' ' '"
        ),
        "alpha\nbee\nb.sh deeper "
    );
    // A file over a file; a directory over a file is refused.
    std::fs::write(tmp.path().join("new-a"), "beta\n").unwrap();
    h.hull_ok(&["cp", &s(&tmp.path().join("new-a")), "c1:/tmp/a.txt"]);
    assert_eq!(exec(&h, "c1", "cat /tmp/a.txt"), "beta\n");
    let o = h.hull(&["cp", &s(&src), "c1:/tmp/a.txt"]);
    assert_one_line_error(&o, "cannot copy a directory to a file");

    // Ownership: root's without -a, the file's own with -a.
    let owned = tmp.path().join("owned");
    std::fs::write(&owned, "mine\n").unwrap();
    std::os::unix::fs::chown(&owned, Some(1234), Some(5678)).unwrap();
    h.hull_ok(&["cp", &s(&owned), "c1:/tmp/owned-root"]);
    h.hull_ok(&["cp", "-a", &s(&owned), "c1:/tmp/owned-kept"]);
    assert_eq!(
        exec(&h, "c1", "stat -c %u:%g /tmp/owned-root /tmp/owned-kept"),
        "0:0\n1234:5678\n"
    );

    // Running container → host.
    exec(&h, "c1", "mkdir -p /tmp/out/x && echo why > /tmp/out/x/y.txt && chmod 600 /tmp/out/x/y.txt && ln -s x/y.txt /tmp/out/l");
    let back = tmp.path().join("back");
    h.hull_ok(&["cp", "c1:/tmp/out", &s(&back)]);
    assert_eq!(
        std::fs::read_to_string(back.join("x/y.txt")).unwrap(),
        "why\n"
    );
    let mode = std::fs::metadata(back.join("x/y.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o600);
    assert_eq!(
        std::fs::read_link(back.join("l")).unwrap(),
        Path::new("x/y.txt")
    );
    h.hull_ok(&["cp", "c1:/tmp/out", &s(&back)]);
    assert!(back.join("out/x/y.txt").is_file());
    let only = tmp.path().join("only");
    std::fs::create_dir(&only).unwrap();
    h.hull_ok(&["cp", "c1:/tmp/out/.", &s(&only)]);
    assert!(only.join("x/y.txt").is_file() && !only.join("out").exists());
    h.hull_ok(&["cp", "c1:/etc/passwd", &s(&tmp.path().join("passwd"))]);
    assert!(std::fs::read_to_string(tmp.path().join("passwd"))
        .unwrap()
        .starts_with("root:x:0:0:"));
    h.hull_ok(&["cp", "c1:/tmp/dst/sub/deeper/c", &s(&only)]);
    assert_eq!(std::fs::read(only.join("c")).unwrap().len(), 700_000);
    // A relative host destination is taken from the working directory.
    let o = h
        .hull_cmd(&["cp", "c1:/tmp/out/x/y.txt", "rel.txt"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("rel.txt")).unwrap(),
        "why\n"
    );

    // Tar streams: `-` as destination writes a tar to stdout, `-` as
    // source extracts a tar from stdin into a directory.
    let o = h.hull_cmd(&["cp", "c1:/tmp/out", "-"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let tar_file = tmp.path().join("out.tar");
    std::fs::write(&tar_file, &o.stdout).unwrap();
    let listing = sh(std::process::Command::new("tar").arg("-tf").arg(&tar_file));
    let listing: BTreeSet<String> = stdout(&listing)
        .lines()
        .map(|l| l.trim_end_matches('/').to_string())
        .collect();
    let want: BTreeSet<String> = ["out", "out/l", "out/x", "out/x/y.txt"]
        .map(String::from)
        .into();
    assert_eq!(listing, want);
    let mut t = Vec::new();
    tar_entry(&mut t, "streamed/", b'5', "", b"", 0o750);
    tar_entry(&mut t, "streamed/f.txt", b'0', "", b"from a tar\n", 0o604);
    tar_finish(&mut t);
    let o = hull_bytes(&h, &["cp", "-", "c1:/tmp"], &t);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        exec(
            &h,
            "c1",
            "cat /tmp/streamed/f.txt; stat -c %a /tmp/streamed /tmp/streamed/f.txt"
        ),
        "from a tar\n750\n604\n"
    );
    let o = hull_bytes(&h, &["cp", "-", "c1:/tmp/a.txt"], &t);
    assert_one_line_error(&o, "not a directory");

    // Stopped container: copy in and out, then start it and see the file.
    h.hull_ok(&["stop", "-t", "1", "c1"]);
    std::fs::write(tmp.path().join("later.txt"), "written while stopped\n").unwrap();
    h.hull_ok(&["cp", &s(&tmp.path().join("later.txt")), "c1:/later.txt"]);
    h.hull_ok(&[
        "cp",
        "c1:/tmp/out/x/y.txt",
        &s(&tmp.path().join("y-stopped")),
    ]);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("y-stopped")).unwrap(),
        "why\n"
    );
    assert_no_copy_mounts(&h);
    h.hull_ok(&["start", "c1"]);
    assert_eq!(
        exec(&h, "c1", "cat /later.txt /tmp/a.txt"),
        "written while stopped\nbeta\n"
    );

    // A created, never started container: its command reads the file.
    h.hull_ok(&["create", "--name", "c2", &image, "cat", "/in/later.txt"]);
    h.hull_ok(&["cp", &s(&tmp.path().join("later.txt")), "c2:/tmp"]);
    let o = h.hull(&["cp", &s(&tmp.path().join("later.txt")), "c2:/in/"]);
    assert_one_line_error(&o, "the destination directory must exist: /in/");
    assert_no_copy_mounts(&h);
    h.hull_ok(&["cp", &s(tmp.path()), "c2:/in"]);
    assert_no_copy_mounts(&h);
    h.hull_ok(&["start", "c2"]);
    assert_eq!(h.hull_ok(&["wait", "c2"]).trim(), "0");
    assert_eq!(h.hull_ok(&["logs", "c2"]), "written while stopped\n");
}

#[test]
fn cp_cannot_escape_the_rootfs() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let tmp = tempfile::tempdir().unwrap();
    let uniq = hull_integration::unique_id("cpesc");
    let f = tmp.path().join("f");
    std::fs::write(&f, "payload\n").unwrap();
    let fs_ = f.display().to_string();
    h.hull_ok(&["run", "-d", "--name", "c1", &image, "sleep", "1000"]);
    exec(
        &h,
        "c1",
        "ln -s / /tmp/root && ln -s ../../../../../../.. /tmp/up && echo inside > /marker",
    );

    // Writes through symlinks land inside the container.
    h.hull_ok(&["cp", &fs_, &format!("c1:/tmp/root/tmp/{uniq}-a")]);
    h.hull_ok(&["cp", &fs_, &format!("c1:/tmp/up/{uniq}-b")]);
    h.hull_ok(&["cp", &fs_, &format!("c1:/../../../tmp/{uniq}-c")]);
    assert!(!Path::new(&format!("/tmp/{uniq}-a")).exists());
    assert!(!Path::new(&format!("/{uniq}-b")).exists());
    assert!(!Path::new(&format!("/tmp/{uniq}-c")).exists());
    assert_eq!(
        exec(
            &h,
            "c1",
            &format!("cat /tmp/{uniq}-a /{uniq}-b /tmp/{uniq}-c")
        ),
        "payload\npayload\npayload\n"
    );
    // Reads through them too: the container's file, and the host's
    // /etc/os-release (not in the image) is not found.
    h.hull_ok(&[
        "cp",
        "c1:/tmp/up/marker",
        &tmp.path().join("m").display().to_string(),
    ]);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("m")).unwrap(),
        "inside\n"
    );
    let o = h.hull(&[
        "cp",
        "c1:/tmp/up/etc/os-release",
        &tmp.path().join("os").display().to_string(),
    ]);
    assert_one_line_error(
        &o,
        "Could not find the file /tmp/up/etc/os-release in container c1",
    );
    assert!(!tmp.path().join("os").exists());
    // -L follows the link, inside the container.
    h.hull_ok(&[
        "cp",
        "-L",
        "c1:/tmp/root",
        &tmp.path().join("r").display().to_string(),
    ]);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("r/marker")).unwrap(),
        "inside\n"
    );

    // Hostile tars: a `..` entry is refused; a symlink entry followed by a
    // file under it stays inside.
    let mut t = Vec::new();
    tar_entry(
        &mut t,
        &format!("../../../../tmp/{uniq}-d"),
        b'0',
        "",
        b"x",
        0o644,
    );
    tar_finish(&mut t);
    let o = hull_bytes(&h, &["cp", "-", "c1:/tmp"], &t);
    assert_one_line_error(&o, "leaves the destination");
    assert!(!Path::new(&format!("/tmp/{uniq}-d")).exists());
    let mut t = Vec::new();
    tar_entry(&mut t, "evil", b'2', "/", b"", 0o777);
    tar_entry(
        &mut t,
        &format!("evil/tmp/{uniq}-e"),
        b'0',
        "",
        b"evil\n",
        0o644,
    );
    tar_finish(&mut t);
    let o = hull_bytes(&h, &["cp", "-", "c1:/tmp"], &t);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!Path::new(&format!("/tmp/{uniq}-e")).exists());
    assert_eq!(exec(&h, "c1", &format!("cat /tmp/{uniq}-e")), "evil\n");

    // The same on a stopped container (its snapshot mounted for the copy).
    h.hull_ok(&["stop", "-t", "1", "c1"]);
    h.hull_ok(&["cp", &fs_, &format!("c1:/tmp/up/{uniq}-f")]);
    assert!(!Path::new(&format!("/{uniq}-f")).exists());
    assert_no_copy_mounts(&h);
    h.hull_ok(&["start", "c1"]);
    assert_eq!(exec(&h, "c1", &format!("cat /{uniq}-f")), "payload\n");
}

#[test]
fn cp_bad_input() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).display().to_string();
    std::fs::write(tmp.path().join("f"), "x").unwrap();
    h.hull_ok(&["create", "--name", "stopped", &image]);
    h.hull_ok(&["create", "--name", "ro", "--read-only", &image]);

    let o = h.hull(&["cp", "nope:/etc/passwd", &t("x")]);
    assert_one_line_error(&o, "Error response from daemon: No such container: nope");
    let o = h.hull(&["cp", &t("f"), "nope:/tmp"]);
    assert_one_line_error(&o, "No such container: nope");
    let o = h.hull(&["cp", "stopped:/no/such", &t("x")]);
    assert_one_line_error(
        &o,
        "Error response from daemon: Could not find the file /no/such in container stopped",
    );
    let o = h.hull(&["cp", &t("missing"), "stopped:/tmp"]);
    assert_one_line_error(
        &o,
        &format!("lstat {}: no such file or directory", t("missing")),
    );
    let o = h.hull(&["cp", &t("f"), "stopped:/no/dir/x"]);
    assert_one_line_error(&o, "Could not find the file /no/dir in container stopped");
    let o = h.hull(&["cp", "stopped:/etc/passwd", &t("no/dir/x")]);
    assert_one_line_error(&o, "no such file or directory");
    let o = h.hull(&["cp", &t("f"), "ro:/tmp"]);
    assert_one_line_error(&o, "container rootfs is marked read-only");
    let o = h.hull(&["cp", &t("f"), &t("g")]);
    assert_one_line_error(&o, "must specify at least one container source");
    let o = h.hull(&["cp", "stopped:/etc/passwd", "stopped:/tmp"]);
    assert_one_line_error(&o, "copying between containers is not supported");
    assert!(!tmp.path().join("x").exists() && !tmp.path().join("no").exists());
    assert_no_copy_mounts(&h);
}

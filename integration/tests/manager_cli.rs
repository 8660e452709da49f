//! `hull ps` filters and formats, generated names, `hull cp`, streaming
//! `hull stats`, `hull events --filter`, `hull system df|prune`, with a
//! real hulld, containerd-shim-hull-v2 and hullc on a busybox image pulled
//! from a loopback registry.

mod manager_support;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

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
    let image = reg.reference("cli/busybox:v1");
    l.push("bb", &image, &[]);
    let h = Hulld::start();
    h.hull_ok(&["pull", "-q", &image]);
    (reg, l, h, image)
}

/// Lines of stdout.
fn lines(s: &str) -> Vec<String> {
    s.lines().map(String::from).collect()
}

/// A failed command with exactly one line on stderr, containing `what`.
fn assert_one_line_error(o: &Output, what: &str) {
    assert_eq!(code(o), 1, "stdout {} stderr {}", stdout(o), stderr(o));
    let e = stderr(o);
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e:?}");
    assert!(e.contains(what), "{what:?} not in {e:?}");
}

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

fn exec(h: &Hulld, c: &str, script: &str) -> String {
    h.hull_ok(&["exec", c, "sh", "-c", script])
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

// ------------------------------------------------------------------- ps

#[test]
fn ps_filters_and_formats() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let id_of = |n: &str| {
        h.hull_ok(&["inspect", "--format", "{{.Id}}", n])
            .trim()
            .to_string()
    };
    h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "web1",
        "-l",
        "app=web",
        "-l",
        "tier=front",
        &image,
        "sleep",
        "1000",
    ]);
    h.hull_ok(&[
        "run", "-d", "--name", "db1", "-l", "app=db", &image, "sleep", "1000",
    ]);
    let o = h.hull(&["run", "--name", "done0", &image, "true"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = h.hull(&["run", "--name", "fail3", &image, "sh", "-c", "exit 3"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    h.hull_ok(&["create", "--name", "fresh", &image]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["ps", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        lines(&h.hull_ok(&a))
    };

    // Running only by default; newest first.
    assert_eq!(names(&[]), ["db1", "web1"]);
    assert_eq!(names(&["-a"]), ["fresh", "fail3", "done0", "db1", "web1"]);
    assert_eq!(lines(&h.hull_ok(&["ps", "-q"])).len(), 2);
    assert_eq!(
        lines(&h.hull_ok(&["ps", "-a", "-q", "--no-trunc"])),
        ["fresh", "fail3", "done0", "db1", "web1"].map(id_of)
    );

    // Filters.
    assert_eq!(names(&["--filter", "label=app=web"]), ["web1"]);
    assert_eq!(names(&["-a", "--filter", "label=app"]), ["db1", "web1"]);
    assert_eq!(
        names(&["-a", "-f", "label=tier", "-f", "label=app"]),
        ["web1"]
    );
    assert_eq!(names(&["--filter", "status=exited"]), ["fail3", "done0"]);
    assert_eq!(names(&["--filter", "status=created"]), ["fresh"]);
    assert_eq!(
        names(&["--filter", "status=created", "--filter", "status=running"]),
        ["fresh", "db1", "web1"]
    );
    assert_eq!(names(&["--filter", "exited=3"]), ["fail3"]);
    assert_eq!(names(&["--filter", "exited=0"]), ["done0"]);
    assert_eq!(names(&["-a", "--filter", "name=web"]), ["web1"]);
    assert_eq!(names(&["-a", "--filter", "name=^d"]), ["done0", "db1"]);
    let web = id_of("web1");
    assert_eq!(
        names(&["-a", "--filter", &format!("id={}", &web[..10])]),
        ["web1"]
    );
    assert_eq!(
        names(&["-a", "--filter", "since=web1"]),
        ["fresh", "fail3", "done0", "db1"]
    );
    assert_eq!(names(&["-a", "--filter", "before=done0"]), ["db1", "web1"]);
    assert_eq!(
        names(&["-a", "--filter", "since=web1", "--filter", "before=fresh"]),
        ["fail3", "done0", "db1"]
    );
    assert_eq!(
        names(&["-a", "--filter", &format!("ancestor={image}")]).len(),
        5
    );
    let img_id = h.inspect(&image)["Id"].as_str().unwrap().to_string();
    let short = &img_id["sha256:".len().."sha256:".len() + 12];
    assert_eq!(
        names(&["--filter", &format!("ancestor={short}")]),
        ["db1", "web1"]
    );
    assert!(names(&["-a", "--filter", "ancestor=127.0.0.1:1/none/such:v9"]).is_empty());
    // -n / --last / -l (all states).
    assert_eq!(names(&["-n", "2"]), ["fresh", "fail3"]);
    assert_eq!(names(&["--last", "3"]), ["fresh", "fail3", "done0"]);
    assert_eq!(names(&["-l"]), ["fresh"]);
    assert_eq!(names(&["-n", "1", "--filter", "label=app"]), ["db1"]);

    // Placeholders.
    let one = |name: &str, f: &str| -> String {
        h.hull_ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("name=^{name}$"),
            "--format",
            f,
        ])
        .trim_end_matches('\n')
        .to_string()
    };
    assert_eq!(one("web1", "{{.ID}}"), &web[..12]);
    assert_eq!(one("web1", "{{.Command}}"), "\"sleep 1000\"");
    assert_eq!(one("web1", "{{.Labels}}"), "app=web,tier=front");
    assert_eq!(
        one("web1", r#"{{.Label "tier"}}|{{.Label "nope"}}"#),
        "front|"
    );
    assert_eq!(one("web1", "{{.State}}"), "running");
    assert!(
        one("web1", "{{.Status}}").starts_with("Up "),
        "{}",
        one("web1", "{{.Status}}")
    );
    assert!(one("web1", "{{.RunningFor}}").ends_with(" ago"));
    assert_eq!(one("web1", "{{.Image}}"), image);
    assert_eq!(one("web1", "{{.Mounts}}|{{.Ports}}"), "|");
    let created = one("web1", "{{.CreatedAt}}");
    assert!(
        created.len() == 29 && created.ends_with(" +0000 UTC") && created.as_bytes()[4] == b'-',
        "{created}"
    );
    assert_eq!(one("fail3", "{{.State}}"), "exited");
    assert!(one("fail3", "{{.Status}}").starts_with("Exited (3) "));
    assert_eq!(one("fresh", "{{.Status}} {{.State}}"), "Created created");
    assert_eq!(
        one("web1", "{{.Names}}\t{{.ID}}"),
        format!("web1\t{}", &web[..12])
    );
    // A long command is cut to 20 characters unless --no-trunc.
    h.hull_ok(&[
        "create",
        "--name",
        "longcmd",
        &image,
        "sh",
        "-c",
        "echo one two three four five",
    ]);
    assert_eq!(one("longcmd", "{{.Command}}"), "\"sh -c echo one two …\"");
    let full = h.hull_ok(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        "name=longcmd",
        "--format",
        "{{.Command}} {{.ID}}",
    ]);
    assert_eq!(
        full.trim(),
        format!(
            "\"sh -c echo one two three four five\" {}",
            id_of("longcmd")
        )
    );
    h.hull_ok(&["rm", "longcmd"]);

    // Tables: headers from the placeholders, columns aligned.
    let t = h.hull_ok(&[
        "ps",
        "--format",
        "table {{.ID}}\t{{.Names}}\t{{.Label \"app\"}}",
    ]);
    let t = lines(&t);
    assert_eq!(t.len(), 3, "{t:?}");
    assert_eq!(
        t[0],
        format!("{:<15}{:<10}{}", "CONTAINER ID", "NAMES", "APP")
    );
    assert_eq!(
        t[1],
        format!("{:<15}{:<10}{}", &id_of("db1")[..12], "db1", "db")
    );
    assert_eq!(t[2], format!("{:<15}{:<10}{}", &web[..12], "web1", "web"));
    let t = lines(&h.hull_ok(&["ps", "-a"]));
    let head: Vec<&str> = t[0]
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        head,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    assert_eq!(t.len(), 6);
    assert!(t[1].ends_with("fresh") && t[5].ends_with("web1"), "{t:?}");
    // Every row's NAMES column starts where the header's does.
    let col = t[0].find("NAMES").unwrap();
    for r in &t[1..] {
        let c: Vec<char> = r.chars().collect();
        assert!(c.len() > col && c[col] != ' ' && c[col - 1] == ' ', "{r:?}");
    }
    // JSON: one object a line with Docker's keys.
    let j = h.hull_ok(&["ps", "-a", "--format", "json"]);
    let rows: Vec<serde_json::Value> = j
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 5);
    for k in [
        "ID",
        "Image",
        "Command",
        "CreatedAt",
        "RunningFor",
        "Ports",
        "State",
        "Status",
        "Names",
        "Labels",
        "Mounts",
        "Size",
        "Networks",
        "LocalVolumes",
    ] {
        assert!(
            rows[0].get(k).is_some_and(|v| v.is_string()),
            "{k} in {}",
            rows[0]
        );
    }
    assert_eq!(rows[4]["Names"], "web1");
    assert_eq!(rows[4]["Labels"], "app=web,tier=front");
    // --size: the writable layer's size.
    exec(&h, "web1", "head -c 50000 /dev/zero > /big");
    let size = one("web1", "{{.Size}}");
    let (own, virt) = size
        .split_once(" (virtual ")
        .unwrap_or_else(|| panic!("{size}"));
    assert!(virt.ends_with("MB)"), "busybox is about a megabyte: {size}");
    let kb: f64 = own
        .strip_suffix("kB")
        .and_then(|x| x.parse().ok())
        .unwrap_or(0.0);
    assert!((50.0..100.0).contains(&kb), "{size}");

    // Bad input: one line, exit 1, nothing printed on stdout.
    for (args, what) in [
        (vec!["ps", "--filter", "bogus=1"], "invalid filter 'bogus'"),
        (
            vec!["ps", "--filter", "status=sleeping"],
            "invalid filter 'status=sleeping'",
        ),
        (
            vec!["ps", "--filter", "exited=x"],
            "invalid filter 'exited=x'",
        ),
        (
            vec!["ps", "--filter", "before=nope"],
            "No such container: nope",
        ),
        (vec!["ps", "--format", "{{.Names"], "template parsing error"),
    ] {
        let o = h.hull(&args);
        assert_one_line_error(&o, what);
        assert_eq!(stdout(&o), "", "{args:?}");
    }
}

#[test]
fn generated_names_are_unique_and_docker_shaped() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(h.hull_ok(&["create", &image, "true"]).trim().to_string());
    }
    // A foreground run without --name gets one too.
    h.hull_ok(&["run", &image, "true"]);
    let names = lines(&h.hull_ok(&["ps", "-a", "--format", "{{.Names}} {{.ID}}"]));
    assert_eq!(names.len(), 31);
    let mut seen = BTreeSet::new();
    for l in &names {
        let (name, id) = l.split_once(' ').unwrap();
        assert!(seen.insert(name.to_string()), "duplicate name {name}");
        let (adj, rest) = name.split_once('_').unwrap_or_else(|| panic!("{name}"));
        let surname = rest.trim_end_matches(|c: char| c.is_ascii_digit());
        assert!(rest.len() - surname.len() <= 1, "{name}");
        assert!(
            adj.len() >= 3 && adj.bytes().all(|b| b.is_ascii_lowercase()),
            "{name}"
        );
        assert!(
            surname.len() >= 3 && surname.bytes().all(|b| b.is_ascii_lowercase()),
            "{name}"
        );
        assert!(!id.starts_with(name), "{name} is not an ID");
    }
    // The name reaches the container (inspect) and is usable as a handle.
    let first = names[0].split_once(' ').unwrap().0.to_string();
    let got = h.hull_ok(&["inspect", "--format", "{{.Name}}", &first]);
    assert_eq!(got.trim(), format!("/{first}"));
    h.hull_ok(&["rm", &first]);
    // A given name is still honoured and conflicts are still refused.
    h.hull_ok(&["create", "--name", "given", &image]);
    let o = h.hull(&["create", "--name", "given", &image]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("is already in use"), "{}", stderr(&o));
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

// ------------------------------------------------------ stats and events

#[test]
fn stats_streams_until_interrupted() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let id = h.hull_ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        &image,
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    let mut ch = h
        .hull_cmd(&["stats", "busy"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = ch.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    // Three screens: the header and the container's line each time, and
    // the busy loop's CPU seen after the first interval.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut screens = 0;
    let mut cpu_seen = 0.0f64;
    while screens < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        let l = rx.recv_timeout(left).expect("stats output");
        if l.starts_with("CONTAINER ID") {
            screens += 1;
            continue;
        }
        assert!(l.starts_with(&id.trim()[..12]), "{l}");
        assert!(l.contains("busy"), "{l}");
        let cpu: f64 = l
            .split_whitespace()
            .nth(2)
            .unwrap()
            .trim_end_matches('%')
            .parse()
            .unwrap();
        cpu_seen = cpu_seen.max(cpu);
    }
    assert!(cpu_seen > 5.0, "a busy loop shows CPU: {cpu_seen}");
    // Still running: Ctrl-C ends it cleanly.
    assert!(ch.try_wait().unwrap().is_none());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ch.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let st = loop {
        if let Some(st) = ch.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "stats did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(st.success(), "{st}");
    let o = h.hull(&["stats", "nope"]);
    assert_one_line_error(&o, "No such container: nope");
    h.hull_ok(&["rm", "-f", "busy"]);
}

#[test]
fn events_filter_by_type_event_and_container() {
    require_root!();
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let want = h
        .hull_ok(&["create", "--name", "watched", &image, "true"])
        .trim()
        .to_string();
    h.hull_ok(&["create", "--name", "other", &image, "true"]);
    let mut ev = h
        .hull_cmd(&[
            "events",
            "--filter",
            "type=container",
            "--filter",
            "event=die",
            "--filter",
            "container=watched",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = ev.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    // The subscription is live once a first event arrives: run both until
    // then; every line must be the die of `watched`.
    let mut got = Vec::new();
    for _ in 0..40 {
        for c in ["other", "watched"] {
            h.hull_ok(&["start", c]);
            h.hull_ok(&["wait", c]);
        }
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
            got.push(l);
            break;
        }
    }
    // One more round: exactly one more line (other's die filtered out).
    for c in ["other", "watched"] {
        h.hull_ok(&["start", c]);
        h.hull_ok(&["wait", c]);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 2 && Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            got.push(l);
        }
    }
    let _ = ev.kill();
    let _ = ev.wait();
    assert!(got.len() >= 2, "{got:?}");
    for l in &got {
        assert!(l.contains(" /containers/die "), "{l}");
        assert!(l.contains(&want), "{l}");
    }
    let o = h.hull(&["events", "--filter", "colour=red"]);
    assert_one_line_error(&o, "invalid filter 'colour'");
}

// ------------------------------------------------------------ system

fn df_json(h: &Hulld) -> HashMap<String, serde_json::Value> {
    h.hull_ok(&["system", "df", "--format", "json"])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["Type"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// `hull images --format json`: unique image IDs with their sizes.
fn image_sizes(h: &Hulld) -> HashMap<String, i64> {
    h.hull_ok(&["images", "--no-trunc", "--format", "json"])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["ID"].as_str().unwrap().to_string(),
                v["SizeBytes"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Docker's HumanSize as hull prints it (4 significant digits, kB/MB).
fn human(n: i64) -> String {
    let mut v = n as f64;
    let units = ["B", "kB", "MB", "GB"];
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        return format!("{n}B");
    }
    let dec = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.dec$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{}", units[i])
}

#[test]
fn system_df_and_prune() {
    require_root!();
    let (reg, l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    // A second image (one more layer), and a tag that moves: its first
    // image becomes dangling (no name) when the tag is pulled again.
    l.layer("bb", "bb2", |r| {
        std::fs::write(r.join("extra"), vec![7u8; 300_000]).unwrap()
    });
    l.layer("bb", "bb3", |r| {
        std::fs::write(r.join("third"), vec![9u8; 200_000]).unwrap()
    });
    let second = reg.reference("cli/second:v1");
    let moving = reg.reference("cli/moving:v1");
    l.push("bb2", &second, &[]);
    l.push("bb3", &moving, &[]);
    h.hull_ok(&["pull", "-q", &second]);
    h.hull_ok(&["pull", "-q", &moving]);
    let old_manifest = h.inspect(&moving)["ManifestDigest"]
        .as_str()
        .unwrap()
        .to_string();
    let old_layer = h.inspect(&moving)["Layers"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    l.push("bb2", &moving, &[]);
    h.hull_ok(&["pull", "-q", &moving]);
    assert!(
        h.blob_path(&old_manifest).exists(),
        "the old image is still stored"
    );

    h.hull_ok(&["run", "-d", "--name", "up", &image, "sleep", "1000"]);
    h.hull_ok(&[
        "run",
        "--name",
        "stopped",
        &image,
        "sh",
        "-c",
        "head -c 20000 /dev/zero > /junk",
    ]);
    let stopped = h
        .hull_ok(&["inspect", "--format", "{{.Id}}", "stopped"])
        .trim()
        .to_string();

    // df agrees with the image list: unique IDs and their summed sizes.
    let sizes = image_sizes(&h);
    assert_eq!(sizes.len(), 2, "{sizes:?}");
    let total: i64 = sizes.values().sum();
    let df = df_json(&h);
    assert_eq!(df["Images"]["TotalCount"], sizes.len().to_string());
    assert_eq!(df["Images"]["Active"], "1");
    assert_eq!(df["Images"]["Size"], human(total));
    let used = sizes[&h.inspect(&image)["Id"].as_str().unwrap().to_string()];
    let rec = total - used;
    assert_eq!(
        df["Images"]["Reclaimable"],
        format!("{} ({}%)", human(rec), rec * 100 / total)
    );
    assert_eq!(df["Containers"]["TotalCount"], "2");
    assert_eq!(df["Containers"]["Active"], "1");
    let csize = df["Containers"]["Size"].as_str().unwrap().to_string();
    // The 20000 bytes written, and some metadata.
    let kb: f64 = csize
        .strip_suffix("kB")
        .and_then(|x| x.parse().ok())
        .unwrap_or(0.0);
    assert!((20.0..100.0).contains(&kb), "{csize}");
    // The stopped container's layer is most of it, not all (the running
    // one has its mount points).
    let crec = df["Containers"]["Reclaimable"].as_str().unwrap();
    let pct: i64 = crec
        .rsplit_once('(')
        .and_then(|(_, p)| p.strip_suffix("%)"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{crec}"));
    assert!((50..100).contains(&pct), "{crec}");
    assert_eq!(df["Local Volumes"]["TotalCount"], "0");
    h.hull_ok(&["volume", "create", "keep"]);
    let dv = &df_json(&h)["Local Volumes"];
    assert_eq!(
        (dv["TotalCount"].as_str(), dv["Active"].as_str()),
        (Some("1"), Some("0"))
    );
    assert_eq!(df["Build Cache"]["Size"], "0B");
    let table = lines(&h.hull_ok(&["system", "df"]));
    assert_eq!(table.len(), 5, "{table:?}");
    let head: Vec<&str> = table[0].split_whitespace().collect();
    assert_eq!(head, ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    assert!(
        table[1].starts_with("Images ") && table[1].contains(&human(total)),
        "{}",
        table[1]
    );

    // Without -f and a "no": nothing happens.
    let o = h.hull_stdin(&["system", "prune"], "n\n");
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("Are you sure you want to continue? [y/N]"));
    assert!(h
        .hull_ok(&["ps", "-a", "-q", "--no-trunc"])
        .contains(&stopped));

    // prune -f: the stopped container and the dangling image go; the
    // running container and the named images stay.
    let out = h.hull_ok(&["system", "prune", "-f"]);
    let ol = lines(&out);
    let at = ol
        .iter()
        .position(|l| l == "Deleted Containers:")
        .expect(&out);
    assert_eq!(ol[at + 1], stopped);
    assert!(out.contains(&format!("deleted: {old_manifest}")), "{out}");
    assert!(out.contains(&format!("deleted: {old_layer}")), "{out}");
    assert!(
        ol.last().unwrap().starts_with("Total reclaimed space: "),
        "{out}"
    );
    assert!(!h.blob_path(&old_manifest).exists());
    assert!(!h.blob_path(&old_layer).exists());
    let left = h.hull_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "up");
    assert_eq!(image_sizes(&h).len(), 2);
    assert_eq!(df_json(&h)["Containers"]["TotalCount"], "1");

    // prune -a -f: images without containers go too.
    let out = h.hull_ok(&["system", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: "), "{out}");
    assert!(
        out.contains("cli/second:v1") && out.contains("cli/moving:v1"),
        "{out}"
    );
    let names = h.hull_ok(&["images", "--format", "json"]);
    assert_eq!(names.lines().count(), 1, "{names}");
    assert!(names.contains("cli/busybox"), "{names}");
    let df = df_json(&h);
    assert_eq!(df["Images"]["TotalCount"], "1");
    assert_eq!(df["Images"]["Reclaimable"], format!("{} (0%)", human(0)));
    // `image prune -a` keeps an image a container uses too.
    h.hull_ok(&["image", "prune", "-a", "-f"]);
    let names = h.hull_ok(&["images", "--format", "json"]);
    assert!(names.contains("cli/busybox"), "{names}");
    // The running container still works.
    assert_eq!(exec(&h, "up", "echo ok"), "ok\n");
}

/// `hull ps -a` with 1000 containers (created, every 10th running; set
/// HULL_PS_CONTAINERS for another count): the issue's goal is < 100 ms
/// (release build). Slow to set up: run with `--run-ignored only`.
#[test]
#[ignore]
fn ps_latency_with_1000_containers() {
    require_root!();
    let n: usize = std::env::var("HULL_PS_CONTAINERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let (_reg, _l, h, image) = setup();
    let _cleanup = Containers::of(&h);
    let made = Instant::now();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (h, image) = (&h, &image);
            s.spawn(move || {
                for i in (t..n).step_by(4) {
                    if i % 10 == 0 {
                        h.hull_ok(&["run", "-d", image, "sleep", "1000"]);
                    } else {
                        h.hull_ok(&["create", image]);
                    }
                }
            });
        }
    });
    eprintln!("created {n} containers in {:?}", made.elapsed());
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let out = h.hull_ok(&["ps", "-a"]);
        best = best.min(t.elapsed());
        assert_eq!(out.lines().count(), n + 1);
    }
    let t = Instant::now();
    let running = h.hull_ok(&["ps", "-q"]);
    let ps_running = t.elapsed();
    assert_eq!(running.lines().count(), n.div_ceil(10));
    eprintln!("FIGURE hull ps -a with {n} containers: best of 5 {best:?}; ps -q {ps_running:?}");
    assert!(best < Duration::from_secs(2), "{best:?}");
}

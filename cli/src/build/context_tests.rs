use super::*;
use std::os::unix::fs::{symlink, PermissionsExt};

/// A context directory of its own, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(files: &[(&str, &str)]) -> Dir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("hull-ctx-test-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        let d = Dir(p);
        for (name, text) in files {
            d.write(name, text);
        }
        d
    }

    fn write(&self, name: &str, text: &str) {
        let p = self.0.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn names(c: &Context) -> Vec<String> {
    c.entries()
        .unwrap()
        .iter()
        .map(|e| e.rel.to_string_lossy().into_owned())
        .collect()
}

/// The tar's entries: name → (type, link target or contents, mode).
fn unpacked(c: &Context) -> Vec<(String, tar::EntryType, String, u32)> {
    let mut buf = Vec::new();
    let n = c.write_tar(&mut buf).unwrap();
    assert_eq!(n as usize, buf.len());
    let mut a = tar::Archive::new(&buf[..]);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let ty = e.header().entry_type();
            let mode = e.header().mode().unwrap();
            let what = match e.link_name().unwrap() {
                Some(l) => l.to_string_lossy().into_owned(),
                None => {
                    let mut s = String::new();
                    e.read_to_string(&mut s).unwrap();
                    s
                }
            };
            (name, ty, what, mode)
        })
        .collect()
}

#[test]
fn sends_everything_without_a_dockerignore() {
    let d = Dir::new(&[("Dockerfile", "FROM x"), ("a/b.txt", "b"), ("c", "c")]);
    let c = Context::open(&d.0, &["Dockerfile".into()]).unwrap();
    assert_eq!(names(&c), ["Dockerfile", "a", "a/b.txt", "c"]);
    let t = unpacked(&c);
    assert_eq!(t[2].0, "a/b.txt");
    assert_eq!(t[2].2, "b");
    assert_eq!(t[1].1, tar::EntryType::Directory);
}

#[test]
fn dockerignore_rules_exceptions_and_always_sent_files() {
    let d = Dir::new(&[
        ("Dockerfile", "FROM x"),
        (
            ".dockerignore",
            "# comment\nDockerfile\n.dockerignore\n*.log\n!keep.log\nbuild/\nsecret/**\n**/*.tmp\ndocs\n!docs/README.md\n",
        ),
        ("app.log", "x"),
        ("keep.log", "k"),
        ("build/out", "x"),
        ("secret/a/b", "x"),
        ("src/main.rs", "fn main(){}"),
        ("src/deep/x.tmp", "x"),
        ("docs/README.md", "r"),
        ("docs/other.md", "o"),
    ]);
    let c = Context::open(&d.0, &["Dockerfile".into()]).unwrap();
    assert_eq!(
        names(&c),
        [
            ".dockerignore",
            "Dockerfile",
            "docs/README.md",
            "keep.log",
            // `secret/**` leaves out what is under it, not the directory.
            "secret",
            "src",
            "src/deep",
            "src/main.rs",
        ]
    );
}

#[test]
fn a_dockerfile_inside_an_ignored_directory_is_still_sent() {
    let d = Dir::new(&[
        (".dockerignore", "ci\n"),
        ("ci/Dockerfile.build", "FROM x"),
        ("ci/other", "x"),
    ]);
    let c = Context::open(&d.0, &["ci/Dockerfile.build".into()]).unwrap();
    assert_eq!(names(&c), [".dockerignore", "ci/Dockerfile.build"]);
}

#[test]
fn symlinks_stay_symlinks_and_nothing_outside_is_read() {
    let outside = Dir::new(&[("secret", "outside the context")]);
    let d = Dir::new(&[("Dockerfile", "FROM x"), ("real", "inside")]);
    symlink("real", d.0.join("rel-link")).unwrap();
    symlink(outside.0.join("secret"), d.0.join("abs-link")).unwrap();
    symlink(&outside.0, d.0.join("dir-link")).unwrap();
    symlink("../../nowhere", d.0.join("dangling")).unwrap();
    let c = Context::open(&d.0, &["Dockerfile".into()]).unwrap();
    let t = unpacked(&c);
    let get = |n: &str| t.iter().find(|e| e.0 == n).unwrap().clone();
    assert_eq!(get("rel-link").1, tar::EntryType::Symlink);
    assert_eq!(get("rel-link").2, "real");
    assert_eq!(get("abs-link").1, tar::EntryType::Symlink);
    assert_eq!(
        get("abs-link").2,
        outside.0.join("secret").to_string_lossy()
    );
    assert_eq!(get("dir-link").1, tar::EntryType::Symlink);
    assert_eq!(get("dangling").2, "../../nowhere");
    for e in &t {
        assert_ne!(e.2, "outside the context", "{} carried outside data", e.0);
        assert!(!e.0.starts_with("dir-link/"), "walked through {}", e.0);
    }
}

#[test]
fn a_symlinked_context_root_is_followed_once() {
    let d = Dir::new(&[("Dockerfile", "FROM x"), ("f", "f")]);
    let holder = Dir::new(&[]);
    let link = holder.0.join("ctx");
    symlink(&d.0, &link).unwrap();
    let c = Context::open(&link, &["Dockerfile".into()]).unwrap();
    assert_eq!(names(&c), ["Dockerfile", "f"]);
}

#[test]
fn modes_travel_and_special_files_are_skipped() {
    let d = Dir::new(&[("run.sh", "#!/bin/sh\n")]);
    fs::set_permissions(d.0.join("run.sh"), fs::Permissions::from_mode(0o751)).unwrap();
    nix::unistd::mkfifo(
        &d.0.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let c = Context::open(&d.0, &[]).unwrap();
    let t = unpacked(&c);
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(t[0].3 & 0o7777, 0o751);
}

#[test]
fn long_names_survive() {
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(120));
    let d = Dir::new(&[(&long, "x")]);
    let c = Context::open(&d.0, &[]).unwrap();
    let t = unpacked(&c);
    assert_eq!(t.last().unwrap().0, long);
}

#[test]
fn a_bad_dockerignore_names_its_line() {
    let d = Dir::new(&[(".dockerignore", "ok\n[\n")]);
    let e = Context::open(&d.0, &[]).err().unwrap();
    assert!(e.to_string().contains(".dockerignore:2"), "{e}");
}

#[test]
fn a_missing_context_is_an_error_naming_it() {
    let e = Context::open(Path::new("/nonexistent/ctx"), &[])
        .err()
        .unwrap();
    assert!(e.to_string().contains("/nonexistent/ctx"), "{e}");
}

#[test]
fn dockerfile_inside_or_outside_the_context() {
    let d = Dir::new(&[("Dockerfile", "FROM in"), ("sub/Other", "FROM other")]);
    let out = Dir::new(&[("Outside", "FROM out")]);
    let cwd = std::env::temp_dir();
    assert_eq!(
        locate_dockerfile(&d.0, None, &cwd).unwrap(),
        DockerfileSource::InContext("Dockerfile".into())
    );
    assert_eq!(
        locate_dockerfile(&d.0, Some(d.0.join("sub/Other").to_str().unwrap()), &cwd).unwrap(),
        DockerfileSource::InContext("sub/Other".into())
    );
    // Relative to the current directory, as Docker's -f is.
    assert_eq!(
        locate_dockerfile(&d.0, Some("sub/Other"), &d.0).unwrap(),
        DockerfileSource::InContext("sub/Other".into())
    );
    assert_eq!(
        locate_dockerfile(&d.0, Some("Outside"), &out.0).unwrap(),
        DockerfileSource::Text(b"FROM out".to_vec())
    );
    // A link in the context to a Dockerfile outside sends the text.
    symlink(out.0.join("Outside"), d.0.join("Linked")).unwrap();
    assert_eq!(
        locate_dockerfile(&d.0, Some("Linked"), &d.0).unwrap(),
        DockerfileSource::Text(b"FROM out".to_vec())
    );
    let e = locate_dockerfile(&d.0, Some("Missing"), &d.0).unwrap_err();
    assert_eq!(e.to_string(), "cannot locate specified Dockerfile: Missing");
    let empty = Dir::new(&[]);
    assert!(locate_dockerfile(&empty.0, None, &cwd).is_err());
    let lower = Dir::new(&[("dockerfile", "FROM lower")]);
    assert_eq!(
        locate_dockerfile(&lower.0, None, &cwd).unwrap(),
        DockerfileSource::InContext("dockerfile".into())
    );
}

#[test]
fn stdin_is_a_tar_a_gzip_or_a_dockerfile() {
    let mut tar = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tar);
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        h.set_cksum();
        b.append_data(&mut h, "x", &b"x"[..]).unwrap();
        b.finish().unwrap();
    }
    assert_eq!(stdin_kind(&tar), StdinKind::Tar);
    let mut gnu = Vec::new();
    Context::open(Dir::new(&[("a", "a")]).0.as_path(), &[])
        .unwrap()
        .write_tar(&mut gnu)
        .unwrap();
    assert_eq!(stdin_kind(&gnu), StdinKind::Tar);
    assert_eq!(stdin_kind(&[0x1f, 0x8b, 8, 0]), StdinKind::Gzip);
    assert_eq!(
        stdin_kind(b"FROM busybox\nRUN true\n"),
        StdinKind::Dockerfile
    );
    assert_eq!(stdin_kind(b""), StdinKind::Dockerfile);
}

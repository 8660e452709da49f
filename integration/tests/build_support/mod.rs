//! Helpers for the `hull build` suites (issue 15): a loopback registry
//! serving a busybox base image, a hulld of the test's own, build contexts
//! in temp dirs, the plain progress read back (which steps ran, which were
//! cached), an image's root filesystem as umoci unpacks it (after a
//! `hull save` and a `skopeo copy`), and buildah beside hull for the
//! side-by-side cases. The test file declares `mod manager_support;` and
//! `mod build_support;`. The gRPC-level helpers of build_engine.rs are in
//! [`grpc`].
#![allow(dead_code)]

pub mod grpc;
// build_engine.rs names them from here; the other suites do not use them.
#[allow(unused_imports)]
pub use grpc::*;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hull_integration::cleanup;
use hull_integration::registry::{Auth, Registry};

use crate::manager_support::{sh, stderr, stdout, tail, tree, Hulld, Layout};

/// A registry with the base image, and a hulld.
pub struct BuildEnv {
    // Dropped in this order: hulld, then the registry.
    pub h: Hulld,
    pub reg: Registry,
    /// `127.0.0.1:PORT/base/busybox:1`: busybox-static, CMD /bin/sh.
    pub base: String,
    _layout: Layout,
}

impl BuildEnv {
    pub fn start() -> BuildEnv {
        let reg = Registry::start(Auth::None).expect("start the registry");
        let layout = Layout::new();
        layout.layer("empty", "bb", |r| {
            hull_integration::rootfs::build_busybox_rootfs(r).unwrap();
        });
        layout.config("bb", &["--config.cmd", "/bin/sh"]);
        let base = reg.reference("base/busybox:1");
        layout.push("bb", &base, &[]);
        let h = Hulld::start();
        BuildEnv {
            h,
            reg,
            base,
            _layout: layout,
        }
    }

    /// `hull build --progress plain --network none ARGS CONTEXT`.
    pub fn build(&self, ctx: &Path, args: &[&str]) -> Output {
        let mut c = self
            .h
            .hull_cmd(&["build", "--progress", "plain", "--network", "none"]);
        c.args(args).arg(ctx);
        c.output().expect("run hull build")
    }

    /// A build that must succeed: the image id (stdout) and the progress.
    pub fn build_ok(&self, ctx: &Path, args: &[&str]) -> Built {
        let out = self.build(ctx, args);
        assert!(
            out.status.success(),
            "hull build {args:?} failed ({}): {}\n{}\n--- hulld log ---\n{}",
            out.status,
            stdout(&out),
            stderr(&out),
            tail(&self.h.log(), 40)
        );
        let id = stdout(&out).trim().to_string();
        assert!(id.starts_with("sha256:"), "no image id on stdout: {id:?}");
        Built {
            id,
            progress: Progress::parse(&stderr(&out)),
        }
    }

    /// The image's root filesystem: `hull save` (OCI), copied by skopeo
    /// into a layout, unpacked by umoci into `into`/rootfs.
    pub fn rootfs(&self, image: &str, into: &Path) -> PathBuf {
        fs::create_dir_all(into).unwrap();
        let archive = into.join("image.tar");
        self.h
            .hull_ok(&["save", "-o", archive.to_str().unwrap(), image]);
        let layout = into.join("layout");
        sh(Command::new("skopeo")
            .args(["copy", "--quiet"])
            .arg(format!("oci-archive:{}", archive.display()))
            .arg(format!("oci:{}:img", layout.display())));
        umoci_unpack(&layout, "img", &into.join("bundle"))
    }

    /// The snapshot keys hulld holds now.
    pub fn snapshots(&self) -> Vec<String> {
        let out = self.h.hull_ok(&["snapshot", "ls"]);
        let mut v: Vec<String> = out
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    /// Nothing of a build is left: no container, no mount under hulld's
    /// dirs, the same snapshots as `before`.
    pub fn assert_nothing_left(&self, before: &[String]) {
        let ps = self.h.hull_ok(&["ps", "-a", "-q"]);
        assert_eq!(ps.trim(), "", "containers left behind");
        let mounts = cleanup::mounts_under(self.h.dir.path());
        assert!(mounts.is_empty(), "mounts left behind: {mounts:?}");
        assert_eq!(self.snapshots(), before, "snapshots left behind");
    }
}

/// A successful build: its image id and its progress.
pub struct Built {
    pub id: String,
    pub progress: Progress,
}

/// The plain progress read back: per step number, its instruction and
/// whether it ran or came from the cache.
#[derive(Debug, Default)]
pub struct Progress {
    pub steps: BTreeMap<u32, Step>,
    pub text: String,
}

#[derive(Debug, Default, Clone)]
pub struct Step {
    pub instruction: String,
    pub cached: bool,
    pub done: bool,
    pub output: Vec<String>,
}

impl Progress {
    pub fn parse(text: &str) -> Progress {
        let mut steps: BTreeMap<u32, Step> = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix('#') else {
                continue;
            };
            let Some((n, what)) = rest.split_once(' ') else {
                continue;
            };
            let Ok(n) = n.parse::<u32>() else { continue };
            if n == 0 {
                continue;
            }
            let s = steps.entry(n).or_default();
            if what == "CACHED" {
                s.cached = true;
            } else if what.starts_with("DONE ") {
                s.done = true;
            } else if what.starts_with('[') && s.instruction.is_empty() {
                s.instruction = what
                    .split_once("] ")
                    .map(|(_, i)| i.to_string())
                    .unwrap_or_default();
            } else {
                s.output.push(what.to_string());
            }
        }
        Progress {
            steps,
            text: text.to_string(),
        }
    }

    /// Instructions that ran (not cached), in order.
    pub fn ran(&self) -> Vec<String> {
        self.steps
            .values()
            .filter(|s| !s.cached)
            .map(|s| s.instruction.clone())
            .collect()
    }

    /// Instructions taken from the cache, in order.
    pub fn cached(&self) -> Vec<String> {
        self.steps
            .values()
            .filter(|s| s.cached)
            .map(|s| s.instruction.clone())
            .collect()
    }

    /// Ran, not counting FROM (whose base may be resolved each time).
    pub fn ran_steps(&self) -> Vec<String> {
        self.ran()
            .into_iter()
            .filter(|i| !i.starts_with("FROM "))
            .collect()
    }
}

/// A build context in a temp dir of its own.
pub struct Ctx {
    pub dir: tempfile::TempDir,
}

impl Ctx {
    pub fn new(dockerfile: &str) -> Ctx {
        let dir = tempfile::Builder::new()
            .prefix("hull-build-ctx-")
            .tempdir()
            .unwrap();
        let c = Ctx { dir };
        c.write("Dockerfile", dockerfile);
        c
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
        self
    }

    pub fn write_bytes(&self, rel: &str, data: &[u8]) -> &Self {
        let p = self.dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
        self
    }

    pub fn chmod(&self, rel: &str, mode: u32) -> &Self {
        fs::set_permissions(self.dir.path().join(rel), fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    pub fn symlink(&self, target: &str, rel: &str) -> &Self {
        let p = self.dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
        self
    }
}

/// A scratch dir for unpacked trees, removed without crossing mounts.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("hull-build-out-")
                .tempdir()
                .unwrap(),
        }
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        cleanup::unmount_under(self.dir.path());
        let _ = cleanup::remove_tree_one_fs(self.dir.path());
    }
}

/// buildah with a storage of its own (vfs: no mounts to leak), removed on drop.
pub struct Buildah {
    dir: tempfile::TempDir,
}

impl Buildah {
    pub fn new() -> Buildah {
        Buildah {
            dir: tempfile::Builder::new()
                .prefix("hull-buildah-")
                .tempdir()
                .unwrap(),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("buildah");
        c.arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .arg("--storage-driver")
            .arg("vfs")
            .stdin(Stdio::null());
        c
    }

    /// `buildah bud` of `ctx` as `tag`.
    pub fn bud(&self, ctx: &Path, tag: &str, extra: &[&str]) {
        sh(self
            .cmd()
            .args([
                "bud",
                "--tls-verify=false",
                "--isolation",
                "chroot",
                "-q",
                "-t",
                tag,
            ])
            .args(extra)
            .arg(ctx));
    }

    /// The image's root filesystem as umoci unpacks it, in `into`/rootfs.
    pub fn rootfs(&self, tag: &str, into: &Path) -> PathBuf {
        fs::create_dir_all(into).unwrap();
        let layout = into.join("layout");
        sh(self
            .cmd()
            .args(["push", "-q", tag])
            .arg(format!("oci:{}:img", layout.display())));
        umoci_unpack(&layout, "img", &into.join("bundle"))
    }
}

impl Drop for Buildah {
    fn drop(&mut self) {
        let _ = self.cmd().args(["rm", "--all"]).output();
        let _ = self.cmd().args(["rmi", "--all", "--force"]).output();
        cleanup::unmount_under(self.dir.path());
        let _ = cleanup::remove_tree_one_fs(self.dir.path());
    }
}

/// What a RUN step's runtime leaves as mount points (buildah keeps them
/// in its layers): not part of what the Dockerfile made.
const RUNTIME_MADE: &[&str] = &[
    "dev",
    "proc",
    "sys",
    "run",
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
];

/// A root filesystem for comparison: path → kind, mode, owner, content
/// hash or link target; without the runtime's mount points, and without
/// /etc's own entry when only they put it there.
pub fn comparable(rootfs: &Path) -> BTreeMap<String, String> {
    let mut t = tree(rootfs);
    t.retain(|p, _| {
        !RUNTIME_MADE
            .iter()
            .any(|m| p == m || p.starts_with(&format!("{m}/")))
    });
    if !t.keys().any(|k| k.starts_with("etc/")) {
        t.remove("etc");
    }
    t
}

/// Asserts two root filesystems hold the same paths, modes, owners,
/// symlink targets and contents; the message lists the differences.
pub fn assert_same_tree(hull: &Path, buildah: &Path) {
    let (a, b) = (comparable(hull), comparable(buildah));
    let mut diffs = Vec::new();
    for (k, v) in &a {
        match b.get(k) {
            None => diffs.push(format!("only in hull's: {k} {v}")),
            Some(w) if w != v => diffs.push(format!("{k}: hull {v} / buildah {w}")),
            _ => {}
        }
    }
    for (k, v) in &b {
        if !a.contains_key(k) {
            diffs.push(format!("only in buildah's: {k} {v}"));
        }
    }
    assert!(diffs.is_empty(), "trees differ:\n{}", diffs.join("\n"));
}

/// `umoci unpack` of `layout`:`tag` into `bundle`; the rootfs path.
pub fn umoci_unpack(layout: &Path, tag: &str, bundle: &Path) -> PathBuf {
    sh(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:{tag}", layout.display()))
        .arg(bundle));
    bundle.join("rootfs")
}

/// The image's config (`hull image inspect`'s .Config).
pub fn config(h: &Hulld, image: &str) -> serde_json::Value {
    h.inspect(image)["Config"].clone()
}

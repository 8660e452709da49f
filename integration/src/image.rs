//! OCI images for tests, built offline with umoci from the busybox-static
//! rootfs, packed as an OCI archive (`ctr images import` accepts it) and
//! copied to registries with skopeo.
//!
//! The busybox image is built once per test process and cached; its temp dir
//! is removed when the process exits.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use thiserror::Error;

use crate::containerd::ContainerdError;

pub const UMOCI: &str = "umoci";
pub const SKOPEO: &str = "skopeo";
/// Tag inside the OCI layout.
pub const BUSYBOX_TAG: &str = "latest";
/// Name given on import (`ctr images import --base-name`).
pub const BUSYBOX_BASE_NAME: &str = "localhost/hull-busybox";

#[derive(Debug, Error)]
pub enum ImageError {
    #[error("io error while {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        cmd: String,
        status: String,
        stderr: String,
    },
    #[error("building the cached busybox image failed earlier: {0}")]
    Cached(String),
    #[error(transparent)]
    Containerd(#[from] ContainerdError),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ImageError {
    let what = what.into();
    move |source| ImageError::Io { what, source }
}

/// Run a command, require success, return stdout.
fn run(cmd: &mut Command) -> Result<String, ImageError> {
    cmd.stdin(Stdio::null());
    tracing::debug!(?cmd, "image tool");
    let out = cmd.output().map_err(io_err(format!("spawning {cmd:?}")))?;
    if !out.status.success() {
        return Err(ImageError::Command {
            cmd: format!("{cmd:?}"),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// An image in an OCI layout on disk, plus an OCI archive of that layout.
#[derive(Debug, Clone)]
pub struct OciImage {
    /// OCI image layout directory (`oci-layout`, `index.json`, `blobs/`).
    pub layout: PathBuf,
    /// Tag of the image inside the layout.
    pub tag: String,
    /// Tar of the layout (an "OCI archive").
    pub archive: PathBuf,
    /// Base name to give `ctr images import --base-name`.
    pub base_name: String,
}

impl OciImage {
    /// `oci:LAYOUT:TAG`, the skopeo/umoci reference of this image.
    pub fn oci_ref(&self) -> String {
        format!("oci:{}:{}", self.layout.display(), self.tag)
    }

    /// Ref the image gets in containerd after `import --base-name`.
    pub fn containerd_ref(&self) -> String {
        format!("{}:{}", self.base_name, self.tag)
    }

    /// Copy into a registry: `skopeo copy oci:… docker://DEST` with TLS
    /// verification off (loopback test registries speak plain http).
    /// `dest` is `HOST:PORT/REPO:TAG`; `extra` are further skopeo copy flags
    /// such as `--format v2s2`, `--dest-compress-format zstd` or `--dest-creds u:p`.
    pub fn push_to_registry(&self, dest: &str, extra: &[&str]) -> Result<(), ImageError> {
        let mut cmd = Command::new(SKOPEO);
        cmd.args(["copy", "--quiet", "--dest-tls-verify=false"])
            .args(extra)
            .arg(self.oci_ref())
            .arg(format!("docker://{dest}"));
        run(&mut cmd).map(|_| ())
    }

    /// Manifest digest of the tag in the layout (`sha256:…`).
    pub fn manifest_digest(&self) -> Result<String, ImageError> {
        let index = fs::read_to_string(self.layout.join("index.json"))
            .map_err(io_err("reading index.json"))?;
        let v: serde_json::Value = serde_json::from_str(&index).map_err(|e| ImageError::Io {
            what: "parsing index.json".into(),
            source: io::Error::other(e),
        })?;
        v["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == self.tag.as_str())
            .and_then(|m| m["digest"].as_str())
            .map(String::from)
            .ok_or_else(|| ImageError::Io {
                what: "finding tag in index.json".into(),
                source: io::Error::other(format!(
                    "tag {} not in {}",
                    self.tag,
                    self.layout.display()
                )),
            })
    }
}

/// `skopeo copy --src-tls-verify=false docker://SRC oci:DIR:TAG` (pull a
/// registry image back into a layout, e.g. to compare digests).
pub fn pull_from_registry(
    src: &str,
    layout: &Path,
    tag: &str,
    extra: &[&str],
) -> Result<(), ImageError> {
    let mut cmd = Command::new(SKOPEO);
    cmd.args(["copy", "--quiet", "--src-tls-verify=false"])
        .args(extra)
        .arg(format!("docker://{src}"))
        .arg(format!("oci:{}:{tag}", layout.display()));
    run(&mut cmd).map(|_| ())
}

/// Edits one layer's rootfs (given the unpacked rootfs dir).
pub type LayerFn<'a> = &'a dyn Fn(&Path) -> io::Result<()>;

/// Image config applied with `umoci config`.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
}

impl Default for ImageConfig {
    fn default() -> Self {
        ImageConfig {
            cmd: vec!["/bin/sh".into()],
            entrypoint: vec![],
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            workdir: Some("/".into()),
        }
    }
}

/// Build an image in `dir` (must exist): `dir/oci` becomes the layout,
/// `dir/<tag>.tar` the archive. Each entry of `layers` edits the rootfs and
/// becomes one layer (unpack previous tag → edit → repack), so N closures
/// give N layers.
pub fn build_image(
    dir: &Path,
    tag: &str,
    base_name: &str,
    layers: &[LayerFn<'_>],
    config: &ImageConfig,
) -> Result<OciImage, ImageError> {
    let layout = dir.join("oci");
    if !layout.join("oci-layout").exists() {
        run(Command::new(UMOCI).arg("init").arg("--layout").arg(&layout))?;
    }
    let image = |t: &str| format!("{}:{t}", layout.display());
    run(Command::new(UMOCI)
        .arg("new")
        .arg("--image")
        .arg(image(tag)))?;
    for (i, layer) in layers.iter().enumerate() {
        let bundle = dir.join(format!("bundle-{tag}-{i}"));
        run(Command::new(UMOCI)
            .arg("unpack")
            .arg("--image")
            .arg(image(tag))
            .arg(&bundle))?;
        layer(&bundle.join("rootfs")).map_err(io_err(format!("writing layer {i} of {tag}")))?;
        run(Command::new(UMOCI)
            .arg("repack")
            .arg("--image")
            .arg(image(tag))
            .arg(&bundle))?;
        // The bundle is only scratch: plain files (umoci mounts nothing).
        fs::remove_dir_all(&bundle).map_err(io_err("removing umoci bundle"))?;
    }
    let mut cfg = Command::new(UMOCI);
    cfg.arg("config").arg("--image").arg(image(tag));
    if !config.cmd.is_empty() {
        cfg.arg("--clear=config.cmd");
        for c in &config.cmd {
            cfg.arg("--config.cmd").arg(c);
        }
    }
    for e in &config.entrypoint {
        cfg.arg("--config.entrypoint").arg(e);
    }
    for e in &config.env {
        cfg.arg("--config.env").arg(e);
    }
    if let Some(w) = &config.workdir {
        cfg.arg("--config.workingdir").arg(w);
    }
    cfg.args(["--os", "linux", "--architecture", go_arch()]);
    run(&mut cfg)?;
    run(Command::new(UMOCI).arg("gc").arg("--layout").arg(&layout))?;

    let archive = dir.join(format!("{tag}.tar"));
    let mut tar = Command::new("tar");
    tar.arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&archive)
        .arg(OsStr::new("."));
    run(&mut tar)?;
    Ok(OciImage {
        layout,
        tag: tag.to_string(),
        archive,
        base_name: base_name.to_string(),
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

static BUSYBOX: OnceLock<Result<OciImage, String>> = OnceLock::new();
static CACHE_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_cache_dir() {
    if let Some(dir) = CACHE_DIR.get() {
        // Plain files only: umoci unpack/repack mount nothing.
        let _ = fs::remove_dir_all(dir);
    }
}

/// The busybox image (one layer: `build_busybox_rootfs`, cmd /bin/sh),
/// built on first use in this process and cached.
pub fn busybox_image() -> Result<&'static OciImage, ImageError> {
    BUSYBOX
        .get_or_init(|| build_busybox_cached().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| ImageError::Cached(e.clone()))
}

fn build_busybox_cached() -> Result<OciImage, ImageError> {
    let dir = tempfile::Builder::new()
        .prefix("hull-img-")
        .tempdir()
        .map_err(io_err("creating image temp dir"))?
        .keep();
    if CACHE_DIR.set(dir.clone()).is_ok() {
        // SAFETY: registering a plain extern "C" fn with no captured state;
        // it runs at normal process exit and only removes our temp dir.
        unsafe {
            libc::atexit(remove_cache_dir);
        }
    }
    build_image(
        &dir,
        BUSYBOX_TAG,
        BUSYBOX_BASE_NAME,
        &[&|rootfs: &Path| crate::rootfs::build_busybox_rootfs(rootfs)],
        &ImageConfig::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_formed_from_parts() {
        let img = OciImage {
            layout: "/x/oci".into(),
            tag: "t1".into(),
            archive: "/x/t1.tar".into(),
            base_name: "localhost/b".into(),
        };
        assert_eq!(img.oci_ref(), "oci:/x/oci:t1");
        assert_eq!(img.containerd_ref(), "localhost/b:t1");
    }
}

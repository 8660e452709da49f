//! Static linking of a binary package's bins, shared by the build scripts
//! of hull-init and hull-pause (each includes this file as a module): both
//! run inside containers whose images have another libc, or none, so they
//! are static PIEs in every profile and a plain `cargo build --workspace`
//! leaves static binaries in `target/<profile>/`.
//!
//! Stable cargo cannot give one package `-C target-feature=+crt-static`
//! (as a target rustflag it reaches the workspace's proc-macros too, which
//! then fail to build), so this makes the bins' link line static instead:
//! std asks the linker for `-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc`; a
//! directory searched before the system's holds, under those names, linker
//! scripts that pull in glibc's and libgcc's static archives, and
//! `-static-pie` makes the executable need no loader. Other targets (musl)
//! are static already and are left alone.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The libraries std names, and the static archives that stand in for them.
const STAND_INS: &[(&str, &[&str])] = &[
    ("gcc_s", &["libgcc_eh.a", "libgcc.a"]),
    ("util", &["libutil.a"]),
    ("rt", &["librt.a"]),
    ("pthread", &["libpthread.a"]),
    ("m", &["libm.a"]),
    ("dl", &["libdl.a"]),
    ("c", &["libc.a"]),
];

/// Link the bins of the package being built statically; `package` names
/// it in failures.
pub fn link_bins_statically(package: &str) {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os != "linux" || env != "gnu" {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = out.join("static-libs");
    std::fs::create_dir_all(&dir).expect("create OUT_DIR/static-libs");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    for (name, archives) in STAND_INS {
        let paths: Vec<String> = archives
            .iter()
            .map(|a| archive_path(package, &cc, a))
            .collect();
        let script = format!("INPUT({})\n", paths.join(" "));
        write_if_changed(&dir.join(format!("lib{name}.a")), &script);
    }
    println!("cargo:rustc-link-arg-bins=-L{}", dir.display());
    println!("cargo:rustc-link-arg-bins=-static-pie");
}

/// Where the C compiler finds `archive`; a clear failure when it does not
/// (Debian: libc6-dev and libgcc-12-dev hold them).
fn archive_path(package: &str, cc: &str, archive: &str) -> String {
    let out = Command::new(cc)
        .arg(format!("-print-file-name={archive}"))
        .output()
        .unwrap_or_else(|e| panic!("{package}: run {cc} to find {archive}: {e}"));
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !Path::new(&path).is_absolute() {
        panic!("{package} is linked statically: {archive} not found by {cc} (install libc6-dev)");
    }
    path
}

fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

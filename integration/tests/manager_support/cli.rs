//! CLI suites' shared setup: a loopback registry with a busybox image,
//! pulled into a hulld, and helpers to read the CLI's output.

use std::process::Output;

use hull_integration::registry::{Auth, Registry};

use super::{code, stderr, stdout, Hulld, Layout};

/// A registry with a busybox image (Cmd /bin/sh) and a hulld; the image's
/// reference.
pub fn setup() -> (Registry, Layout, Hulld, String) {
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
pub fn lines(s: &str) -> Vec<String> {
    s.lines().map(String::from).collect()
}

/// A failed command with exactly one line on stderr, containing `what`.
pub fn assert_one_line_error(o: &Output, what: &str) {
    assert_eq!(code(o), 1, "stdout {} stderr {}", stdout(o), stderr(o));
    let e = stderr(o);
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e:?}");
    assert!(e.contains(what), "{what:?} not in {e:?}");
}

pub fn exec(h: &Hulld, c: &str, script: &str) -> String {
    h.hull_ok(&["exec", c, "sh", "-c", script])
}

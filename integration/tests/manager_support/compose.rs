//! `hull compose -p tproj …` in a project directory, for the compose suites.

use std::path::Path;
use std::process::Output;

use super::{stderr, stdout, tail, Hulld};

pub fn compose(h: &Hulld, dir: &Path, args: &[&str]) -> Output {
    let mut full = vec!["compose", "-p", "tproj"];
    full.extend_from_slice(args);
    h.hull_cmd(&full)
        .current_dir(dir)
        .output()
        .expect("run hull compose")
}

/// `compose` that must succeed; its stdout.
pub fn compose_ok(h: &Hulld, dir: &Path, args: &[&str]) -> String {
    let o = compose(h, dir, args);
    assert!(
        o.status.success(),
        "hull compose {args:?} failed: {}\n{}\n--- hulld log ---\n{}",
        stdout(&o),
        stderr(&o),
        tail(&h.log(), 40)
    );
    stdout(&o)
}

//! What the runc contract suites share: both runtimes, running a case under
//! each and comparing, bundles, and JSON keys in the order they were written.
#![allow(dead_code)]

use hull_integration::bundle::Bundle;
use hull_integration::cleanup;
use hull_integration::runtime::{describe, require_root, Runtime};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt::Debug;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

pub const RUNC: &str = "/usr/sbin/runc";

/// The two runtimes, hullc first. None (test skipped) without runc.
pub fn runtimes() -> Option<[(&'static str, Runtime); 2]> {
    require_root();
    if !Path::new(RUNC).exists() {
        eprintln!("skipped: {RUNC} is not installed");
        return None;
    }
    Some([
        ("hullc", Runtime::new()),
        ("runc", Runtime::with_bin(PathBuf::from(RUNC))),
    ])
}

/// Run `f` under both runtimes and assert it observed the same thing.
pub fn same<T: PartialEq + Debug>(what: &str, f: impl Fn(&str, &Runtime) -> T) -> Option<T> {
    let rts = runtimes()?;
    let hullc = f(rts[0].0, &rts[0].1);
    let runc = f(rts[1].0, &rts[1].1);
    assert_eq!(
        hullc, runc,
        "{what}: hullc (left) differs from runc (right)"
    );
    Some(hullc)
}

pub fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

pub fn sleeper(tag: &str) -> Bundle {
    Bundle::new(tag, &["/bin/sleep", "1000"])
}

/// `run -d`, asserting success.
pub fn run_d(rt: &Runtime, b: &Bundle) {
    let o = rt.run_detached(b.id(), b);
    assert!(o.status.success(), "run -d {}: {}", b.id(), describe(&o));
}

pub fn dir_arg(b: &Bundle) -> String {
    b.dir().to_string_lossy().into_owned()
}

/// Removes a cgroup path the test made itself (all hierarchies) on drop.
pub struct CgroupGuard(pub String);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        let f = cleanup::cgroup_dir("freezer", &self.0).join("freezer.state");
        let _ = fs::write(f, "THAWED");
        cleanup::remove_cgroup(&self.0);
    }
}

/// A JSON document that remembers the order of object keys.
pub enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Scalar,
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, Ordered>()? {
                    v.push((k, val));
                }
                Ok(Ordered::Object(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = s.next_element::<Ordered>()? {
                    v.push(x);
                }
                Ok(Ordered::Array(v))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

/// Every object key as a dotted path, in document order (arrays: first
/// element only; paths under a prefix in `skip` left out).
pub fn key_paths(text: &str, skip: &[&str]) -> Vec<String> {
    fn walk(o: &Ordered, prefix: &str, skip: &[&str], out: &mut Vec<String>) {
        match o {
            Ordered::Object(kv) => {
                for (k, v) in kv {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    if skip.iter().any(|s| p == *s) {
                        out.push(p);
                        continue;
                    }
                    out.push(p.clone());
                    walk(v, &p, skip, out);
                }
            }
            Ordered::Array(items) => {
                if let Some(first) = items.first() {
                    walk(first, &format!("{prefix}[]"), skip, out);
                }
            }
            Ordered::Scalar => {}
        }
    }
    let doc: Ordered =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    let mut out = Vec::new();
    walk(&doc, "", skip, &mut out);
    out
}

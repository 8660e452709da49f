//! Several services' images built at once (`compose build`, and `up` when
//! images are missing): at most `PARALLEL` builds run together, and a
//! service whose Dockerfile builds `FROM` another one's image waits for
//! that build. With more than one build, each one's progress is plain and
//! its lines are prefixed `SERVICE | ` (written a whole line at a time).
//! A failed build names its service; no build starts after one failed,
//! those running are let finish.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use futures_util::stream::{FuturesUnordered, StreamExt};
use hull_compose::model::service::Service;
use hull_compose::Loaded;

use super::build::{build_service, image_name, Overrides};
use crate::client::Conn;

/// Builds running at once at most.
pub const PARALLEL: usize = 4;

/// Build the images of `services` (each has a `build:`), in parallel.
pub async fn build_all(
    conn: &Conn,
    loaded: &Loaded,
    services: &[String],
    o: &Overrides,
) -> anyhow::Result<()> {
    let width = services.iter().map(|s| s.len()).max().unwrap_or(0);
    let prefixed = services.len() > 1 && !o.quiet;
    let needs = needs(loaded, services);
    let mut pending: Vec<&String> = services.iter().collect();
    let mut done: HashSet<&str> = HashSet::new();
    let mut running = FuturesUnordered::new();
    let mut failed: Option<anyhow::Error> = None;
    loop {
        while failed.is_none() && running.len() < PARALLEL {
            let ready = pending
                .iter()
                .position(|s| needs[s.as_str()].iter().all(|d| done.contains(d.as_str())));
            // A FROM cycle: one of them goes first (its build fails or not).
            let ready = ready.or_else(|| (running.is_empty() && !pending.is_empty()).then_some(0));
            let Some(i) = ready else { break };
            let service = pending.remove(i);
            let out = prefixed.then(|| format!("{service:<width$} | "));
            running.push(async move {
                let r = build_service(conn, loaded, service, o, out).await;
                (service, r)
            });
        }
        let Some((service, r)) = running.next().await else {
            break;
        };
        match r {
            Ok(_) => {
                done.insert(service.as_str());
            }
            Err(e) if failed.is_none() => failed = Some(e),
            Err(e) => eprintln!("error: {e:#}"),
        }
    }
    failed.map_or(Ok(()), Err)
}

/// For each of `services`, those of them whose image its Dockerfile
/// builds FROM.
fn needs<'a>(loaded: &Loaded, services: &'a [String]) -> HashMap<&'a str, BTreeSet<String>> {
    let p = &loaded.project;
    let images: Vec<(&String, Vec<String>)> = services
        .iter()
        .map(|s| (s, names_of(&p.name, s, &p.services[s])))
        .collect();
    services
        .iter()
        .map(|s| {
            let froms = dockerfile_text(&p.services[s])
                .map(|t| from_images(&t))
                .unwrap_or_default();
            let deps = images
                .iter()
                .filter(|(other, names)| {
                    *other != s && names.iter().any(|n| froms.iter().any(|f| same_image(f, n)))
                })
                .map(|(other, _)| (*other).clone())
                .collect();
            (s.as_str(), deps)
        })
        .collect()
}

/// The names a service's build tags its image with.
fn names_of(project: &str, service: &str, svc: &Service) -> Vec<String> {
    let mut v = vec![image_name(project, service, svc)];
    if let Some(b) = &svc.build {
        v.extend(b.tags.iter().cloned());
    }
    v
}

/// The service's Dockerfile (inline, or read from its context); None when
/// it cannot be read (its build then fails with its own error).
fn dockerfile_text(svc: &Service) -> Option<String> {
    let b = svc.build.as_ref()?;
    if let Some(t) = &b.dockerfile_inline {
        return Some(t.clone());
    }
    let ctx = Path::new(b.context.as_deref().unwrap_or("."));
    let file = ctx.join(b.dockerfile.as_deref().unwrap_or("Dockerfile"));
    std::fs::read_to_string(file).ok()
}

/// The images of a Dockerfile's FROM lines (flags skipped).
fn from_images(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let first = words.next()?;
            if !first.eq_ignore_ascii_case("FROM") {
                return None;
            }
            words.find(|w| !w.starts_with("--")).map(str::to_string)
        })
        .collect()
}

/// Whether a FROM reference names image `name` (`:latest` implied).
fn same_image(from: &str, name: &str) -> bool {
    let full = |s: &str| {
        let last = s.rsplit('/').next().unwrap_or(s);
        if last.contains(':') || last.contains('@') {
            s.to_string()
        } else {
            format!("{s}:latest")
        }
    };
    full(from) == full(name)
}

/// Writes whole lines to stderr, each after `prefix`.
pub struct Prefixed {
    prefix: String,
    partial: Vec<u8>,
}

impl Prefixed {
    pub fn new(prefix: String) -> Prefixed {
        Prefixed {
            prefix,
            partial: Vec::new(),
        }
    }

    fn emit(&self, lines: &[u8]) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(lines.len() + self.prefix.len() * 4);
        for l in lines.split_inclusive(|b| *b == b'\n') {
            out.extend_from_slice(self.prefix.as_bytes());
            out.extend_from_slice(l);
        }
        let mut e = std::io::stderr().lock();
        e.write_all(&out)?;
        e.flush()
    }
}

impl Write for Prefixed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        if let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') {
            let rest = self.partial.split_off(end + 1);
            let lines = std::mem::replace(&mut self.partial, rest);
            self.emit(&lines)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Prefixed {
    fn drop(&mut self) {
        if !self.partial.is_empty() {
            self.partial.push(b'\n');
            let _ = self.emit(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines_and_image_names() {
        let t = "# syntax\nARG X\nFROM --platform=linux/amd64 proj-base AS b\nfrom b\nRUN x\n";
        assert_eq!(from_images(t), ["proj-base", "b"]);
        assert!(same_image("proj-base", "proj-base:latest"));
        assert!(same_image("reg.test:5000/app", "reg.test:5000/app:latest"));
        assert!(!same_image("reg.test:5000/app:1", "reg.test:5000/app"));
        assert!(!same_image("proj-base2", "proj-base"));
    }
}

//! The daemon's module imports: every path a source file names (in `use`
//! items, expressions and types), resolved against the file's own module,
//! checked against the domain rules. Paths inside macro invocations are
//! not seen; the compiler's own visibility does not replace this check.

use std::path::Path;

use syn::visit::Visit;

use crate::rules;
use crate::{read, Error, Violation};

/// Checks every source file of the daemon crate at `root/dir/src`, except
/// its binaries (src/bin), which are edges and may use anything.
pub fn check_daemon(root: &Path, dir: &Path) -> Result<Vec<Violation>, Error> {
    let src = root.join(dir).join("src");
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(&src).sort_by_file_name() {
        let entry = entry.map_err(|source| Error::Walk {
            path: src.clone(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let Ok(relative) = path.strip_prefix(&src) else {
            continue;
        };
        if relative.starts_with("bin") || relative == Path::new("main.rs") {
            continue;
        }
        let module = module_path(relative);
        let shown = dir.join("src").join(relative);
        found.extend(check_file(&shown, &read(path)?, &module)?);
    }
    Ok(found)
}

/// Checks one file's source, whose module path in the crate is `module`
/// (empty for lib.rs). `file` is only used to name the findings.
pub fn check_file(file: &Path, source: &str, module: &[String]) -> Result<Vec<Violation>, Error> {
    let syntax = syn::parse_file(source).map_err(|e| Error::Parse {
        path: file.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut names = PathCollector {
        module: module.to_vec(),
        paths: Vec::new(),
    };
    names.visit_file(&syntax);
    let mut found = Vec::new();
    for (path, line) in names.paths {
        if let Some(message) = crossing(module, &path) {
            found.push(Violation {
                file: file.to_path_buf(),
                line,
                message,
            });
        }
    }
    found.dedup();
    Ok(found)
}

/// Why `module` may not name the absolute `path`, if it may not.
fn crossing(module: &[String], path: &[String]) -> Option<String> {
    let top = module.first()?;
    if !rules::DOMAIN_MODULES.contains(&top.as_str()) {
        return None;
    }
    let shown = path.join("::");
    for forbidden in rules::DOMAIN_FORBIDDEN {
        if starts_with(path, forbidden) {
            return Some(format!(
                "domain module {top} may not use {shown} (the API floor converts; domain takes its own types)"
            ));
        }
    }
    let below = rules::BELOW.iter().find(|(m, _)| m == top)?;
    for upper in below.1 {
        if path.len() >= 2 && path[0] == "crate" && path[1] == *upper {
            return Some(format!(
                "{top} may not use {shown} ({top} sits below {upper})"
            ));
        }
    }
    None
}

fn starts_with(path: &[String], prefix: &str) -> bool {
    let prefix: Vec<&str> = prefix.split("::").collect();
    path.len() >= prefix.len() && path.iter().zip(&prefix).all(|(a, b)| a == b)
}

/// src/lib.rs → [], src/a.rs and src/a/mod.rs → [a], src/a/b.rs → [a, b].
pub fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if !matches!(stem, "mod" | "lib" | "main") {
            parts.push(stem.to_string());
        }
    }
    parts
}

/// Collects every path with its line, made absolute (`crate::…`) where it
/// starts with `crate`, `self` or `super`; other paths keep their first
/// segment (an extern crate such as `hull_proto`, or a local name).
struct PathCollector {
    module: Vec<String>,
    paths: Vec<(Vec<String>, usize)>,
}

impl PathCollector {
    fn absolute(&self, segments: &[String]) -> Vec<String> {
        let mut base = self.module.clone();
        let mut rest = segments;
        match segments.first().map(String::as_str) {
            Some("crate") => return segments.to_vec(),
            Some("self") => rest = &segments[1..],
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop();
                    rest = &rest[1..];
                }
            }
            _ => return segments.to_vec(),
        }
        let mut out = vec!["crate".to_string()];
        out.extend(base);
        out.extend(rest.iter().cloned());
        out
    }

    fn add(&mut self, segments: Vec<String>, line: usize) {
        let absolute = self.absolute(&segments);
        self.paths.push((absolute, line));
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.add(full, n.ident.span().start().line);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                if r.ident != "self" {
                    full.push(r.ident.to_string());
                }
                self.add(full, r.ident.span().start().line);
            }
            syn::UseTree::Glob(g) => {
                self.add(prefix.clone(), g.star_token.spans[0].start().line);
            }
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.use_tree(prefix, item);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for PathCollector {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.module.push(item.ident.to_string());
        syn::visit::visit_item_mod(self, item);
        self.module.pop();
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(first) = path.segments.first() {
            self.add(segments, first.ident.span().start().line);
        }
        syn::visit::visit_path(self, path);
    }
}

//! `hull ps` / `hull container ls` with Docker's flags: `-a -q --no-trunc
//! -n/--last -l/--latest -s/--size`, `--filter` (id, name, label, status,
//! exited, ancestor, before, since, health) and `--format` (a Go template with
//! Docker's placeholders, `table …` with headers, or `json`).

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;

use clap::Args;
use hull_proto::v1 as pb;
use serde_json::{json, Map, Value};

mod columns;
pub(crate) mod filters;

pub use columns::tabwrite;
use columns::{header, health_status, label_keys, nanos, row, state};
use filters::{pattern_match, Filters};

use super::client::Conn;
use super::containers::{msg, Exit};
use super::progress::human;
use super::template;
use hull_types::reference::normalize_name;

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default: running only).
    #[arg(short, long)]
    pub all: bool,
    /// Only IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output (KEY=VALUE): id, name, label, status, exited,
    /// ancestor, before, since, health.
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// A Go template, `table TEMPLATE` (with headers), or `json`.
    #[arg(long)]
    pub format: Option<String>,
    /// Show the N last created containers (all states); `-n` is accepted
    /// after `ps`.
    #[arg(long = "last", value_name = "N", allow_negative_numbers = true)]
    pub last: Option<i64>,
    /// Show the latest created container (all states).
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Display total file sizes.
    #[arg(short = 's', long)]
    pub size: bool,
}

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// `hull … ps -n 3`: `-n` is the global namespace flag elsewhere; after
/// `ps` (or `container ls|list|ps`) it means `--last`, as in Docker.
pub fn rewrite_args(args: Vec<OsString>) -> Vec<OsString> {
    // The subcommand: the first word that is not a global option or its value.
    let mut i = 1;
    let mut pos = None;
    while let Some(s) = args.get(i).and_then(|a| a.to_str()) {
        match s {
            "-H" | "--host" | "-n" | "--namespace" | "--address" => i += 2,
            s if s.starts_with('-') => i += 1,
            "ps" => {
                pos = Some(i);
                break;
            }
            "container" => {
                let next = args.get(i + 1).and_then(|n| n.to_str());
                if matches!(next, Some("ls" | "list" | "ps")) {
                    pos = Some(i + 1);
                }
                break;
            }
            _ => break,
        }
    }
    let Some(pos) = pos else {
        return args;
    };
    let mut out: Vec<OsString> = args[..=pos].to_vec();
    let mut rest = args[pos + 1..].iter();
    while let Some(a) = rest.next() {
        match a.to_str() {
            Some("--") => {
                out.push(a.clone());
                out.extend(rest.cloned());
                break;
            }
            Some("-n") => out.push("--last".into()),
            Some(s) if s.starts_with("-n") && s.len() > 2 => {
                let v = s[2..].trim_start_matches('=');
                out.push(format!("--last={v}").into());
            }
            _ => out.push(a.clone()),
        }
    }
    out
}

/// Containers as `hull ps` selects them (newest first).
pub async fn select(conn: &Conn, a: &PsArgs, f: &Filters) -> anyhow::Result<Vec<pb::Container>> {
    let mut list = conn.list_containers().await.map_err(|e| {
        eprintln!("Error response from daemon: {}", msg(&e));
        Exit(1)
    })?;
    list.sort_by_key(|c| std::cmp::Reverse(nanos(c)));
    let find = |what: &str| -> Option<&pb::Container> {
        let w = what.trim_start_matches('/');
        list.iter()
            .find(|c| c.id == w)
            .or_else(|| list.iter().find(|c| c.name == w))
            .or_else(|| {
                let hits: Vec<&pb::Container> =
                    list.iter().filter(|c| c.id.starts_with(w)).collect();
                (hits.len() == 1).then(|| hits[0])
            })
    };
    let mut before = None;
    let mut after = None;
    for (k, slot) in [("before", &mut before), ("since", &mut after)] {
        for v in f.get(k) {
            match find(v) {
                Some(c) => *slot = Some(nanos(c)),
                None => {
                    eprintln!("Error response from daemon: No such container: {v}");
                    return Err(Exit(1).into());
                }
            }
        }
    }
    let ancestors = if f.has("ancestor") {
        Some(ancestor_images(conn, f.get("ancestor")).await?)
    } else {
        None
    };
    let last = if a.latest {
        Some(1)
    } else {
        a.last.filter(|n| *n >= 0)
    };
    let all = a.all || last.is_some() || f.has("status") || f.has("exited");
    let keep = |c: &pb::Container| -> bool {
        let st = state(c);
        if !all && st != "running" && st != "paused" {
            return false;
        }
        let any = |k: &str, p: &dyn Fn(&str) -> bool| {
            let v = f.get(k);
            v.is_empty() || v.iter().any(|x| p(x))
        };
        any("id", &|v| pattern_match(v, &c.id))
            && any("name", &|v| {
                pattern_match(v.trim_start_matches('/'), &c.name)
            })
            && any("status", &|v| v == st)
            && any("health", &|v| v == health_status(c))
            && any("exited", &|v| {
                st == "exited"
                    && c.status
                        .as_ref()
                        .is_some_and(|s| v.parse::<i32>() == Ok(s.exit_code))
            })
            // Labels: every one given must match (Docker's rule).
            && f.get("label").iter().all(|v| match v.split_once('=') {
                Some((k, val)) => c.labels.get(k).is_some_and(|x| x == val),
                None => c.labels.contains_key(v.as_str()),
            })
            && ancestors
                .as_ref()
                .is_none_or(|names| names.contains(&c.image))
            && before.is_none_or(|b| nanos(c) < b)
            && after.is_none_or(|s| nanos(c) > s)
    };
    let mut out: Vec<pb::Container> = list.iter().filter(|c| keep(c)).cloned().collect();
    if let Some(n) = last {
        out.truncate(n as usize);
    }
    Ok(out)
}

/// Image names matching `ancestor` values (by name, ID or digest), with
/// every other name of the same image (config digest).
async fn ancestor_images(conn: &Conn, values: &[String]) -> anyhow::Result<HashSet<String>> {
    let images = conn
        .images()
        .list(conn.req(pb::ListImagesRequest { filters: vec![] }))
        .await
        .map_err(|e| {
            eprintln!("Error response from daemon: {}", msg(&e));
            Exit(1)
        })?
        .into_inner()
        .images;
    let mut ids = HashSet::new();
    let mut names = HashSet::new();
    for v in values {
        let norm = normalize_name(v).ok();
        let vid = v.strip_prefix("sha256:").unwrap_or(v);
        for i in &images {
            let cid = i
                .config_digest
                .strip_prefix("sha256:")
                .unwrap_or(&i.config_digest);
            let target = i.target.as_ref().map(|t| t.digest.as_str()).unwrap_or("");
            let hit = Some(&i.name) == norm.as_ref()
                || (vid.len() >= 4 && cid.starts_with(vid))
                || target == v
                || i.name.split_once('@').is_some_and(|(_, d)| d == v);
            if hit {
                ids.insert(i.config_digest.clone());
            }
        }
        if let Some(n) = norm {
            names.insert(n);
        }
    }
    for i in &images {
        if ids.contains(&i.config_digest) {
            names.insert(i.name.clone());
        }
    }
    Ok(names)
}

pub async fn run(conn: &Conn, a: PsArgs) -> anyhow::Result<()> {
    let f = Filters::parse(&a.filter).map_err(|e| {
        eprintln!("Error response from daemon: {e}");
        Exit(1)
    })?;
    let list = select(conn, &a, &f).await?;
    let trunc = !a.no_trunc;
    let mut out = String::new();
    if a.quiet {
        for c in &list {
            let id: String = if trunc {
                c.id.chars().take(12).collect()
            } else {
                c.id.clone()
            };
            out.push_str(&id);
            out.push('\n');
        }
        print!("{out}");
        return Ok(());
    }
    let fmt = match a.format.as_deref() {
        None | Some("") | Some("table") => DEFAULT_TABLE.to_string(),
        Some(f) => f.to_string(),
    };
    let want_size = a.size || fmt.contains(".Size");
    let mut sizes = HashMap::new();
    if want_size {
        // Docker's "SIZE (virtual SIZE+IMAGE)".
        let images: HashMap<String, i64> = conn
            .images()
            .list(conn.req(pb::ListImagesRequest { filters: vec![] }))
            .await
            .map(|r| {
                r.into_inner()
                    .images
                    .into_iter()
                    .map(|i| (i.name, i.size))
                    .collect()
            })
            .unwrap_or_default();
        for c in &list {
            let u = conn
                .snapshots()
                .usage(conn.req(pb::SnapshotKeyRequest {
                    key: c.snapshot_key.clone(),
                }))
                .await
                .map(|u| u.into_inner().size)
                .unwrap_or(0);
            let virt = u + images.get(&c.image).copied().unwrap_or(0);
            sizes.insert(
                c.id.clone(),
                format!("{} (virtual {})", human(u), human(virt)),
            );
        }
    }
    let fmt = if a.size && a.format.is_none() {
        format!("{fmt}\t{{{{.Size}}}}")
    } else {
        fmt
    };
    if fmt == "json" {
        for c in &list {
            let r = row(c, trunc, sizes.get(&c.id).map(String::as_str));
            out.push_str(&Value::Object(r).to_string());
            out.push('\n');
        }
        print!("{out}");
        return Ok(());
    }
    let (table, body) = match fmt.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start().to_string()),
        None => (false, fmt.clone()),
    };
    let body = unescape_format(&body);
    let render = |data: &Map<String, Value>, labels: &Value| {
        template::render_with_methods(&body, &Value::Object(data.clone()), labels)
    };
    let mut lines = Vec::new();
    let bad = |e: template::TemplateError| {
        eprintln!("template parsing error: {e}");
        Exit(1)
    };
    if table {
        let keys = label_keys(&body);
        let hl: Map<String, Value> = keys
            .iter()
            .map(|k| {
                let last = k.rsplit('.').next().unwrap_or(k).to_ascii_uppercase();
                (k.clone(), Value::String(last))
            })
            .collect();
        lines.push(render(&header(), &json!({ "Label": hl })).map_err(bad)?);
    }
    // Labels and names may come from an image: no raw control characters
    // on the terminal (JSON output escapes them already).
    let esc = |s: &str| Value::String(hull_types::untrusted::escape(s).into_owned());
    for c in &list {
        let r: Map<String, Value> = row(c, trunc, sizes.get(&c.id).map(String::as_str))
            .into_iter()
            .map(|(k, v)| (k, esc(v.as_str().unwrap_or_default())))
            .collect();
        let labels: Map<String, Value> =
            c.labels.iter().map(|(k, v)| (k.clone(), esc(v))).collect();
        lines.push(render(&r, &json!({ "Label": labels })).map_err(bad)?);
    }
    if table {
        print!("{}", tabwrite(&lines));
    } else {
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
        print!("{out}");
    }
    Ok(())
}

/// Docker lets `\t` and `\n` be written literally in `--format`.
fn unescape_format(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_n_means_last() {
        let a = rewrite_args(
            ["hull", "-n", "ns", "ps", "-n", "2", "-n3", "-a"]
                .iter()
                .map(OsString::from)
                .collect(),
        );
        let a: Vec<&str> = a.iter().map(|s| s.to_str().unwrap()).collect();
        assert_eq!(
            a,
            ["hull", "-n", "ns", "ps", "--last", "2", "--last=3", "-a"]
        );
        let keep: Vec<OsString> = ["hull", "exec", "c", "ps", "-n", "1"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(rewrite_args(keep.clone()), keep);
    }
}

//! `hull ps` / `hull container ls` with Docker's flags: `-a -q --no-trunc
//! -n/--last -l/--latest -s/--size`, `--filter` (id, name, label, status,
//! exited, ancestor, before, since) and `--format` (a Go template with
//! Docker's placeholders, `table …` with headers, or `json`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;

use clap::Args;
use hull_proto::v1 as pb;
use serde_json::{json, Map, Value};

use super::client::Conn;
use super::containers::{msg, Exit};
use super::progress::human;
use super::template;
use hull_types::reference::{familiar_name, normalize_name};

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
    /// ancestor, before, since.
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

/// Parsed `--filter` values: one key's values are OR'ed (labels: AND'ed),
/// keys AND'ed.
#[derive(Debug, Default)]
pub struct Filters(BTreeMap<String, Vec<String>>);

const FILTER_KEYS: &[&str] = &[
    "id", "name", "label", "status", "exited", "ancestor", "before", "since",
];
const STATES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

impl Filters {
    pub fn parse(v: &[String]) -> Result<Filters, String> {
        let mut f = Filters::default();
        for s in v {
            let Some((k, val)) = s.split_once('=') else {
                return Err(format!("invalid filter '{s}'"));
            };
            let k = k.trim().to_ascii_lowercase();
            if !FILTER_KEYS.contains(&k.as_str()) {
                return Err(format!("invalid filter '{k}'"));
            }
            if k == "status" && !STATES.contains(&val) {
                return Err(format!("invalid filter 'status={val}'"));
            }
            if k == "exited" && val.parse::<i32>().is_err() {
                return Err(format!("invalid filter 'exited={val}'"));
            }
            f.0.entry(k).or_default().push(val.to_string());
        }
        Ok(f)
    }
    fn get(&self, k: &str) -> &[String] {
        self.0.get(k).map(Vec::as_slice).unwrap_or(&[])
    }
    fn has(&self, k: &str) -> bool {
        !self.get(k).is_empty()
    }
}

/// Docker's filter matching of names and IDs: a regular expression
/// search; here a substring with optional `^` and `$` anchors.
fn pattern_match(pat: &str, s: &str) -> bool {
    let (start, p) = match pat.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pat),
    };
    let (end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    match (start, end) {
        (true, true) => s == p,
        (true, false) => s.starts_with(p),
        (false, true) => s.ends_with(p),
        (false, false) => s.contains(p),
    }
}

fn state(c: &pb::Container) -> String {
    match c.status.as_ref().map(|s| s.state.as_str()) {
        Some("") | None => "created".into(),
        Some(s) => s.to_string(),
    }
}

fn nanos(c: &pb::Container) -> i64 {
    if c.created_at_nanos > 0 {
        c.created_at_nanos
    } else {
        c.created_at.saturating_mul(1_000_000_000)
    }
}

/// Docker's `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let d = secs.max(0);
    let h = d / 3600;
    match d {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{d} seconds"),
        60..=119 => "About a minute".into(),
        _ if d < 46 * 60 => format!("{} minutes", d / 60),
        _ if d < 90 * 60 => "About an hour".into(),
        _ if h < 48 => format!("{h} hours"),
        _ if h < 24 * 7 * 2 => format!("{} days", h / 24),
        _ if h < 24 * 30 * 2 => format!("{} weeks", h / 24 / 7),
        _ if h < 24 * 365 * 2 => format!("{} months", h / 24 / 30),
        _ => format!("{} years", h / 24 / 365),
    }
}

fn since(t: i64) -> i64 {
    hull_types::time::now_secs() - t
}

fn status_text(c: &pb::Container) -> String {
    let s = c.status.clone().unwrap_or_default();
    match s.state.as_str() {
        "running" => format!("Up {}", human_duration(since(s.started_at))),
        "paused" => format!("Up {} (Paused)", human_duration(since(s.started_at))),
        "exited" => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            human_duration(since(s.finished_at))
        ),
        _ => "Created".into(),
    }
}

/// Go's `time.Time.String()` of Unix seconds, in UTC.
fn go_time(secs: i64) -> String {
    let (date, time) = hull_types::civil_time::date_and_time(secs);
    format!("{date} {time} +0000 UTC")
}

/// Go's `strconv.Quote` for the command column.
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Docker's PORTS cell: "0.0.0.0:8080->80/tcp, …".
fn ports_of(s: &pb::ContainerSummary) -> String {
    s.ports
        .iter()
        .map(|p| format!("{}:{}->{}", p.host_ip, p.host_port, p.container_port))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One container as Docker's format context sees it (all strings).
fn row(c: &pb::Container, trunc: bool, size: Option<&str>) -> Map<String, Value> {
    let s = c.summary.clone().unwrap_or_default();
    let cmd = s.command.join(" ");
    let cmd = if trunc { ellipsis(&cmd, 20) } else { cmd };
    let mut labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    let id = if trunc {
        c.id.chars().take(12).collect()
    } else {
        c.id.clone()
    };
    let mounts: Vec<String> = s
        .mounts
        .iter()
        .map(|m| if trunc { ellipsis(m, 15) } else { m.clone() })
        .collect();
    let mut m = Map::new();
    for (k, v) in [
        ("ID", id),
        ("Image", familiar_name(&c.image)),
        ("Command", go_quote(&cmd)),
        ("CreatedAt", go_time(c.created_at)),
        (
            "RunningFor",
            format!("{} ago", human_duration(since(c.created_at))),
        ),
        ("Ports", ports_of(&s)),
        ("State", state(c)),
        ("Status", status_text(c)),
        ("Size", size.unwrap_or("0B").to_string()),
        ("Names", c.name.clone()),
        ("Labels", labels.join(",")),
        ("Mounts", mounts.join(",")),
        ("Networks", s.networks.join(",")),
        ("LocalVolumes", "0".to_string()),
    ] {
        m.insert(k.into(), Value::String(v));
    }
    m
}

fn header() -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in [
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Ports", "PORTS"),
        ("State", "STATE"),
        ("Status", "STATUS"),
        ("Size", "SIZE"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
        ("Mounts", "MOUNTS"),
        ("Networks", "NETWORKS"),
        ("LocalVolumes", "LOCAL VOLUMES"),
    ] {
        m.insert(k.into(), Value::String(v.into()));
    }
    m
}

/// The keys a template passes to `.Label "…"` (for the header row, which
/// Docker makes from the key's last dotted part, upper-cased).
fn label_keys(tmpl: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = tmpl;
    while let Some(i) = rest.find(".Label") {
        rest = &rest[i + 6..];
        let t = rest.trim_start();
        if let Some(q) = t.strip_prefix('"') {
            if let Some(end) = q.find('"') {
                out.push(q[..end].to_string());
            }
        }
    }
    out
}

/// Go's text/tabwriter as Docker sets it up (minwidth 10, padding 3):
/// cells end at tabs, the last cell of a line is not padded.
pub fn tabwrite(lines: &[String]) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let mut w: Vec<usize> = Vec::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate().take(r.len().saturating_sub(1)) {
            let cw = (c.chars().count() + 3).max(10);
            if w.len() <= i {
                w.push(cw);
            } else {
                w[i] = w[i].max(cw);
            }
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                out.push_str(&" ".repeat(w[i] - c.chars().count()));
            }
        }
        out.push('\n');
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
    fn filters_parse_and_reject() {
        let f = Filters::parse(&["label=a=b".into(), "status=exited".into()]).unwrap();
        assert_eq!(f.get("label"), ["a=b"]);
        assert!(Filters::parse(&["bogus=1".into()]).is_err());
        assert!(Filters::parse(&["status=sleeping".into()]).is_err());
        assert!(Filters::parse(&["exited=x".into()]).is_err());
        assert!(Filters::parse(&["noequals".into()]).is_err());
        assert!(pattern_match("web", "my-web-1"));
        assert!(pattern_match("^web$", "web"));
        assert!(!pattern_match("^web$", "web1"));
    }

    #[test]
    fn docker_shapes() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(300), "5 minutes");
        assert_eq!(human_duration(3 * 3600), "3 hours");
        assert_eq!(go_time(1_700_000_000), "2023-11-14 22:13:20 +0000 UTC");
        assert_eq!(
            go_quote(&ellipsis("sh -c sleep 1000 && echo hi", 20)),
            "\"sh -c sleep 1000 &&…\""
        );
        assert_eq!(
            tabwrite(&["CONTAINER ID\tNAMES".into(), "abc\tx".into()]),
            "CONTAINER ID   NAMES\nabc            x\n"
        );
        assert_eq!(
            label_keys(r#"{{.Label "com.x.ver"}} {{ .Label  "b" }}"#),
            ["com.x.ver", "b"]
        );
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

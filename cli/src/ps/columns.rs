//! The columns of `ps` as Docker shows them: status text, times, ports,
//! truncation, the `--format` row and header objects, and aligned tables.

use hull_proto::v1 as pb;
use serde_json::{Map, Value};

use hull_types::reference::familiar_name;

pub(super) fn state(c: &pb::Container) -> String {
    match c.status.as_ref().map(|s| s.state.as_str()) {
        Some("") | None => "created".into(),
        Some(s) => s.to_string(),
    }
}

/// The container's health status, `none` without a healthcheck.
pub(super) fn health_status(c: &pb::Container) -> &str {
    c.status
        .as_ref()
        .and_then(|s| s.health.as_ref())
        .map_or("none", |h| h.status.as_str())
}

pub(super) fn nanos(c: &pb::Container) -> i64 {
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
        "running" => match s.health.as_ref().map(|h| h.status.as_str()) {
            // Docker's Health.String().
            Some("starting") => format!(
                "Up {} (health: starting)",
                human_duration(since(s.started_at))
            ),
            Some(h) if !h.is_empty() => format!("Up {} ({h})", human_duration(since(s.started_at))),
            _ => format!("Up {}", human_duration(since(s.started_at))),
        },
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
pub(super) fn row(c: &pb::Container, trunc: bool, size: Option<&str>) -> Map<String, Value> {
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

pub(super) fn header() -> Map<String, Value> {
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
pub(super) fn label_keys(tmpl: &str) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}

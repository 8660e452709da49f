//! `hull events --filter`: Docker's filters (type, event, container,
//! image, network) on top of the daemon's own topic filters (`topic==…`,
//! `topic~=…`, `namespace==…`), which pass through unchanged.

use std::collections::{BTreeMap, HashSet};

use hull_proto::v1 as pb;
use serde_json::Value;
use tokio_stream::StreamExt;

use super::client::Conn;
use super::containers::Exit;
use hull_types::reference::normalize_name;

const KEYS: &[&str] = &["type", "event", "container", "image", "network"];

/// Docker filters: one key's values are OR'ed, keys AND'ed.
#[derive(Debug, Default)]
pub struct Filters(BTreeMap<String, HashSet<String>>);

/// Split `--filter` values into the daemon's and Docker's.
pub fn parse(v: &[String]) -> Result<(Vec<String>, Filters), String> {
    let mut daemon = Vec::new();
    let mut f = Filters::default();
    for s in v {
        if s.contains("==") || s.contains("~=") {
            daemon.push(s.clone());
            continue;
        }
        let Some((k, val)) = s.split_once('=') else {
            return Err(format!("invalid filter '{s}'"));
        };
        if !KEYS.contains(&k) {
            return Err(format!("invalid filter '{k}'"));
        }
        f.0.entry(k.to_string())
            .or_default()
            .insert(val.to_string());
    }
    Ok((daemon, f))
}

/// Docker's type of an event topic.
pub fn kind(topic: &str) -> &str {
    match topic.split('/').nth(1).unwrap_or("") {
        "containers" | "tasks" => "container",
        "images" => "image",
        "content" => "content",
        "snapshot" | "snapshots" => "snapshot",
        "namespaces" => "namespace",
        "networks" => "network",
        other => other,
    }
}

/// The event names a topic answers to (Docker's for container removal).
fn actions(topic: &str) -> Vec<&str> {
    let last = topic.rsplit('/').next().unwrap_or("");
    let mut v = vec![last];
    match (kind(topic), last) {
        ("container", "delete") => v.push("destroy"),
        ("container", "paused") => v.push("pause"),
        ("container", "resumed") => v.push("unpause"),
        ("image", "create") => v.push("pull"),
        ("image", "delete") => v.push("untag"),
        ("network", "delete") => v.push("destroy"),
        _ => {}
    }
    v
}

impl Filters {
    pub fn matches(&self, topic: &str, attrs: &Value) -> bool {
        let ok = |k: &str, p: &dyn Fn(&str) -> bool| {
            self.0.get(k).is_none_or(|vals| vals.iter().any(|v| p(v)))
        };
        let s = |k: &str| attrs.get(k).and_then(|v| v.as_str()).unwrap_or("");
        let t = kind(topic);
        ok("type", &|v| v == t)
            // Docker's full action too: `health_status: healthy`.
            && ok("event", &|v| actions(topic).contains(&v) || s("action") == v)
            && ok("container", &|v| {
                t == "container"
                    && [s("id"), s("container_id"), s("name")]
                        .iter()
                        .any(|x| !x.is_empty() && *x == v)
            })
            && ok("image", &|v| {
                let field = if t == "image" { s("name") } else { s("image") };
                !field.is_empty() && field == v
            })
            // A network by name or ID prefix (the event's actor).
            && ok("network", &|v| {
                t == "network" && !v.is_empty() && (s("name") == v || s("id").starts_with(v))
            })
    }
}

pub async fn run(conn: &Conn, filters: Vec<String>) -> anyhow::Result<()> {
    let (daemon, mut f) = parse(&filters).map_err(|e| {
        eprintln!("Error response from daemon: {e}");
        Exit(1)
    })?;
    // A container named by name or short ID also matches its full ID.
    if let Some(vals) = f.0.get("container").cloned() {
        let mut all = vals.clone();
        for v in vals {
            if let Ok(c) = conn
                .containers()
                .get(conn.req(pb::GetContainerRequest { id: v }))
                .await
            {
                let c = c.into_inner();
                all.insert(c.id);
                all.insert(c.name);
            }
        }
        f.0.insert("container".into(), all);
    }
    if let Some(vals) = f.0.get("image").cloned() {
        let mut all = vals.clone();
        for v in vals {
            if let Ok(n) = normalize_name(&v) {
                all.insert(n);
            }
        }
        f.0.insert("image".into(), all);
    }
    let mut s = conn
        .events()
        .subscribe(conn.req(pb::SubscribeRequest {
            filters: daemon,
            ..Default::default()
        }))
        .await?
        .into_inner();
    while let Some(e) = s.next().await {
        let e = e?;
        let attrs: Value = serde_json::from_str(&e.event).unwrap_or_default();
        if f.matches(&e.topic, &attrs) {
            println!("{} {} {} {}", e.timestamp, e.namespace, e.topic, e.event);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn docker_filters_on_topics() {
        let (d, f) = parse(&[
            "topic~=/containers/".into(),
            "type=container".into(),
            "event=destroy".into(),
            "event=start".into(),
            "container=abc".into(),
        ])
        .unwrap();
        assert_eq!(d, ["topic~=/containers/"]);
        assert!(f.matches("/containers/delete", &json!({"id": "abc"})));
        assert!(f.matches("/containers/start", &json!({"id": "abc"})));
        assert!(!f.matches("/containers/start", &json!({"id": "other"})));
        assert!(!f.matches("/containers/die", &json!({"id": "abc"})));
        assert!(!f.matches("/images/delete", &json!({"name": "abc"})));
        let (_, f) = parse(&["image=docker.io/library/a:1".into()]).unwrap();
        assert!(f.matches("/images/create", &json!({"name": "docker.io/library/a:1"})));
        assert!(f.matches(
            "/containers/create",
            &json!({"id": "x", "image": "docker.io/library/a:1"})
        ));
        assert!(parse(&["bogus=1".into()]).is_err());
        // Network events: the network is the actor, the container an attribute.
        let (_, f) = parse(&[
            "type=network".into(),
            "event=connect".into(),
            "network=front".into(),
        ])
        .unwrap();
        let ev = json!({"id": "abc123", "name": "front", "container": "c1", "type": "bridge"});
        assert!(f.matches("/networks/connect", &ev));
        assert!(!f.matches("/networks/disconnect", &ev));
        assert!(!f.matches("/containers/start", &json!({"id": "c1", "name": "front"})));
        let (_, f) = parse(&["network=abc".into(), "event=destroy".into()]).unwrap();
        assert!(f.matches("/networks/delete", &ev));
        assert!(!f.matches("/networks/delete", &json!({"id": "zzz", "name": "back"})));
        assert!(parse(&["nokey".into()]).is_err());
        let health = json!({"id": "c1", "status": "healthy", "action": "health_status: healthy"});
        let (_, f) = parse(&["event=health_status".into()]).unwrap();
        assert!(f.matches("/containers/health_status", &health));
        let (_, f) = parse(&["event=health_status: healthy".into()]).unwrap();
        assert!(f.matches("/containers/health_status", &health));
        let (_, f) = parse(&["event=health_status: unhealthy".into()]).unwrap();
        assert!(!f.matches("/containers/health_status", &health));
    }
}

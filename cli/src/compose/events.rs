//! `hull compose events [--json] [--since T] [--until T] [SERVICE…]`: the
//! project's container events as they happen, as Compose prints them:
//! `2006-01-02 15:04:05.000000 container ACTION ID (image=…, name=…)`, or
//! with `--json` one object a line: time, type, action, id, service,
//! attributes. `--since` first replays those hulld still holds (its last
//! 256); runs until interrupted, or until `--until`.

use std::collections::{BTreeMap, HashMap};

use clap::Args;
use hull_proto::v1 as pb;
use serde_json::Value;
use tokio_stream::StreamExt;

use super::project::label;
use super::targets::{self, OneOff};
use super::{labels, ComposeArgs};
use crate::client::Conn;
use crate::containers::msg;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// One JSON object a line.
    #[arg(long)]
    pub json: bool,
    /// Also the past events from a Unix time or a relative time (e.g. 42s, 5m).
    #[arg(long)]
    pub since: Option<String>,
    /// Stop at a Unix time or a relative time (e.g. 0s: now).
    #[arg(long)]
    pub until: Option<String>,
    pub services: Vec<String>,
}

/// What an event's container is, remembered while it exists.
#[derive(Debug, Clone)]
struct Known {
    name: String,
    service: String,
    image: String,
}

pub async fn run(conn: &Conn, args: &ComposeArgs, a: &EventsArgs) -> anyhow::Result<()> {
    let loaded = args.load()?;
    let p = &loaded.project;
    super::project::check_services(p, &a.services)?;
    let now = hull_types::time::now_nanos();
    let at = |v: &Option<String>| {
        v.as_deref()
            .map(|t| hull_types::time::parse_since(t, now))
            .transpose()
    };
    let (since, until) = (at(&a.since)?, at(&a.until)?);
    let mut s = conn
        .events()
        .subscribe(conn.req(pb::SubscribeRequest {
            filters: vec!["topic~=/containers/".into(), "topic~=/tasks/".into()],
            // Unix time 0 is "from the first": 1 ns past it.
            since_nanos: since.map(|t| t.max(1)).unwrap_or(0),
            until_nanos: until.map(|t| t.max(1)).unwrap_or(0),
        }))
        .await
        .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?
        .into_inner();
    // Subscribed first, so no event falls between the listing and the stream.
    let mut known: HashMap<String, Option<Known>> = HashMap::new();
    for c in targets::containers(conn, p, &[], OneOff::Include).await? {
        known.insert(c.id.clone(), Some(of(&c)));
    }
    while let Some(e) = s.next().await {
        let e = e.map_err(|e| anyhow::anyhow!("{}", msg(&e)))?;
        let attrs: Value = serde_json::from_str(&e.event).unwrap_or_default();
        let id = ["id", "container_id"]
            .iter()
            .find_map(|k| attrs.get(*k).and_then(Value::as_str))
            .unwrap_or("")
            .to_string();
        if id.is_empty() {
            continue;
        }
        if !known.contains_key(&id) {
            let got = conn
                .containers()
                .get(conn.req(pb::GetContainerRequest { id: id.clone() }))
                .await;
            let k = got
                .ok()
                .map(|c| c.into_inner())
                .filter(|c| labels::of_project(&c.labels, &p.name))
                .map(|c| of(&c));
            known.insert(id.clone(), k);
        }
        let Some(Some(k)) = known.get(&id).cloned() else {
            continue;
        };
        if e.topic == "/containers/delete" {
            known.remove(&id);
        }
        if !a.services.is_empty() && !a.services.contains(&k.service) {
            continue;
        }
        let action = action(&e.topic, &attrs);
        let mut attributes = BTreeMap::new();
        attributes.insert("image".to_string(), k.image.clone());
        attributes.insert("name".to_string(), k.name.clone());
        if let Some(code) = attrs.get("exit_code").and_then(Value::as_i64) {
            attributes.insert("exitCode".to_string(), code.to_string());
        }
        println!(
            "{}",
            line(a.json, e.timestamp, &action, &id, &k, &attributes)
        );
    }
    Ok(())
}

fn of(c: &pb::Container) -> Known {
    Known {
        name: c.name.clone(),
        service: label(c, labels::SERVICE).to_string(),
        image: c.image.clone(),
    }
}

/// Docker's action of an event topic.
fn action(topic: &str, attrs: &Value) -> String {
    if let Some(a) = attrs.get("action").and_then(Value::as_str) {
        return a.to_string();
    }
    match topic.rsplit('/').next().unwrap_or("") {
        "delete" => "destroy",
        "paused" => "pause",
        "resumed" => "unpause",
        other => other,
    }
    .to_string()
}

/// One event as Compose prints it.
fn line(
    json: bool,
    nanos: i64,
    action: &str,
    id: &str,
    k: &Known,
    attributes: &BTreeMap<String, String>,
) -> String {
    let stamp = hull_types::time::rfc3339_nanos(nanos);
    if json {
        return serde_json::json!({
            "time": stamp,
            "type": "container",
            "action": action,
            "id": id,
            "service": k.service,
            "attributes": attributes,
        })
        .to_string();
    }
    // 2006-01-02T15:04:05.123456789Z → 2006-01-02 15:04:05.123456
    let text = stamp.replacen('T', " ", 1);
    let text = text.get(..26).unwrap_or(&text);
    let attrs: Vec<String> = attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{text} container {action} {id} ({})", attrs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_as_compose_prints_them() {
        let k = Known {
            name: "p-web-1".into(),
            service: "web".into(),
            image: "img".into(),
        };
        let mut attrs = BTreeMap::new();
        attrs.insert("name".to_string(), k.name.clone());
        attrs.insert("image".to_string(), "img".to_string());
        let nanos = 1_700_000_000_123_456_789;
        assert_eq!(
            line(false, nanos, "start", "abc", &k, &attrs),
            "2023-11-14 22:13:20.123456 container start abc (image=img, name=p-web-1)"
        );
        let v: Value = serde_json::from_str(&line(true, nanos, "die", "abc", &k, &attrs)).unwrap();
        assert_eq!(v["action"], "die");
        assert_eq!(v["service"], "web");
        assert_eq!(v["attributes"]["name"], "p-web-1");
        assert_eq!(action("/containers/delete", &Value::Null), "destroy");
        assert_eq!(action("/tasks/paused", &Value::Null), "pause");
    }
}

//! Event bus: topics like `/images/create`, fanned out to subscribers.

pub mod decode;
pub mod forward;

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;

/// One event as the bus carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Unix nanoseconds.
    pub timestamp: i64,
    pub namespace: String,
    pub topic: String,
    /// A JSON object with the event's attributes.
    pub event: String,
}

#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<Envelope>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(256);
        Bus { tx }
    }

    pub fn publish(&self, namespace: &str, topic: &str, event: serde_json::Value) {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        tracing::debug!(namespace, topic, %event, "event");
        let _ = self.tx.send(Envelope {
            timestamp,
            namespace: namespace.to_string(),
            topic: topic.to_string(),
            event: event.to_string(),
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Envelope> {
        self.tx.subscribe()
    }
}

/// Filters: `topic==X`, `namespace==X`, `topic~=PREFIX`; an event passes
/// when there are no filters or any filter matches (all clauses of a filter
/// joined by `,` must match).
pub fn matches(filters: &[String], e: &Envelope) -> bool {
    if filters.is_empty() {
        return true;
    }
    filters.iter().any(|f| {
        f.split(',').all(|clause| {
            let clause = clause.trim();
            if let Some((k, v)) = clause.split_once("==") {
                field(k.trim(), e) == Some(v.trim().trim_matches('"'))
            } else if let Some((k, v)) = clause.split_once("~=") {
                field(k.trim(), e).is_some_and(|f| f.starts_with(v.trim().trim_matches('"')))
            } else {
                false
            }
        })
    })
}

fn field<'a>(k: &str, e: &'a Envelope) -> Option<&'a str> {
    match k {
        "topic" => Some(&e.topic),
        "namespace" => Some(&e.namespace),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let e = Envelope {
            timestamp: 0,
            namespace: "default".into(),
            topic: "/images/create".into(),
            event: "{}".into(),
        };
        assert!(matches(&[], &e));
        assert!(matches(&["topic==/images/create".into()], &e));
        assert!(matches(&["topic~=/images/".into()], &e));
        assert!(!matches(&["topic==/images/delete".into()], &e));
        assert!(matches(
            &[
                "namespace==k8s.io".into(),
                "namespace==default,topic~=/images".into()
            ],
            &e
        ));
    }
}

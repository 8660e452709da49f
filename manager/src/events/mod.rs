//! Event bus: topics like `/images/create`, fanned out to subscribers.

pub mod decode;
pub mod forward;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;

/// How many past events the bus keeps for `--since` (Docker keeps 256).
const KEPT: usize = 256;

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
    /// The last `KEPT` events, oldest first.
    kept: Arc<Mutex<VecDeque<Envelope>>>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(256);
        Bus {
            tx,
            kept: Arc::new(Mutex::new(VecDeque::with_capacity(KEPT))),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, VecDeque<Envelope>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn publish(&self, namespace: &str, topic: &str, event: serde_json::Value) {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        tracing::debug!(namespace, topic, %event, "event");
        let e = Envelope {
            timestamp,
            namespace: namespace.to_string(),
            topic: topic.to_string(),
            event: event.to_string(),
        };
        // Kept and sent under one lock, so `since` sees each event once.
        let mut kept = self.kept();
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back(e.clone());
        let _ = self.tx.send(e);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Envelope> {
        self.tx.subscribe()
    }

    /// The kept events from `since_nanos` on, and the events after them.
    pub fn subscribe_since(
        &self,
        since_nanos: i64,
    ) -> (Vec<Envelope>, broadcast::Receiver<Envelope>) {
        let kept = self.kept();
        let past = kept
            .iter()
            .filter(|e| e.timestamp >= since_nanos)
            .cloned()
            .collect();
        (past, self.tx.subscribe())
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
    fn since_replays_the_kept_events_once() {
        let bus = Bus::new();
        for i in 0..(KEPT + 3) {
            bus.publish("ns", "/t/old", serde_json::json!({ "i": i }));
        }
        let (past, mut rx) = bus.subscribe_since(0);
        assert_eq!(past.len(), KEPT, "only the last KEPT are kept");
        assert_eq!(past[0].event, r#"{"i":3}"#);
        let cut = past[KEPT - 1].timestamp;
        assert!(bus.subscribe_since(cut + 1).0.is_empty());
        bus.publish("ns", "/t/new", serde_json::json!({}));
        let e = rx.try_recv().expect("the new event");
        assert_eq!(e.topic, "/t/new");
        assert!(rx.try_recv().is_err(), "a kept event came twice");
    }

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

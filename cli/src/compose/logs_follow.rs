//! `logs -f`: every selected container of the project followed at once,
//! and, as Compose does, the ones that start while it runs (`up --scale`,
//! `restart`, a restart policy) picked up from hulld's task start events.
//! It returns once none of them runs any more, or at `--until`.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use hull_compose::Project;
use hull_proto::v1 as pb;
use serde_json::Value;
use tokio_stream::{Stream, StreamExt, StreamMap};

use super::logs::{indexed, write, Line, LogsArgs, Prefix, Prefixes, Splitter};
use super::project::label;
use super::{labels, targets};
use crate::client::Conn;
use crate::containers::msg;

/// How long, once no followed container runs, a start is waited for
/// (`compose restart` stops then starts) before `logs -f` returns.
const GRACE: Duration = Duration::from_secs(1);

/// A log chunk, or `None` where the log ended.
type Chunks = Pin<Box<dyn Stream<Item = Option<Result<pb::LogChunk, tonic::Status>>> + Send>>;

/// The task start events of the namespace, subscribed before the listing.
pub async fn subscribe(conn: &Conn) -> anyhow::Result<tonic::Streaming<pb::Envelope>> {
    Ok(conn
        .events()
        .subscribe(conn.req(pb::SubscribeRequest {
            filters: vec!["topic==/tasks/start".into()],
            ..Default::default()
        }))
        .await
        .map_err(|e| anyhow::anyhow!("{}", msg(&e)))?
        .into_inner())
}

pub struct Follow<'a> {
    pub conn: &'a Conn,
    pub project: &'a Project,
    pub args: &'a LogsArgs,
    /// Unix nanoseconds to stop at.
    pub until: Option<i64>,
}

/// One followed container.
struct Followed {
    name: String,
    prefix: Prefix,
    split: Splitter,
    /// The time of its last chunk shown (0: none).
    last: i64,
    /// It started again (this time) while its previous log was still open.
    again: Option<i64>,
}

impl Follow<'_> {
    pub async fn run(
        &self,
        containers: Vec<pb::Container>,
        req: pb::LogsRequest,
        mut starts: tonic::Streaming<pb::Envelope>,
        prefixes: &mut Prefixes,
    ) -> anyhow::Result<()> {
        let mut logs: StreamMap<String, Chunks> = StreamMap::new();
        let mut followed: HashMap<String, Followed> = HashMap::new();
        // Whether a container of the events is one of ours, by id.
        let mut ours: HashMap<String, bool> = HashMap::new();
        for c in &containers {
            ours.insert(c.id.clone(), true);
            let s = self.open(&c.id, &c.name, req.clone()).await?;
            logs.insert(c.id.clone(), s);
            followed.insert(c.id.clone(), self.followed(c, prefixes));
        }
        let until = tokio::time::sleep(self.until_in());
        tokio::pin!(until);
        let mut events_open = true;
        loop {
            let idle = logs.is_empty();
            tokio::select! {
                Some((id, item)) = logs.next(), if !idle => {
                    let Some(f) = followed.get_mut(&id) else { continue };
                    match item {
                        Some(chunk) => {
                            let c = chunk.map_err(|e| anyhow::anyhow!("{}: {}", f.name, msg(&e)))?;
                            f.last = c.time_nanos;
                            let mut lines = Vec::new();
                            f.split.push(&c, &mut lines);
                            self.print(&f.prefix, &lines)?;
                        }
                        None => {
                            // Gone now (not on the next poll), so `idle` is
                            // right on the next turn.
                            logs.remove(&id);
                            let mut lines = Vec::new();
                            f.split.finish(f.last, &mut lines);
                            self.print(&f.prefix, &lines)?;
                            if let Some(since) = f.again.take() {
                                let s = self.from(&id, &f.name, after(since, f.last)).await?;
                                logs.insert(id, s);
                            }
                        }
                    }
                }
                e = starts.next(), if events_open => {
                    let Some(e) = e else {
                        events_open = false;
                        continue;
                    };
                    let e = e.map_err(|e| anyhow::anyhow!("{}", msg(&e)))?;
                    let Some(c) = self.started(&e, &mut ours).await else { continue };
                    let since = start_nanos(&c, e.timestamp);
                    if logs.contains_key(&c.id) {
                        if let Some(f) = followed.get_mut(&c.id) {
                            f.again = Some(since);
                        }
                        continue;
                    }
                    let last = followed.get(&c.id).map_or(0, |f| f.last);
                    let s = self.from(&c.id, &c.name, after(since, last)).await?;
                    logs.insert(c.id.clone(), s);
                    followed
                        .entry(c.id.clone())
                        .or_insert_with(|| self.followed(&c, prefixes));
                }
                () = tokio::time::sleep(GRACE), if idle => return Ok(()),
                () = &mut until => return Ok(()),
            }
        }
    }

    fn followed(&self, c: &pb::Container, prefixes: &mut Prefixes) -> Followed {
        Followed {
            name: c.name.clone(),
            prefix: prefixes.next(&c.name),
            split: Splitter::default(),
            last: 0,
            again: None,
        }
    }

    /// Lines past `--until` are left out (its timer ends the run).
    fn print(&self, prefix: &Prefix, lines: &[Line]) -> anyhow::Result<()> {
        for l in lines {
            if self.until.is_none_or(|u| l.time <= u) {
                write(prefix, l)?;
            }
        }
        Ok(())
    }

    fn until_in(&self) -> Duration {
        let Some(until) = self.until else {
            // Never, in practice.
            return Duration::from_secs(100 * 365 * 24 * 3600);
        };
        let left = until - hull_types::time::now_nanos();
        Duration::from_nanos(u64::try_from(left).unwrap_or(0))
    }

    /// A run's log from `since` (all of it: the run is new).
    async fn from(&self, id: &str, name: &str, since: i64) -> anyhow::Result<Chunks> {
        let req = pb::LogsRequest {
            follow: true,
            since_nanos: since,
            ..Default::default()
        };
        self.open(id, name, req).await
    }

    async fn open(&self, id: &str, name: &str, req: pb::LogsRequest) -> anyhow::Result<Chunks> {
        let s = self
            .conn
            .tasks()
            .logs(self.conn.req(pb::LogsRequest {
                container_id: id.to_string(),
                ..req
            }))
            .await
            .map_err(|e| anyhow::anyhow!("container {name}: logs: {}", msg(&e)))?
            .into_inner();
        Ok(Box::pin(
            s.map(Some).chain(tokio_stream::once(None::<Result<_, _>>)),
        ))
    }

    /// The container a start event is about, when it is one `logs` follows.
    async fn started(
        &self,
        e: &pb::Envelope,
        ours: &mut HashMap<String, bool>,
    ) -> Option<pb::Container> {
        let attrs: Value = serde_json::from_str(&e.event).ok()?;
        let id = attrs.get("container_id").and_then(Value::as_str)?;
        if ours.get(id) == Some(&false) {
            return None;
        }
        let c = self
            .conn
            .containers()
            .get(
                self.conn
                    .req(pb::GetContainerRequest { id: id.to_string() }),
            )
            .await
            .ok()?
            .into_inner();
        let services = &self.args.services;
        let mine = labels::of_project(&c.labels, &self.project.name)
            && !targets::is_oneoff(&c)
            && (services.is_empty() || services.iter().any(|s| s == label(&c, labels::SERVICE)))
            && indexed(self.args, &c);
        ours.insert(id.to_string(), mine);
        mine.then_some(c)
    }
}

/// Where a new run's log starts: past the last line already shown of the
/// container (`last`, 0: none), so a restart within the same second does
/// not show the previous run's lines again.
fn after(start: i64, last: i64) -> i64 {
    if last > 0 {
        start.max(last.saturating_add(1))
    } else {
        start
    }
}

/// Where a new run's log starts: its start (whole seconds, so its first
/// lines are in), else a second before the event.
fn start_nanos(c: &pb::Container, event_nanos: i64) -> i64 {
    match c.status.as_ref().map(|s| s.started_at) {
        Some(secs) if secs > 0 => secs.saturating_mul(1_000_000_000),
        _ => event_nanos.saturating_sub(1_000_000_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_run_starts_past_what_was_shown() {
        let sec = 1_000_000_000;
        // Restarted within the second its previous run logged in.
        assert_eq!(after(5 * sec, 5 * sec + 300), 5 * sec + 301);
        assert_eq!(after(6 * sec, 5 * sec + 300), 6 * sec);
        assert_eq!(after(6 * sec, 0), 6 * sec);
        let c = pb::Container {
            status: Some(pb::ContainerStatus {
                started_at: 7,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(start_nanos(&c, 9 * sec), 7 * sec);
        assert_eq!(start_nanos(&pb::Container::default(), 9 * sec), 8 * sec);
    }
}

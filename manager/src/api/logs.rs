//! The Tasks service's Logs: a container's json-file log (or the plain
//! output files of containers made before it), followed while it runs.

use std::sync::Arc;
use std::time::Duration;

use hull_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{namespace, Server, Stream_};
use crate::containers::logfile;
use crate::containers::shim::{Live, STDERR_LOG, STDOUT_LOG};
use crate::containers::tasks::{lookup, read_from};
use crate::metadata::ns_key;

impl Server {
    pub(super) async fn logs_stream(
        &self,
        req: Request<pb::LogsRequest>,
    ) -> Result<Response<Stream_<pb::LogChunk>>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let (ns2, id) = (ns.clone(), r.container_id.clone());
        let (rec, _) = self.blocking(move |m| lookup(&m, &ns2, &id)).await?;
        let (tx, rx) = mpsc::channel(16);
        let m = self.m.clone();
        let follow = r.follow;
        let json =
            rec.bundle.join(logfile::LOG_FILE).exists() || !rec.bundle.join(STDOUT_LOG).exists();
        if json {
            tokio::spawn(async move {
                let dir = rec.bundle.clone();
                let since = r.since_nanos;
                let main = dir.join(logfile::LOG_FILE);
                // The files to read and where: with --tail, the last lines
                // found by reading back from the end. Streamed a chunk at a
                // time (the channel holds the pace), never the whole log.
                let tail = r.has_tail.then_some(r.tail.max(0) as usize);
                let plan = tokio::task::spawn_blocking(move || {
                    logfile::read_plan(&dir, tail)
                        .into_iter()
                        .map(|(p, start)| {
                            let end = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                            (p, start, end)
                        })
                        .collect::<Vec<_>>()
                })
                .await
                .unwrap_or_default();
                let mut offset = 0;
                for (p, start, end) in plan {
                    offset = start;
                    while offset < end {
                        let p2 = p.clone();
                        let at = offset;
                        let (entries, next) = tokio::task::spawn_blocking(move || {
                            logfile::read_entries(&p2, at, logfile::READ_CHUNK)
                        })
                        .await
                        .unwrap_or_default();
                        if next <= offset {
                            break; // a line still being written, or rotated
                        }
                        offset = next;
                        for e in entries.into_iter().filter(|e| e.time_nanos >= since) {
                            let msg = pb::LogChunk {
                                stream: e.stream,
                                data: e.data,
                                time_nanos: e.time_nanos,
                            };
                            if tx.send(Ok(msg)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                if !follow {
                    return;
                }
                loop {
                    // Decide before reading, so output written before the
                    // exit is read in the last round (hulld records an exit
                    // only after the log driver finished).
                    let live = m.tasks.get(&ns_key(&ns, &rec.id));
                    let running = live.is_some();
                    // Everything there is now, a chunk at a time.
                    loop {
                        let p = main.clone();
                        let at = offset;
                        let (new, off) = tokio::task::spawn_blocking(move || {
                            logfile::read_entries(&p, at, logfile::READ_CHUNK)
                        })
                        .await
                        .unwrap_or_default();
                        let more = off > offset;
                        offset = off;
                        for e in new.into_iter().filter(|e| e.time_nanos >= since) {
                            let msg = pb::LogChunk {
                                stream: e.stream,
                                data: e.data,
                                time_nanos: e.time_nanos,
                            };
                            if tx.send(Ok(msg)).await.is_err() {
                                return;
                            }
                        }
                        if !more {
                            break;
                        }
                    }
                    if !running {
                        return;
                    }
                    next_round(live).await;
                }
            });
            return Ok(Response::new(Box::pin(ReceiverStream::new(rx))));
        }
        tokio::spawn(async move {
            let paths = [
                (1u32, rec.bundle.join(STDOUT_LOG)),
                (2u32, rec.bundle.join(STDERR_LOG)),
            ];
            let mut offsets = [0u64; 2];
            loop {
                // Decide before reading, so output written before the exit
                // is read in the last round.
                let live = m.tasks.get(&ns_key(&ns, &rec.id)).filter(|_| follow);
                let running = live.is_some();
                for (i, (stream, p)) in paths.iter().enumerate() {
                    loop {
                        let chunk = read_from(p, offsets[i]).await;
                        if chunk.is_empty() {
                            break;
                        }
                        offsets[i] += chunk.len() as u64;
                        let msg = pb::LogChunk {
                            stream: *stream,
                            data: chunk,
                            time_nanos: 0,
                        };
                        if tx.send(Ok(msg)).await.is_err() {
                            return;
                        }
                    }
                }
                if !running {
                    return;
                }
                next_round(live).await;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Until the next look at a followed log: 50 ms, or less when the task
/// exits meanwhile (hulld hears of an exit only once the log is complete,
/// and the task is gone from `m.tasks` by then).
async fn next_round(live: Option<Arc<Live>>) {
    let tick = tokio::time::sleep(Duration::from_millis(50));
    match live {
        Some(l) => tokio::select! {
            _ = tick => {}
            _ = l.wait() => {}
        },
        None => tick.await,
    }
}

//! A small logger for the serving shim: `tracing` events (ours) and `log`
//! records (ttrpc's) become one line each on the `log` fifo containerd reads.
//! Kept tiny on purpose: resident memory is the shim's budget.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata};

struct Sink {
    file: Mutex<File>,
    level: Level,
}

impl Sink {
    fn write_line(&self, level: &str, target: &str, body: &str) {
        let mut line = String::with_capacity(64 + body.len());
        push_time(&mut line, SystemTime::now());
        let _ = write!(line, " {level:>5} {target}:{body}");
        line.push('\n');
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // The fifo is non-blocking: a slow or absent reader loses lines
        // instead of stalling the shim.
        let _ = f.write_all(line.as_bytes());
    }
}

/// RFC 3339 UTC time with microseconds.
fn push_time(out: &mut String, t: SystemTime) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    out.push_str(&hull_linux::civil::rfc3339_micros(
        d.as_secs() as i64,
        d.subsec_micros(),
    ));
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_str(&mut self, f: &Field, v: &str) {
        if f.name() == "message" {
            let _ = write!(self.0, " {v}");
        } else {
            let _ = write!(self.0, " {}={v}", f.name());
        }
    }
    fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
        if f.name() == "message" {
            let _ = write!(self.0, " {v:?}");
        } else {
            let _ = write!(self.0, " {}={v:?}", f.name());
        }
    }
}

struct Subscriber(&'static Sink);

impl tracing::Subscriber for Subscriber {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        *m.level() <= self.0.level
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(self.0.level.into())
    }
    // The shim uses no spans; they get one dummy id.
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        let mut body = String::new();
        e.record(&mut Fields(&mut body));
        let m = e.metadata();
        self.0.write_line(m.level().as_str(), m.target(), &body);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

struct LogBridge(&'static Sink, log::LevelFilter);

impl log::Log for LogBridge {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.1
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            self.0
                .write_line(r.level().as_str(), r.target(), &format!(" {}", r.args()));
        }
    }
    fn flush(&self) {}
}

/// Send logs to `file` (already opened non-blocking). ttrpc's own records
/// are kept to warnings unless `debug`.
pub fn init(file: File, debug: bool) {
    let level = if debug { Level::DEBUG } else { Level::INFO };
    let sink: &'static Sink = Box::leak(Box::new(Sink {
        file: Mutex::new(file),
        level,
    }));
    let _ = tracing::subscriber::set_global_default(Subscriber(sink));
    let ttrpc_level = if debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Warn
    };
    let bridge: &'static LogBridge = Box::leak(Box::new(LogBridge(sink, ttrpc_level)));
    if log::set_logger(bridge).is_ok() {
        log::set_max_level(ttrpc_level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_times() {
        let mut s = String::new();
        push_time(&mut s, UNIX_EPOCH);
        assert_eq!(s, "1970-01-01T00:00:00.000000Z");
        let mut s = String::new();
        // 2024-02-29T12:34:56.789Z
        push_time(
            &mut s,
            UNIX_EPOCH + Duration::from_millis(1_709_210_096_789),
        );
        assert_eq!(s, "2024-02-29T12:34:56.789000Z");
    }
}

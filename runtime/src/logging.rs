//! `--log FILE --log-format text|json`: one line per event. The JSON form
//! is what containerd's go-runc reads back ({"level","msg","time"}).

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

struct LineLayer {
    format: LogFormat,
}

/// Where log lines go. A global, so that the container's init can close
/// it (`detach`) before it closes every host fd: a closed sink can never
/// write into whatever fd later reuses its number.
static SINK: Mutex<Option<Box<dyn Write + Send>>> = Mutex::new(None);

/// Drop (and close) the log sink; later events are discarded.
pub fn detach() {
    if let Ok(mut s) = SINK.lock() {
        *s = None;
    }
}

#[derive(Default)]
struct Fields {
    msg: String,
    rest: Vec<(String, serde_json::Value)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.msg, "{value:?}");
        } else {
            self.rest
                .push((field.name().to_string(), format!("{value:?}").into()));
        }
    }
    // Numbers and booleans stay JSON numbers and booleans, as logrus's.
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.rest.push((field.name().to_string(), value.into()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.rest.push((field.name().to_string(), value.into()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.rest.push((field.name().to_string(), value.into()));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg.push_str(value);
        } else {
            self.rest.push((field.name().to_string(), value.into()));
        }
    }
}

impl<S: Subscriber> Layer<S> for LineLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        // logrus's names, which runc's readers (go-runc) expect.
        let level = match *event.metadata().level() {
            Level::WARN => "warning".to_string(),
            l => l.as_str().to_ascii_lowercase(),
        };
        // logrus's default: RFC 3339 to the second.
        let now = crate::container::store::rfc3339_now();
        let time = match now.split_once('.') {
            Some((secs, _)) => format!("{secs}Z"),
            None => now,
        };
        let line = match self.format {
            LogFormat::Json => {
                let mut v = serde_json::json!({"level": level, "msg": f.msg, "time": time});
                for (k, val) in f.rest {
                    v[k] = val;
                }
                v.to_string()
            }
            LogFormat::Text => {
                let mut s = format!("time=\"{time}\" level={level} msg={:?}", f.msg);
                for (k, val) in f.rest {
                    match val {
                        serde_json::Value::String(t) => {
                            let _ = write!(s, " {k}={t:?}");
                        }
                        other => {
                            let _ = write!(s, " {k}={other}");
                        }
                    }
                }
                s
            }
        };
        if let Ok(mut out) = SINK.lock() {
            if let Some(out) = out.as_mut() {
                let _ = writeln!(out, "{line}");
            }
        }
    }
}

/// Logs go to `--log` if given, else to stderr (warnings and up unless
/// --debug). Returns whether a log file is in use.
pub fn init(
    log: Option<&std::path::Path>,
    format: LogFormat,
    debug: bool,
) -> std::io::Result<bool> {
    let (out, to_file): (Box<dyn Write + Send>, bool) = match log {
        Some(p) => (
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            true,
        ),
        None => (Box::new(std::io::stderr()), false),
    };
    let max = if debug {
        Level::DEBUG
    } else if to_file {
        Level::INFO
    } else {
        Level::WARN
    };
    if let Ok(mut s) = SINK.lock() {
        *s = Some(out);
    }
    let layer =
        LineLayer { format }.with_filter(tracing_subscriber::filter::LevelFilter::from_level(max));
    let _ = tracing_subscriber::registry().with(layer).try_init();
    Ok(to_file)
}

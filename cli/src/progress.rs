//! Pull/push progress: per-layer bars on a terminal, plain lines otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;

use hull_proto::v1::{progress::Kind, Progress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub fn short(d: &str) -> String {
    let h = d.split_once(':').map(|(_, h)| h).unwrap_or(d);
    h.chars().take(12).collect()
}

pub fn human(n: i64) -> String {
    let mut v = n.max(0) as f64;
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        return format!("{}B", v as i64);
    }
    // Four significant digits, like Docker's HumanSize.
    let dec = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.dec$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{}", units[i])
}

pub enum Display {
    Bars {
        mp: MultiProgress,
        bars: HashMap<String, ProgressBar>,
    },
    Plain {
        last: HashMap<String, String>,
    },
    Quiet,
}

impl Display {
    pub fn new(quiet: bool) -> Display {
        if quiet {
            Display::Quiet
        } else if std::io::stdout().is_terminal() {
            Display::Bars {
                mp: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
                bars: HashMap::new(),
            }
        } else {
            Display::Plain {
                last: HashMap::new(),
            }
        }
    }

    pub fn update(&mut self, p: &Progress) {
        // The daemon's text may quote a registry's: no raw control characters.
        let esc = |s: &str| hull_types::untrusted::escape(s).into_owned();
        let p = &Progress {
            id: esc(&p.id),
            status: esc(&p.status),
            message: esc(&p.message),
            ..p.clone()
        };
        let kind = Kind::try_from(p.kind).unwrap_or(Kind::Unspecified);
        match self {
            Display::Quiet => {}
            Display::Plain { last } => match kind {
                Kind::Status | Kind::Done => println!("{}", p.message),
                Kind::Blob | Kind::Unpack => {
                    let id = short(&p.id);
                    if last.get(&id) != Some(&p.status) {
                        last.insert(id.clone(), p.status.clone());
                        if p.status == "Downloading"
                            || p.status == "Uploading"
                            || p.status == "Resuming"
                        {
                            println!("{id}: {} {}/{}", p.status, human(p.current), human(p.total));
                        } else {
                            println!("{id}: {}", p.status);
                        }
                    }
                }
                Kind::Unspecified => {}
            },
            Display::Bars { mp, bars } => match kind {
                Kind::Status | Kind::Done => {
                    let _ = mp.println(&p.message);
                }
                Kind::Blob | Kind::Unpack => {
                    let id = short(&p.id);
                    let bar = bars.entry(id.clone()).or_insert_with(|| {
                        let b = mp.add(ProgressBar::new(p.total.max(0) as u64));
                        b.set_style(
                            ProgressStyle::with_template(
                                "{prefix}: {msg:<18} [{bar:30}] {bytes}/{total_bytes}",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                        );
                        b.set_prefix(id.clone());
                        b
                    });
                    if p.total > 0 {
                        bar.set_length(p.total as u64);
                    }
                    if kind == Kind::Blob {
                        bar.set_position(p.current.max(0) as u64);
                    }
                    bar.set_message(p.status.clone());
                    if p.status == "Pull complete"
                        || p.status == "Already unpacked"
                        || p.status == "Pushed"
                        || p.status == "Layer already exists"
                        || p.status == "Mounted"
                    {
                        if let Some(l) = bar.length() {
                            bar.set_position(l);
                        }
                        bar.finish_with_message(p.status.clone());
                    }
                }
                Kind::Unspecified => {}
            },
        }
    }

    pub fn finish(&mut self) {
        if let Display::Bars { bars, .. } = self {
            for b in bars.values() {
                if !b.is_finished() {
                    b.finish();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn humanize() {
        assert_eq!(super::human(999), "999B");
        assert_eq!(super::human(1000), "1kB");
        assert_eq!(super::human(4_260_000), "4.26MB");
        assert_eq!(super::short("sha256:0123456789abcdef"), "0123456789ab");
    }
}

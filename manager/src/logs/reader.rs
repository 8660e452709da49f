//! Reading a json-file log back: all files oldest first, `--since`,
//! `--tail`, and `-t` timestamps.

use super::writer::JsonFileWriter;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub stderr: bool,
    pub time: String,
    pub log: String,
}

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Keep only the last N entries.
    pub tail: Option<usize>,
    /// Keep entries at or after this RFC 3339 time (string compare works
    /// for the fixed-width UTC form the writer produces).
    pub since: Option<String>,
    pub max_file: u32,
}

pub fn read(path: &Path, o: &ReadOptions) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for f in JsonFileWriter::files(path, o.max_file.max(1)) {
        let file = match std::fs::File::open(&f) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for line in BufReader::new(file).lines() {
            let line = line?;
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue; // a torn last line while the writer appends
            };
            let e = Entry {
                stderr: v["stream"] == "stderr",
                time: v["time"].as_str().unwrap_or_default().to_string(),
                log: v["log"].as_str().unwrap_or_default().to_string(),
            };
            if o.since
                .as_ref()
                .is_some_and(|s| e.time.as_str() < s.as_str())
            {
                continue;
            }
            out.push(e);
        }
    }
    if let Some(n) = o.tail {
        let skip = out.len().saturating_sub(n);
        out.drain(..skip);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::writer::{JsonFileWriter, Rotation};
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn tail_since_and_rotated_files_in_order() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c.log");
        let mut w = JsonFileWriter::open(
            &p,
            Rotation {
                max_size: 300,
                max_file: 5,
            },
        )
        .unwrap();
        for i in 0..20u64 {
            let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + i);
            w.write_line(i % 2 == 1, format!("l{i}\n").as_bytes(), at)
                .unwrap();
        }
        let all = read(
            &p,
            &ReadOptions {
                max_file: 5,
                ..Default::default()
            },
        )
        .unwrap();
        let logs: Vec<&str> = all.iter().map(|e| e.log.trim_end()).collect();
        // rotation dropped the oldest, the rest are in order
        assert_eq!(logs.last(), Some(&"l19"));
        assert!(logs
            .windows(2)
            .all(|w| w[0][1..].parse::<u32>().unwrap() < w[1][1..].parse::<u32>().unwrap()));
        assert!(all.iter().any(|e| e.stderr));
        let tail = read(
            &p,
            &ReadOptions {
                tail: Some(3),
                max_file: 5,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            tail.iter().map(|e| e.log.trim_end()).collect::<Vec<_>>(),
            ["l17", "l18", "l19"]
        );
        let since =
            super::super::writer::timestamp(UNIX_EPOCH + Duration::from_secs(1_700_000_018));
        let recent = read(
            &p,
            &ReadOptions {
                since: Some(since),
                max_file: 5,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(recent.len(), 2);
    }
}

//! Appending log lines, rotating `<path>` → `<path>.1` → … → `<path>.N-1`.

use serde_json::json;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rotation {
    /// Rotate when the current file would exceed this many bytes (0: never).
    pub max_size: u64,
    /// Files kept in all, the current one included (≥ 1).
    pub max_file: u32,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_size: 0,
            max_file: 1,
        }
    }
}

pub struct JsonFileWriter {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
    /// Bytes of an unfinished line per stream (0 stdout, 1 stderr).
    partial: [Vec<u8>; 2],
}

/// RFC 3339 with nanoseconds, UTC.
pub fn timestamp(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

impl JsonFileWriter {
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(JsonFileWriter {
            path: path.to_path_buf(),
            file,
            size,
            rotation: Rotation {
                max_file: rotation.max_file.max(1),
                ..rotation
            },
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Feed bytes read from a stream; complete lines are written at once,
    /// a trailing partial line waits for its newline (or `flush_partial`).
    pub fn write_stream(&mut self, stderr: bool, data: &[u8]) -> io::Result<()> {
        let i = usize::from(stderr);
        let mut buf = std::mem::take(&mut self.partial[i]);
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            let end = start + nl + 1;
            self.write_line(stderr, &buf[start..end], std::time::SystemTime::now())?;
            start = end;
        }
        // Docker splits very long lines at 16 KiB.
        while buf.len() - start > 16 * 1024 {
            let end = start + 16 * 1024;
            self.write_line(stderr, &buf[start..end], std::time::SystemTime::now())?;
            start = end;
        }
        self.partial[i] = buf[start..].to_vec();
        Ok(())
    }

    /// Write what is left of unfinished lines (at stream end).
    pub fn flush_partial(&mut self) -> io::Result<()> {
        for i in 0..2 {
            let rest = std::mem::take(&mut self.partial[i]);
            if !rest.is_empty() {
                self.write_line(i == 1, &rest, std::time::SystemTime::now())?;
            }
        }
        self.file.flush()
    }

    pub fn write_line(
        &mut self,
        stderr: bool,
        line: &[u8],
        at: std::time::SystemTime,
    ) -> io::Result<()> {
        let entry = json!({
            "log": String::from_utf8_lossy(line),
            "stream": if stderr { "stderr" } else { "stdout" },
            "time": timestamp(at),
        });
        let mut text = entry.to_string();
        text.push('\n');
        let len = text.len() as u64;
        if self.rotation.max_size > 0 && self.size > 0 && self.size + len > self.rotation.max_size {
            self.rotate()?;
        }
        self.file.write_all(text.as_bytes())?;
        self.size += len;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let n = self.rotation.max_file;
        if n <= 1 {
            // Only one file allowed: start it over.
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let name = |i: u32| -> PathBuf {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        let _ = std::fs::remove_file(name(n - 1));
        for i in (1..n - 1).rev() {
            let _ = std::fs::rename(name(i), name(i + 1));
        }
        std::fs::rename(&self.path, name(1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }

    /// Every file of this log, oldest first.
    pub fn files(path: &Path, max_file: u32) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for i in (1..max_file.max(1)).rev() {
            let mut p = path.to_path_buf().into_os_string();
            p.push(format!(".{i}"));
            let p = PathBuf::from(p);
            if p.exists() {
                out.push(p);
            }
        }
        out.push(path.to_path_buf());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_with_stream_and_time() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c.log");
        let mut w = JsonFileWriter::open(&p, Rotation::default()).unwrap();
        w.write_stream(false, b"hello\nwor").unwrap();
        w.write_stream(true, b"oops\n").unwrap();
        w.write_stream(false, b"ld\n").unwrap();
        w.flush_partial().unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["log"], "hello\n");
        assert_eq!(lines[1]["stream"], "stderr");
        assert_eq!(lines[2]["log"], "world\n");
        assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn rotates_by_size_keeping_max_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c.log");
        let mut w = JsonFileWriter::open(
            &p,
            Rotation {
                max_size: 200,
                max_file: 3,
            },
        )
        .unwrap();
        for i in 0..40 {
            w.write_stream(false, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        let files = JsonFileWriter::files(&p, 3);
        assert_eq!(files.len(), 3, "{files:?}");
        for f in &files {
            assert!(std::fs::metadata(f).unwrap().len() <= 200);
        }
        assert!(!t.path().join("c.log.3").exists());
        let last = std::fs::read_to_string(&p).unwrap();
        assert!(last.contains("line 39"));
    }

    #[test]
    fn timestamps() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_709_251_200, 5);
        assert_eq!(timestamp(t), "2024-03-01T00:00:00.000000005Z");
    }
}

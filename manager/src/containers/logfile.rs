//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"…\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}`,
//! in `container.log`, rotated by size into `container.log.1`, `.2`, …
//!
//! The writer runs as the shim's logging binary (`hull-log-driver`, started
//! through a `binary://` stdout URI with the container's stdout and stderr
//! on fds 3 and 4), so logging goes on while hulld is away.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

pub const LOG_FILE: &str = "container.log";
const LOCK_FILE: &str = "log.lock";

/// Wait (at most `timeout`) until the log driver of `dir` has written
/// everything and exited.
pub fn wait_driver(dir: &Path, timeout: std::time::Duration) {
    let Ok(f) = OpenOptions::new().write(true).open(dir.join(LOCK_FILE)) else {
        return; // no driver ever ran here
    };
    let deadline = std::time::Instant::now() + timeout;
    let mut f = f;
    loop {
        match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(_) => return,
            Err((back, _)) => f = back,
        }
        if std::time::Instant::now() > deadline {
            tracing::warn!(dir = %dir.display(), "log driver still running");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
/// Longest piece of a line kept before it is written as a partial entry.
const MAX_LINE: usize = 16 * 1024;

use hull_types::time::now_nanos;
pub use hull_types::time::rfc3339_nanos;

/// One log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// 1 stdout, 2 stderr.
    pub stream: u32,
    pub data: Vec<u8>,
    pub time_nanos: i64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    log: String,
    stream: String,
    time: String,
    /// Unix nanoseconds (hull's addition, so readers need not parse `time`).
    #[serde(default)]
    t: i64,
    /// The exact bytes (base64) when they are not UTF-8 (`log` then holds
    /// a lossy copy): attach and `logs` give back what the process wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    raw: Option<String>,
}

pub fn encode(e: &Entry) -> String {
    use base64::Engine;
    let raw = std::str::from_utf8(&e.data)
        .is_err()
        .then(|| base64::engine::general_purpose::STANDARD.encode(&e.data));
    let l = Line {
        raw,
        log: String::from_utf8_lossy(&e.data).into_owned(),
        stream: if e.stream == 2 { "stderr" } else { "stdout" }.into(),
        time: rfc3339_nanos(e.time_nanos),
        t: e.time_nanos,
    };
    serde_json::to_string(&l).unwrap_or_default()
}

pub fn decode(line: &str) -> Option<Entry> {
    use base64::Engine;
    let l: Line = serde_json::from_str(line).ok()?;
    let data = match l.raw.as_deref() {
        Some(r) => base64::engine::general_purpose::STANDARD.decode(r).ok()?,
        None => l.log.into_bytes(),
    };
    Some(Entry {
        stream: if l.stream == "stderr" { 2 } else { 1 },
        data,
        time_nanos: l.t,
    })
}

/// The log files of a container, oldest first.
pub fn files(dir: &Path, max_file: u32) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for i in (1..max_file.max(1)).rev() {
        let p = dir.join(format!("{LOG_FILE}.{i}"));
        if p.exists() {
            v.push(p);
        }
    }
    v.push(dir.join(LOG_FILE));
    v
}

/// How much of a log file one `read_entries` call reads (about): what
/// `logs` holds at once, whatever the size of the log.
pub const READ_CHUNK: usize = 1 << 20;

/// Longer than any line the writer makes (MAX_LINE bytes, JSON-escaped and
/// base64'd): bytes this long without a newline are not a log line, and
/// `read_entries` skips them rather than holding them.
const MAX_ENCODED_LINE: usize = 8 << 20;

/// Entries of a json-lines log file from byte `offset` (see
/// `read_lines`), and the offset after the last line read.
pub fn read_entries(p: &Path, offset: u64, limit: usize) -> (Vec<Entry>, u64) {
    let (lines, next) = read_lines(p, offset, limit);
    let out = String::from_utf8_lossy(&lines)
        .lines()
        .filter_map(decode)
        .collect();
    (out, next)
}

/// The complete lines of a log file from byte `offset` within about
/// `limit` bytes (at least one line when there is one, however long), and
/// the offset after the last of them. A file shorter than `offset` was
/// rotated: read it from the start.
pub fn read_lines(p: &Path, offset: u64, limit: usize) -> (Vec<u8>, u64) {
    use std::io::{Seek, SeekFrom};
    let Ok(mut f) = File::open(p) else {
        return (Vec::new(), offset);
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let offset = if len < offset { 0 } else { offset };
    if f.seek(SeekFrom::Start(offset)).is_err() {
        return (Vec::new(), offset);
    }
    let mut buf = Vec::new();
    let mut complete = 0;
    loop {
        let before = buf.len();
        if (&mut f)
            .take(limit.max(1) as u64)
            .read_to_end(&mut buf)
            .is_err()
        {
            return (Vec::new(), offset);
        }
        if let Some(i) = buf[before..].iter().rposition(|b| *b == b'\n') {
            complete = before + i + 1;
            break;
        }
        if buf.len() == before {
            break; // end of file, no newline: a line still being written
        }
        if buf.len() > MAX_ENCODED_LINE {
            tracing::warn!(path = %p.display(), offset, "skipping {} bytes without a newline", buf.len());
            return (Vec::new(), offset + buf.len() as u64);
        }
    }
    buf.truncate(complete);
    (buf, offset + complete as u64)
}

/// Where the last `n` complete lines of the file `p` start, read backwards
/// from its end in blocks (a line still being written does not count), and
/// how many complete lines that is (fewer than `n`: the whole file).
pub fn tail_start(p: &Path, n: usize) -> (u64, usize) {
    use std::io::{Seek, SeekFrom};
    const BLOCK: u64 = 64 * 1024;
    let Ok(mut f) = File::open(p) else {
        return (0, 0);
    };
    let mut pos = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut newlines = 0;
    let mut buf = vec![0u8; BLOCK as usize];
    while pos > 0 {
        let start = pos.saturating_sub(BLOCK);
        let want = (pos - start) as usize;
        if f.seek(SeekFrom::Start(start)).is_err() || f.read_exact(&mut buf[..want]).is_err() {
            break;
        }
        for (i, b) in buf[..want].iter().enumerate().rev() {
            if *b != b'\n' {
                continue;
            }
            // The first newline from the end closes the last complete line;
            // the (n+1)-th one ends the line before the n wanted.
            newlines += 1;
            if newlines == n + 1 {
                return (start + i as u64 + 1, n);
            }
        }
        pos = start;
    }
    (0, newlines)
}

/// The files of `dir` and where to start reading each, oldest first, for
/// the last `tail` complete lines of the log (None: all of it). The current
/// file always comes last.
pub fn read_plan(dir: &Path, tail: Option<usize>) -> Vec<(PathBuf, u64)> {
    let all = files(dir, 100);
    let Some(mut left) = tail else {
        return all.into_iter().map(|p| (p, 0)).collect();
    };
    let mut plan = Vec::new();
    for (i, p) in all.into_iter().rev().enumerate() {
        if left == 0 && i > 0 {
            break;
        }
        let (start, lines) = tail_start(&p, left);
        left -= lines;
        plan.push((p, start));
    }
    plan.reverse();
    plan
}

/// Every entry in the log files of `dir` (rotated ones first).
pub fn read_all(dir: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for p in files(dir, 100) {
        let Ok(f) = File::open(&p) else { continue };
        for line in BufReader::new(f).lines().map_while(Result::ok) {
            if let Some(e) = decode(&line) {
                out.push(e);
            }
        }
    }
    out
}

/// A size-rotated json-lines writer.
pub struct Writer {
    dir: PathBuf,
    file: File,
    size: u64,
    /// 0: never rotate.
    max_size: u64,
    max_file: u32,
}

impl Writer {
    pub fn open(dir: &Path, max_size: u64, max_file: u32) -> std::io::Result<Writer> {
        let path = dir.join(LOG_FILE);
        // Containers' output (secrets too, often): root's alone.
        let file = crate::private::options()
            .create(true)
            .append(true)
            .open(&path)?;
        crate::private::fix_open_file(&file, crate::private::FILE_MODE)?;
        let size = file.metadata()?.len();
        Ok(Writer {
            dir: dir.to_path_buf(),
            file,
            size,
            max_size,
            max_file: max_file.max(1),
        })
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let main = self.dir.join(LOG_FILE);
        if self.max_file <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for i in (1..self.max_file - 1).rev() {
            let from = self.dir.join(format!("{LOG_FILE}.{i}"));
            if from.exists() {
                std::fs::rename(&from, self.dir.join(format!("{LOG_FILE}.{}", i + 1)))?;
            }
        }
        std::fs::rename(&main, self.dir.join(format!("{LOG_FILE}.1")))?;
        self.file = crate::private::options()
            .create(true)
            .append(true)
            .open(&main)?;
        self.size = 0;
        Ok(())
    }

    pub fn write(&mut self, e: &Entry) -> std::io::Result<()> {
        let mut line = encode(e);
        line.push('\n');
        if self.max_size > 0 && self.size > 0 && self.size + line.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(line.as_bytes())?;
        self.size += line.len() as u64;
        Ok(())
    }
}

/// How long output that does not end a line (a shell's prompt) waits for
/// more before it is written as an entry of its own, so that followers
/// (`attach`, `logs -f`) see it without waiting for a newline.
const PARTIAL_WAIT_MS: u16 = 10;

/// Where to cut `b` so no UTF-8 sequence is split: before a trailing
/// incomplete sequence, else the whole length.
fn utf8_cut(b: &[u8]) -> usize {
    let n = b.len();
    for back in 1..=n.min(4) {
        let c = b[n - back];
        if c & 0xC0 == 0x80 {
            continue; // continuation byte
        }
        let need = match c {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if need > back { n - back } else { n };
    }
    n
}

/// Where the driver writes entries: Docker's json-file or CRI's format.
pub enum Sink {
    Json(Writer),
    Cri(super::cri_log::Writer),
}

impl Sink {
    fn write(&mut self, e: &Entry) -> std::io::Result<()> {
        match self {
            Sink::Json(w) => w.write(e),
            Sink::Cri(w) => w.write(e),
        }
    }
}

/// One output stream the driver copies.
struct Stream {
    from: Option<File>,
    /// 1 stdout, 2 stderr.
    no: u32,
    /// Output not written yet: the start of a line.
    pending: Vec<u8>,
    /// When output last came (a partial line's quiet spell starts there).
    last: std::time::Instant,
}

impl Stream {
    fn new(from: File, no: u32) -> Stream {
        Stream {
            from: Some(from),
            no,
            pending: Vec::new(),
            last: std::time::Instant::now(),
        }
    }

    fn write(&self, w: &mut Sink, data: Vec<u8>) {
        let _ = w.write(&Entry {
            stream: self.no,
            data,
            time_nanos: now_nanos(),
        });
    }

    /// Read what is there: whole lines (and overlong pieces) are written,
    /// the rest waits. False at the stream's end.
    fn read(&mut self, buf: &mut [u8], w: &mut Sink) -> bool {
        let Some(from) = self.from.as_mut() else {
            return false;
        };
        let n = match from.read(buf) {
            Ok(0) => 0,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return true,
            Err(_) => 0,
        };
        if n == 0 {
            self.from = None;
            let rest = std::mem::take(&mut self.pending);
            if !rest.is_empty() {
                self.write(w, rest);
            }
            return false;
        }
        self.last = std::time::Instant::now();
        self.pending.extend_from_slice(&buf[..n]);
        while let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
            let rest = self.pending.split_off(i + 1);
            let line = std::mem::replace(&mut self.pending, rest);
            self.write(w, line);
        }
        if self.pending.len() >= MAX_LINE {
            let piece = std::mem::take(&mut self.pending);
            self.write(w, piece);
        }
        true
    }

    /// How long until its partial line is due (None: nothing to write).
    fn partial_due(&self, wait: std::time::Duration) -> Option<std::time::Duration> {
        (utf8_cut(&self.pending) > 0)
            .then(|| (self.last + wait).saturating_duration_since(std::time::Instant::now()))
    }

    /// Write the partial line that has waited long enough.
    fn flush_partial(&mut self, wait: std::time::Duration, w: &mut Sink) {
        if self.partial_due(wait) == Some(std::time::Duration::ZERO) {
            let cut = utf8_cut(&self.pending);
            let rest = self.pending.split_off(cut);
            let piece = std::mem::replace(&mut self.pending, rest);
            self.write(w, piece);
        }
    }
}

/// Copy both streams into the writer, line by line, on one thread (a
/// driver runs per container: a second thread would cost its stack and a
/// malloc arena); with `partial`, a stream's partial line is written once
/// that stream was quiet for PARTIAL_WAIT_MS.
fn pump(out: File, err: File, w: &mut Sink, partial: bool) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let wait = std::time::Duration::from_millis(PARTIAL_WAIT_MS.into());
    let mut streams = [Stream::new(out, 1), Stream::new(err, 2)];
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let due = streams
            .iter()
            .filter(|_| partial)
            .filter_map(|s| s.partial_due(wait))
            .min();
        let timeout = match due {
            // Rounded up: woken before it is due, nothing would be written.
            Some(d) => PollTimeout::from(d.as_micros().div_ceil(1000).min(u16::MAX.into()) as u16),
            None => PollTimeout::NONE,
        };
        let ready: Vec<usize> = {
            let open: Vec<(usize, PollFd)> = streams
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    s.from
                        .as_ref()
                        .map(|f| (i, PollFd::new(f.as_fd(), PollFlags::POLLIN)))
                })
                .collect();
            if open.is_empty() {
                break;
            }
            let (which, mut fds): (Vec<usize>, Vec<PollFd>) = open.into_iter().unzip();
            match poll(&mut fds, timeout) {
                Ok(_) => which
                    .into_iter()
                    .zip(&fds)
                    .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
                    .map(|(i, _)| i)
                    .collect(),
                Err(nix::errno::Errno::EINTR) => Vec::new(),
                // Cannot wait: read on (blocking) until the streams end.
                Err(_) => which,
            }
        };
        for i in ready {
            streams[i].read(&mut buf, w);
        }
        if partial {
            for s in streams.iter_mut() {
                s.flush_partial(wait, w);
            }
        }
    }
}

/// The logging binary: stdout on fd 3, stderr on fd 4, fd 5 closed when
/// ready; runs until both streams end.
/// `partial_lines`: write partial lines after a quiet spell (interactive
/// containers, whose prompts attach must show).
/// `cri_log`: write CRI's format at that file instead of json-file in `dir`.
pub fn run_driver(
    dir: &Path,
    max_size: u64,
    max_file: u32,
    partial_lines: bool,
    cri_log: Option<&Path>,
) -> std::io::Result<()> {
    use std::os::fd::FromRawFd;
    // Held while we run: hulld records a task's exit only after taking it,
    // so every line is in the file by then (see `wait_driver`).
    let lock = crate::private::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))?;
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| std::io::Error::from(e))?;
    let mut sink = match cri_log {
        Some(p) => Sink::Cri(super::cri_log::Writer::open(p)?),
        None => Sink::Json(Writer::open(dir, max_size, max_file)?),
    };
    // SAFETY: the shim hands us fds 3, 4 and 5 (containerd's logging binary
    // protocol); we own them from here on.
    let (out, err, ready) = unsafe {
        (
            File::from_raw_fd(3),
            File::from_raw_fd(4),
            File::from_raw_fd(5),
        )
    };
    drop(ready);
    pump(out, err, &mut sink, partial_lines);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_and_rotate() {
        let tmp = tempfile::tempdir().unwrap();
        let e = Entry {
            stream: 2,
            data: b"hello \"x\"\n".to_vec(),
            time_nanos: 5,
        };
        let line = encode(&e);
        assert!(line.contains("\"stream\":\"stderr\""), "{line}");
        assert_eq!(decode(&line), Some(e));

        let mut w = Writer::open(tmp.path(), 200, 3).unwrap();
        for i in 0..20 {
            w.write(&Entry {
                stream: 1,
                data: format!("line {i}\n").into_bytes(),
                time_nanos: i,
            })
            .unwrap();
        }
        // Three files at most, each within the limit, newest entries kept
        // in order.
        assert!(tmp.path().join("container.log.2").exists());
        assert!(!tmp.path().join("container.log.3").exists());
        for f in files(tmp.path(), 3) {
            assert!(std::fs::metadata(&f).unwrap().len() <= 200);
        }
        let all = read_all(tmp.path());
        assert_eq!(all.last().unwrap().data, b"line 19\n");
        let ts: Vec<i64> = all.iter().map(|e| e.time_nanos).collect();
        assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");
        assert!(all.len() < 20);
    }

    fn write_lines(dir: &Path, name: &str, from: i64, to: i64, partial: bool) {
        let mut f = File::create(dir.join(name)).unwrap();
        for i in from..to {
            let e = Entry {
                stream: 1,
                data: format!("line {i}\n").into_bytes(),
                time_nanos: i,
            };
            writeln!(f, "{}", encode(&e)).unwrap();
        }
        if partial {
            write!(f, "{{\"log\":\"half").unwrap();
        }
    }

    fn read_plan_entries(dir: &Path, tail: Option<usize>, limit: usize) -> Vec<i64> {
        let mut out = Vec::new();
        for (p, mut off) in read_plan(dir, tail) {
            loop {
                let (es, next) = read_entries(&p, off, limit);
                if next == off {
                    break;
                }
                out.extend(es.iter().map(|e| e.time_nanos));
                off = next;
            }
        }
        out
    }

    #[test]
    fn tail_reads_back_from_the_end_across_blocks_and_files() {
        let tmp = tempfile::tempdir().unwrap();
        // ~100 bytes a line: 3000 lines span several 64 KiB blocks.
        write_lines(tmp.path(), "container.log", 1000, 4000, true);
        let (start, n) = tail_start(&tmp.path().join("container.log"), 2);
        assert_eq!(n, 2);
        assert_eq!(
            read_entries(&tmp.path().join("container.log"), start, 1 << 20)
                .0
                .len(),
            2
        );
        assert_eq!(read_plan_entries(tmp.path(), Some(2), 64), [3998, 3999]);
        assert_eq!(
            read_plan_entries(tmp.path(), Some(0), 64),
            Vec::<i64>::new()
        );
        let last_2500: Vec<i64> = (1500..4000).collect();
        assert_eq!(read_plan_entries(tmp.path(), Some(2500), 4096), last_2500);
        // More than the current file holds: the rest from the rotated one.
        write_lines(tmp.path(), "container.log.1", 0, 1000, false);
        let want: Vec<i64> = (900..4000).collect();
        assert_eq!(read_plan_entries(tmp.path(), Some(3100), 1 << 20), want);
        let all: Vec<i64> = (0..4000).collect();
        assert_eq!(read_plan_entries(tmp.path(), Some(10_000), 100), all);
        assert_eq!(read_plan_entries(tmp.path(), None, 1000), all);
    }

    #[test]
    fn read_entries_stops_at_complete_lines() {
        let tmp = tempfile::tempdir().unwrap();
        write_lines(tmp.path(), "container.log", 0, 3, true);
        let p = tmp.path().join("container.log");
        // A limit shorter than a line still gives one whole line.
        let (es, off) = read_entries(&p, 0, 1);
        assert_eq!(es.len(), 1);
        let (es, off) = read_entries(&p, off, 1 << 20);
        assert_eq!(es.len(), 2);
        assert_eq!(read_entries(&p, off, 1 << 20), (vec![], off));
        assert_eq!(tail_start(&tmp.path().join("missing"), 3), (0, 0));

        // A run of bytes no writer makes (a hole of zeros) is skipped, not
        // held: the lines after it are read.
        let p = tmp.path().join("holey.log");
        let f = File::create(&p).unwrap();
        f.set_len(3 * MAX_ENCODED_LINE as u64).unwrap();
        drop(f);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        writeln!(f).unwrap();
        let e = Entry {
            stream: 1,
            data: b"after\n".to_vec(),
            time_nanos: 7,
        };
        writeln!(f, "{}", encode(&e)).unwrap();
        let (mut off, mut got) = (0, Vec::new());
        loop {
            let (es, next) = read_entries(&p, off, READ_CHUNK);
            if next == off {
                break;
            }
            got.extend(es);
            off = next;
        }
        assert_eq!(got, [e]);
    }

    #[test]
    fn raw_bytes_and_utf8_cuts() {
        let e = Entry {
            stream: 1,
            data: vec![0xff, b'a', 0x00, 0xc3],
            time_nanos: 1,
        };
        assert_eq!(decode(&encode(&e)), Some(e));
        assert!(!encode(&Entry {
            stream: 1,
            data: b"plain".to_vec(),
            time_nanos: 1
        })
        .contains("raw"));
        assert_eq!(utf8_cut(b"ab"), 2);
        assert_eq!(utf8_cut("aé".as_bytes()), 3);
        assert_eq!(utf8_cut(&"aé".as_bytes()[..2]), 1);
        assert_eq!(utf8_cut(&"a€".as_bytes()[..3]), 1);
        assert_eq!(utf8_cut(&[0xff]), 1);
        assert_eq!(utf8_cut(&[]), 0);
    }
}

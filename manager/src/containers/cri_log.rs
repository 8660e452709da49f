//! Container output in the CRI log format kubelet reads: one line per
//! piece of output, `RFC3339Nano STREAM TAG TEXT`, where STREAM is `stdout`
//! or `stderr` and TAG is `F` for a full line (its newline is the line's
//! end) or `P` for a partial one (more of the same line follows).
//!
//! Written by the log driver (`hull-log-driver --cri-log FILE`) at the path
//! kubelet gave. kubelet rotates by renaming the file, then asks for a
//! reopen (ReopenContainerLog), which makes the new file: the writer sees
//! the path lead to another file (or none) and opens it before its next
//! line.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::logfile::{rfc3339_nanos, Entry};

/// One entry as a CRI log line (with its newline).
pub fn format(e: &Entry) -> Vec<u8> {
    let (text, tag) = match e.data.strip_suffix(b"\n") {
        Some(t) => (t, "F"),
        None => (&e.data[..], "P"),
    };
    let stream = if e.stream == 2 { "stderr" } else { "stdout" };
    let mut out = format!("{} {stream} {tag} ", rfc3339_nanos(e.time_nanos)).into_bytes();
    out.extend_from_slice(text);
    out.push(b'\n');
    out
}

/// Open (create) the log file: root's alone, appended to.
pub fn open(path: &Path) -> std::io::Result<File> {
    let file = crate::private::options()
        .create(true)
        .append(true)
        .open(path)?;
    crate::private::fix_open_file(&file, crate::private::FILE_MODE)?;
    Ok(file)
}

/// Appends CRI lines to a file, following it when it is renamed away.
pub struct Writer {
    path: PathBuf,
    file: File,
    ino: u64,
}

impl Writer {
    pub fn open(path: &Path) -> std::io::Result<Writer> {
        let file = open(path)?;
        let ino = file.metadata()?.ino();
        Ok(Writer {
            path: path.to_path_buf(),
            file,
            ino,
        })
    }

    /// The path leads to another file now (or to none): write there.
    fn follow(&mut self) -> std::io::Result<()> {
        let now = std::fs::metadata(&self.path).map(|m| m.ino()).ok();
        if now != Some(self.ino) {
            self.file = open(&self.path)?;
            self.ino = self.file.metadata()?.ino();
        }
        Ok(())
    }

    pub fn write(&mut self, e: &Entry) -> std::io::Result<()> {
        self.follow()?;
        self.file.write_all(&format(e))
    }
}

/// One line (without its newline) back into an entry; its time is not
/// read (0).
pub fn parse(line: &[u8]) -> Option<Entry> {
    let mut f = line.splitn(4, |b| *b == b' ');
    let (_time, stream, tag) = (f.next()?, f.next()?, f.next()?);
    let mut data = f.next().unwrap_or_default().to_vec();
    let stream = match stream {
        b"stdout" => 1,
        b"stderr" => 2,
        _ => return None,
    };
    match tag {
        b"F" => data.push(b'\n'),
        b"P" => {}
        _ => return None,
    }
    Some(Entry {
        stream,
        data,
        time_nanos: 0,
    })
}

/// The entries of the whole lines of the log at `p` from `offset` (see
/// `logfile::read_lines`), and the offset after the last of them.
pub fn read_entries(p: &Path, offset: u64, limit: usize) -> (Vec<Entry>, u64) {
    let (lines, next) = super::logfile::read_lines(p, offset, limit);
    let entries = lines
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(parse)
        .collect();
    (entries, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stream: u32, data: &[u8]) -> Entry {
        Entry {
            stream,
            data: data.to_vec(),
            time_nanos: 1_700_000_000_123_456_789,
        }
    }

    #[test]
    fn full_and_partial_lines() {
        assert_eq!(
            String::from_utf8(format(&entry(1, b"hello\n"))).unwrap(),
            "2023-11-14T22:13:20.123456789Z stdout F hello\n"
        );
        assert_eq!(
            String::from_utf8(format(&entry(2, b"no end"))).unwrap(),
            "2023-11-14T22:13:20.123456789Z stderr P no end\n"
        );
        assert_eq!(
            String::from_utf8(format(&entry(1, b"\n"))).unwrap(),
            "2023-11-14T22:13:20.123456789Z stdout F \n"
        );
    }

    #[test]
    fn lines_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("c.log");
        let mut w = Writer::open(&p).unwrap();
        w.write(&entry(1, b"one\n")).unwrap();
        w.write(&entry(2, b"two")).unwrap();
        let (got, off) = read_entries(&p, 0, 1 << 20);
        let got: Vec<_> = got.into_iter().map(|e| (e.stream, e.data)).collect();
        assert_eq!(got, vec![(1, b"one\n".to_vec()), (2, b"two".to_vec())]);
        assert_eq!(off, std::fs::metadata(&p).unwrap().len());
        // A line still being written waits.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"2023 stdout F x")
            .unwrap();
        assert_eq!(read_entries(&p, off, 1 << 20), (vec![], off));
    }

    #[test]
    fn a_renamed_file_is_followed_by_a_new_one() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("c.log");
        let mut w = Writer::open(&p).unwrap();
        w.write(&entry(1, b"one\n")).unwrap();
        std::fs::rename(&p, tmp.path().join("c.log.1")).unwrap();
        w.write(&entry(1, b"two\n")).unwrap();
        let old = std::fs::read_to_string(tmp.path().join("c.log.1")).unwrap();
        let new = std::fs::read_to_string(&p).unwrap();
        assert!(
            old.ends_with(" stdout F one\n") && !old.contains("two"),
            "{old}"
        );
        assert!(
            new.ends_with(" stdout F two\n") && !new.contains("one"),
            "{new}"
        );
    }
}

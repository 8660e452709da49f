//! Disk-space bounds for writing layers and blobs: a layer may claim (in a
//! tar header or a sparse map) or expand to (a gzip bomb) far more than the
//! file system holds. Writers check `statvfs` before each file and as they
//! go, and stop with a one-line error while `reserve` bytes are still free,
//! so the metadata database and running containers keep room to work.

use std::path::Path;

use crate::error::{Error, Result};

/// How much free space to leave: bytes, or a share of the file system.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reserve {
    Bytes(u64),
    Percent(f64),
    /// The smaller of 1 GiB and 5 % of the file system (the default).
    Auto,
}

impl Reserve {
    /// Parse `"1GiB"`, `"512M"`, `"4096"`, `"5%"` or `"auto"`.
    pub fn parse(s: &str) -> Result<Reserve> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("auto") {
            return Ok(Reserve::Auto);
        }
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p.trim().parse().map_err(|_| bad_size(s))?;
            if !(0.0..=100.0).contains(&v) {
                return Err(bad_size(s));
            }
            return Ok(Reserve::Percent(v));
        }
        parse_size(t).map(Reserve::Bytes)
    }

    /// The reserve in bytes on a file system of `total` bytes.
    pub fn bytes(self, total: u64) -> u64 {
        match self {
            Reserve::Bytes(b) => b,
            Reserve::Percent(p) => (total as f64 * p / 100.0) as u64,
            Reserve::Auto => (1u64 << 30).min(total / 20),
        }
    }
}

fn bad_size(s: &str) -> Error {
    Error::InvalidArgument(format!(
        "invalid size {s:?} (want e.g. 1073741824, 512MiB, 1GB or 5%)"
    ))
}

/// Parse a byte size with an optional unit (k, m, g, t; `i`/`B` optional;
/// binary multiples either way, as Docker's units do for storage).
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad_size(s))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(bad_size(s)),
    };
    if !n.is_finite() || n < 0.0 {
        return Err(bad_size(s));
    }
    Ok((n * mult as f64) as u64)
}

/// `1.5 GiB`-style rendering for messages.
pub fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < U.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// Free space of the file system holding a path.
#[derive(Debug, Clone, Copy)]
pub struct FsSpace {
    /// Bytes an unprivileged writer may still use.
    pub avail: u64,
    pub total: u64,
    /// Free inodes (0 when the file system does not count them).
    pub inodes_avail: u64,
    pub inodes_total: u64,
}

pub fn fs_space(path: &Path) -> std::io::Result<FsSpace> {
    let st = nix::sys::statvfs::statvfs(path).map_err(std::io::Error::from)?;
    let frsize = st.fragment_size().max(1) as u64;
    Ok(FsSpace {
        avail: st.blocks_available() as u64 * frsize,
        total: st.blocks() as u64 * frsize,
        inodes_avail: st.files_available() as u64,
        inodes_total: st.files() as u64,
    })
}

/// The bounds applied while writing layers and blobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpaceLimit {
    pub reserve: Reserve,
    /// Largest single file a layer may hold (0: no limit but free space).
    pub max_file_size: u64,
}

/// How often (bytes written) a long write re-checks free space.
pub const CHECK_EVERY: u64 = 4 << 20;

impl SpaceLimit {
    /// No reserve and no file-size limit: only what does not fit at all
    /// is refused.
    pub fn unlimited() -> SpaceLimit {
        SpaceLimit {
            reserve: Reserve::Bytes(0),
            max_file_size: 0,
        }
    }

    /// Fail when writing `need` more bytes under `dir` would leave less
    /// than the reserve free. `what` names the thing written.
    pub fn check(&self, dir: &Path, need: u64, what: &dyn Fn() -> String) -> Result<()> {
        let sp = match fs_space(dir) {
            Ok(s) => s,
            // Unknown (e.g. the directory went away): let the write decide.
            Err(_) => return Ok(()),
        };
        decide(self.reserve, sp, need, what, dir)
    }
}

/// The pure decision of `SpaceLimit::check`.
pub fn decide(
    reserve: Reserve,
    sp: FsSpace,
    need: u64,
    what: &dyn Fn() -> String,
    dir: &Path,
) -> Result<()> {
    let keep = reserve.bytes(sp.total);
    if sp.avail < keep.saturating_add(need) {
        let usable = sp.avail.saturating_sub(keep);
        return Err(Error::NoSpace(format!(
            "{}: needs {} more but only {} of {} free on {} may be used (min_free_space keeps {})",
            what(),
            human(need),
            human(usable),
            human(sp.total),
            dir.display(),
            human(keep)
        )));
    }
    // Inodes: an archive of millions of empty files fills a file system too.
    if sp.inodes_total > 0 && sp.inodes_avail < (sp.inodes_total / 100).clamp(16, 4096) {
        return Err(Error::NoSpace(format!(
            "{}: only {} of {} inodes free on {}",
            what(),
            sp.inodes_avail,
            sp.inodes_total,
            dir.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1").is_err());
        assert_eq!(Reserve::parse("5%").unwrap(), Reserve::Percent(5.0));
        assert_eq!(Reserve::parse("auto").unwrap(), Reserve::Auto);
        assert!(Reserve::parse("150%").is_err());
        assert_eq!(Reserve::Percent(5.0).bytes(1000), 50);
        assert_eq!(Reserve::Auto.bytes(64 << 20), (64 << 20) / 20);
        assert_eq!(Reserve::Auto.bytes(1 << 40), 1 << 30);
    }

    #[test]
    fn decide_keeps_the_reserve() {
        let sp = FsSpace {
            avail: 100 << 20,
            total: 1 << 30,
            inodes_avail: 1000,
            inodes_total: 1000,
        };
        let what = || "layer x".to_string();
        let p = Path::new("/r");
        assert!(decide(Reserve::Bytes(10 << 20), sp, 80 << 20, &what, p).is_ok());
        let e = decide(Reserve::Bytes(10 << 20), sp, 95 << 20, &what, p).unwrap_err();
        assert!(matches!(e, Error::NoSpace(_)), "{e}");
        assert!(e.to_string().contains("layer x"), "{e}");
        // A sparse claim of 10 GiB on 100 MiB free.
        assert!(decide(Reserve::Bytes(0), sp, 10 << 30, &what, p).is_err());
        let few = FsSpace {
            inodes_avail: 3,
            ..sp
        };
        assert!(decide(Reserve::Bytes(0), few, 0, &what, p).is_err());
    }
}

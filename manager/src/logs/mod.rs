//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"…\n","stream":"stdout"|"stderr","time":"RFC 3339 nanos"}`,
//! rotated by size (`--log-opt max-size`, `max-file`), and read back for
//! `hull logs [--tail N] [--since T] [-t]`.

pub mod reader;
pub mod writer;

pub use reader::{read, Entry, ReadOptions};
pub use writer::{JsonFileWriter, Rotation};

/// "10m", "512k", "1g", "2048" → bytes (Docker's max-size).
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.trim_end_matches('b');
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1u64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("10m"), Some(10 << 20));
        assert_eq!(super::parse_size("512k"), Some(512 << 10));
        assert_eq!(super::parse_size("100"), Some(100));
        assert_eq!(super::parse_size("x"), None);
    }
}

//! Identifiers and names of what hulld makes: random 64-hex IDs, Docker's
//! rule for names, and generated `adjective_surname` names.

pub mod names;

/// A new ID (containers, networks, volumes, execs): 64 hex digits, like
/// Docker's.
pub fn new_id() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut rnd = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut rnd);
    }
    h.update(rnd);
    h.update(std::process::id().to_le_bytes());
    h.update(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            .to_le_bytes(),
    );
    hex::encode(h.finalize())
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(n: &str) -> bool {
    n.len() >= 2
        && n.len() <= 128
        && n.as_bytes()[0].is_ascii_alphanumeric()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

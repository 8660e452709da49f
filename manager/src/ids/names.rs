//! Generated container names, Docker style: `adjective_surname` (surnames
//! of scientists and engineers), with a digit appended after a collision.

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "ancient", "ardent", "autumn", "bold", "brave", "breezy", "bright", "brisk",
    "calm", "candid", "careful", "cheerful", "clever", "cosmic", "crisp", "curious", "daring",
    "dazzling", "devoted", "diligent", "eager", "earnest", "elated", "elegant", "epic", "fearless",
    "fervent", "festive", "fond", "friendly", "frosty", "gallant", "gentle", "gifted", "glad",
    "golden", "graceful", "hardy", "hearty", "honest", "hopeful", "humble", "jolly", "jovial",
    "keen", "kind", "lively", "loyal", "lucid", "lucky", "mellow", "merry", "mighty", "modest",
    "nimble", "noble", "patient", "peaceful", "placid", "plucky", "polite", "proud", "quick",
    "quiet", "radiant", "rapid", "serene", "sharp", "shiny", "silent", "sincere", "smooth",
    "snowy", "spry", "steady", "stoic", "sunny", "swift", "tender", "thrifty", "tidy", "trusty",
    "upbeat", "valiant", "vibrant", "vivid", "warm", "wise", "witty", "zealous", "zesty",
];

const SURNAMES: &[&str] = &[
    "agnesi",
    "alhazen",
    "archimedes",
    "babbage",
    "banach",
    "bardeen",
    "bartik",
    "bell",
    "bernoulli",
    "blackwell",
    "bohr",
    "boole",
    "borg",
    "bose",
    "brahe",
    "cannon",
    "carson",
    "cerf",
    "chandrasekhar",
    "clarke",
    "curie",
    "darwin",
    "dijkstra",
    "dirac",
    "easley",
    "einstein",
    "elion",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "germain",
    "goldberg",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hertz",
    "hodgkin",
    "hopper",
    "hubble",
    "hypatia",
    "jackson",
    "johnson",
    "joule",
    "kepler",
    "khorana",
    "knuth",
    "kowalevski",
    "lamarr",
    "laplace",
    "leakey",
    "leibniz",
    "lovelace",
    "lumiere",
    "mayer",
    "mccarthy",
    "meitner",
    "mendel",
    "minsky",
    "mirzakhani",
    "morse",
    "napier",
    "nash",
    "newton",
    "nobel",
    "noether",
    "pascal",
    "pasteur",
    "payne",
    "planck",
    "poincare",
    "ramanujan",
    "ritchie",
    "rosalind",
    "sagan",
    "shannon",
    "shockley",
    "sinoussi",
    "somerville",
    "stallman",
    "swanson",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "varahamihira",
    "volta",
    "wescoff",
    "wiles",
    "williams",
    "wozniak",
    "wright",
    "yalow",
    "yonath",
];

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        if f.read_exact(&mut b).is_ok() {
            return u64::from_le_bytes(b);
        }
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ u64::from(std::process::id())
}

/// A random name; `retry` > 0 appends a random digit, as Docker does.
pub fn random_name(retry: u32) -> String {
    loop {
        let r = random_u64();
        let a = ADJECTIVES[(r % ADJECTIVES.len() as u64) as usize];
        let s = SURNAMES[((r >> 16) % SURNAMES.len() as u64) as usize];
        // Steve Wozniak is not boring (Docker's rule, kept).
        if a == "boring" && s == "wozniak" {
            continue;
        }
        return if retry > 0 {
            format!("{a}_{s}{}", (r >> 40) % 10)
        } else {
            format!("{a}_{s}")
        };
    }
}

/// A random name not in use (`taken` says whether one is).
pub fn generate(taken: impl Fn(&str) -> bool) -> String {
    for retry in 0..64 {
        let n = random_name(retry / 4);
        if !taken(&n) {
            return n;
        }
    }
    // Practically unreachable: fall back to a long random suffix.
    format!("{}_{}", random_name(0), random_u64() % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_have_docker_shape_and_avoid_taken_ones() {
        for _ in 0..200 {
            let n = random_name(0);
            let (a, s) = n.split_once('_').unwrap();
            assert!(ADJECTIVES.contains(&a), "{n}");
            assert!(SURNAMES.contains(&s), "{n}");
            assert!(crate::ids::valid_name(&n));
            let r = random_name(1);
            assert!(r.chars().last().unwrap().is_ascii_digit(), "{r}");
        }
        let mut seen = std::collections::HashSet::new();
        for _ in 0..300 {
            let n = generate(|x| seen.contains(x));
            assert!(seen.insert(n));
        }
    }
}

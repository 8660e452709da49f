//! Image references (`[domain/]path[:tag][@digest]`, the grammar of
//! distribution's `reference` package) parsed by hand.
//!
//! `oci_client::Reference`'s own parser builds one large regex on first
//! use and keeps it for the life of the process: about 7 MiB of heap in
//! hulld, most of its resident memory after the first pull. The same
//! grammar checked character by character costs nothing; the result is
//! the same `Reference` (same normalization: `docker.io`, `library/`,
//! `latest`) and the same errors.

use oci_client::{ParseError, Reference};

const NAME_TOTAL_LENGTH_MAX: usize = 255;
const TAG_LENGTH_MAX: usize = 128;

/// Parse `s` like `s.parse::<Reference>()` does, without its regex.
pub fn parse(s: &str) -> Result<Reference, ParseError> {
    if s.is_empty() {
        return Err(ParseError::NameEmpty);
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    // A tag is a colon after the last slash (a port is followed by one).
    let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match rest[last_slash..].find(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if !valid_name(name) || !tag.is_none_or(valid_tag) || !digest.is_none_or(valid_digest_format) {
        return Err(ParseError::ReferenceInvalidFormat);
    }
    let (registry, repository) = split_domain(name);
    if repository.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ParseError::NameTooLong);
    }
    if let Some(d) = digest {
        let (algorithm, hex) = d.split_once(':').ok_or(ParseError::DigestInvalidFormat)?;
        let want = match algorithm {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return Err(ParseError::DigestUnsupported),
        };
        if hex.len() != want {
            return Err(ParseError::DigestInvalidLength);
        }
    }
    Ok(match (tag, digest) {
        (Some(t), Some(d)) => {
            Reference::with_tag_and_digest(registry, repository, t.into(), d.into())
        }
        (None, Some(d)) => Reference::with_digest(registry, repository, d.into()),
        (t, None) => Reference::with_tag(registry, repository, t.unwrap_or("latest").into()),
    })
}

/// A path, or a domain and a path.
fn valid_name(name: &str) -> bool {
    valid_path(name)
        || name
            .split_once('/')
            .is_some_and(|(d, p)| valid_domain(d) && valid_path(p))
}

/// `component(/component)*`, each `[a-z0-9]+` joined by `.`, `_`, `__` or
/// dashes.
fn valid_path(path: &str) -> bool {
    path.split('/').all(valid_path_component)
}

fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &b[start..i];
        let ok = sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|&x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `label(.label)*[:port]`, labels alphanumeric with inner dashes.
fn valid_domain(d: &str) -> bool {
    let host = match d.rsplit_once(':') {
        Some((h, port)) => {
            if port.is_empty() || !port.bytes().all(|x| x.is_ascii_digit()) {
                return false;
            }
            h
        }
        None => d,
    };
    host.split('.').all(|l| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
    })
}

/// `[\w][\w.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= TAG_LENGTH_MAX
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// `algorithm:hex` with `algorithm` = `[A-Za-z][A-Za-z0-9]*` joined by
/// `-`, `_`, `+` or `.`, and at least 32 hex digits.
fn valid_digest_format(d: &str) -> bool {
    let Some((algorithm, hex)) = d.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|part| {
        let b = part.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|x| x.is_ascii_alphanumeric())
    });
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|x| x.is_ascii_hexdigit())
}

/// Docker's normalization: a first component that is no domain (no `.`
/// or `:`, not `localhost`) means Docker Hub, where one-component names
/// live under `library/`.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((d, p)) if d.contains(['.', ':']) || d == "localhost" => {
            (d.to_string(), p.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    if domain == "index.docker.io" {
        domain = "docker.io".into();
    }
    if domain == "docker.io" && !path.contains('/') {
        path = format!("library/{path}");
    }
    (domain, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// Same result as the regex parser of `oci_client::Reference`.
    fn same(s: &str) {
        let ours = parse(s);
        let theirs = s.parse::<Reference>();
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.whole(), b.whole(), "{s:?}");
                assert_eq!(a.registry(), b.registry(), "{s:?}");
                assert_eq!(a.repository(), b.repository(), "{s:?}");
                assert_eq!(a.tag(), b.tag(), "{s:?}");
                assert_eq!(a.digest(), b.digest(), "{s:?}");
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{s:?}"),
            _ => panic!("{s:?}: ours {ours:?}, regex {theirs:?}"),
        }
    }

    #[test]
    fn agrees_with_the_regex_parser() {
        let long = "a".repeat(300);
        let long_tag = format!("busybox:{}", "t".repeat(129));
        let cases = [
            "busybox",
            "busybox:1.36",
            "library/busybox",
            "docker.io/busybox",
            "index.docker.io/busybox:latest",
            "user/repo",
            "localhost/repo",
            "localhost:5000/repo:tag",
            "127.0.0.1:5000/a/b/c:v1",
            "Registry.Example.com/x",
            "registry-1.example.com:443/ns/img_name__x.y-z---w:v1.2-rc_3",
            "reg.io/img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "reg.io/img:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "img@sha256:abc",
            "img@sha256:0123456789abcdef0123456789abcdef",
            "img@md5:0123456789abcdef0123456789abcdef",
            "img@sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "img@nocolon",
            "",
            ":tag",
            "/img",
            "img/",
            "a//b",
            "Upper/case",
            "upper/Case",
            "UPPER",
            "a..b",
            "a._b",
            "a___b",
            "-a",
            "a-",
            "a:",
            "a:-tag",
            "a:_tag",
            "a:t@g",
            "a@b@c",
            "host:/a",
            "host:12x/a",
            "-host.io/a",
            "ho_st.io/a",
            "a b",
            "é",
            &long,
            &long_tag,
            &format!("x.io/{long}"),
        ];
        for c in cases {
            same(c);
        }
        same(&format!("busybox@{D}"));
    }
}

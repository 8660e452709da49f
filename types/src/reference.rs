//! Image references (`[domain/]path[:tag][@digest]`, the grammar of
//! distribution's `reference` package) parsed by hand, Docker's
//! normalization of them (`busybox` → `docker.io/library/busybox:latest`)
//! and their short display names.
//!
//! The grammar is checked character by character: the regex parser of
//! `oci_client::Reference` builds one large regex on first use and keeps it
//! for the life of the process (about 7 MiB of heap). hulld turns a
//! [`Reference`] into oci-client's (`registry::reference`), where a test
//! checks both parsers agree.

use crate::InvalidArgument;

const NAME_TOTAL_LENGTH_MAX: usize = 255;
const TAG_LENGTH_MAX: usize = 128;

/// Why a string is not a reference (the wording of distribution's
/// `reference` package, as oci-client has it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("invalid checksum digest format")]
    DigestInvalidFormat,
    #[error("invalid checksum digest length")]
    DigestInvalidLength,
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
    #[error("repository name must have at least one component")]
    NameEmpty,
    #[error("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")]
    NameTooLong,
    #[error("invalid reference format")]
    ReferenceInvalidFormat,
}

/// A parsed, normalized reference: registry `docker.io` for Docker Hub,
/// `library/` for its one-component names, tag `latest` when neither a tag
/// nor a digest is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    pub fn registry(&self) -> &str {
        &self.registry
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `registry/repository[:tag][@digest]`.
    pub fn whole(&self) -> String {
        let mut s = format!("{}/{}", self.registry, self.repository);
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

/// Parse `s` as distribution's grammar has it, normalized as Docker does.
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
    let tag = match (tag, digest) {
        (None, None) => Some("latest"),
        (t, _) => t,
    };
    Ok(Reference {
        registry,
        repository,
        tag: tag.map(str::to_string),
        digest: digest.map(str::to_string),
    })
}

/// Normalize a user's image reference the way Docker does:
/// `busybox` → `docker.io/library/busybox:latest`.
pub fn normalize_name(s: &str) -> Result<String, InvalidArgument> {
    let r = parse(s).map_err(|e| InvalidArgument(format!("invalid reference {s:?}: {e}")))?;
    if r.repository().bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(InvalidArgument(format!(
            "invalid reference format {s:?}: repository name must be lowercase"
        )));
    }
    Ok(r.whole())
}

/// Docker-style short display: drop `docker.io/library/` and `docker.io/`.
pub fn familiar_name(full: &str) -> String {
    if let Some(rest) = full.strip_prefix("docker.io/library/") {
        rest.to_string()
    } else if let Some(rest) = full.strip_prefix("docker.io/") {
        rest.to_string()
    } else {
        full.to_string()
    }
}

/// What names the record of an image without a name (the result of a
/// build without `-t`): Docker's `<none>`, then `@` and the digest the
/// record points at. `<` is in no reference, so no user's name is one.
const DANGLING_PREFIX: &str = "<none>@";

/// The record name of the unnamed image whose target is `digest`.
pub fn dangling_name(digest: &str) -> String {
    format!("{DANGLING_PREFIX}{digest}")
}

/// Is `name` the record name of an unnamed image?
pub fn is_dangling(name: &str) -> bool {
    name.starts_with(DANGLING_PREFIX)
}

/// Split `repo:tag` / `repo@digest` for display.
pub fn split_repo_tag(full: &str) -> (String, String) {
    if let Some((repo, dig)) = full.split_once('@') {
        return (repo.to_string(), dig.to_string());
    }
    let slash = full.rfind('/').map(|i| i + 1).unwrap_or(0);
    match full[slash..].rfind(':') {
        Some(i) => (
            full[..slash + i].to_string(),
            full[slash + i + 1..].to_string(),
        ),
        None => (full.to_string(), "latest".into()),
    }
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

    #[test]
    fn dangling_names_are_no_references() {
        let n = dangling_name("sha256:abc");
        assert!(is_dangling(&n));
        assert!(parse(&n).is_err());
        assert!(!is_dangling("docker.io/library/none:latest"));
    }

    #[test]
    fn names() {
        assert_eq!(
            normalize_name("busybox").unwrap(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            normalize_name("127.0.0.1:5000/a/b:t").unwrap(),
            "127.0.0.1:5000/a/b:t"
        );
        assert_eq!(
            familiar_name("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        assert_eq!(
            split_repo_tag("127.0.0.1:5000/a/b:t"),
            ("127.0.0.1:5000/a/b".into(), "t".into())
        );
        assert!(normalize_name("UPPER/x").is_err());
    }

    #[test]
    fn parts_and_errors() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let r = parse(&format!("localhost:5000/a/b:t@{d}")).unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.tag(), r.digest()),
            ("localhost:5000", "a/b", Some("t"), Some(d))
        );
        let r = parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(
            (r.tag(), r.whole()),
            (None, format!("docker.io/library/busybox@{d}"))
        );
        assert_eq!(parse(""), Err(ParseError::NameEmpty));
        assert_eq!(parse("a b"), Err(ParseError::ReferenceInvalidFormat));
        assert_eq!(
            parse("img@md5:0123456789abcdef0123456789abcdef"),
            Err(ParseError::DigestUnsupported)
        );
        assert_eq!(
            parse("img@sha256:0123456789abcdef0123456789abcdef"),
            Err(ParseError::DigestInvalidLength)
        );
        assert_eq!(parse(&"a".repeat(300)), Err(ParseError::NameTooLong));
    }
}

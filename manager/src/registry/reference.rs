//! Image references as oci-client wants them, parsed by
//! `hull_types::reference` (no regex; see there) and converted.

use hull_types::reference::{self as hand, ParseError as HandError};
use oci_client::{ParseError, Reference};

/// Parse `s` like `s.parse::<Reference>()` does, without its regex.
pub fn parse(s: &str) -> Result<Reference, ParseError> {
    let r = hand::parse(s).map_err(|e| match e {
        HandError::DigestInvalidFormat => ParseError::DigestInvalidFormat,
        HandError::DigestInvalidLength => ParseError::DigestInvalidLength,
        HandError::DigestUnsupported => ParseError::DigestUnsupported,
        HandError::NameEmpty => ParseError::NameEmpty,
        HandError::NameTooLong => ParseError::NameTooLong,
        HandError::ReferenceInvalidFormat => ParseError::ReferenceInvalidFormat,
    })?;
    let (registry, repository) = (r.registry().to_string(), r.repository().to_string());
    Ok(match (r.tag(), r.digest()) {
        (Some(t), Some(d)) => {
            Reference::with_tag_and_digest(registry, repository, t.into(), d.into())
        }
        (None, Some(d)) => Reference::with_digest(registry, repository, d.into()),
        (t, None) => Reference::with_tag(registry, repository, t.unwrap_or("latest").into()),
    })
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

//! Platforms as users write them (`--platform os/arch[/variant]`),
//! normalized as Docker does (`x86_64` → `amd64`, `arm64` → `arm64/v8`).
//! hulld's descriptor type (`images::Platform`) parses through here.

use crate::InvalidArgument;

/// A parsed `os/arch[/variant]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: String,
}

/// Parse `os/arch[/variant]`.
pub fn parse(s: &str) -> Result<Platform, InvalidArgument> {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(InvalidArgument(format!(
            "invalid platform {s:?} (want os/arch[/variant])"
        )));
    }
    let mut p = Platform {
        os: parts[0].to_lowercase(),
        architecture: normalize_arch(parts[1]),
        variant: parts.get(2).map(|v| v.to_lowercase()).unwrap_or_default(),
    };
    if p.architecture == "arm64" && p.variant.is_empty() {
        p.variant = "v8".into();
    }
    Ok(p)
}

/// Docker's name for an architecture (`x86_64` → `amd64`).
pub fn normalize_arch(a: &str) -> String {
    match a.to_lowercase().as_str() {
        "x86_64" | "x86-64" => "amd64".into(),
        "aarch64" => "arm64".into(),
        "i386" => "386".into(),
        o => o.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let p = parse("Linux/x86_64").unwrap();
        assert_eq!(
            (p.os.as_str(), p.architecture.as_str(), p.variant.as_str()),
            ("linux", "amd64", "")
        );
        assert_eq!(parse("linux/arm64").unwrap().variant, "v8");
        assert_eq!(parse("linux/arm/V7").unwrap().variant, "v7");
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d"] {
            assert!(
                parse(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("invalid platform"),
                "{bad}"
            );
        }
    }
}

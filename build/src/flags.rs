//! The `--name=value` flags that lead some instructions, split off the line
//! and checked against the flags each instruction accepts.

use std::time::Duration;

use crate::error::ErrorKind;
use crate::mount::Mount;

/// A flag as written: `--link` has no value, `--from=build` has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFlag {
    pub name: String,
    pub value: Option<String>,
}

/// Takes the leading `--flag[=value]` words off `rest`; returns them and what
/// follows. A bare `--` ends the flags and is dropped.
pub fn split_flags(rest: &str) -> (Vec<RawFlag>, &str) {
    let mut flags = Vec::new();
    let mut rest = rest.trim_start();
    while let Some(body) = rest.strip_prefix("--") {
        let end = body.find(char::is_whitespace).unwrap_or(body.len());
        let word = &body[..end];
        rest = body[end..].trim_start();
        if word.is_empty() {
            break;
        }
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (word, None),
        };
        flags.push(RawFlag {
            name: name.to_ascii_lowercase(),
            value,
        });
    }
    (flags, rest)
}

impl RawFlag {
    fn value(&self) -> Result<String, ErrorKind> {
        self.value.clone().ok_or_else(|| ErrorKind::BadFlag {
            flag: self.name.clone(),
            problem: "needs a value (--name=value)".into(),
        })
    }

    fn boolean(&self) -> Result<bool, ErrorKind> {
        match self.value.as_deref() {
            None => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ErrorKind::BadFlag {
                flag: self.name.clone(),
                problem: format!("expects true or false, not {v:?}"),
            }),
        }
    }
}

fn unknown(instruction: &'static str, flag: &RawFlag) -> ErrorKind {
    ErrorKind::UnknownFlag {
        instruction,
        flag: flag.name.clone(),
    }
}

/// `FROM --platform=linux/arm64`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FromFlags {
    pub platform: Option<String>,
}

impl FromFlags {
    pub fn parse(flags: &[RawFlag]) -> Result<Self, ErrorKind> {
        let mut out = Self::default();
        for f in flags {
            match f.name.as_str() {
                "platform" => out.platform = Some(f.value()?),
                _ => return Err(unknown("FROM", f)),
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    Default,
    None,
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Sandbox,
    Insecure,
}

/// `RUN --mount=… --network=… --security=…`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFlags {
    /// The `--mount` values as written; substitution re-reads `mounts` from them.
    pub mount_specs: Vec<String>,
    pub mounts: Vec<Mount>,
    pub network: Option<NetworkMode>,
    pub security: Option<Security>,
}

impl RunFlags {
    pub fn parse(flags: &[RawFlag]) -> Result<Self, ErrorKind> {
        let mut out = Self::default();
        for f in flags {
            match f.name.as_str() {
                "mount" => {
                    let spec = f.value()?;
                    out.mounts.push(Mount::parse(&spec)?);
                    out.mount_specs.push(spec);
                }
                "network" => {
                    out.network = Some(match f.value()?.as_str() {
                        "default" => NetworkMode::Default,
                        "none" => NetworkMode::None,
                        "host" => NetworkMode::Host,
                        other => {
                            return Err(ErrorKind::BadFlag {
                                flag: f.name.clone(),
                                problem: format!(
                                    "has unknown mode {other:?} (default, none, host)"
                                ),
                            })
                        }
                    })
                }
                "security" => {
                    out.security = Some(match f.value()?.as_str() {
                        "sandbox" => Security::Sandbox,
                        "insecure" => Security::Insecure,
                        other => {
                            return Err(ErrorKind::BadFlag {
                                flag: f.name.clone(),
                                problem: format!("has unknown mode {other:?} (sandbox, insecure)"),
                            })
                        }
                    })
                }
                _ => return Err(unknown("RUN", f)),
            }
        }
        Ok(out)
    }
}

/// `--chown=user[:group]`, names or ids, kept as written (variables in it
/// are substituted later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chown {
    pub user: String,
    pub group: Option<String>,
}

impl Chown {
    pub fn parse(value: &str) -> Self {
        match value.split_once(':') {
            Some((u, g)) => Chown {
                user: u.to_string(),
                group: Some(g.to_string()),
            },
            None => Chown {
                user: value.to_string(),
                group: None,
            },
        }
    }
}

/// Flags of COPY and ADD. `from` and `parents` are COPY's; `keep_git_dir`
/// and `checksum` are ADD's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFlags {
    pub from: Option<String>,
    pub chown: Option<Chown>,
    /// As written, e.g. `755` (may hold a variable until substituted); see
    /// [`FileFlags::mode`].
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<String>,
    pub keep_git_dir: bool,
    pub checksum: Option<String>,
}

impl FileFlags {
    pub fn parse(instruction: &'static str, flags: &[RawFlag]) -> Result<Self, ErrorKind> {
        let copy = instruction == "COPY";
        let mut out = Self::default();
        for f in flags {
            match f.name.as_str() {
                "from" if copy => out.from = Some(f.value()?),
                "parents" if copy => out.parents = f.boolean()?,
                "keep-git-dir" if !copy => out.keep_git_dir = f.boolean()?,
                "checksum" if !copy => out.checksum = Some(f.value()?),
                "chown" => out.chown = Some(Chown::parse(&f.value()?)),
                "chmod" => out.chmod = Some(f.value()?),
                "link" => out.link = f.boolean()?,
                "exclude" => out.exclude.push(f.value()?),
                _ => return Err(unknown(instruction, f)),
            }
        }
        Ok(out)
    }

    /// The `--chmod` value as an octal mode.
    pub fn mode(&self) -> Result<Option<u32>, ErrorKind> {
        self.chmod
            .as_deref()
            .map(|v| {
                u32::from_str_radix(v, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| ErrorKind::BadFlag {
                        flag: "chmod".into(),
                        problem: format!("has {v:?}: expected an octal mode such as 755"),
                    })
            })
            .transpose()
    }
}

/// `HEALTHCHECK --interval= --timeout= --start-period= --start-interval= --retries=`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthFlags {
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    pub retries: Option<u32>,
}

impl HealthFlags {
    pub fn parse(flags: &[RawFlag]) -> Result<Self, ErrorKind> {
        let mut out = Self::default();
        for f in flags {
            let slot = match f.name.as_str() {
                "interval" => &mut out.interval,
                "timeout" => &mut out.timeout,
                "start-period" => &mut out.start_period,
                "start-interval" => &mut out.start_interval,
                "retries" => {
                    let v = f.value()?;
                    out.retries = Some(v.parse().map_err(|_| ErrorKind::BadFlag {
                        flag: f.name.clone(),
                        problem: format!("has {v:?}: expected a whole number"),
                    })?);
                    continue;
                }
                _ => return Err(unknown("HEALTHCHECK", f)),
            };
            let d = parse_duration(&f.value()?)?;
            // Docker: 0 means "use the default"; otherwise at least 1ms.
            if !d.is_zero() && d < Duration::from_millis(1) {
                return Err(ErrorKind::BadFlag {
                    flag: f.name.clone(),
                    problem: "cannot be less than 1ms".into(),
                });
            }
            *slot = Some(d);
        }
        Ok(out)
    }
}

/// A Go duration: `300ms`, `1.5h`, `1m30s`, or `0`.
pub fn parse_duration(text: &str) -> Result<Duration, ErrorKind> {
    let bad = || ErrorKind::InvalidDuration(text.to_string());
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_flags_are_split_off() {
        let (flags, rest) = split_flags("--from=build --link  --chown=app:staff src dst");
        assert_eq!(flags.len(), 3);
        assert_eq!(
            flags[0],
            RawFlag {
                name: "from".into(),
                value: Some("build".into())
            }
        );
        assert_eq!(
            flags[1],
            RawFlag {
                name: "link".into(),
                value: None
            }
        );
        assert_eq!(rest, "src dst");
        let (flags, rest) = split_flags("-- --notaflag x");
        assert!(flags.is_empty());
        assert_eq!(rest, "--notaflag x");
    }

    #[test]
    fn copy_and_add_accept_their_own_flags_only() {
        let (f, _) = split_flags("--from=0 --chmod=644 --link --exclude=*.md --exclude=tmp x y");
        let c = FileFlags::parse("COPY", &f).unwrap();
        assert_eq!(c.from.as_deref(), Some("0"));
        assert_eq!(c.mode().unwrap(), Some(0o644));
        assert!(c.link);
        assert_eq!(c.exclude, ["*.md", "tmp"]);
        let err = FileFlags::parse("ADD", &f).unwrap_err();
        assert_eq!(
            err,
            ErrorKind::UnknownFlag {
                instruction: "ADD",
                flag: "from".into()
            }
        );
        let (f, _) = split_flags("--keep-git-dir=true --checksum=sha256:abc x y");
        assert!(FileFlags::parse("ADD", &f).unwrap().keep_git_dir);
        assert!(FileFlags::parse("COPY", &f).is_err());
    }

    #[test]
    fn chown_and_chmod() {
        assert_eq!(
            Chown::parse("55:mygroup"),
            Chown {
                user: "55".into(),
                group: Some("mygroup".into())
            }
        );
        assert_eq!(
            Chown::parse("bin"),
            Chown {
                user: "bin".into(),
                group: None
            }
        );
        let f = FileFlags {
            chmod: Some("u+x".into()),
            ..Default::default()
        };
        assert!(f.mode().is_err());
    }

    #[test]
    fn run_flags() {
        let (f, rest) =
            split_flags("--mount=type=cache,target=/var/cache/apt --network=none apt-get update");
        let r = RunFlags::parse(&f).unwrap();
        assert_eq!(r.mounts.len(), 1);
        assert_eq!(r.network, Some(NetworkMode::None));
        assert_eq!(rest, "apt-get update");
        let (f, _) = split_flags("--network=bridge x");
        assert!(RunFlags::parse(&f).is_err());
        let (f, _) = split_flags("--platform=x x");
        assert!(RunFlags::parse(&f).is_err());
    }

    #[test]
    fn from_flags() {
        let (f, rest) = split_flags("--platform=$BUILDPLATFORM golang AS build");
        assert_eq!(
            FromFlags::parse(&f).unwrap().platform.as_deref(),
            Some("$BUILDPLATFORM")
        );
        assert_eq!(rest, "golang AS build");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "5", "s", "5x", "1..2s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn healthcheck_flags() {
        let (f, rest) = split_flags("--interval=5m --timeout=3s --start-period=1s --retries=3 CMD curl -f http://localhost/");
        let h = HealthFlags::parse(&f).unwrap();
        assert_eq!(h.interval, Some(Duration::from_secs(300)));
        assert_eq!(h.retries, Some(3));
        assert_eq!(rest, "CMD curl -f http://localhost/");
        let (f, _) = split_flags("--timeout=10us CMD x");
        assert!(HealthFlags::parse(&f).is_err());
        let (f, _) = split_flags("--timeout=0s CMD x");
        assert_eq!(
            HealthFlags::parse(&f).unwrap().timeout,
            Some(Duration::ZERO)
        );
        let (f, _) = split_flags("--retries=many CMD x");
        assert!(HealthFlags::parse(&f).is_err());
    }
}

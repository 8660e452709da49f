//! `hull build`'s command line: Docker's flags, and what each value turns
//! into (pure functions, unit-tested below).

use std::collections::HashMap;
use std::path::PathBuf;

/// `hull build [OPTIONS] CONTEXT|-`
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Name and optionally a tag ("name:tag"); may be repeated.
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default CONTEXT/Dockerfile); `-` reads it from stdin.
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Build-time variable K=V (K alone: its value from the environment).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// The stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Always pull the FROM images.
    #[arg(long)]
    pub pull: bool,
    /// Label K=V for the image; may be repeated.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Network of RUN steps: none, bridge (default) or host.
    #[arg(long, value_parser = ["none", "bridge", "host", "default"])]
    pub network: Option<String>,
    /// auto, plain or tty.
    #[arg(long, default_value = "auto", value_parser = ["auto", "plain", "tty"])]
    pub progress: String,
    /// Print only the image id.
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image id to this file.
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Also write the image as an archive: type=oci|docker,dest=FILE.tar.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Build context: a directory, or `-` (a tar, or a Dockerfile, on stdin).
    pub context: String,
}

/// A bad flag value, named in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FlagError(pub String);

/// Archive format of `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Oci,
    Docker,
}

impl OutputFormat {
    /// The name Images.Export takes.
    pub fn export_name(self) -> &'static str {
        match self {
            OutputFormat::Oci => "oci",
            OutputFormat::Docker => "docker",
        }
    }
}

/// `--output type=oci|docker,dest=FILE.tar`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    pub format: OutputFormat,
    pub dest: PathBuf,
}

/// `--build-arg` values: `K=V`, or `K` whose value comes from `env` (a
/// `K` the environment does not hold is left out, as Docker does).
pub fn build_args(
    raw: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<HashMap<String, String>, FlagError> {
    let mut out = HashMap::new();
    for a in raw {
        let (k, v) = match a.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (a.as_str(), env(a)),
        };
        if k.is_empty() || k.chars().any(char::is_whitespace) {
            return Err(FlagError(format!("invalid --build-arg {a:?}: no name")));
        }
        if let Some(v) = v {
            out.insert(k.to_string(), v);
        }
    }
    Ok(out)
}

/// `--label` values: `K=V`, or `K` for an empty value.
pub fn labels(raw: &[String]) -> Result<HashMap<String, String>, FlagError> {
    let mut out = HashMap::new();
    for l in raw {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        if k.is_empty() {
            return Err(FlagError(format!("invalid --label {l:?}: no name")));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// `--network`: Docker's "default" is the bridge.
pub fn network(raw: Option<&str>) -> String {
    match raw {
        None | Some("default") => String::new(),
        Some(n) => n.to_string(),
    }
}

/// `-t` values, each a valid image name (hulld normalizes them again).
pub fn tags(raw: &[String]) -> Result<Vec<String>, FlagError> {
    raw.iter()
        .map(|t| {
            hull_types::reference::normalize_name(t)
                .map(|_| t.clone())
                .map_err(|e| FlagError(format!("invalid tag {t:?}: {}", e.0)))
        })
        .collect()
}

/// `--output type=oci|docker,dest=FILE.tar`.
pub fn output(raw: &str) -> Result<OutputSpec, FlagError> {
    let bad = |why: &str| FlagError(format!("invalid --output {raw:?}: {why}"));
    let (mut format, mut dest) = (None, None);
    for part in raw.split(',') {
        match part.split_once('=') {
            Some(("type", "oci")) => format = Some(OutputFormat::Oci),
            Some(("type", "docker")) => format = Some(OutputFormat::Docker),
            Some(("type", t)) => {
                return Err(bad(&format!("type {t:?} (hull writes oci or docker)")))
            }
            Some(("dest", "-")) => return Err(bad("dest=- (stdout) is not supported")),
            Some(("dest", "")) => return Err(bad("empty dest")),
            Some(("dest", d)) => dest = Some(PathBuf::from(d)),
            Some((k, _)) => return Err(bad(&format!("unknown key {k:?}"))),
            None => return Err(bad("want type=oci|docker,dest=FILE.tar")),
        }
    }
    match (format, dest) {
        (Some(format), Some(dest)) => Ok(OutputSpec { format, dest }),
        (None, _) => Err(bad("no type")),
        (_, None) => Err(bad("no dest")),
    }
}

/// `SOURCE_DATE_EPOCH` from the environment, when it is a number.
pub fn source_date_epoch(env: impl Fn(&str) -> Option<String>) -> Result<Option<i64>, FlagError> {
    match env("SOURCE_DATE_EPOCH") {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            FlagError(format!(
                "invalid SOURCE_DATE_EPOCH {v:?}: not a number of seconds"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        args: BuildArgs,
    }

    fn parse(args: &[&str]) -> Result<BuildArgs, clap::Error> {
        Cmd::try_parse_from(std::iter::once("build").chain(args.iter().copied())).map(|c| c.args)
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_flag_parses() {
        let a = parse(&[
            "-t",
            "a:1",
            "--tag",
            "b",
            "-f",
            "-",
            "--build-arg",
            "X=1",
            "--build-arg",
            "Y",
            "--target",
            "build",
            "--no-cache",
            "--pull",
            "--label",
            "k=v",
            "--network",
            "host",
            "--progress",
            "plain",
            "-q",
            "--iidfile",
            "/tmp/iid",
            "--output",
            "type=oci,dest=x.tar",
            "ctx",
        ])
        .unwrap();
        assert_eq!(a.tags, ["a:1", "b"]);
        assert_eq!(a.file.as_deref(), Some("-"));
        assert_eq!(a.build_args, ["X=1", "Y"]);
        assert_eq!(a.target.as_deref(), Some("build"));
        assert!(a.no_cache && a.pull && a.quiet);
        assert_eq!(a.labels, ["k=v"]);
        assert_eq!(a.network.as_deref(), Some("host"));
        assert_eq!(a.progress, "plain");
        assert_eq!(a.iidfile, Some(PathBuf::from("/tmp/iid")));
        assert_eq!(a.output.as_deref(), Some("type=oci,dest=x.tar"));
        assert_eq!(a.context, "ctx");
    }

    #[test]
    fn defaults_and_refusals() {
        let a = parse(&["."]).unwrap();
        assert_eq!(a.progress, "auto");
        assert!(a.tags.is_empty() && a.file.is_none() && !a.quiet);
        assert!(parse(&[]).is_err(), "the context is required");
        assert!(parse(&["--progress", "fancy", "."]).is_err());
        assert!(parse(&["--network", "overlay", "."]).is_err());
        assert!(parse(&[".", "extra"]).is_err());
    }

    #[test]
    fn build_args_take_values_or_the_environment() {
        let env = |k: &str| (k == "HOME_ARG").then(|| "from-env".to_string());
        let got = build_args(&strings(&["A=1", "B=", "C=x=y", "HOME_ARG", "UNSET"]), env).unwrap();
        assert_eq!(got["A"], "1");
        assert_eq!(got["B"], "");
        assert_eq!(got["C"], "x=y");
        assert_eq!(got["HOME_ARG"], "from-env");
        assert!(!got.contains_key("UNSET"), "an unset K is left out");
        assert!(build_args(&strings(&["=1"]), |_| None).is_err());
        let e = build_args(&strings(&[""]), |_| None).unwrap_err();
        assert!(e.0.contains("--build-arg"), "{e}");
    }

    #[test]
    fn labels_keep_empty_values_and_refuse_no_name() {
        let got = labels(&strings(&["a=1", "b", "c=x=y"])).unwrap();
        assert_eq!(got["a"], "1");
        assert_eq!(got["b"], "");
        assert_eq!(got["c"], "x=y");
        assert!(labels(&strings(&["=v"])).is_err());
    }

    #[test]
    fn network_default_is_the_bridge() {
        assert_eq!(network(None), "");
        assert_eq!(network(Some("default")), "");
        assert_eq!(network(Some("none")), "none");
    }

    #[test]
    fn tags_must_be_image_names() {
        assert!(tags(&strings(&["app:1", "127.0.0.1:5000/x/y:z"])).is_ok());
        let e = tags(&strings(&["Bad:Name"])).unwrap_err();
        assert!(e.0.contains("Bad:Name"), "{e}");
        assert!(tags(&strings(&["a b"])).is_err());
    }

    #[test]
    fn output_needs_a_type_and_a_dest() {
        let o = output("type=docker,dest=/tmp/x.tar").unwrap();
        assert_eq!(o.format, OutputFormat::Docker);
        assert_eq!(o.dest, PathBuf::from("/tmp/x.tar"));
        assert_eq!(
            output("dest=x.tar,type=oci").unwrap().format,
            OutputFormat::Oci
        );
        for bad in [
            "type=local,dest=x",
            "type=oci",
            "dest=x.tar",
            "out.tar",
            "type=oci,dest=-",
            "type=oci,dest=",
            "type=oci,dest=x,compression=zstd",
        ] {
            let e = output(bad).unwrap_err();
            assert!(e.0.starts_with("invalid --output"), "{bad}: {e}");
        }
    }

    #[test]
    fn source_date_epoch_is_a_number() {
        assert_eq!(source_date_epoch(|_| None).unwrap(), None);
        assert_eq!(
            source_date_epoch(|_| Some("1700000000".into())).unwrap(),
            Some(1_700_000_000)
        );
        assert!(source_date_epoch(|_| Some("soon".into())).is_err());
    }
}

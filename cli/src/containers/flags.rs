//! `run`/`create` flags as Docker has them, checked before anything is
//! made, and turned into the API's `RunOptions`; sizes and signals as
//! Docker writes them.

use anyhow::{bail, Context};
use hull_proto::v1 as pb;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run in the background and print the container ID.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep stdin open (attach it).
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from here).
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// user[:group]
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(long)]
    pub entrypoint: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    /// Set labels (KEY=VALUE).
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    #[arg(long)]
    pub privileged: bool,
    #[arg(long)]
    pub read_only: bool,
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE lines).
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long)]
    pub cpus: Option<f64>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// seccomp=unconfined|PROFILE.json, no-new-privileges[:true|false]
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Resource limit NAME=SOFT[:HARD] (e.g. nofile=1024:2048).
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Namespaced kernel parameter KEY=VALUE (e.g. net.core.somaxconn=1024).
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Size of /dev/shm (e.g. 128m).
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// PID namespace: "host" for the host's.
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC namespace: "host" for the host's.
    #[arg(long)]
    pub ipc: Option<String>,
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Seconds to wait for the stop signal before SIGKILL.
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i32>,
    /// Log options: max-size=SIZE, max-file=N.
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Restart policy: no, on-failure[:max-retries], always, unless-stopped.
    #[arg(long)]
    pub restart: Option<String>,
    /// Bind mount or volume: [NAME|/HOST/PATH:]/CONTAINER/PATH[:ro|rw|nocopy].
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// type=bind|volume|tmpfs,source=…,target=…[,readonly].
    #[arg(long)]
    pub mount: Vec<String>,
    /// A tmpfs: /PATH[:OPTIONS].
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// bridge (default), host, none, or a network's name.
    #[arg(long = "network", visible_alias = "net")]
    pub network: Option<String>,
    /// Publish a port: [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|udp].
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish every port the image EXPOSEs on a random host port.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Another name for the container on its (user-defined) network.
    #[arg(long = "network-alias", visible_alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// DNS server for /etc/resolv.conf.
    #[arg(long = "dns")]
    pub dns: Vec<String>,
    /// An /etc/hosts entry: HOST:IP.
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Command to run to check health (run by /bin/sh -c).
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s: 30s).
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s: 30s).
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long = "health-retries")]
    pub health_retries: Option<i32>,
    /// Start period for the container to initialize before failures count
    /// (ms|s|m|h) (default 0s).
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    pub image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub(crate) fn env_list(v: &[String]) -> Vec<String> {
    v.iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e.clone())
            } else {
                std::env::var(e).ok().map(|val| format!("{e}={val}"))
            }
        })
        .collect()
}

/// Docker's memory sizes: a number with an optional b, k, m or g suffix.
pub(crate) fn parse_bytes(s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').filter(|x| !x.is_empty()).unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size: '{s}'"))?;
    if !n.is_finite() || n <= 0.0 {
        bail!("invalid size: '{s}'");
    }
    Ok((n * mult as f64) as i64)
}

/// Docker's check of `--cpus` (run, create, update).
pub(crate) fn check_cpus(c: f64) -> anyhow::Result<()> {
    if !(c > 0.0 && c.is_finite()) {
        bail!("invalid argument \"{c}\" for \"--cpus\" flag: range of CPUs must be positive");
    }
    Ok(())
}

/// `KILL`, `SIGKILL` or `9`.
pub(crate) fn parse_signal(s: &str) -> anyhow::Result<u32> {
    hull_types::signal::number(s).map_err(|_| anyhow::anyhow!("invalid signal: {s}"))
}

/// Flags checked before anything is created: Docker's exit code 125.
pub(super) fn run_options(a: &RunArgs) -> anyhow::Result<pb::RunOptions> {
    let mut env = Vec::new();
    for f in &a.env_file {
        let text = std::fs::read_to_string(f).with_context(|| format!("open {f}: no such file"))?;
        for l in text.lines() {
            let l = l.trim();
            if !l.is_empty() && !l.starts_with('#') {
                env.push(l.to_string());
            }
        }
    }
    env.extend(a.env.iter().cloned());
    let mut o = pb::RunOptions {
        args: a.command.clone(),
        entrypoint: a.entrypoint.clone().unwrap_or_default(),
        has_entrypoint: a.entrypoint.is_some(),
        env: env_list(&env),
        workdir: a.workdir.clone().unwrap_or_default(),
        user: a.user.clone().unwrap_or_default(),
        hostname: a.hostname.clone().unwrap_or_default(),
        privileged: a.privileged,
        read_only: a.read_only,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        memory: a
            .memory
            .as_deref()
            .map(parse_bytes)
            .transpose()?
            .unwrap_or(0),
        cpus: a.cpus.unwrap_or(0.0),
        pids_limit: a.pids_limit.unwrap_or(0),
        stop_signal: a.stop_signal.clone().unwrap_or_default(),
        stop_timeout: a.stop_timeout.unwrap_or(0),
        restart_policy: a.restart.clone().unwrap_or_default(),
        init: a.init,
        volumes: a.volume.iter().map(|v| absolute_bind_source(v)).collect(),
        mounts: a.mount.clone(),
        tmpfs: a.tmpfs.clone(),
        tty: a.tty,
        open_stdin: a.interactive,
        host_network: a.network.as_deref() == Some("host"),
        network: a.network.clone().unwrap_or_default(),
        publish: a.publish.clone(),
        publish_all: a.publish_all,
        network_aliases: a.network_alias.clone(),
        dns: a.dns.clone(),
        add_hosts: a.add_host.clone(),
        ulimits: a.ulimit.clone(),
        sysctls: a.sysctl.clone(),
        shm_size: a
            .shm_size
            .as_deref()
            .map(parse_bytes)
            .transpose()?
            .unwrap_or(0),
        pid_mode: a.pid.clone().unwrap_or_default(),
        ipc_mode: a.ipc.clone().unwrap_or_default(),
        ..Default::default()
    };
    o.health = health_config(a)?;
    for p in &a.publish {
        hull_types::ports::parse(p).map_err(|e| anyhow::anyhow!(e))?;
    }
    if let Some(p) = &a.restart {
        p.parse::<hull_types::restart::RestartPolicy>()?;
        if a.rm && p != "no" {
            bail!("Conflicting options: --restart and --rm");
        }
    }
    for lo in &a.log_opt {
        match lo.split_once('=') {
            Some(("max-size", v)) => o.log_max_size = parse_bytes(v)?,
            Some(("max-file", v)) => {
                o.log_max_file = v
                    .parse::<i32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| anyhow::anyhow!("invalid value for log-opt max-file: {v}"))?
            }
            _ => bail!("unknown log opt '{lo}'"),
        }
    }
    if let Some(c) = a.cpus {
        check_cpus(c)?;
    }
    if let Some(s) = &a.stop_signal {
        parse_signal(s)?;
    }
    for so in &a.security_opt {
        security_opt(&mut o, so)?;
    }
    Ok(o)
}

/// One `--security-opt` (or compose `security_opt:` entry) applied to `o`.
/// SELinux labels and AppArmor profiles are accepted and ignored with a
/// warning: hull confines containers with neither.
pub(crate) fn security_opt(o: &mut pb::RunOptions, so: &str) -> anyhow::Result<()> {
    let (k, v) = so
        .split_once(['=', ':'])
        .map(|(k, v)| (k, Some(v)))
        .unwrap_or((so, None));
    match (k, v) {
        ("no-new-privileges", None | Some("true")) => o.no_new_privileges = true,
        ("no-new-privileges", Some("false")) => o.no_new_privileges = false,
        ("seccomp", Some("unconfined")) => o.seccomp = "unconfined".into(),
        ("seccomp", Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("opening seccomp profile ({path}) failed"))?;
            serde_json::from_str::<serde_json::Value>(&text)
                .with_context(|| format!("decoding seccomp profile ({path}) failed"))?;
            o.seccomp = text;
        }
        ("label" | "apparmor", Some(_)) => {
            eprintln!(
                "warning: security option {so:?} ignored: hull uses neither SELinux nor AppArmor"
            )
        }
        _ => bail!("invalid --security-opt: {so:?}"),
    }
    Ok(())
}

/// A duration flag as Docker takes it: a Go duration, not negative.
fn duration_flag(flag: &str, v: Option<&str>) -> anyhow::Result<i64> {
    let Some(v) = v else {
        return Ok(0);
    };
    let n = hull_types::duration::parse_go_duration(v)
        .map_err(|e| anyhow::anyhow!("invalid argument \"{v}\" for \"--{flag}\" flag: {e}"))?;
    if n < 0 {
        bail!("--{flag} cannot be negative");
    }
    Ok(n)
}

/// `--health-*` and `--no-healthcheck` as Docker builds its HealthConfig:
/// none when no flag is given (the image's healthcheck then).
fn health_config(a: &RunArgs) -> anyhow::Result<Option<pb::HealthConfig>> {
    let interval = duration_flag("health-interval", a.health_interval.as_deref())?;
    let timeout = duration_flag("health-timeout", a.health_timeout.as_deref())?;
    let start_period = duration_flag("health-start-period", a.health_start_period.as_deref())?;
    let retries = a.health_retries.unwrap_or(0);
    if retries < 0 {
        bail!("--health-retries cannot be negative");
    }
    let any_health = a.health_cmd.is_some()
        || a.health_interval.is_some()
        || a.health_timeout.is_some()
        || a.health_retries.is_some()
        || a.health_start_period.is_some();
    if a.no_healthcheck {
        if any_health {
            bail!("--no-healthcheck conflicts with --health-* options");
        }
        return Ok(Some(pb::HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        }));
    }
    if !any_health {
        return Ok(None);
    }
    let test = match &a.health_cmd {
        Some(cmd) if !cmd.is_empty() => vec!["CMD-SHELL".into(), cmd.clone()],
        _ => Vec::new(),
    };
    Ok(Some(pb::HealthConfig {
        test,
        interval,
        timeout,
        start_period,
        retries,
    }))
}

/// `-v ./dir:/c` → `-v /cwd/dir:/c` (hulld does not know our cwd).
fn absolute_bind_source(v: &str) -> String {
    match v.split_once(':') {
        Some((src, rest)) if src.starts_with('.') => std::env::current_dir()
            .map(|d| format!("{}:{rest}", d.join(src).display()))
            .unwrap_or_else(|_| v.to_string()),
        _ => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_signals() {
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512kb").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("-1m").is_err());
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert!(parse_signal("NOPE").is_err());
    }

    fn health(args: &[&str]) -> anyhow::Result<Option<pb::HealthConfig>> {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cmd {
            #[command(flatten)]
            run: RunArgs,
        }
        let argv = ["run"].iter().chain(args).chain(&["busybox"]);
        health_config(&Cmd::try_parse_from(argv)?.run)
    }

    #[test]
    fn health_flags() {
        assert_eq!(health(&[]).unwrap(), None);
        let h = health(&[
            "--health-cmd",
            "test -f /ok",
            "--health-interval=200ms",
            "--health-timeout",
            "1m30s",
            "--health-retries=2",
            "--health-start-period=1s",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "test -f /ok"]);
        assert_eq!((h.interval, h.timeout), (200_000_000, 90_000_000_000));
        assert_eq!((h.start_period, h.retries), (1_000_000_000, 2));
        // One field alone: the rest stays the image's.
        let h = health(&["--health-retries", "5"]).unwrap().unwrap();
        assert!(h.test.is_empty());
        assert_eq!((h.interval, h.retries), (0, 5));
        let none = health(&["--no-healthcheck"]).unwrap().unwrap();
        assert_eq!(none.test, ["NONE"]);
        let err = |a: &[&str]| health(a).unwrap_err().to_string();
        assert_eq!(
            err(&["--no-healthcheck", "--health-cmd", "true"]),
            "--no-healthcheck conflicts with --health-* options"
        );
        assert_eq!(
            err(&["--health-interval=-1s"]),
            "--health-interval cannot be negative"
        );
        assert!(err(&["--health-timeout=5"]).contains("--health-timeout"));
        assert_eq!(
            err(&["--health-retries=-1"]),
            "--health-retries cannot be negative"
        );
    }
}

//! A service of the model as hulld's `RunOptions` for one container: what
//! `hull run` flags would say for it.

use anyhow::bail;
use hull_compose::model::service::{Healthcheck, Service, Ulimit};
use hull_compose::model::volumes::MountKind;
use hull_compose::Project;
use hull_proto::v1 as pb;

use crate::containers::flags::{parse_bytes, security_opt};

/// The networks a service's containers join: (real name, aliases), the
/// one to create the container on first.
pub fn networks(project: &Project, name: &str, svc: &Service) -> Vec<(String, Vec<String>)> {
    let mut nets: Vec<(i64, String, Vec<String>)> = svc
        .networks
        .iter()
        .map(|(key, cfg)| {
            let real = project
                .networks
                .get(key)
                .and_then(|n| n.name.clone())
                .unwrap_or_else(|| key.clone());
            let mut aliases = vec![name.to_string()];
            if let Some(c) = cfg {
                aliases.extend(c.aliases.iter().cloned());
            }
            (
                cfg.as_ref().and_then(|c| c.priority).unwrap_or(0),
                real,
                aliases,
            )
        })
        .collect();
    nets.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    nets.into_iter().map(|(_, n, a)| (n, a)).collect()
}

pub fn run_options(project: &Project, name: &str, svc: &Service) -> anyhow::Result<pb::RunOptions> {
    let mut args = Vec::new();
    let mut entrypoint = String::new();
    if let Some(ep) = &svc.entrypoint {
        if let Some((first, rest)) = ep.split_first() {
            entrypoint = first.clone();
            args.extend(rest.iter().cloned());
        }
    }
    args.extend(svc.command.clone().unwrap_or_default());
    let env = svc
        .environment
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    let mut volumes = Vec::new();
    let mut tmpfs = svc.tmpfs.clone();
    for m in &svc.volumes {
        let ro = if m.read_only == Some(true) { ":ro" } else { "" };
        match (m.kind, &m.source) {
            (MountKind::Bind, Some(src)) => volumes.push(format!("{src}:{}{ro}", m.target)),
            (MountKind::Volume, Some(src)) => {
                let real = project
                    .volumes
                    .get(src)
                    .and_then(|v| v.name.clone())
                    .unwrap_or_else(|| src.clone());
                volumes.push(format!("{real}:{}{ro}", m.target));
            }
            (MountKind::Volume, None) => volumes.push(m.target.clone()),
            (MountKind::Tmpfs, _) => {
                let size = m.tmpfs.as_ref().and_then(|t| t.size.clone());
                tmpfs.push(match size {
                    Some(s) => format!("{}:size={s}", m.target),
                    None => m.target.clone(),
                });
            }
            (kind, _) => bail!("service {name:?}: volume of type {kind:?} is not supported"),
        }
    }
    let publish = svc
        .ports
        .iter()
        .map(|p| {
            let target = format!("{}/{}", p.target, p.protocol);
            match (&p.host_ip, &p.published) {
                (Some(ip), Some(pb)) => format!("{ip}:{pb}:{target}"),
                (Some(ip), None) => format!("{ip}::{target}"),
                (None, Some(pb)) => format!("{pb}:{target}"),
                (None, None) => target,
            }
        })
        .collect();
    let (network, aliases) = match svc.network_mode.as_deref() {
        Some(m @ ("host" | "none" | "bridge")) => (m.to_string(), vec![]),
        Some(other) => bail!("service {name:?}: network_mode {other:?} is not supported"),
        None => networks(project, name, svc)
            .into_iter()
            .next()
            .unwrap_or_default(),
    };
    let limits = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.limits.as_ref());
    let memory = svc
        .mem_limit
        .clone()
        .or_else(|| limits.and_then(|l| l.memory.clone()));
    let mut o = pb::RunOptions {
        args,
        has_entrypoint: svc.entrypoint.is_some(),
        entrypoint,
        env,
        workdir: svc.working_dir.clone().unwrap_or_default(),
        user: svc.user.clone().unwrap_or_default(),
        hostname: svc.hostname.clone().unwrap_or_default(),
        tty: svc.tty == Some(true),
        open_stdin: svc.stdin_open == Some(true),
        memory: memory.as_deref().map(parse_bytes).transpose()?.unwrap_or(0),
        cpus: svc
            .cpus
            .or_else(|| limits.and_then(|l| l.cpus))
            .unwrap_or(0.0),
        pids_limit: svc.pids_limit.unwrap_or(0),
        cap_add: svc.cap_add.clone(),
        cap_drop: svc.cap_drop.clone(),
        privileged: svc.privileged == Some(true),
        read_only: svc.read_only == Some(true),
        stop_signal: svc.stop_signal.clone().unwrap_or_default(),
        stop_timeout: svc
            .stop_grace_period
            .as_deref()
            .map(seconds)
            .transpose()?
            .unwrap_or(0),
        restart_policy: svc.restart.clone().unwrap_or_default(),
        init: svc.init == Some(true),
        volumes,
        tmpfs,
        host_network: network == "host",
        network,
        publish,
        network_aliases: aliases,
        dns: svc.dns.clone(),
        health: svc
            .healthcheck
            .as_ref()
            .map(|h| health(name, h))
            .transpose()?,
        add_hosts: svc
            .extra_hosts
            .iter()
            .map(|h| h.replacen('=', ":", 1))
            .collect(),
        ulimits: svc
            .ulimits
            .iter()
            .map(|(k, u)| match u {
                Ulimit::Single(n) => format!("{k}={n}"),
                Ulimit::Pair { soft, hard } => format!("{k}={soft}:{hard}"),
            })
            .collect(),
        sysctls: svc
            .sysctls
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        shm_size: svc
            .shm_size
            .as_deref()
            .map(parse_bytes)
            .transpose()?
            .unwrap_or(0),
        pid_mode: svc.pid.clone().unwrap_or_default(),
        ipc_mode: svc.ipc.clone().unwrap_or_default(),
        ..Default::default()
    };
    for so in &svc.security_opt {
        security_opt(&mut o, so).map_err(|e| anyhow::anyhow!("service {name:?}: {e}"))?;
    }
    Ok(o)
}

/// A service's `healthcheck:` as hulld's HealthConfig: unset fields (0,
/// empty test) fall back to the image's, `disable: true` is `["NONE"]`.
fn health(name: &str, h: &Healthcheck) -> anyhow::Result<pb::HealthConfig> {
    let nanos = |d: &Option<String>| -> anyhow::Result<i64> {
        d.as_deref()
            .map(|d| {
                hull_types::duration::parse_go_duration(d)
                    .map_err(|e| anyhow::anyhow!("service {name:?}: healthcheck: {e}"))
            })
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let test = if h.disable == Some(true) {
        vec!["NONE".to_string()]
    } else {
        h.test.clone().unwrap_or_default()
    };
    Ok(pb::HealthConfig {
        test,
        interval: nanos(&h.interval)?,
        timeout: nanos(&h.timeout)?,
        start_period: nanos(&h.start_period)?,
        retries: h.retries.map(|r| r as i32).unwrap_or(0),
    })
}

/// A Compose duration (`1m30s`, `10s`, `500ms`, `1h`, or bare seconds) in
/// whole seconds, rounded up.
pub fn seconds(d: &str) -> anyhow::Result<i32> {
    let d = d.trim();
    if !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()) {
        return Ok(d.parse()?);
    }
    let nanos = hull_types::duration::parse_go_duration(d)
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| anyhow::anyhow!("invalid duration {d:?}"))?;
    Ok(nanos.div_euclid(1_000_000_000) as i32 + i32::from(nanos % 1_000_000_000 != 0))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    fn project(yaml: &str) -> hull_compose::Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), yaml).unwrap();
        let opts = hull_compose::Options {
            working_dir: dir.path().to_path_buf(),
            project_name: Some("p".into()),
            environment: BTreeMap::new(),
            ..Default::default()
        };
        hull_compose::load(&opts).unwrap().project
    }

    #[test]
    fn a_service_as_run_options() {
        let p = project(
            "services:\n  web:\n    image: x\n    entrypoint: [/bin/sh, -c]\n    command: echo hi\n    environment: [A=1, UNSET]\n    ports: [\"127.0.0.1:8080:80\", \"53/udp\"]\n    volumes: [\"data:/d:ro\", \"/cache\", \"/h:/h\"]\n    tmpfs: /run\n    stop_grace_period: 1m\n    mem_limit: 1g\n    extra_hosts: [\"a=1.2.3.4\"]\n    networks:\n      back: {aliases: [b]}\n      front: {priority: 10}\nvolumes:\n  data: {}\nnetworks:\n  back: {}\n  front: {}\n",
        );
        let o = super::run_options(&p, "web", &p.services["web"]).unwrap();
        assert_eq!((o.entrypoint.as_str(), o.has_entrypoint), ("/bin/sh", true));
        assert_eq!(o.args, vec!["-c", "echo", "hi"]);
        assert_eq!(o.env, vec!["A=1"]);
        assert_eq!(o.publish, vec!["127.0.0.1:8080:80/tcp", "53/udp"]);
        assert_eq!(o.volumes, vec!["p_data:/d:ro", "/cache", "/h:/h"]);
        assert_eq!(o.tmpfs, vec!["/run"]);
        assert_eq!((o.stop_timeout, o.memory), (60, 1 << 30));
        assert_eq!(o.add_hosts, vec!["a:1.2.3.4"]);
        // The network of highest priority first; the service name is an alias.
        assert_eq!(o.network, "p_front");
        assert_eq!(o.network_aliases, vec!["web"]);
        let nets = super::networks(&p, "web", &p.services["web"]);
        assert_eq!(
            nets[1],
            (
                "p_back".to_string(),
                vec!["web".to_string(), "b".to_string()]
            )
        );
    }

    #[test]
    fn durations() {
        assert_eq!(super::seconds("1m30s").unwrap(), 90);
        assert_eq!(super::seconds("10").unwrap(), 10);
        assert_eq!(super::seconds("500ms").unwrap(), 1);
        assert_eq!(super::seconds("1h").unwrap(), 3600);
        assert!(super::seconds("5x").is_err());
    }
}

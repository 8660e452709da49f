//! `inspect`: Docker's inspect document of a container, as JSON or
//! through a `--format` template.

use hull_proto::v1 as pb;

use super::Exit;
use crate::client::Conn;
use hull_types::reference::familiar_name;
use hull_types::time::{rfc3339, rfc3339_nanos};

/// Docker's `inspect` document for a container.
fn inspect_json(c: &pb::Container) -> serde_json::Value {
    use serde_json::json;
    let spec: serde_json::Value = serde_json::from_slice(&c.spec).unwrap_or_default();
    let st = c.status.clone().unwrap_or_default();
    let args: Vec<serde_json::Value> = spec["process"]["args"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let user = &spec["process"]["user"];
    let user = match (user["uid"].as_u64(), user["gid"].as_u64()) {
        (Some(0), Some(0)) | (None, _) => String::new(),
        (Some(u), Some(g)) => format!("{u}:{g}"),
        (Some(u), None) => u.to_string(),
    };
    let mut doc = json!({
        "Id": c.id,
        "Created": rfc3339(c.created_at),
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.get(1..).map(|a| a.to_vec()).unwrap_or_default(),
        "State": {
            "Status": if st.state.is_empty() { "created".to_string() } else { st.state.clone() },
            "Running": st.state == "running" || st.state == "paused",
            "Paused": st.state == "paused",
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": st.pid,
            "ExitCode": st.exit_code,
            "Error": "",
            "StartedAt": rfc3339(st.started_at),
            "FinishedAt": rfc3339(st.finished_at),
        },
        "Image": c.image,
        "Name": format!("/{}", c.name),
        "RestartCount": c.restart_count,
        "Driver": c.snapshotter,
        "Platform": "linux",
        "Config": {
            "Hostname": spec["hostname"],
            "User": user,
            "Tty": spec["process"]["terminal"],
            "Env": spec["process"]["env"],
            "Cmd": spec["process"]["args"],
            "Image": familiar_name(&c.image),
            "WorkingDir": spec["process"]["cwd"],
            "Labels": c.labels,
            "StopSignal": spec["annotations"][hull_types::annotations::STOP_SIGNAL]
                .as_str()
                .unwrap_or("SIGTERM"),
        },
        "HostConfig": {
            "AutoRemove": c.auto_remove,
            "RestartPolicy": restart_policy_json(&c.restart_policy),
            "ReadonlyRootfs": spec["root"]["readonly"],
            "Memory": spec["linux"]["resources"]["memory"]["limit"].as_i64().unwrap_or(0),
            "PidsLimit": spec["linux"]["resources"]["pids"]["limit"].as_i64().unwrap_or(0),
            "CpuQuota": spec["linux"]["resources"]["cpu"]["quota"].as_i64().unwrap_or(0),
            "CpuPeriod": spec["linux"]["resources"]["cpu"]["period"].as_i64().unwrap_or(0),
            "CpuShares": spec["linux"]["resources"]["cpu"]["shares"].as_i64().unwrap_or(0),
            "CpusetCpus": spec["linux"]["resources"]["cpu"]["cpus"].as_str().unwrap_or(""),
        },
        "GraphDriver": {"Name": c.snapshotter},
        "ResolvConfPath": format!("{}/resolv.conf", c.bundle),
        "HostnamePath": format!("{}/hostname", c.bundle),
        "HostsPath": format!("{}/hosts", c.bundle),
        "LogPath": format!("{}/stdout.log", c.bundle),
    });
    if let Some(h) = &st.health {
        doc["State"]["Health"] = health_json(h);
    }
    if let Some(h) = &c.healthcheck {
        doc["Config"]["Healthcheck"] = healthcheck_json(h);
    }
    doc
}

/// Docker's State.Health.
fn health_json(h: &pb::Health) -> serde_json::Value {
    let log: Vec<serde_json::Value> = h
        .log
        .iter()
        .map(|r| {
            serde_json::json!({
                "Start": rfc3339_nanos(r.start),
                "End": rfc3339_nanos(r.end),
                "ExitCode": r.exit_code,
                "Output": r.output,
            })
        })
        .collect();
    serde_json::json!({"Status": h.status, "FailingStreak": h.failing_streak, "Log": log})
}

/// Docker's Config.Healthcheck: durations in nanoseconds, unset ones left out.
fn healthcheck_json(h: &pb::HealthConfig) -> serde_json::Value {
    let mut v = serde_json::json!({"Test": h.test});
    for (k, n) in [
        ("Interval", h.interval),
        ("Timeout", h.timeout),
        ("StartPeriod", h.start_period),
        ("Retries", i64::from(h.retries)),
    ] {
        if n != 0 {
            v[k] = n.into();
        }
    }
    v
}

/// Docker's HostConfig.RestartPolicy: {"Name": "on-failure", "MaximumRetryCount": 3}.
fn restart_policy_json(p: &str) -> serde_json::Value {
    let (name, max) = match p.split_once(':') {
        Some((n, m)) => (n, m.parse::<u32>().unwrap_or(0)),
        None if p.is_empty() => ("no", 0),
        None => (p, 0),
    };
    serde_json::json!({"Name": name, "MaximumRetryCount": max})
}

pub(super) async fn inspect(
    conn: &Conn,
    format: Option<String>,
    names: &[String],
) -> anyhow::Result<()> {
    let mut docs = Vec::new();
    let mut failed = false;
    for n in names {
        match conn
            .containers()
            .get(conn.req(pb::GetContainerRequest { id: n.clone() }))
            .await
        {
            Ok(c) => {
                let c = c.into_inner();
                let mut d = inspect_json(&c);
                crate::network::add_settings(conn, &c.id, &mut d).await;
                docs.push(d)
            }
            Err(e) => {
                eprintln!("Error: No such object: {n}");
                let _ = e;
                failed = true;
            }
        }
    }
    match format.as_deref() {
        None | Some("json") => {
            println!("{}", serde_json::to_string_pretty(&docs)?);
        }
        Some(t) => {
            for d in &docs {
                match crate::template::render(t, &hull_types::untrusted::escape_json(d)) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("template parsing error: {e}");
                        return Err(Exit(1).into());
                    }
                }
            }
        }
    }
    if failed {
        return Err(Exit(1).into());
    }
    Ok(())
}

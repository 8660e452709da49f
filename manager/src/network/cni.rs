//! Running CNI plugins per the CNI spec (1.0.0): the plugin binary from
//! CNI_PATH, the command and container in environment variables, the
//! network configuration as JSON on stdin, a result (or an error object)
//! as JSON on stdout. A configuration list is run plugin by plugin: ADD in
//! order, each given the previous result as `prevResult`; DEL in reverse
//! order with the final ADD result.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::error::{Error, Result};

pub const CNI_VERSION: &str = "1.0.0";

/// Where plugins are looked for unless configured: upstream's
/// /opt/cni/bin, then Debian's /usr/lib/cni.
pub const DEFAULT_PLUGIN_DIRS: [&str; 2] = ["/opt/cni/bin", "/usr/lib/cni"];

/// The plugin directories hulld's config names (`[cri] cni_bin_dirs`).
static PLUGIN_DIRS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Look for plugins in `dirs` (hulld's config, set once at start-up).
pub fn set_plugin_dirs(dirs: &[PathBuf]) {
    if let Ok(p) = std::env::join_paths(dirs) {
        let _ = PLUGIN_DIRS.set(p.to_string_lossy().into_owned());
    }
}

/// Directories searched for plugins: `$HULL_CNI_PATH`, else the
/// configured ones, else `DEFAULT_PLUGIN_DIRS`.
pub fn cni_path() -> String {
    std::env::var("HULL_CNI_PATH").unwrap_or_else(|_| {
        PLUGIN_DIRS
            .get()
            .cloned()
            .unwrap_or_else(|| DEFAULT_PLUGIN_DIRS.join(":"))
    })
}

fn find_plugin(name: &str) -> Result<PathBuf> {
    std::env::split_paths(&cni_path())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::FailedPrecondition(format!(
                "CNI plugin {name:?} not found in {} (install containernetworking-plugins)",
                cni_path()
            ))
        })
}

/// One invocation. `conf` is the plugin's full configuration.
pub fn exec(
    command: &str,
    container_id: &str,
    netns: &Path,
    ifname: &str,
    conf: &Value,
    runtime_config: Option<&Value>,
) -> Result<Value> {
    let plugin = conf["type"].as_str().unwrap_or_default().to_string();
    let bin = find_plugin(&plugin)?;
    let mut conf = conf.clone();
    if let Some(rc) = runtime_config {
        conf["runtimeConfig"] = rc.clone();
    }
    let input = serde_json::to_vec(&conf)?;
    let mut child = Command::new(&bin)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", container_id)
        .env("CNI_NETNS", netns)
        .env("CNI_IFNAME", ifname)
        .env("CNI_PATH", cni_path())
        .env("CNI_ARGS", "IgnoreUnknown=1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(format!("run CNI plugin {}", bin.display()), e))?;
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(&input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io(format!("wait for CNI plugin {plugin}"), e))?;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if !out.status.success() {
        let msg = v["msg"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&out.stderr).trim().to_string());
        let details = v["details"].as_str().unwrap_or_default();
        let text = if details.is_empty() {
            msg
        } else {
            format!("{msg}: {details}")
        };
        return Err(Error::FailedPrecondition(format!(
            "CNI {plugin} {command} on {ifname}: {text}"
        )));
    }
    tracing::debug!(plugin, command, ifname, "CNI ok");
    Ok(v)
}

/// ADD through a configuration list. On failure the plugins that already
/// ran are undone (DEL), so nothing is left half-made.
pub fn add_list(
    list: &Value,
    container_id: &str,
    netns: &Path,
    ifname: &str,
    runtime_config: &Value,
) -> Result<Value> {
    let plugins = list["plugins"].as_array().cloned().unwrap_or_default();
    let mut prev: Option<Value> = None;
    for (i, p) in plugins.iter().enumerate() {
        let conf = plugin_conf(list, p, prev.as_ref());
        match exec(
            "ADD",
            container_id,
            netns,
            ifname,
            &conf,
            Some(runtime_config),
        ) {
            Ok(r) => prev = Some(r),
            Err(e) => {
                let partial = json!({"plugins": plugins[..=i].to_vec(), "name": list["name"], "cniVersion": list["cniVersion"]});
                let _ = del_list(
                    &partial,
                    container_id,
                    netns,
                    ifname,
                    runtime_config,
                    prev.as_ref(),
                );
                return Err(e);
            }
        }
    }
    Ok(prev.unwrap_or(Value::Null))
}

/// DEL through a configuration list, reverse order; every plugin runs even
/// when one fails (the first error is returned).
pub fn del_list(
    list: &Value,
    container_id: &str,
    netns: &Path,
    ifname: &str,
    runtime_config: &Value,
    result: Option<&Value>,
) -> Result<()> {
    let plugins = list["plugins"].as_array().cloned().unwrap_or_default();
    let mut first = None;
    for p in plugins.iter().rev() {
        let conf = plugin_conf(list, p, result);
        if let Err(e) = exec(
            "DEL",
            container_id,
            netns,
            ifname,
            &conf,
            Some(runtime_config),
        ) {
            tracing::warn!(container_id, "{e}");
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

fn plugin_conf(list: &Value, p: &Value, prev: Option<&Value>) -> Value {
    let mut c = p.clone();
    c["cniVersion"] = list["cniVersion"].clone();
    c["name"] = list["name"].clone();
    if let Some(r) = prev.filter(|r| !r.is_null()) {
        c["prevResult"] = r.clone();
    }
    c
}

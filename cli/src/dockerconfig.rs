//! Credentials in Docker's config.json (`$DOCKER_CONFIG/config.json` or
//! `~/.docker/config.json`): the `auths` map of `{"auth": base64(user:pass)}`.

use std::path::PathBuf;

use base64::Engine;
use serde_json::{Map, Value};

use anyhow::{anyhow, Context, Result};

/// Path of the config file.
pub fn config_path() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return PathBuf::from(d).join("config.json");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".docker").join("config.json")
}

/// The key Docker uses for a registry host in `auths`.
pub fn auth_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            "https://index.docker.io/v1/".into()
        }
        r => r.to_string(),
    }
}

fn load() -> Result<Map<String, Value>> {
    let p = config_path();
    match std::fs::read(&p) {
        Ok(b) => match serde_json::from_slice::<Value>(&b) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(anyhow!("{} is not a JSON object", p.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(anyhow!(e).context(format!("read {}", p.display()))),
    }
}

/// Credentials (user, password) for `registry`, if stored.
pub fn get(registry: &str) -> Result<Option<(String, String)>> {
    let m = load()?;
    let Some(Value::Object(auths)) = m.get("auths") else {
        return Ok(None);
    };
    let key = auth_key(registry);
    let entry = auths
        .get(&key)
        .or_else(|| auths.get(&format!("https://{registry}")))
        .or_else(|| auths.get(&format!("http://{registry}")));
    match entry {
        Some(e) => user_password(registry, e),
        None => Ok(None),
    }
}

/// (user, password) of one `auths` entry: its `auth` (base64 of
/// `user:password`) or its `username` and `password`.
fn user_password(registry: &str, entry: &Value) -> Result<Option<(String, String)>> {
    let Value::Object(e) = entry else {
        return Ok(None);
    };
    if let Some(Value::String(a)) = e.get("auth") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.trim())
            .map_err(|_| anyhow!("bad auth for {registry} in config.json"))?;
        let s = String::from_utf8_lossy(&raw).to_string();
        if let Some((u, p)) = s.split_once(':') {
            return Ok(Some((u.to_string(), p.to_string())));
        }
    }
    if let (Some(Value::String(u)), Some(Value::String(p))) = (e.get("username"), e.get("password"))
    {
        return Ok(Some((u.clone(), p.clone())));
    }
    Ok(None)
}

/// Every stored credential, by registry host (`docker.io` for Docker
/// Hub's key, a URL's scheme and path dropped), as `docker build` sends
/// them all.
pub fn all() -> Result<Vec<(String, String, String)>> {
    let m = load()?;
    let Some(Value::Object(auths)) = m.get("auths") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (key, entry) in auths {
        let host = if key == &auth_key("docker.io") {
            "docker.io"
        } else {
            let rest = key
                .strip_prefix("https://")
                .or_else(|| key.strip_prefix("http://"))
                .unwrap_or(key);
            rest.split('/').next().unwrap_or(rest)
        };
        if let Some((u, p)) = user_password(host, entry)? {
            out.push((host.to_string(), u, p));
        }
    }
    Ok(out)
}

fn save(m: &Map<String, Value>) -> Result<()> {
    let p = config_path();
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let tmp = p.with_extension("json.tmp");
    let body = serde_json::to_vec_pretty(&Value::Object(m.clone()))?;
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("write {}", tmp.display()))?;
        f.write_all(&body)
            .with_context(|| format!("write {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, &p).with_context(|| format!("rename {}", p.display()))
}

/// Store credentials (keeps the rest of the file).
pub fn store(registry: &str, user: &str, password: &str) -> Result<()> {
    let mut m = load()?;
    let auths = m
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    if let Value::Object(a) = auths {
        a.insert(auth_key(registry), serde_json::json!({ "auth": enc }));
    }
    save(&m)
}

/// Remove credentials; false when there were none.
pub fn erase(registry: &str) -> Result<bool> {
    let mut m = load()?;
    let removed = match m.get_mut("auths") {
        Some(Value::Object(a)) => a.remove(&auth_key(registry)).is_some(),
        _ => false,
    };
    if removed {
        save(&m)?;
    }
    Ok(removed)
}

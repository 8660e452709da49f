//! The image a stage is building: its config document (OCI image config:
//! `config`, `rootfs.diff_ids`, `history`) and its layers, changed by each
//! instruction; and its commit into the content store and the namespace's
//! image records.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use hull_dockerfile::instructions::{CommandLine, Healthcheck, Instruction, PortSpec, Protocol};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::images::{self, Descriptor, Platform};
use crate::manager::Manager;

/// An image under construction.
#[derive(Debug, Clone)]
pub struct Image {
    pub doc: Value,
    pub layers: Vec<Descriptor>,
    /// CMD was set in this stage (ENTRYPOINT then leaves it).
    cmd_set: bool,
}

impl Image {
    /// `FROM scratch`: no layers, an empty config.
    pub fn scratch() -> Image {
        let p = Platform::host();
        let mut doc = json!({
            "architecture": p.architecture,
            "os": p.os,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": []},
            "history": [],
        });
        if !p.variant.is_empty() {
            doc["variant"] = p.variant.into();
        }
        Image {
            doc,
            layers: Vec::new(),
            cmd_set: false,
        }
    }

    /// An image from the store: its config and manifest layers.
    pub fn from_base(config_raw: &[u8], layers: &[Descriptor]) -> Result<Image> {
        let mut doc: Value = serde_json::from_slice(config_raw)?;
        if !doc["config"].is_object() {
            doc["config"] = json!({});
        }
        if !doc["history"].is_array() {
            doc["history"] = json!([]);
        }
        let layers = layers
            .iter()
            .map(|l| {
                let mut l = l.clone();
                l.media_type = oci_layer_type(&l.media_type);
                l
            })
            .collect();
        Ok(Image {
            doc,
            layers,
            cmd_set: false,
        })
    }

    /// Starting a new stage on this image (FROM an earlier stage).
    pub fn for_new_stage(&self) -> Image {
        Image {
            cmd_set: false,
            ..self.clone()
        }
    }

    pub fn config(&self) -> &Value {
        &self.doc["config"]
    }

    fn cfg(&mut self) -> &mut Map<String, Value> {
        if !self.doc["config"].is_object() {
            self.doc["config"] = json!({});
        }
        match self.doc["config"].as_object_mut() {
            Some(m) => m,
            None => unreachable!("config was just made an object"),
        }
    }

    pub fn diff_ids(&self) -> Vec<String> {
        strings(&self.doc["rootfs"]["diff_ids"])
    }

    /// The snapshot holding this image's filesystem ("" for none).
    pub fn top(&self) -> String {
        images::chain_ids(&self.diff_ids())
            .pop()
            .unwrap_or_default()
    }

    /// The chain ID the image's filesystem has after adding `diff_id`.
    pub fn chain_after(&self, diff_id: &str) -> String {
        let mut d = self.diff_ids();
        d.push(diff_id.to_string());
        images::chain_ids(&d).pop().unwrap_or_default()
    }

    pub fn add_layer(&mut self, layer: Descriptor, diff_id: &str) {
        self.layers.push(layer);
        let mut d = self.diff_ids();
        d.push(diff_id.to_string());
        self.doc["rootfs"] = json!({"type": "layers", "diff_ids": d});
    }

    pub fn add_history(&mut self, created: &str, created_by: &str, empty_layer: bool) {
        let mut h = json!({"created": created, "created_by": created_by, "comment": "hull build"});
        if empty_layer {
            h["empty_layer"] = true.into();
        }
        match self.doc["history"].as_array_mut() {
            Some(a) => a.push(h),
            None => self.doc["history"] = json!([h]),
        }
        self.doc["created"] = created.into();
    }

    /// The environment as `KEY=VALUE` lines.
    pub fn env(&self) -> Vec<String> {
        strings(&self.config()["Env"])
    }

    pub fn workdir(&self) -> String {
        self.config()["WorkingDir"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// SHELL of the stage (Docker keeps it in the config), else /bin/sh -c.
    pub fn shell(&self) -> Vec<String> {
        match strings(&self.config()["Shell"]) {
            s if !s.is_empty() => s,
            _ => hull_dockerfile::instructions::DEFAULT_SHELL
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    /// ONBUILD triggers the image carries.
    pub fn onbuild(&self) -> Vec<String> {
        strings(&self.config()["OnBuild"])
    }

    pub fn clear_onbuild(&mut self) {
        self.cfg().remove("OnBuild");
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        let mut env = self.env();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(format!("{key}={value}"));
        self.cfg().insert("Env".into(), json!(env));
    }

    pub fn set_workdir(&mut self, dir: &str) {
        self.cfg().insert("WorkingDir".into(), dir.into());
    }

    /// What a metadata instruction changes in the config (`text` is the
    /// instruction as written, for ONBUILD).
    pub fn apply(&mut self, ins: &Instruction, text: &str) -> Result<()> {
        let shell = self.shell();
        match ins {
            Instruction::Env(pairs) => {
                for p in pairs {
                    self.set_env(&p.key, &p.value);
                }
            }
            Instruction::Label(pairs) => {
                let labels = self.cfg().entry("Labels").or_insert_with(|| json!({}));
                if !labels.is_object() {
                    *labels = json!({});
                }
                for p in pairs {
                    labels[&p.key] = p.value.clone().into();
                }
            }
            Instruction::Cmd(c) => {
                self.cfg().insert("Cmd".into(), json!(c.argv(&shell)));
                self.cmd_set = true;
            }
            Instruction::Entrypoint(c) => {
                self.cfg()
                    .insert("Entrypoint".into(), json!(c.argv(&shell)));
                if !self.cmd_set {
                    self.cfg().insert("Cmd".into(), Value::Null);
                }
            }
            Instruction::User(u) => {
                self.cfg().insert("User".into(), u.clone().into());
            }
            Instruction::Expose(ports) => {
                let map = self
                    .cfg()
                    .entry("ExposedPorts")
                    .or_insert_with(|| json!({}));
                for p in ports {
                    let spec =
                        PortSpec::parse(p).map_err(|e| Error::InvalidArgument(e.to_string()))?;
                    let proto = match spec.protocol {
                        Protocol::Tcp => "tcp",
                        Protocol::Udp => "udp",
                        Protocol::Sctp => "sctp",
                    };
                    for port in spec.start..=spec.end {
                        map[format!("{port}/{proto}")] = json!({});
                    }
                }
            }
            Instruction::Volume(vols) => {
                let map = self.cfg().entry("Volumes").or_insert_with(|| json!({}));
                for v in vols {
                    map[v] = json!({});
                }
            }
            Instruction::StopSignal(s) => {
                self.cfg().insert("StopSignal".into(), s.clone().into());
            }
            Instruction::Healthcheck(h) => {
                let v = healthcheck(h);
                self.cfg().insert("Healthcheck".into(), v);
            }
            Instruction::Shell(s) => {
                self.cfg().insert("Shell".into(), json!(s));
            }
            Instruction::Maintainer(m) => self.doc["author"] = m.clone().into(),
            Instruction::Onbuild(_) => {
                let trigger = text.trim_start();
                let trigger = trigger.get(7..).unwrap_or("").trim_start().to_string();
                let list = self.cfg().entry("OnBuild").or_insert_with(|| json!([]));
                match list.as_array_mut() {
                    Some(a) => a.push(trigger.into()),
                    None => *list = json!([trigger]),
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The strings of a JSON array (none for anything else).
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn healthcheck(h: &Healthcheck) -> Value {
    match h {
        Healthcheck::None => json!({"Test": ["NONE"]}),
        Healthcheck::Check { flags, command } => {
            let test: Vec<String> = match command {
                CommandLine::Exec(v) => std::iter::once("CMD".to_string())
                    .chain(v.iter().cloned())
                    .collect(),
                CommandLine::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
            };
            let mut v = json!({"Test": test});
            let ns = |d: std::time::Duration| json!(d.as_nanos() as u64);
            if let Some(d) = flags.interval {
                v["Interval"] = ns(d);
            }
            if let Some(d) = flags.timeout {
                v["Timeout"] = ns(d);
            }
            if let Some(d) = flags.start_period {
                v["StartPeriod"] = ns(d);
            }
            if let Some(d) = flags.start_interval {
                v["StartInterval"] = ns(d);
            }
            if let Some(r) = flags.retries {
                v["Retries"] = r.into();
            }
            v
        }
    }
}

/// Docker layer media types as their OCI equivalents (same bytes).
fn oci_layer_type(mt: &str) -> String {
    match mt {
        images::MT_DOCKER_LAYER_GZIP => images::MT_OCI_LAYER_GZIP.into(),
        "application/vnd.docker.image.rootfs.diff.tar" => images::MT_OCI_LAYER.into(),
        other => other.to_string(),
    }
}

/// The image built: its ID (config digest), manifest digest and names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub image_id: String,
    pub manifest_digest: String,
    pub tags: Vec<String>,
}

/// Store `img`'s config and an OCI manifest, and name it `tags` in `ns`
/// (without tags: keep it unnamed, reachable by its ID).
pub fn commit(
    m: &Manager,
    ns: &str,
    img: &Image,
    labels: &BTreeMap<String, String>,
    tags: &[String],
) -> Result<Committed> {
    let mut img = img.clone();
    if !labels.is_empty() {
        let all = img.cfg().entry("Labels").or_insert_with(|| json!({}));
        for (k, v) in labels {
            all[k] = v.clone().into();
        }
    }
    let names = tags
        .iter()
        .map(|t| images::normalize_name(t))
        .collect::<Result<Vec<_>>>()?;
    let config = serde_json::to_vec(&img.doc)?;
    let config_digest = Digest::sha256_of(&config);
    m.content.put_bytes(&config_digest, &config)?;
    let manifest = images::Manifest {
        schema_version: 2,
        media_type: Some(images::MT_OCI_MANIFEST.into()),
        config: Descriptor {
            media_type: images::MT_OCI_CONFIG.into(),
            digest: config_digest.to_string(),
            size: config.len() as i64,
            ..Default::default()
        },
        layers: img.layers.clone(),
        annotations: None,
    };
    let raw = serde_json::to_vec(&manifest)?;
    let manifest_digest = Digest::sha256_of(&raw);
    m.content.put_bytes(&manifest_digest, &raw)?;
    let target = Descriptor {
        media_type: images::MT_OCI_MANIFEST.into(),
        digest: manifest_digest.to_string(),
        size: raw.len() as i64,
        ..Default::default()
    };
    for name in &names {
        images::ops::put_name(m, ns, name, target.clone(), BTreeMap::new())?;
    }
    if names.is_empty() {
        images::ops::put_dangling(m, ns, target)?;
    }
    Ok(Committed {
        image_id: config_digest.to_string(),
        manifest_digest: manifest_digest.to_string(),
        tags: names,
    })
}

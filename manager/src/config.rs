//! hulld configuration (`/etc/hull/config.toml`), all fields optional.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::snapshots::space::{parse_size, Reserve, SpaceLimit};

pub const DEFAULT_ROOT: &str = "/var/lib/hull";
pub const DEFAULT_STATE: &str = "/run/hull";
pub const DEFAULT_ADDRESS: &str = "/run/hull/hull.sock";
pub const DEFAULT_CONFIG: &str = "/etc/hull/config.toml";
/// The CRI socket's file name, beside the gRPC socket unless configured
/// (so `/run/hull/cri.sock` by default, and two hulld with their own
/// addresses do not take each other's CRI socket).
pub const CRI_SOCKET_NAME: &str = "cri.sock";
pub const DEFAULT_CNI_CONF_DIR: &str = "/etc/cni/net.d";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub root: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub address: Option<PathBuf>,
    pub log_level: Option<String>,
    /// Registries (host[:port]) reached over plain HTTP. localhost and
    /// 127.0.0.1 always are.
    pub insecure_registries: Vec<String>,
    /// Mirrors per registry host, e.g. `"docker.io" = ["mirror.example:5000"]`.
    pub registry_mirrors: BTreeMap<String, Vec<String>>,
    /// Parallel layer downloads per pull.
    pub max_concurrent_downloads: usize,
    /// "overlayfs", "native" (copy) or "auto" (overlayfs when it mounts).
    pub snapshotter: String,
    /// Allow device nodes in layers (refused by default).
    pub allow_device_nodes: bool,
    /// Network of containers run without `--network`: "bridge" (unset),
    /// "none", "host" or a network's name (like dockerd's `bridge: none`).
    pub default_network: Option<String>,
    /// The default network's bridge device (default "hull0"). Two hulld on
    /// one host need their own bridge and subnet.
    pub default_bridge: Option<String>,
    /// The default network's subnet (default "10.88.0.0/16").
    pub default_subnet: Option<String>,
    /// Free space pulls and loads leave on the root's file system: bytes
    /// with a unit ("1GiB", "512MiB"), a share ("5%") or "auto" (unset: the
    /// smaller of 1 GiB and 5 %). A layer that would eat into it is refused.
    pub min_free_space: Option<String>,
    /// Largest single file a layer may unpack to ("10GiB"; unset or "0":
    /// bounded by free space only).
    pub max_layer_file_size: Option<String>,
    /// Seconds a registry may send nothing (per read, per request) before
    /// the pull fails (0: wait forever). Default 30.
    pub pull_idle_timeout: u64,
    /// The Kubernetes CRI endpoint (`[cri]`).
    pub cri: CriConfig,
}

/// `[cri]`: the CRI v1 endpoint kubelet and crictl talk to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CriConfig {
    /// Its unix socket (unset: `cri.sock` beside the gRPC socket, so
    /// /run/hull/cri.sock by default; "" or "off": not served).
    pub socket: Option<String>,
    /// Where CNI network configs are read (unset: /etc/cni/net.d).
    pub cni_conf_dir: Option<PathBuf>,
    /// The streaming server's (Exec, Attach, PortForward) address
    /// (unset: 127.0.0.1, as containerd's `stream_server_address`).
    pub stream_server_address: Option<String>,
    /// Its port (unset or 0: one the kernel picks).
    pub stream_server_port: Option<u16>,
}

impl CriConfig {
    /// The socket to serve, `None` when turned off; `flag` (hulld's
    /// `--cri-socket`) wins over the config; `address` is the gRPC socket.
    pub fn socket_path(&self, flag: Option<&str>, address: &Path) -> Option<PathBuf> {
        match flag.or(self.socket.as_deref()) {
            Some("") | Some("off") => None,
            Some(v) => Some(PathBuf::from(v)),
            None => Some(
                address
                    .parent()
                    .unwrap_or(Path::new("/"))
                    .join(CRI_SOCKET_NAME),
            ),
        }
    }

    /// The streaming server's address and port (0: any).
    pub fn stream_address(&self) -> (String, u16) {
        (
            self.stream_server_address
                .clone()
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "127.0.0.1".into()),
            self.stream_server_port.unwrap_or(0),
        )
    }

    pub fn cni_conf_dir(&self) -> PathBuf {
        self.cni_conf_dir
            .clone()
            .unwrap_or_else(|| DEFAULT_CNI_CONF_DIR.into())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            root: None,
            state: None,
            address: None,
            log_level: None,
            insecure_registries: Vec::new(),
            registry_mirrors: BTreeMap::new(),
            max_concurrent_downloads: 3,
            snapshotter: "auto".into(),
            allow_device_nodes: false,
            default_network: None,
            default_bridge: None,
            default_subnet: None,
            min_free_space: None,
            max_layer_file_size: None,
            pull_idle_timeout: 30,
            cri: CriConfig::default(),
        }
    }
}

impl Config {
    /// Load `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Config> {
        let c: Config = match std::fs::read_to_string(path) {
            Ok(s) => toml::from_str(&s)
                .map_err(|e| Error::InvalidArgument(format!("config {}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::default(),
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        };
        c.validate()
            .map_err(|e| Error::InvalidArgument(format!("config {}: {e}", path.display())))?;
        c.space_limit()
            .map_err(|e| Error::InvalidArgument(format!("config {}: {e}", path.display())))?;
        Ok(c)
    }

    /// The disk-space bounds for layers and blobs (`min_free_space`,
    /// `max_layer_file_size`).
    pub fn space_limit(&self) -> Result<SpaceLimit> {
        let reserve = match &self.min_free_space {
            Some(s) => Reserve::parse(s)
                .map_err(|e| Error::InvalidArgument(format!("min_free_space: {e}")))?,
            None => Reserve::Auto,
        };
        let max_file_size = match &self.max_layer_file_size {
            Some(s) => parse_size(s)
                .map_err(|e| Error::InvalidArgument(format!("max_layer_file_size: {e}")))?,
            None => 0,
        };
        Ok(SpaceLimit {
            reserve,
            max_file_size,
        })
    }

    /// `pull_idle_timeout` as a duration (`None`: no timeout).
    pub fn pull_idle_timeout(&self) -> Option<std::time::Duration> {
        (self.pull_idle_timeout > 0).then(|| std::time::Duration::from_secs(self.pull_idle_timeout))
    }
}

impl Config {
    fn validate(&self) -> std::result::Result<(), String> {
        if let Some(b) = &self.default_bridge {
            let ok = !b.is_empty()
                && b.len() <= 15
                && b.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c));
            if !ok {
                return Err(format!(
                    "default_bridge {b:?}: 1-15 characters of [A-Za-z0-9_.-]"
                ));
            }
        }
        if let Some(s) = &self.default_subnet {
            crate::network::Cidr::parse(s).map_err(|e| format!("default_subnet {s:?}: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        let c: Config = toml::from_str(
            "insecure_registries = [\"reg:5000\"]\nmax_concurrent_downloads = 5\n[registry_mirrors]\n\"docker.io\" = [\"127.0.0.1:1\"]\n",
        )
        .unwrap();
        assert_eq!(c.max_concurrent_downloads, 5);
        assert_eq!(c.registry_mirrors["docker.io"], vec!["127.0.0.1:1"]);
        assert!(toml::from_str::<Config>("bogus = 1").is_err());
        let c: Config =
            toml::from_str("default_bridge = \"hull7\"\ndefault_subnet = \"10.7.0.0/16\"\n")
                .unwrap();
        assert!(c.validate().is_ok());
        let bad: Config = toml::from_str("default_bridge = \"a-very-long-bridge-name\"\n").unwrap();
        assert!(bad.validate().is_err());
        let bad: Config = toml::from_str("default_subnet = \"10.7.0.0\"\n").unwrap();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn cri_socket() {
        let a = Path::new(DEFAULT_ADDRESS);
        let c = Config::default();
        assert_eq!(
            c.cri.socket_path(None, a),
            Some(PathBuf::from("/run/hull/cri.sock"))
        );
        assert_eq!(
            c.cri.socket_path(None, Path::new("/tmp/t1/hull.sock")),
            Some(PathBuf::from("/tmp/t1/cri.sock"))
        );
        assert_eq!(c.cri.socket_path(Some(""), a), None);
        assert_eq!(c.cri.socket_path(Some("off"), a), None);
        let c: Config = toml::from_str("[cri]\nsocket = \"/tmp/x.sock\"\n").unwrap();
        assert_eq!(
            c.cri.socket_path(None, a),
            Some(PathBuf::from("/tmp/x.sock"))
        );
        assert_eq!(
            c.cri.socket_path(Some("/tmp/y.sock"), a),
            Some(PathBuf::from("/tmp/y.sock"))
        );
        let c: Config = toml::from_str("[cri]\nsocket = \"\"\n").unwrap();
        assert_eq!(c.cri.socket_path(None, a), None);
        assert!(toml::from_str::<Config>("[cri]\nbogus = 1\n").is_err());
    }
}

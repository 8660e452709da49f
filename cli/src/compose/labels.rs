//! The labels Compose puts on what it makes; `up`, `down` and `ps` find a
//! project's containers, networks and volumes by them.

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";
pub const VERSION: &str = "com.docker.compose.version";
/// The id of the image a container was made from: a rebuilt image
/// recreates it.
pub const IMAGE: &str = "com.docker.compose.image";

/// Whether a label set belongs to `project`.
pub fn of_project(labels: &std::collections::HashMap<String, String>, project: &str) -> bool {
    labels.get(PROJECT).map(String::as_str) == Some(project)
}

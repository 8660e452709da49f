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

/// The labels of a container of `service` made from image `image_id`: the
/// service's own, then Compose's (project, service, number, config hash,
/// image, one-off, files).
pub fn of_container(
    loaded: &hull_compose::Loaded,
    service: &str,
    number: u32,
    oneoff: bool,
    image_id: &str,
) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let p = &loaded.project;
    let svc = p
        .services
        .get(service)
        .ok_or_else(|| anyhow::anyhow!("no such service: {service}"))?;
    let mut l: std::collections::HashMap<String, String> = svc.labels.clone().into_iter().collect();
    l.insert(PROJECT.into(), p.name.clone());
    l.insert(SERVICE.into(), service.to_string());
    l.insert(NUMBER.into(), number.to_string());
    l.insert(CONFIG_HASH.into(), p.config_hash(service)?);
    l.insert(ONEOFF.into(), if oneoff { "True" } else { "False" }.into());
    l.insert(IMAGE.into(), image_id.to_string());
    l.insert(VERSION.into(), env!("CARGO_PKG_VERSION").into());
    l.insert(WORKING_DIR.into(), loaded.project_dir.display().to_string());
    let files: Vec<String> = loaded
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    l.insert(CONFIG_FILES.into(), files.join(","));
    Ok(l)
}

//! The merged file made into the project Compose would run: profiles
//! applied, relative paths absolute, `env_file`s read into `environment`,
//! a `default` network for services that name none, the real names of
//! networks and volumes (`PROJECT_NAME`), and every reference checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::envfile;
use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::model::service::{Dependency, Service};
use crate::model::volumes::MountKind;
use crate::model::{ComposeFile, External, NetworkDef, Project, VolumeDef};
use crate::paths;

pub fn project(
    doc: ComposeFile,
    name: String,
    project_dir: &Path,
    profiles: &[String],
    env: &Environment,
) -> Result<Project> {
    let home = env.var("HOME");
    let active: BTreeSet<&str> = profiles.iter().map(String::as_str).collect();
    let enabled = |s: &Service| {
        s.profiles.is_empty()
            || active.contains("*")
            || s.profiles.iter().any(|p| active.contains(p.as_str()))
    };
    let mut services = BTreeMap::new();
    for (sname, mut svc) in doc.services {
        if !enabled(&svc) {
            continue;
        }
        paths::rebase(&mut svc, project_dir, home);
        service(&sname, &mut svc, env)?;
        services.insert(sname, svc);
    }
    check_references(&services, &doc.networks, &doc.volumes)?;

    let uses_default = services
        .values()
        .any(|s| s.networks.contains_key("default"));
    let mut declared = doc.networks;
    if uses_default {
        declared.entry("default".to_string()).or_insert(None);
    }
    let networks = declared
        .into_iter()
        .map(|(key, def)| {
            let mut def: NetworkDef = def.unwrap_or_default();
            def.name = Some(real_name(&name, &key, def.name.take(), &def.external));
            (key, def)
        })
        .collect();
    let volumes = doc
        .volumes
        .into_iter()
        .map(|(key, def)| {
            let mut def: VolumeDef = def.unwrap_or_default();
            def.name = Some(real_name(&name, &key, def.name.take(), &def.external));
            (key, def)
        })
        .collect();
    let project = Project {
        name,
        services,
        networks,
        volumes,
    };
    crate::order::start_order(&project.services)?;
    Ok(project)
}

/// `name:` as given; an external one is named by its key; others get the
/// project prefix.
fn real_name(project: &str, key: &str, given: Option<String>, external: &External) -> String {
    given
        .or_else(|| external.legacy_name.clone())
        .unwrap_or_else(|| {
            if external.yes {
                key.to_string()
            } else {
                format!("{project}_{key}")
            }
        })
}

fn service(name: &str, svc: &mut Service, env: &Environment) -> Result<()> {
    if svc.image.is_none() && svc.build.is_none() {
        return Err(Error::NoImage {
            service: name.to_string(),
        });
    }
    if let Some(build) = &mut svc.build {
        if build.dockerfile.is_none() && build.dockerfile_inline.is_none() {
            build.dockerfile = Some("Dockerfile".to_string());
        }
    }
    // env_file entries first, `environment` over them; a bare `KEY` takes
    // the value of the environment compose runs in, when it has one.
    let mut environment: BTreeMap<String, Option<String>> = BTreeMap::new();
    for f in &svc.env_file {
        let path = Path::new(&f.path);
        if !f.required && !path.exists() {
            continue;
        }
        for (k, v) in envfile::read(path)? {
            environment.insert(k, v);
        }
    }
    environment.extend(std::mem::take(&mut svc.environment));
    for (k, v) in environment.iter_mut() {
        if v.is_none() {
            *v = env.var(k).map(str::to_string);
        }
    }
    svc.environment = environment;
    if svc.network_mode.is_none() && svc.networks.is_empty() {
        svc.networks.insert("default".to_string(), None);
    }
    for dep in svc.depends_on.values_mut() {
        dep.get_or_insert_with(Dependency::default);
    }
    Ok(())
}

fn check_references(
    services: &BTreeMap<String, Service>,
    networks: &BTreeMap<String, Option<NetworkDef>>,
    volumes: &BTreeMap<String, Option<VolumeDef>>,
) -> Result<()> {
    for (name, svc) in services {
        for dep in svc.depends_on.keys() {
            if !services.contains_key(dep) {
                return Err(Error::UndefinedDependency {
                    service: name.clone(),
                    dependency: dep.clone(),
                });
            }
        }
        for net in svc.networks.keys() {
            if net != "default" && !networks.contains_key(net) {
                return Err(undefined(name, "network", net));
            }
        }
        for m in &svc.volumes {
            if let (MountKind::Volume, Some(src)) = (m.kind, &m.source) {
                if !volumes.contains_key(src) {
                    return Err(undefined(name, "volume", src));
                }
            }
        }
        if let Some(other) = svc
            .network_mode
            .as_deref()
            .and_then(|m| m.strip_prefix("service:"))
        {
            if !services.contains_key(other) {
                return Err(undefined(name, "service", other));
            }
        }
    }
    Ok(())
}

fn undefined(service: &str, kind: &'static str, name: &str) -> Error {
    Error::Undefined {
        service: service.to_string(),
        kind,
        name: name.to_string(),
    }
}

//! From files to a project: each file read, interpolated and validated on
//! its own (errors name that file), the files merged in order, `extends`
//! resolved, then the whole normalized (`normalize`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::model::service::Service;
use crate::model::ComposeFile;
use crate::{files, interpolate, merge, paths, validate};

/// One file read, interpolated, validated and normalized.
pub fn read_file(path: &Path, env: &Environment) -> Result<ComposeFile> {
    let mut yaml = files::read_yaml(path)?;
    interpolate::value(&mut yaml, env).map_err(|(key, message)| Error::Interpolation {
        file: path.to_path_buf(),
        key,
        message,
    })?;
    let mut file: ComposeFile = validate::typed(path, yaml)?;
    // The legacy `external: {name: N}` names the definition.
    for v in file.volumes.values_mut().flatten() {
        v.name = v.name.take().or(v.external.legacy_name.take());
    }
    for n in file.networks.values_mut().flatten() {
        n.name = n.name.take().or(n.external.legacy_name.take());
    }
    Ok(file)
}

/// The files merged in order (later ones override earlier ones).
pub fn merged(paths: &[PathBuf], env: &Environment) -> Result<ComposeFile> {
    let mut out = serde_json::Value::Object(Default::default());
    for p in paths {
        let file = read_file(p, env)?;
        merge::file(&mut out, to_json(&file));
    }
    let first = paths
        .first()
        .map(PathBuf::as_path)
        .unwrap_or(Path::new("."));
    validate::typed(first, out)
}

fn to_json<T: serde::Serialize>(t: &T) -> serde_json::Value {
    // The model's types serialize to plain maps, lists and scalars.
    serde_json::to_value(t).unwrap_or(serde_json::Value::Null)
}

/// Where extends looks for a base service.
struct Source<'a> {
    file: PathBuf,
    dir: PathBuf,
    services: &'a BTreeMap<String, Service>,
}

/// Replaces every service that `extends` another by the merge of the two.
pub fn resolve_extends(
    doc: &mut ComposeFile,
    file: &Path,
    project_dir: &Path,
    env: &Environment,
) -> Result<()> {
    let home = env.var("HOME").map(str::to_string);
    let services = doc.services.clone();
    let source = Source {
        file: file.to_path_buf(),
        dir: project_dir.to_path_buf(),
        services: &services,
    };
    for (name, svc) in doc.services.iter_mut() {
        if svc.extends.is_some() {
            *svc = extended(name, &source, env, home.as_deref(), &mut Vec::new())?;
        }
    }
    Ok(())
}

fn extended(
    name: &str,
    src: &Source,
    env: &Environment,
    home: Option<&str>,
    stack: &mut Vec<String>,
) -> Result<Service> {
    let here = format!("{}#{name}", src.file.display());
    if stack.contains(&here) {
        stack.push(here);
        return Err(Error::ExtendsCycle {
            chain: stack.join(" -> "),
        });
    }
    let mut svc = src
        .services
        .get(name)
        .cloned()
        .ok_or_else(|| Error::ExtendsUnknown {
            service: stack.last().cloned().unwrap_or_default(),
            base: name.to_string(),
            file: src.file.clone(),
        })?;
    let Some(ext) = svc.extends.take() else {
        return Ok(svc);
    };
    stack.push(here);
    let base = match &ext.file {
        Some(f) => {
            let file = PathBuf::from(paths::absolute(&src.dir, home, f));
            let doc = read_file(&file, env)?;
            let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
            let other = Source {
                file,
                dir: dir.clone(),
                services: &doc.services,
            };
            let mut base = extended(&ext.service, &other, env, home, stack)?;
            paths::rebase(&mut base, &dir, home);
            base
        }
        None => extended(&ext.service, src, env, home, stack)?,
    };
    stack.pop();
    let mut merged = to_json(&base);
    merge::service(&mut merged, to_json(&svc));
    validate::typed(&src.file, merged)
}

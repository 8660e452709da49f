//! The order services start in: each after what it depends on. A cycle is
//! an error naming the services on it.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::model::service::Service;

/// The named services and, transitively, what they depend on (all
/// services when none is named). An unknown name is an error.
pub fn with_dependencies(
    services: &BTreeMap<String, Service>,
    named: &[String],
) -> Result<BTreeSet<String>> {
    if named.is_empty() {
        return Ok(services.keys().cloned().collect());
    }
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = named.to_vec();
    while let Some(s) = todo.pop() {
        let svc = services
            .get(&s)
            .ok_or_else(|| Error::NoSuchService(s.clone()))?;
        if out.insert(s) {
            todo.extend(svc.depends_on.keys().cloned());
        }
    }
    Ok(out)
}

/// Services sorted so dependencies come first (ties by name).
pub fn start_order(services: &BTreeMap<String, Service>) -> Result<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        name: &str,
        services: &BTreeMap<String, Service>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<()> {
        match marks.get(name) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|s| s == name).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..].to_vec();
                cycle.push(name.to_string());
                return Err(Error::DependencyCycle {
                    services: cycle.join(" -> "),
                });
            }
            None => {}
        }
        let Some(svc) = services.get(name) else {
            return Ok(());
        };
        marks.insert(name.to_string(), Mark::Visiting);
        stack.push(name.to_string());
        for dep in svc.depends_on.keys() {
            visit(dep, services, marks, stack, out)?;
        }
        stack.pop();
        marks.insert(name.to_string(), Mark::Done);
        out.push(name.to_string());
        Ok(())
    }
    let mut marks = BTreeMap::new();
    let mut out = Vec::new();
    for name in services.keys() {
        visit(name, services, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

/// `order` (a start order, e.g. a selection of `start_order`'s) in waves:
/// each service in the wave after the last of its dependencies that is in
/// `order`, so the services of one wave can start together.
pub fn waves(services: &BTreeMap<String, Service>, order: &[String]) -> Vec<Vec<String>> {
    let mut wave_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out: Vec<Vec<String>> = Vec::new();
    for name in order {
        let w = services
            .get(name)
            .map(|s| {
                s.depends_on
                    .keys()
                    .filter_map(|d| wave_of.get(d.as_str()))
                    .map(|w| w + 1)
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        wave_of.insert(name, w);
        if out.len() <= w {
            out.resize(w + 1, Vec::new());
        }
        out[w].push(name.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(deps: &[(&str, &[&str])]) -> BTreeMap<String, Service> {
        deps.iter()
            .map(|(name, on)| {
                let mut s = Service::default();
                for d in *on {
                    s.depends_on.insert(d.to_string(), None);
                }
                (name.to_string(), s)
            })
            .collect()
    }

    #[test]
    fn dependencies_first() {
        let p = project(&[
            ("web", &["api", "db"]),
            ("api", &["db"]),
            ("db", &[]),
            ("cache", &[]),
        ]);
        assert_eq!(start_order(&p).unwrap(), vec!["db", "api", "cache", "web"]);
    }

    #[test]
    fn waves_start_after_their_dependencies() {
        let p = project(&[
            ("web", &["api", "db"]),
            ("api", &["db"]),
            ("db", &[]),
            ("cache", &[]),
        ]);
        let order = start_order(&p).unwrap();
        assert_eq!(
            waves(&p, &order),
            vec![vec!["db", "cache"], vec!["api"], vec!["web"]]
        );
        // A dependency outside the selection does not hold a service back.
        let some: Vec<String> = vec!["api".into(), "web".into()];
        assert_eq!(waves(&p, &some), vec![vec!["api"], vec!["web"]]);
    }

    #[test]
    fn cycle_names_the_services() {
        let p = project(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        assert_eq!(
            start_order(&p).unwrap_err().to_string(),
            "dependency cycle between services: a -> b -> c -> a"
        );
    }

    #[test]
    fn dependencies_transitively() {
        let p = project(&[("web", &["api"]), ("api", &["db"]), ("db", &[]), ("x", &[])]);
        let got = with_dependencies(&p, &["web".into()]).unwrap();
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            vec!["api", "db", "web"]
        );
        assert_eq!(with_dependencies(&p, &[]).unwrap().len(), 4);
        assert!(with_dependencies(&p, &["nope".into()]).is_err());
    }
}

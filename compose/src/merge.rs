//! Merging normalized files as Compose does: mappings merge key by key, a
//! later scalar replaces an earlier one, and lists follow per-key rules:
//! `command`, `entrypoint` and `healthcheck.test` are replaced; `ports`
//! are appended without duplicates; `volumes` are merged by target; the
//! other lists of a service (`cap_add`, `dns`, `expose`, …) are unions;
//! `environment`, `labels`, `depends_on`, `networks` … merge by key.

use serde_json::{Map, Value};

/// Merges the top level of `over` into `base`.
pub fn file(base: &mut Value, over: Value) {
    let (Value::Object(base), Value::Object(over)) = (base, over) else {
        return;
    };
    for (key, v) in over {
        match key.as_str() {
            "services" => {
                let services = base.entry(key).or_insert_with(|| Value::Object(Map::new()));
                let (Value::Object(services), Value::Object(over)) = (services, v) else {
                    continue;
                };
                for (name, svc) in over {
                    match services.get_mut(&name) {
                        Some(existing) => service(existing, svc),
                        None => {
                            services.insert(name, svc);
                        }
                    }
                }
            }
            _ => match base.get_mut(&key) {
                Some(existing) => deep(existing, v),
                None => {
                    base.insert(key, v);
                }
            },
        }
    }
}

/// Merges service `over` into service `base`.
pub fn service(base: &mut Value, over: Value) {
    let (Value::Object(base), Value::Object(over)) = (base, over) else {
        return;
    };
    for (key, v) in over {
        let Some(existing) = base.get_mut(&key) else {
            base.insert(key, v);
            continue;
        };
        match key.as_str() {
            "ports" => append(existing, v, |a, b| a == b),
            "volumes" => by_key(existing, v, "target"),
            "env_file" => by_key(existing, v, "path"),
            "expose" | "cap_add" | "cap_drop" | "dns" | "dns_search" | "extra_hosts"
            | "security_opt" | "tmpfs" | "devices" | "links" | "volumes_from" | "profiles" => {
                append(existing, v, |a, b| a == b)
            }
            "networks" => networks(existing, v),
            _ => deep(existing, v),
        }
    }
}

/// Mappings merge recursively; anything else is replaced.
fn deep(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => deep(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        // `name:` alone in a later file does not erase an earlier definition.
        (_, Value::Null) => {}
        (b, o) => *b = o,
    }
}

fn append(base: &mut Value, over: Value, same: impl Fn(&Value, &Value) -> bool) {
    let (Value::Array(b), Value::Array(o)) = (&mut *base, &over) else {
        *base = over;
        return;
    };
    for item in o {
        if !b.iter().any(|x| same(x, item)) {
            b.push(item.clone());
        }
    }
}

/// Items with the same `key` are replaced in place; others are appended.
fn by_key(base: &mut Value, over: Value, key: &str) {
    let (Value::Array(b), Value::Array(o)) = (&mut *base, &over) else {
        *base = over;
        return;
    };
    for item in o {
        match b.iter_mut().find(|x| x.get(key) == item.get(key)) {
            Some(slot) => *slot = item.clone(),
            None => b.push(item.clone()),
        }
    }
}

/// A service's networks: per network, aliases are a union, the rest merges.
fn networks(base: &mut Value, over: Value) {
    let (Value::Object(b), Value::Object(o)) = (&mut *base, over) else {
        return;
    };
    for (name, v) in o {
        match (b.get_mut(&name), v) {
            (None, v) => {
                b.insert(name, v);
            }
            (Some(_), Value::Null) => {}
            (Some(existing @ Value::Null), v) => *existing = v,
            (Some(existing), Value::Object(mut o)) => {
                if let (Some(ba), Some(oa)) = (existing.get_mut("aliases"), o.remove("aliases")) {
                    append(ba, oa, |a, b| a == b);
                }
                deep(existing, Value::Object(o));
            }
            (Some(existing), v) => *existing = v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_rules() {
        let mut base = json!({
            "image": "a", "command": ["x", "y"], "ports": [{"target": 80}],
            "volumes": [{"type": "bind", "source": "/a", "target": "/data"}, {"type": "volume", "target": "/keep"}],
            "environment": {"A": "1", "B": "2"}, "cap_add": ["X"],
            "networks": {"front": {"aliases": ["a"]}, "back": null},
            "healthcheck": {"test": ["CMD", "a"], "interval": "1s"}
        });
        service(
            &mut base,
            json!({
                "image": "b", "command": ["z"], "ports": [{"target": 80}, {"target": 81}],
                "volumes": [{"type": "bind", "source": "/b", "target": "/data"}],
                "environment": {"B": "3", "C": null}, "cap_add": ["X", "Y"],
                "networks": {"front": {"aliases": ["b"]}, "back": {"aliases": ["c"]}},
                "healthcheck": {"test": ["CMD", "b"]}
            }),
        );
        assert_eq!(
            base,
            json!({
                "image": "b", "command": ["z"], "ports": [{"target": 80}, {"target": 81}],
                "volumes": [{"type": "bind", "source": "/b", "target": "/data"}, {"type": "volume", "target": "/keep"}],
                "environment": {"A": "1", "B": "3", "C": null}, "cap_add": ["X", "Y"],
                "networks": {"front": {"aliases": ["a", "b"]}, "back": {"aliases": ["c"]}},
                "healthcheck": {"test": ["CMD", "b"], "interval": "1s"}
            })
        );
    }

    #[test]
    fn files_merge_services_by_name() {
        let mut base =
            json!({"services": {"a": {"image": "x"}}, "volumes": {"v": {"driver": "local"}}});
        file(
            &mut base,
            json!({"services": {"a": {"tty": true}, "b": {"image": "y"}}, "volumes": {"v": null, "w": null}}),
        );
        assert_eq!(
            base,
            json!({
                "services": {"a": {"image": "x", "tty": true}, "b": {"image": "y"}},
                "volumes": {"v": {"driver": "local"}, "w": null}
            })
        );
    }
}

//! Command-line flags in containerd's (Go `flag` package) style:
//! `-namespace NS`, `--namespace NS` and `-namespace=NS` are all accepted.

#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub namespace: String,
    pub address: String,
    pub publish_binary: String,
    pub id: String,
    pub bundle: String,
    pub debug: bool,
    pub version: bool,
    pub action: Option<String>,
    /// The flag/value arguments as given, without the action, to re-exec the serving shim.
    pub passthrough: Vec<String>,
}

const BOOL_FLAGS: &[&str] = &["debug", "v", "version"];

pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Flags, String> {
    let mut f = Flags::default();
    let mut it = args.into_iter().peekable();
    while let Some(arg) = it.next() {
        if !arg.starts_with('-') || arg == "-" {
            if f.action.is_some() {
                return Err(format!("unexpected argument {arg:?}"));
            }
            f.action = Some(arg);
            continue;
        }
        let body = arg.trim_start_matches('-');
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (body.to_string(), None),
        };
        if BOOL_FLAGS.contains(&name.as_str()) {
            let on = inline.as_deref().map(|v| v != "false").unwrap_or(true);
            match name.as_str() {
                "debug" => f.debug = on,
                _ => f.version = on,
            }
            f.passthrough.push(arg.clone());
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .ok_or_else(|| format!("flag -{name} needs a value"))?,
        };
        match name.as_str() {
            "namespace" => f.namespace = value.clone(),
            "address" => f.address = value.clone(),
            "publish-binary" => f.publish_binary = value.clone(),
            "id" => f.id = value.clone(),
            "bundle" => f.bundle = value.clone(),
            // Flags newer containerd versions pass (e.g. -socket); accepted and ignored.
            _ => {}
        }
        f.passthrough.push(format!("-{name}"));
        f.passthrough.push(value);
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn go_style_flags() {
        let f = parse(s(&[
            "-namespace",
            "default",
            "--address=/run/c.sock",
            "-publish-binary",
            "/usr/bin/containerd",
            "-id",
            "c1",
            "-debug",
            "start",
        ]))
        .unwrap();
        assert_eq!(f.namespace, "default");
        assert_eq!(f.address, "/run/c.sock");
        assert_eq!(f.publish_binary, "/usr/bin/containerd");
        assert_eq!(f.id, "c1");
        assert!(f.debug);
        assert_eq!(f.action.as_deref(), Some("start"));
        assert!(!f.passthrough.contains(&"start".to_string()));
        assert!(f.passthrough.contains(&"/run/c.sock".to_string()));
    }

    #[test]
    fn missing_value_is_an_error() {
        assert!(parse(s(&["-id"])).is_err());
        assert!(parse(s(&["start", "delete"])).is_err());
    }
}

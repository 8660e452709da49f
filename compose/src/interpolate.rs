//! Compose's variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`,
//! `${VAR+alt}` (defaults and alternatives may themselves interpolate) and
//! `$$` for a literal `$`. Applied to every string value of a file (keys
//! are left as written), before the file is validated.

use serde_norway::Value;

/// Where variables come from: None is unset, Some("") is set and empty.
pub trait Lookup {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Interpolates every string in `value`; an error is (key path, message).
pub fn value(value: &mut Value, env: &dyn Lookup) -> Result<(), (String, String)> {
    walk(value, env, &mut Vec::new())
}

fn walk(v: &mut Value, env: &dyn Lookup, path: &mut Vec<String>) -> Result<(), (String, String)> {
    match v {
        Value::String(s) => {
            *s = string(s, env).map_err(|m| (join_path(path), m))?;
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(format!("[{i}]"));
                walk(item, env, path)?;
                path.pop();
            }
        }
        Value::Mapping(map) => {
            for (k, item) in map.iter_mut() {
                path.push(key_name(k));
                walk(item, env, path)?;
                path.pop();
            }
        }
        Value::Tagged(t) => walk(&mut t.value, env, path)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// Key path segments as Compose prints them: `services.web.ports[0]`.
pub fn join_path(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if !out.is_empty() && !seg.starts_with('[') {
            out.push('.');
        }
        out.push_str(seg);
    }
    out
}

/// A mapping key as a path segment.
pub fn key_name(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// Interpolates one string.
pub fn string(s: &str, env: &dyn Lookup) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let end = closing_brace(r).ok_or_else(|| invalid(s))?;
            out.push_str(&braced(&r[..end], env, s)?);
            rest = &r[end + 1..];
        } else {
            let len = name_len(after);
            if len == 0 {
                out.push('$');
                rest = after;
            } else {
                out.push_str(&env.get(&after[..len]).unwrap_or_default());
                rest = &after[len..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn invalid(s: &str) -> String {
    format!("invalid interpolation format in {s:?}: you may need to escape any $ with another $")
}

/// The index of the `}` closing a `${`, counting nested `${…}`.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn name_len(s: &str) -> usize {
    let mut len = 0;
    for (i, c) in s.char_indices() {
        let ok = c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
        if !ok {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

/// The inside of `${…}`.
fn braced(inner: &str, env: &dyn Lookup, whole: &str) -> Result<String, String> {
    let len = name_len(inner);
    if len == 0 {
        return Err(invalid(whole));
    }
    let name = &inner[..len];
    let op = &inner[len..];
    let value = env.get(name);
    let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    let pick = |word: &str| string(word, env);
    if op.is_empty() {
        return Ok(value.unwrap_or_default());
    }
    if let Some(word) = op.strip_prefix(":-") {
        return if set_nonempty {
            Ok(value.unwrap_or_default())
        } else {
            pick(word)
        };
    }
    if let Some(word) = op.strip_prefix(":?") {
        return if set_nonempty {
            Ok(value.unwrap_or_default())
        } else {
            Err(required(name, &pick(word)?))
        };
    }
    if let Some(word) = op.strip_prefix(":+") {
        return if set_nonempty {
            pick(word)
        } else {
            Ok(String::new())
        };
    }
    if let Some(word) = op.strip_prefix('-') {
        return match value {
            Some(v) => Ok(v),
            None => pick(word),
        };
    }
    if let Some(word) = op.strip_prefix('?') {
        return match value {
            Some(v) => Ok(v),
            None => Err(required(name, &pick(word)?)),
        };
    }
    if let Some(word) = op.strip_prefix('+') {
        return if value.is_some() {
            pick(word)
        } else {
            Ok(String::new())
        };
    }
    Err(invalid(whole))
}

fn required(name: &str, message: &str) -> String {
    if message.is_empty() {
        format!("required variable {name} is missing a value")
    } else {
        format!("required variable {name} is missing a value: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("a".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn i(s: &str) -> Result<String, String> {
        string(s, &env)
    }

    #[test]
    fn forms() {
        assert_eq!(i("x${A}y$A-$$A").unwrap(), "xay a-$A".replace(' ', ""));
        assert_eq!(
            i("${UNSET}|${UNSET:-d}|${EMPTY:-d}|${EMPTY-d}|${UNSET-d}").unwrap(),
            "|d|d||d"
        );
        assert_eq!(
            i("${A:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${UNSET+alt}").unwrap(),
            "alt||alt|"
        );
        assert_eq!(i("${UNSET:-${A}-x}").unwrap(), "a-x");
        assert_eq!(i("cost $ 5 and $").unwrap(), "cost $ 5 and $");
        assert_eq!(i("${EMPTY?e}").unwrap(), "");
    }

    #[test]
    fn errors() {
        assert_eq!(
            i("${UNSET:?need it}").unwrap_err(),
            "required variable UNSET is missing a value: need it"
        );
        assert!(i("${EMPTY:?x}").is_err());
        assert!(i("${UNSET?}").unwrap_err().ends_with("missing a value"));
        assert!(i("${A").unwrap_err().contains("invalid interpolation"));
        assert!(i("${}").is_err());
        assert!(i("${A*b}").is_err());
    }

    #[test]
    fn walks_values_and_names_the_key() {
        let mut v: Value = serde_norway::from_str(
            "services:\n  web:\n    image: \"x:${A}\"\n    command: [\"${UNSET:?no}\"]\n",
        )
        .unwrap();
        let err = value(&mut v, &env).unwrap_err();
        assert_eq!(err.0, "services.web.command[0]");
        let mut v: Value = serde_norway::from_str("image: \"x:${A}\"\n").unwrap();
        value(&mut v, &env).unwrap();
        assert_eq!(v["image"].as_str(), Some("x:a"));
    }
}

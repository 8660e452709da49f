//! The functions templates call: Go's builtins (`and or not len index
//! slice print printf println eq ne lt le gt ge html urlquery`) and
//! Docker's (`json join split upper lower title truncate pad`).

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::exec::{as_int, go_type, truthy};
use super::gofmt::{fmt_v, sprint, sprintf};
use super::ErrorKind;

fn want_n(name: &str, a: &[Value], n: usize) -> Result<(), ErrorKind> {
    if a.len() != n {
        return Err(ErrorKind::ArgCount {
            name: name.into(),
            want: n.to_string(),
            got: a.len(),
        });
    }
    Ok(())
}

pub(super) fn call_err(name: &str, msg: impl Into<String>) -> ErrorKind {
    ErrorKind::Call {
        name: name.into(),
        msg: msg.into(),
    }
}

fn want_str<'v>(name: &str, v: &'v Value) -> Result<&'v str, ErrorKind> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(call_err(
            name,
            format!(
                "wrong type for value; expected string; got {}",
                go_type(other)
            ),
        )),
    }
}

fn want_int(name: &str, v: &Value) -> Result<i64, ErrorKind> {
    as_int(v).ok_or_else(|| {
        call_err(
            name,
            format!("wrong type for value; expected int; got {}", go_type(v)),
        )
    })
}

pub(super) fn builtin(name: &str, a: &[Value]) -> Result<Value, ErrorKind> {
    let s = |x: String| Ok(Value::String(x));
    match name {
        "not" => {
            want_n(name, a, 1)?;
            Ok(Value::Bool(!truthy(&a[0])))
        }
        "len" => {
            want_n(name, a, 1)?;
            let n = match &a[0] {
                Value::String(x) => x.len(),
                Value::Array(x) => x.len(),
                Value::Object(x) => x.len(),
                Value::Null => 0,
                other => return Err(call_err(name, format!("len of type {}", go_type(other)))),
            };
            Ok(Value::Number(Number::from(n)))
        }
        "index" => {
            let Some(mut item) = a.first().cloned() else {
                return Err(ErrorKind::ArgCount {
                    name: name.into(),
                    want: "at least 1".into(),
                    got: 0,
                });
            };
            for idx in &a[1..] {
                item = index_one(&item, idx)?;
            }
            Ok(item)
        }
        "slice" => slice(a),
        "print" => s(sprint(a)),
        "println" => s(a.iter().map(fmt_v).collect::<Vec<_>>().join(" ") + "\n"),
        "printf" => {
            let Some(f) = a.first() else {
                return Err(ErrorKind::ArgCount {
                    name: name.into(),
                    want: "at least 1".into(),
                    got: 0,
                });
            };
            s(sprintf(want_str(name, f)?, &a[1..]))
        }
        "eq" => {
            if a.len() < 2 {
                return Err(call_err(name, "missing argument for comparison"));
            }
            for b in &a[1..] {
                if cmp_eq(&a[0], b)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" => {
            want_n(name, a, 2)?;
            Ok(Value::Bool(
                !cmp_eq(&a[0], &a[1]).map_err(|_| incompatible(name))?,
            ))
        }
        "lt" | "le" | "gt" | "ge" => {
            want_n(name, a, 2)?;
            let o = cmp_ord(name, &a[0], &a[1])?;
            Ok(Value::Bool(match name {
                "lt" => o == Ordering::Less,
                "le" => o != Ordering::Greater,
                "gt" => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }))
        }
        "html" => s(html_escape(&sprint(a))),
        "urlquery" => s(url_query(&sprint(a))),
        "json" => {
            want_n(name, a, 1)?;
            serde_json::to_string(&a[0])
                .map(Value::String)
                .map_err(|e| call_err(name, e.to_string()))
        }
        "join" => {
            want_n(name, a, 2)?;
            let sep = want_str(name, &a[1])?;
            match &a[0] {
                Value::Array(items) => s(items.iter().map(fmt_v).collect::<Vec<_>>().join(sep)),
                Value::Null => s(String::new()),
                other => Err(call_err(
                    name,
                    format!(
                        "wrong type for value; expected []string; got {}",
                        go_type(other)
                    ),
                )),
            }
        }
        "split" => {
            want_n(name, a, 2)?;
            let x = want_str(name, &a[0])?;
            let sep = want_str(name, &a[1])?;
            let parts: Vec<Value> = if sep.is_empty() {
                x.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                x.split(sep).map(|p| Value::String(p.to_string())).collect()
            };
            Ok(Value::Array(parts))
        }
        "upper" => {
            want_n(name, a, 1)?;
            s(want_str(name, &a[0])?.to_uppercase())
        }
        "lower" => {
            want_n(name, a, 1)?;
            s(want_str(name, &a[0])?.to_lowercase())
        }
        "title" => {
            want_n(name, a, 1)?;
            s(title(want_str(name, &a[0])?))
        }
        "truncate" => {
            want_n(name, a, 2)?;
            let x = want_str(name, &a[0])?;
            let n = usize::try_from(want_int(name, &a[1])?).unwrap_or(0);
            s(x.chars().take(n).collect())
        }
        "pad" => {
            want_n(name, a, 3)?;
            let x = want_str(name, &a[0])?;
            let pre = usize::try_from(want_int(name, &a[1])?).unwrap_or(0);
            let suf = usize::try_from(want_int(name, &a[2])?).unwrap_or(0);
            if x.is_empty() {
                return s(String::new());
            }
            s(format!("{}{x}{}", " ".repeat(pre), " ".repeat(suf)))
        }
        other => Err(ErrorKind::UnknownFunction(other.to_string())),
    }
}

fn index_one(item: &Value, idx: &Value) -> Result<Value, ErrorKind> {
    let oob = |i: i64| call_err("index", format!("index out of range: {i}"));
    match item {
        Value::Array(v) => {
            let i = want_int("index", idx)?;
            usize::try_from(i)
                .ok()
                .and_then(|u| v.get(u))
                .cloned()
                .ok_or_else(|| oob(i))
        }
        Value::String(s) => {
            let i = want_int("index", idx)?;
            usize::try_from(i)
                .ok()
                .and_then(|u| s.as_bytes().get(u))
                .map(|b| Value::Number(Number::from(*b)))
                .ok_or_else(|| oob(i))
        }
        Value::Object(m) => match idx {
            Value::String(k) => Ok(m.get(k).cloned().unwrap_or(Value::Null)),
            other => Err(call_err(
                "index",
                format!("value has type {}; should be string", go_type(other)),
            )),
        },
        Value::Null => Ok(Value::Null),
        other => Err(call_err(
            "index",
            format!("can't index item of type {}", go_type(other)),
        )),
    }
}

pub(super) fn slice(a: &[Value]) -> Result<Value, ErrorKind> {
    let Some(item) = a.first() else {
        return Err(ErrorKind::ArgCount {
            name: "slice".into(),
            want: "at least 1".into(),
            got: 0,
        });
    };
    let len = match item {
        Value::String(s) => s.len(),
        Value::Array(v) => v.len(),
        other => {
            return Err(call_err(
                "slice",
                format!("can't slice item of type {}", go_type(other)),
            ))
        }
    };
    let mut bounds = [0usize, len];
    if a.len() > 3 {
        return Err(call_err("slice", "too many slice indexes"));
    }
    for (k, v) in a[1..].iter().enumerate() {
        let i = want_int("slice", v)?;
        bounds[k] = usize::try_from(i)
            .ok()
            .filter(|&u| u <= len)
            .ok_or_else(|| call_err("slice", format!("index out of range: {i}")))?;
    }
    let [lo, hi] = bounds;
    if lo > hi {
        return Err(call_err(
            "slice",
            format!("invalid slice index: {lo} > {hi}"),
        ));
    }
    Ok(match item {
        Value::String(s) => {
            Value::String(String::from_utf8_lossy(&s.as_bytes()[lo..hi]).into_owned())
        }
        Value::Array(v) => Value::Array(v[lo..hi].to_vec()),
        _ => Value::Null,
    })
}

pub(super) fn incompatible(name: &str) -> ErrorKind {
    call_err(name, "incompatible types for comparison")
}

fn num_cmp(x: &Number, y: &Number) -> Ordering {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a.cmp(&b);
    }
    let (a, b) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

fn cmp_eq(a: &Value, b: &Value) -> Result<bool, ErrorKind> {
    Ok(match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y) == Ordering::Equal,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
            return Err(call_err("eq", "non-comparable types"))
        }
        _ => return Err(incompatible("eq")),
    })
}

fn cmp_ord(name: &str, a: &Value, b: &Value) -> Result<Ordering, ErrorKind> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Ok(num_cmp(x, y)),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Number(_), Value::String(_)) | (Value::String(_), Value::Number(_)) => {
            Err(incompatible(name))
        }
        _ => Err(call_err(name, "invalid type for comparison")),
    }
}

pub(super) fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        };
    }
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn url_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

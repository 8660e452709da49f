//! Values printed as Go's `fmt` prints them: `%v` (`[a b]`, `map[k:v]`,
//! shortest floats), `Sprint`, `strconv.Quote` and `Sprintf`'s verbs,
//! flags, widths and precisions.

use serde_json::{Number, Value};

use super::exec::{as_int, go_type, sorted_entries};

/// Go's `%v`.
pub(super) fn fmt_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => fmt_number(n),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(fmt_v).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => format!(
            "map[{}]",
            sorted_entries(m)
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", fmt_v(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

fn fmt_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    go_g_shortest(f)
}

/// Go's `%g` with shortest precision (exponent form when exp < -4 or exp >= 6).
fn go_g_shortest(f: f64) -> String {
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        go_exp_suffix(mant, exp)
    } else {
        format!("{f}")
    }
}

fn go_exp_suffix(mant: &str, exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", exp.abs())
}

/// Go's `fmt.Sprint`: spaces between operands when neither is a string.
pub(super) fn sprint(a: &[Value]) -> String {
    let mut out = String::new();
    for (i, v) in a.iter().enumerate() {
        if i > 0 && !v.is_string() && !a[i - 1].is_string() {
            out.push(' ');
        }
        out.push_str(&fmt_v(v));
    }
    out
}

/// Go's `strconv.Quote`.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

impl Spec {
    /// Pad `body` (with `sign` prefix kept in front of zero padding) to the width.
    fn pad(&self, sign: &str, body: &str) -> String {
        let len = sign.chars().count() + body.chars().count();
        let w = self.width.unwrap_or(0);
        if len >= w {
            return format!("{sign}{body}");
        }
        let fill = w - len;
        if self.minus {
            format!("{sign}{body}{}", " ".repeat(fill))
        } else if self.zero {
            format!("{sign}{}{body}", "0".repeat(fill))
        } else {
            format!("{}{sign}{body}", " ".repeat(fill))
        }
    }

    fn sign(&self, neg: bool) -> &'static str {
        if neg {
            "-"
        } else if self.plus {
            "+"
        } else if self.space {
            " "
        } else {
            ""
        }
    }
}

/// Go's `fmt.Sprintf` for the common verbs.
pub(super) fn sprintf(format: &str, args: &[Value]) -> String {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut argi = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            i += 1;
        }
        let num = |i: &mut usize, argi: &mut usize| -> Option<usize> {
            if chars.get(*i) == Some(&'*') {
                *i += 1;
                let v = args.get(*argi).and_then(as_int);
                *argi += 1;
                return v.and_then(|v| usize::try_from(v).ok());
            }
            let start = *i;
            while chars.get(*i).is_some_and(|c| c.is_ascii_digit()) {
                *i += 1;
            }
            (*i > start).then(|| {
                chars[start..*i]
                    .iter()
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0)
            })
        };
        spec.width = num(&mut i, &mut argi);
        if chars.get(i) == Some(&'.') {
            i += 1;
            spec.prec = Some(num(&mut i, &mut argi).unwrap_or(0));
        }
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        out.push_str(&fmt_verb(verb, &spec, arg));
    }
    if argi < args.len() {
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| match a {
                Value::Null => "<nil>".to_string(),
                a => format!("{}={}", go_type(a), fmt_v(a)),
            })
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn bad_verb(verb: char, arg: &Value) -> String {
    match arg {
        Value::Null => format!("%!{verb}(<nil>)"),
        a => format!("%!{verb}({}={})", go_type(a), fmt_v(a)),
    }
}

fn fmt_verb(verb: char, spec: &Spec, arg: &Value) -> String {
    match arg {
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(|v| fmt_verb(verb, spec, v)).collect();
            return format!("[{}]", inner.join(" "));
        }
        Value::Object(m) => {
            let inner: Vec<String> = sorted_entries(m)
                .into_iter()
                .map(|(k, v)| {
                    format!(
                        "{}:{}",
                        fmt_verb(verb, spec, &Value::String(k.clone())),
                        fmt_verb(verb, spec, v)
                    )
                })
                .collect();
            return format!("map[{}]", inner.join(" "));
        }
        _ => {}
    }
    match (verb, arg) {
        ('v', Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                fmt_int('d', spec, i128::from(u))
            } else if let Some(i) = as_int(arg) {
                fmt_int('d', spec, i128::from(i))
            } else {
                fmt_float('g', spec, n.as_f64().unwrap_or(0.0))
            }
        }
        ('v', Value::Null) => spec.pad("", "<nil>"),
        ('v', v) => spec.pad("", &fmt_v(v)),
        ('s', Value::String(s)) => {
            let s: String = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            };
            spec.pad("", &s)
        }
        ('q', Value::String(s)) => {
            if spec.sharp && !s.contains('`') && !s.chars().any(|c| c.is_control() && c != '\t') {
                spec.pad("", &format!("`{s}`"))
            } else {
                spec.pad("", &go_quote(s))
            }
        }
        ('x' | 'X', Value::String(s)) => {
            let bytes = match spec.prec {
                Some(p) => &s.as_bytes()[..p.min(s.len())],
                None => s.as_bytes(),
            };
            let mut h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            if verb == 'X' {
                h = h.to_uppercase();
            }
            let prefix = match (spec.sharp, verb) {
                (true, 'x') => "0x",
                (true, _) => "0X",
                _ => "",
            };
            spec.pad("", &format!("{prefix}{h}"))
        }
        ('t', Value::Bool(b)) => spec.pad("", &b.to_string()),
        ('d' | 'b' | 'o' | 'x' | 'X' | 'c' | 'q' | 'U', Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                fmt_int(verb, spec, i128::from(u))
            } else if let Some(i) = as_int(arg) {
                fmt_int(verb, spec, i128::from(i))
            } else {
                bad_verb(verb, arg)
            }
        }
        ('e' | 'E' | 'f' | 'F' | 'g' | 'G', Value::Number(n)) => {
            fmt_float(verb, spec, n.as_f64().unwrap_or(0.0))
        }
        _ => bad_verb(verb, arg),
    }
}

fn fmt_int(verb: char, spec: &Spec, n: i128) -> String {
    let neg = n < 0;
    let mag = n.unsigned_abs();
    let ch = || {
        u32::try_from(n)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}')
    };
    let mut digits = match verb {
        'b' => format!("{mag:b}"),
        'o' => format!("{mag:o}"),
        'x' => format!("{mag:x}"),
        'X' => format!("{mag:X}"),
        'c' => return spec.pad("", &ch().to_string()),
        'q' => {
            return spec.pad(
                "",
                &format!("'{}'", go_quote(&ch().to_string()).trim_matches('"')),
            )
        }
        'U' => return spec.pad("", &format!("U+{mag:04X}")),
        _ => mag.to_string(),
    };
    if let Some(p) = spec.prec {
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    let prefix = match (spec.sharp, verb) {
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        (true, 'o') => "0",
        (true, 'b') => "0b",
        _ => "",
    };
    let sign = format!("{}{prefix}", spec.sign(neg));
    let mut sp = *spec;
    if spec.prec.is_some() {
        sp.zero = false;
    }
    sp.pad(&sign, &digits)
}

fn fmt_float(verb: char, spec: &Spec, f: f64) -> String {
    let neg = f.is_sign_negative() && f != 0.0;
    let a = f.abs();
    let body = match verb {
        'f' | 'F' => format!("{a:.*}", spec.prec.unwrap_or(6)),
        'e' | 'E' => {
            let e = format!("{a:.*e}", spec.prec.unwrap_or(6));
            let (m, x) = e.split_once('e').unwrap_or((&e, "0"));
            let s = go_exp_suffix(m, x.parse().unwrap_or(0));
            if verb == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        _ => match spec.prec {
            None => go_g_shortest(a),
            Some(p) => {
                let p = p.max(1);
                let e = format!("{a:.*e}", p - 1);
                let (m, x) = e.split_once('e').unwrap_or((&e, "0"));
                let exp: i32 = x.parse().unwrap_or(0);
                if exp < -4 || exp >= i32::try_from(p).unwrap_or(i32::MAX) {
                    let m = if m.contains('.') {
                        m.trim_end_matches('0').trim_end_matches('.')
                    } else {
                        m
                    };
                    go_exp_suffix(m, exp)
                } else {
                    let decimals =
                        usize::try_from(i64::try_from(p).unwrap_or(0) - 1 - i64::from(exp))
                            .unwrap_or(0);
                    let s = format!("{a:.decimals$}");
                    if s.contains('.') {
                        s.trim_end_matches('0').trim_end_matches('.').to_string()
                    } else {
                        s
                    }
                }
            }
        },
    };
    spec.pad(spec.sign(neg), &body)
}

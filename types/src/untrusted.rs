//! Text that came from images, archives or registries (a tar entry's name,
//! a registry's error body, an image's label or command), shown to a user
//! with its control characters escaped: a hostile name must not move the
//! cursor, recolour or clear the terminal, or forge a line of its own.
//!
//! Escapes like Rust's `escape_debug` (`\n`, `\r`, `\t`, `\u{1b}`) but
//! leaves printable text, backslashes and quotes alone. Bidirectional
//! overrides (which reorder what the terminal shows) are escaped too.

use std::borrow::Cow;
use std::fmt;

/// Whether `c` must not reach a terminal as is.
fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with its control characters escaped.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(Escaped(s).to_string())
}

/// Displays its text with control characters escaped.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(unsafe_char) {
            f.write_str(&rest[..i])?;
            let c = rest[i..].chars().next().unwrap_or_default();
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c => write!(f, "\\u{{{:x}}}", c as u32)?,
            }
            rest = &rest[i + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// A copy of `v` whose strings (keys too) are escaped: what a `--format`
/// template renders of daemon data (labels, commands, names from images).
pub fn escape_json(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(escape(s).into_owned()),
        Value::Array(a) => Value::Array(a.iter().map(escape_json).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (escape(k).into_owned(), escape_json(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_only() {
        assert_eq!(escape("plain/päth \"q\" \\"), "plain/päth \"q\" \\");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\n\x1b[31mEVIL\r\t\x7f\u{9b}\u{202e}z"),
            "a\\n\\u{1b}[31mEVIL\\r\\t\\u{7f}\\u{9b}\\u{202e}z"
        );
        assert_eq!(format!("<{}>", Escaped("\x07")), "<\\u{7}>");
        let v = serde_json::json!({"L": {"k\u{1b}": ["a\nb", 1]}});
        assert_eq!(
            escape_json(&v),
            serde_json::json!({"L": {"k\\u{1b}": ["a\\nb", 1]}})
        );
    }
}

//! `.env`, `--env-file` and a service's `env_file`: `KEY=VALUE` lines,
//! `export KEY=VALUE`, `#` comments, single quotes (literal), double quotes
//! (with `\n`, `\t`, `\\`, `\"` escapes), and unquoted values whose ` #`
//! starts a comment. A bare `KEY` has no value (None).

use std::path::Path;

use crate::error::{Error, Result};

/// The pairs of an env file, in file order.
pub type Pairs = Vec<(String, Option<String>)>;

pub fn read(path: &Path) -> Result<Pairs> {
    let text = std::fs::read_to_string(path).map_err(|error| Error::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse(&text).map_err(|(line, message)| Error::EnvFile {
        file: path.to_path_buf(),
        line,
        message,
    })
}

/// Parses env file text; an error is (1-based line, message).
pub fn parse(text: &str) -> std::result::Result<Pairs, (usize, String)> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v)),
            None => (line, None),
        };
        if key.is_empty()
            || key
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\'')
        {
            return Err((n + 1, format!("invalid variable name {key:?}")));
        }
        let value = match value {
            None => None,
            Some(v) => Some(value_of(v.trim()).map_err(|m| (n + 1, m))?),
        };
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn value_of(v: &str) -> std::result::Result<String, String> {
    if let Some(rest) = v.strip_prefix('\'') {
        let end = rest.find('\'').ok_or("unterminated single quote")?;
        return Ok(rest[..end].to_string());
    }
    if let Some(rest) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Ok(out),
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        return Err("unterminated double quote".to_string());
    }
    let v = match v.find(" #") {
        Some(i) => &v[..i],
        None => v,
    };
    Ok(v.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let p =
            parse("# c\nA=1\nexport B = two \nC='x #y'\nD=\"a\\nb\"\nE=v # note\nF\nG=\n").unwrap();
        let want: Vec<(&str, Option<&str>)> = vec![
            ("A", Some("1")),
            ("B", Some("two")),
            ("C", Some("x #y")),
            ("D", Some("a\nb")),
            ("E", Some("v")),
            ("F", None),
            ("G", Some("")),
        ];
        let got: Vec<(&str, Option<&str>)> =
            p.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bad_lines_name_the_line() {
        assert_eq!(parse("A=1\nB C=2\n").unwrap_err().0, 2);
        assert_eq!(parse("A=\"open\n").unwrap_err().0, 1);
    }
}

//! The lexer: template source → text and action tokens, with `{{-`/`-}}`
//! trimming applied and comments dropped; literals decoded as Go does.

use serde_json::{Number, Value};

use super::{err_at, ErrorKind, TemplateError};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Text(String),
    Left,
    Right,
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    /// `.A.B` directly after a `)`.
    Chain(Vec<String>),
    Ident(String),
    Lit(Value),
    Nil,
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) pos: usize,
}

pub(super) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn char_at(src: &str, i: usize) -> Option<char> {
    src.get(i..).and_then(|s| s.chars().next())
}

/// A right delimiter at `i`: returns (bytes consumed, trims following text).
fn right_delim(src: &str, i: usize) -> Option<(usize, bool)> {
    let rest = &src[i..];
    if rest.starts_with("}}") {
        return Some((2, false));
    }
    let c = rest.chars().next()?;
    if is_space(c) && rest[1..].starts_with("-}}") {
        return Some((4, true));
    }
    None
}

fn push_text(toks: &mut Vec<Token>, pos: usize, text: &str, trim_start: bool, trim_end: bool) {
    let mut t = text;
    let mut pos = pos;
    if trim_start {
        let trimmed = t.trim_start_matches(is_space);
        pos += t.len() - trimmed.len();
        t = trimmed;
    }
    if trim_end {
        t = t.trim_end_matches(is_space);
    }
    if !t.is_empty() {
        toks.push(Token {
            tok: Tok::Text(t.to_string()),
            pos,
        });
    }
}

fn lex_chain(src: &str, mut j: usize) -> (Vec<String>, usize) {
    let mut fields = Vec::new();
    while src[j..].starts_with('.') && char_at(src, j + 1).is_some_and(is_ident_char) {
        let start = j + 1;
        let len = src[start..]
            .find(|c: char| !is_ident_char(c))
            .unwrap_or(src.len() - start);
        fields.push(src[start..start + len].to_string());
        j = start + len;
    }
    (fields, j)
}

pub(super) fn lex(src: &str) -> Result<Vec<Token>, TemplateError> {
    let mut toks = Vec::new();
    let mut i = 0;
    let mut trim_next = false;
    while i < src.len() {
        let Some(off) = src[i..].find("{{") else {
            push_text(&mut toks, i, &src[i..], trim_next, false);
            break;
        };
        let left = i + off;
        let after = &src[left + 2..];
        let trim_left = after.starts_with('-') && after[1..].starts_with(is_space);
        push_text(&mut toks, i, &src[i..left], trim_next, trim_left);
        let mut j = left + 2 + if trim_left { 2 } else { 0 };
        if src[j..].starts_with("/*") {
            let Some(end) = src[j + 2..].find("*/") else {
                return Err(err_at(src, left, ErrorKind::UnclosedComment));
            };
            j += 2 + end + 2;
            let Some((n, t)) = right_delim(src, j) else {
                return Err(err_at(
                    src,
                    j,
                    ErrorKind::Syntax("comment ends before closing delimiter".into()),
                ));
            };
            i = j + n;
            trim_next = t;
            continue;
        }
        toks.push(Token {
            tok: Tok::Left,
            pos: left,
        });
        loop {
            if let Some((n, t)) = right_delim(src, j) {
                toks.push(Token {
                    tok: Tok::Right,
                    pos: j,
                });
                i = j + n;
                trim_next = t;
                break;
            }
            let Some(c) = char_at(src, j) else {
                return Err(err_at(src, left, ErrorKind::UnclosedAction));
            };
            let start = j;
            let next = char_at(src, j + 1);
            let tok = match c {
                c if is_space(c) => {
                    j += 1;
                    continue;
                }
                '|' => {
                    j += 1;
                    Tok::Pipe
                }
                '(' => {
                    j += 1;
                    Tok::LParen
                }
                ',' => {
                    j += 1;
                    Tok::Comma
                }
                '=' => {
                    j += 1;
                    Tok::Assign
                }
                ':' if next == Some('=') => {
                    j += 2;
                    Tok::Declare
                }
                ')' => {
                    toks.push(Token {
                        tok: Tok::RParen,
                        pos: j,
                    });
                    j += 1;
                    let (chain, k) = lex_chain(src, j);
                    if !chain.is_empty() {
                        toks.push(Token {
                            tok: Tok::Chain(chain),
                            pos: j,
                        });
                        j = k;
                    }
                    continue;
                }
                '"' => {
                    let (s, k) = lex_quoted(src, j)?;
                    j = k;
                    Tok::Lit(Value::String(s))
                }
                '`' => {
                    let Some(end) = src[j + 1..].find('`') else {
                        return Err(err_at(src, j, ErrorKind::UnterminatedString));
                    };
                    let s = src[j + 1..j + 1 + end].to_string();
                    j += end + 2;
                    Tok::Lit(Value::String(s))
                }
                '\'' => {
                    let (s, k) = lex_quoted(src, j)?;
                    let mut cs = s.chars();
                    let (Some(ch), None) = (cs.next(), cs.next()) else {
                        return Err(err_at(
                            src,
                            j,
                            ErrorKind::Syntax(format!(
                                "malformed character constant: {}",
                                &src[j..k]
                            )),
                        ));
                    };
                    j = k;
                    Tok::Lit(Value::Number(Number::from(u32::from(ch))))
                }
                '.' if next.is_some_and(|n| n.is_ascii_digit()) => {
                    let (n, k) = lex_number(src, j)?;
                    j = k;
                    Tok::Lit(Value::Number(n))
                }
                '.' => {
                    let (chain, k) = lex_chain(src, j);
                    if chain.is_empty() {
                        j += 1;
                        Tok::Dot
                    } else {
                        j = k;
                        Tok::Field(chain)
                    }
                }
                '$' => {
                    let len = src[j + 1..]
                        .find(|c: char| !is_ident_char(c))
                        .unwrap_or(src.len() - j - 1);
                    let name = src[j..j + 1 + len].to_string();
                    let (chain, k) = lex_chain(src, j + 1 + len);
                    j = k;
                    Tok::Var(name, chain)
                }
                '0'..='9' => {
                    let (n, k) = lex_number(src, j)?;
                    j = k;
                    Tok::Lit(Value::Number(n))
                }
                '-' | '+' if next.is_some_and(|n| n.is_ascii_digit() || n == '.') => {
                    let (n, k) = lex_number(src, j)?;
                    j = k;
                    Tok::Lit(Value::Number(n))
                }
                c if c.is_alphabetic() || c == '_' => {
                    let len = src[j..]
                        .find(|c: char| !is_ident_char(c))
                        .unwrap_or(src.len() - j);
                    let word = &src[j..j + len];
                    j += len;
                    match word {
                        "true" => Tok::Lit(Value::Bool(true)),
                        "false" => Tok::Lit(Value::Bool(false)),
                        "nil" => Tok::Nil,
                        w => Tok::Ident(w.to_string()),
                    }
                }
                c => return Err(err_at(src, j, ErrorKind::BadChar(c))),
            };
            toks.push(Token { tok, pos: start });
        }
    }
    Ok(toks)
}

/// Lex a `"..."` or `'...'` literal with Go escapes starting at `start`.
fn lex_quoted(src: &str, start: usize) -> Result<(String, usize), TemplateError> {
    let quote = src[start..].chars().next().unwrap_or('"');
    let unterminated = || err_at(src, start, ErrorKind::UnterminatedString);
    let mut out = String::new();
    let mut it = src[start + 1..].char_indices();
    while let Some((off, c)) = it.next() {
        match c {
            c if c == quote => return Ok((out, start + 1 + off + 1)),
            '\n' => return Err(unterminated()),
            '\\' => {
                let Some((_, e)) = it.next() else {
                    return Err(unterminated());
                };
                let mut hex = |n: usize| -> Result<char, TemplateError> {
                    let mut v = 0u32;
                    for _ in 0..n {
                        let d = it.next().and_then(|(_, h)| h.to_digit(16)).ok_or_else(|| {
                            err_at(
                                src,
                                start,
                                ErrorKind::Syntax("invalid escape in quoted string".into()),
                            )
                        })?;
                        v = v * 16 + d;
                    }
                    char::from_u32(v).ok_or_else(|| {
                        err_at(
                            src,
                            start,
                            ErrorKind::Syntax("invalid escape in quoted string".into()),
                        )
                    })
                };
                let ch = match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'a' => '\x07',
                    'b' => '\x08',
                    'f' => '\x0c',
                    'v' => '\x0b',
                    '\\' => '\\',
                    '"' => '"',
                    '\'' => '\'',
                    'x' => hex(2)?,
                    'u' => hex(4)?,
                    'U' => hex(8)?,
                    _ => {
                        return Err(err_at(
                            src,
                            start,
                            ErrorKind::Syntax(format!("unknown escape sequence: \\{e}")),
                        ))
                    }
                };
                out.push(ch);
            }
            c => out.push(c),
        }
    }
    Err(unterminated())
}

fn lex_number(src: &str, start: usize) -> Result<(Number, usize), TemplateError> {
    let mut end = start;
    let mut prev = ' ';
    for (off, c) in src[start..].char_indices() {
        let ok = c.is_ascii_alphanumeric()
            || c == '_'
            || c == '.'
            || (off == 0 && (c == '-' || c == '+'))
            || ((c == '-' || c == '+') && matches!(prev, 'e' | 'E' | 'p' | 'P'));
        if !ok {
            break;
        }
        prev = c;
        end = start + off + c.len_utf8();
    }
    let text = &src[start..end];
    parse_number(text)
        .map(|n| (n, end))
        .ok_or_else(|| err_at(src, start, ErrorKind::BadNumber(text.to_string())))
}

fn parse_number(text: &str) -> Option<Number> {
    let t = text.replace('_', "");
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    let radix = |p: &[&str]| p.iter().find_map(|p| body.strip_prefix(p));
    let int = if let Some(h) = radix(&["0x", "0X"]) {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(o) = radix(&["0o", "0O"]) {
        u64::from_str_radix(o, 8).ok()
    } else if let Some(b) = radix(&["0b", "0B"]) {
        u64::from_str_radix(b, 2).ok()
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit()) {
        u64::from_str_radix(&body[1..], 8).ok()
    } else {
        body.parse::<u64>().ok()
    };
    if let Some(u) = int {
        if !neg {
            return Some(Number::from(u));
        }
        return i64::try_from(u).ok().map(|i| Number::from(-i));
    }
    if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let f: f64 = body.parse().ok()?;
    Number::from_f64(if neg { -f } else { f })
}

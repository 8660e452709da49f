//! Go `text/template` for `hull inspect --format`, evaluated against JSON data
//! (Docker's inspect output).
//!
//! Supported: text with `{{ }}` actions, `{{- -}}` trim markers, `{{/* comments */}}`;
//! field chains (`.State.Status`, `$v.Name`, `(index .X 0).Name`); `$` and variables
//! (`:=` declarations, `=` assignment, two-variable `range`); `if`/`else if`/`else`,
//! `range` (arrays, objects in sorted key order, integers) with `else`, `break`, `continue`;
//! `with`/`else with`/`else`; pipelines; parenthesised sub-pipelines; Go's builtins
//! (`and or not len index slice print printf println eq ne lt le gt ge html urlquery`)
//! and Docker's (`json join split upper lower title truncate pad`).
//!
//! Values print as Go's `fmt` prints them: strings raw, integers without `.0`,
//! `[a b]` for arrays, `map[k:v]` for objects, `<no value>` for a missing field.
//! Not supported: `define`/`template`/`block`, `call`, `js`, custom delimiters.
//! Deliberate leniencies (Docker's typed structs behave this way, Go's raw maps would
//! error): a field of a missing value is `<no value>`, `len` of null is 0, `index` of null
//! is null, numbers of different kinds compare by value.

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// A template failed to parse or execute; `line:col` locate the offending token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {line}:{col}: {kind}")]
pub struct TemplateError {
    pub line: usize,
    pub col: usize,
    pub kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("unclosed action")]
    UnclosedAction,
    #[error("unclosed comment")]
    UnclosedComment,
    #[error("unterminated quoted string")]
    UnterminatedString,
    #[error("bad number syntax: {0:?}")]
    BadNumber(String),
    #[error("unrecognized character in action: {0:?}")]
    BadChar(char),
    #[error("unknown function {0:?}")]
    UnknownFunction(String),
    #[error("undefined variable {0:?}")]
    UndefinedVariable(String),
    #[error("unexpected {0}")]
    Unexpected(String),
    #[error("unexpected EOF: missing {{{{end}}}} for {0:?}")]
    MissingEnd(String),
    #[error("missing value for command")]
    MissingValue,
    #[error("{0}")]
    Syntax(String),
    #[error("range over non-iterable value of type {0}")]
    RangeNonIterable(&'static str),
    #[error("can't evaluate field {field} in type {ty}")]
    NoField { field: String, ty: &'static str },
    #[error("can't give argument to non-function {0}")]
    NotAFunction(String),
    #[error("wrong number of args for {name}: want {want} got {got}")]
    ArgCount {
        name: String,
        want: String,
        got: usize,
    },
    #[error("error calling {name}: {msg}")]
    Call { name: String, msg: String },
}

/// Render a Go-style template against JSON data (Docker's inspect output).
pub fn render(template: &str, data: &serde_json::Value) -> Result<String, TemplateError> {
    render_with_methods(template, data, &Value::Null)
}

/// [`render`] with one-argument "methods" on the top-level data, like the
/// Go methods of Docker's format contexts (`{{.Label "key"}}`): `methods`
/// maps a method name to an object looked up with the argument (a missing
/// key gives "").
pub fn render_with_methods(
    template: &str,
    data: &serde_json::Value,
    methods: &serde_json::Value,
) -> Result<String, TemplateError> {
    let toks = lex(template)?;
    let mut p = Parser {
        src: template,
        toks,
        idx: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
    };
    let (nodes, stop) = p.parse_list()?;
    match stop {
        Stop::Eof => {}
        Stop::End(pos) => return Err(err_at(template, pos, unexpected("{{end}}"))),
        Stop::Else(pos, _) => return Err(err_at(template, pos, unexpected("{{else}}"))),
    }
    let mut ex = Exec {
        src: template,
        vars: vec![("$".to_string(), data.clone())],
        out: String::new(),
        methods: methods.clone(),
    };
    ex.walk(&nodes, data)?;
    Ok(ex.out)
}

const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "html", "urlquery", "json", "join", "split", "upper", "lower", "title",
    "truncate", "pad",
];

const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "break", "continue", "define", "template", "block",
];

fn unexpected(what: &str) -> ErrorKind {
    ErrorKind::Unexpected(what.to_string())
}

fn err_at(src: &str, pos: usize, kind: ErrorKind) -> TemplateError {
    let mut pos = pos.min(src.len());
    while !src.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &src[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    TemplateError { line, col, kind }
}

// ---------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
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
struct Token {
    tok: Tok,
    pos: usize,
}

fn is_space(c: char) -> bool {
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

fn lex(src: &str) -> Result<Vec<Token>, TemplateError> {
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

// ---------------------------------------------------------------------------
// Parser

#[derive(Debug)]
enum Node {
    Text(String),
    Action(Pipe),
    If {
        pipe: Pipe,
        then: Vec<Node>,
        els: Vec<Node>,
    },
    Range {
        pipe: Pipe,
        body: Vec<Node>,
        els: Vec<Node>,
    },
    With {
        pipe: Pipe,
        body: Vec<Node>,
        els: Vec<Node>,
    },
    Break,
    Continue,
}

#[derive(Debug)]
struct Pipe {
    pos: usize,
    decl: Vec<String>,
    assign: bool,
    cmds: Vec<Cmd>,
}

#[derive(Debug)]
struct Cmd {
    args: Vec<Arg>,
}

#[derive(Debug)]
struct Arg {
    pos: usize,
    kind: ArgKind,
}

#[derive(Debug)]
enum ArgKind {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Lit(Value),
    Nil,
    Sub(Box<Pipe>, Vec<String>),
}

enum Stop {
    End(usize),
    /// `{{else}}` or `{{else if ...` / `{{else with ...` (keyword, its position).
    Else(usize, Option<(String, usize)>),
    Eof,
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    idx: usize,
    vars: Vec<String>,
    range_depth: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Text(_) => "text".into(),
        Tok::Left => "\"{{\"".into(),
        Tok::Right => "\"}}\"".into(),
        Tok::Dot => "\".\"".into(),
        Tok::Field(c) | Tok::Chain(c) => format!("\".{}\"", c.join(".")),
        Tok::Var(n, c) if c.is_empty() => format!("{n:?}"),
        Tok::Var(n, c) => format!("\"{n}.{}\"", c.join(".")),
        Tok::Ident(w) => format!("{w:?}"),
        Tok::Lit(v) => v.to_string(),
        Tok::Nil => "nil".into(),
        Tok::Pipe => "\"|\"".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Comma => "\",\"".into(),
    }
}

impl Parser<'_> {
    fn err(&self, pos: usize, kind: ErrorKind) -> TemplateError {
        err_at(self.src, pos, kind)
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.idx).map(|t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.idx + n).map(|t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.idx).map_or(self.src.len(), |t| t.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.idx).cloned();
        self.idx += 1;
        t
    }

    fn expect_right(&mut self, ctx: &str) -> Result<(), TemplateError> {
        let pos = self.pos();
        match self.next() {
            Some(Token {
                tok: Tok::Right, ..
            }) => Ok(()),
            Some(t) => Err(self.err(
                pos,
                ErrorKind::Unexpected(format!("{} in {ctx}", describe(&t.tok))),
            )),
            None => Err(self.err(pos, ErrorKind::UnclosedAction)),
        }
    }

    fn parse_list(&mut self) -> Result<(Vec<Node>, Stop), TemplateError> {
        let mut nodes = Vec::new();
        loop {
            let Some(t) = self.next() else {
                return Ok((nodes, Stop::Eof));
            };
            match t.tok {
                Tok::Text(s) => nodes.push(Node::Text(s)),
                Tok::Left => {
                    let kw_pos = self.pos();
                    let kw = match self.peek() {
                        Some(Tok::Ident(w)) if KEYWORDS.contains(&w.as_str()) => w.clone(),
                        _ => {
                            let pipe = self.parse_pipe("command")?;
                            nodes.push(Node::Action(pipe));
                            continue;
                        }
                    };
                    self.idx += 1;
                    match kw.as_str() {
                        "end" => {
                            self.expect_right("end")?;
                            return Ok((nodes, Stop::End(kw_pos)));
                        }
                        "else" => {
                            if let Some(Tok::Ident(w)) = self.peek() {
                                if w == "if" || w == "with" {
                                    let w = w.clone();
                                    let p = self.pos();
                                    self.idx += 1;
                                    return Ok((nodes, Stop::Else(kw_pos, Some((w, p)))));
                                }
                            }
                            self.expect_right("else")?;
                            return Ok((nodes, Stop::Else(kw_pos, None)));
                        }
                        "if" | "range" | "with" => nodes.push(self.parse_control(&kw, kw_pos)?),
                        "break" | "continue" => {
                            if self.range_depth == 0 {
                                return Err(self.err(
                                    kw_pos,
                                    ErrorKind::Syntax(format!(
                                        "{{{{{kw}}}}} outside {{{{range}}}}"
                                    )),
                                ));
                            }
                            self.expect_right(&kw)?;
                            nodes.push(if kw == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        _ => {
                            return Err(self.err(
                                kw_pos,
                                ErrorKind::Syntax(format!("{{{{{kw}}}}} is not supported")),
                            ))
                        }
                    }
                }
                other => {
                    return Err(self.err(t.pos, ErrorKind::Unexpected(describe(&other))));
                }
            }
        }
    }

    fn parse_control(&mut self, kw: &str, pos: usize) -> Result<Node, TemplateError> {
        let mark = self.vars.len();
        let pipe = self.parse_pipe(kw)?;
        if kw == "range" {
            self.range_depth += 1;
        }
        let body = self.parse_list();
        if kw == "range" {
            self.range_depth -= 1;
        }
        let (body, stop) = body?;
        let els = match stop {
            Stop::End(_) => Vec::new(),
            Stop::Eof => return Err(self.err(pos, ErrorKind::MissingEnd(kw.to_string()))),
            Stop::Else(_, None) => {
                let (els, stop2) = self.parse_list()?;
                match stop2 {
                    Stop::End(_) => els,
                    Stop::Eof => return Err(self.err(pos, ErrorKind::MissingEnd(kw.to_string()))),
                    Stop::Else(p, _) => {
                        return Err(self.err(p, unexpected("{{else}} after {{else}}")))
                    }
                }
            }
            Stop::Else(p, Some((k2, p2))) => {
                if k2 != kw {
                    return Err(self.err(
                        p,
                        ErrorKind::Unexpected(format!("{{{{else {k2}}}}} in {{{{{kw}}}}}")),
                    ));
                }
                vec![self.parse_control(&k2, p2)?]
            }
        };
        self.vars.truncate(mark);
        Ok(match kw {
            "if" => Node::If {
                pipe,
                then: body,
                els,
            },
            "range" => Node::Range { pipe, body, els },
            _ => Node::With { pipe, body, els },
        })
    }

    /// Parse `[decl :=] cmd | cmd ...` up to and including `}}` (or `)` for "paren").
    fn parse_pipe(&mut self, ctx: &str) -> Result<Pipe, TemplateError> {
        let pos = self.pos();
        let mut decl = Vec::new();
        let mut assign = false;
        let simple_var = |t: Option<&Tok>| match t {
            Some(Tok::Var(n, c)) if c.is_empty() => Some(n.clone()),
            _ => None,
        };
        if let Some(name) = simple_var(self.peek()) {
            match self.peek_at(1) {
                Some(Tok::Declare) | Some(Tok::Assign) => {
                    assign = self.peek_at(1) == Some(&Tok::Assign);
                    decl.push(name);
                    self.idx += 2;
                }
                Some(Tok::Comma) if ctx == "range" => {
                    if let (Some(second), Some(Tok::Declare | Tok::Assign)) =
                        (simple_var(self.peek_at(2)), self.peek_at(3))
                    {
                        assign = self.peek_at(3) == Some(&Tok::Assign);
                        decl.push(name);
                        decl.push(second);
                        self.idx += 4;
                    }
                }
                _ => {}
            }
        }
        if assign {
            for d in &decl {
                if !self.vars.contains(d) {
                    return Err(self.err(pos, ErrorKind::UndefinedVariable(d.clone())));
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            let cmd_pos = self.pos();
            let cmd = self.parse_cmd()?;
            if cmd.args.is_empty() {
                return Err(self.err(cmd_pos, ErrorKind::MissingValue));
            }
            cmds.push(cmd);
            let p = self.pos();
            match self.next().map(|t| t.tok) {
                Some(Tok::Pipe) => continue,
                Some(Tok::Right) if ctx != "paren" => break,
                Some(Tok::RParen) if ctx == "paren" => break,
                Some(Tok::Right) => {
                    return Err(self.err(p, ErrorKind::Syntax("unclosed left paren".into())))
                }
                Some(Tok::RParen) => return Err(self.err(p, unexpected("right paren"))),
                Some(t) => {
                    return Err(self.err(
                        p,
                        ErrorKind::Unexpected(format!("{} in {ctx}", describe(&t))),
                    ))
                }
                None => return Err(self.err(p, ErrorKind::UnclosedAction)),
            }
        }
        if !assign {
            self.vars.extend(decl.iter().cloned());
        }
        Ok(Pipe {
            pos,
            decl,
            assign,
            cmds,
        })
    }

    fn parse_cmd(&mut self) -> Result<Cmd, TemplateError> {
        let mut args = Vec::new();
        loop {
            match self.peek() {
                None | Some(Tok::Pipe | Tok::Right | Tok::RParen) => return Ok(Cmd { args }),
                _ => {}
            }
            let Some(t) = self.next() else {
                return Ok(Cmd { args });
            };
            let kind = match t.tok {
                Tok::Dot => ArgKind::Dot,
                Tok::Field(c) => ArgKind::Field(c),
                Tok::Var(n, c) => {
                    if !self.vars.contains(&n) {
                        return Err(self.err(t.pos, ErrorKind::UndefinedVariable(n)));
                    }
                    ArgKind::Var(n, c)
                }
                Tok::Ident(w) => {
                    if KEYWORDS.contains(&w.as_str()) {
                        return Err(
                            self.err(t.pos, ErrorKind::Unexpected(format!("<{w}> in command")))
                        );
                    }
                    if !FUNCS.contains(&w.as_str()) {
                        return Err(self.err(t.pos, ErrorKind::UnknownFunction(w)));
                    }
                    ArgKind::Func(w)
                }
                Tok::Lit(v) => ArgKind::Lit(v),
                Tok::Nil => ArgKind::Nil,
                Tok::LParen => {
                    let sub = self.parse_pipe("paren")?;
                    let chain = match self.peek() {
                        Some(Tok::Chain(c)) => {
                            let c = c.clone();
                            self.idx += 1;
                            c
                        }
                        _ => Vec::new(),
                    };
                    ArgKind::Sub(Box::new(sub), chain)
                }
                other => {
                    return Err(self.err(
                        t.pos,
                        ErrorKind::Unexpected(format!("{} in operand", describe(&other))),
                    ))
                }
            };
            args.push(Arg { pos: t.pos, kind });
        }
    }
}

// ---------------------------------------------------------------------------
// Execution

#[derive(PartialEq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'a> {
    src: &'a str,
    vars: Vec<(String, Value)>,
    out: String,
    methods: Value,
}

static NULL: Value = Value::Null;

impl Exec<'_> {
    fn err(&self, pos: usize, kind: ErrorKind) -> TemplateError {
        err_at(self.src, pos, kind)
    }

    fn walk(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, TemplateError> {
        for n in nodes {
            match n {
                Node::Text(s) => self.out.push_str(s),
                Node::Action(p) => {
                    let v = self.eval_pipe(p, dot)?;
                    if p.decl.is_empty() {
                        if v.is_null() {
                            self.out.push_str("<no value>");
                        } else {
                            self.out.push_str(&fmt_v(&v));
                        }
                    }
                }
                Node::If { pipe, then, els } => {
                    let mark = self.vars.len();
                    let v = self.eval_pipe(pipe, dot)?;
                    let f = if truthy(&v) {
                        self.walk(then, dot)?
                    } else {
                        self.walk(els, dot)?
                    };
                    self.vars.truncate(mark);
                    if f != Flow::Normal {
                        return Ok(f);
                    }
                }
                Node::With { pipe, body, els } => {
                    let mark = self.vars.len();
                    let v = self.eval_pipe(pipe, dot)?;
                    let f = if truthy(&v) {
                        self.walk(body, &v)?
                    } else {
                        self.walk(els, dot)?
                    };
                    self.vars.truncate(mark);
                    if f != Flow::Normal {
                        return Ok(f);
                    }
                }
                Node::Range { pipe, body, els } => {
                    let f = self.range(pipe, body, els, dot)?;
                    if f != Flow::Normal {
                        return Ok(f);
                    }
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn range(
        &mut self,
        pipe: &Pipe,
        body: &[Node],
        els: &[Node],
        dot: &Value,
    ) -> Result<Flow, TemplateError> {
        let v = self.eval_cmds(pipe, dot)?;
        let items: Vec<(Value, Value)> = match v {
            Value::Array(a) => a
                .into_iter()
                .enumerate()
                .map(|(i, e)| (Value::Number(Number::from(i)), e))
                .collect(),
            Value::Object(m) => {
                let mut kv: Vec<(String, Value)> = m.into_iter().collect();
                kv.sort_by(|a, b| a.0.cmp(&b.0));
                kv.into_iter().map(|(k, v)| (Value::String(k), v)).collect()
            }
            Value::Number(n) if as_int_num(&n).is_some() => {
                let count = as_int_num(&n).unwrap_or(0).max(0);
                (0..count)
                    .map(|i| {
                        (
                            Value::Number(Number::from(i)),
                            Value::Number(Number::from(i)),
                        )
                    })
                    .collect()
            }
            Value::Null => Vec::new(),
            other => return Err(self.err(pipe.pos, ErrorKind::RangeNonIterable(go_type(&other)))),
        };
        if items.is_empty() {
            return self.walk(els, dot);
        }
        let mark = self.vars.len();
        for (k, e) in items {
            self.vars.truncate(mark);
            match pipe.decl.as_slice() {
                [v] => self.bind(pipe.assign, v, e.clone()),
                [kn, vn] => {
                    self.bind(pipe.assign, kn, k);
                    self.bind(pipe.assign, vn, e.clone());
                }
                _ => {}
            }
            let f = self.walk(body, &e)?;
            if f == Flow::Break {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn bind(&mut self, assign: bool, name: &str, v: Value) {
        if assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v;
                return;
            }
        }
        self.vars.push((name.to_string(), v));
    }

    fn eval_cmds(&mut self, p: &Pipe, dot: &Value) -> Result<Value, TemplateError> {
        let mut v = None;
        for cmd in &p.cmds {
            v = Some(self.eval_cmd(cmd, dot, v)?);
        }
        Ok(v.unwrap_or(Value::Null))
    }

    fn eval_pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, TemplateError> {
        let v = self.eval_cmds(p, dot)?;
        if let Some(name) = p.decl.first() {
            self.bind(p.assign, name, v.clone());
        }
        Ok(v)
    }

    fn eval_cmd(
        &mut self,
        cmd: &Cmd,
        dot: &Value,
        fin: Option<Value>,
    ) -> Result<Value, TemplateError> {
        let Some(first) = cmd.args.first() else {
            return Ok(Value::Null);
        };
        if let ArgKind::Func(name) = &first.kind {
            return self.call(name, first.pos, &cmd.args[1..], dot, fin);
        }
        if let (ArgKind::Field(c), 2, None) = (&first.kind, cmd.args.len(), &fin) {
            if let [name] = c.as_slice() {
                if let Some(Value::Object(m)) = self.methods.get(name).cloned() {
                    let k = self.eval_arg(&cmd.args[1], dot)?;
                    let key = match k {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    return Ok(m.get(&key).cloned().unwrap_or_else(|| "".into()));
                }
            }
        }
        if cmd.args.len() > 1 || fin.is_some() {
            return Err(self.err(
                first.pos,
                ErrorKind::NotAFunction(arg_text(self.src, first)),
            ));
        }
        if matches!(first.kind, ArgKind::Nil) {
            return Err(self.err(first.pos, ErrorKind::Syntax("nil is not a command".into())));
        }
        self.eval_arg(first, dot)
    }

    fn eval_arg(&mut self, a: &Arg, dot: &Value) -> Result<Value, TemplateError> {
        match &a.kind {
            ArgKind::Dot => Ok(dot.clone()),
            ArgKind::Field(c) => self.chain(dot, c, a.pos),
            ArgKind::Var(n, c) => {
                let v = match self.vars.iter().rev().find(|(name, _)| name == n) {
                    Some((_, v)) => v.clone(),
                    None => return Err(self.err(a.pos, ErrorKind::UndefinedVariable(n.clone()))),
                };
                self.chain(&v, c, a.pos)
            }
            ArgKind::Func(name) => self.call(name, a.pos, &[], dot, None),
            ArgKind::Lit(v) => Ok(v.clone()),
            ArgKind::Nil => Ok(Value::Null),
            ArgKind::Sub(p, c) => {
                let v = self.eval_pipe(p, dot)?;
                self.chain(&v, c, a.pos)
            }
        }
    }

    fn chain(&self, v: &Value, fields: &[String], pos: usize) -> Result<Value, TemplateError> {
        let mut cur = v;
        for f in fields {
            cur = match cur {
                Value::Object(m) => m.get(f).unwrap_or(&NULL),
                Value::Null => &NULL,
                other => {
                    return Err(self.err(
                        pos,
                        ErrorKind::NoField {
                            field: f.clone(),
                            ty: go_type(other),
                        },
                    ))
                }
            };
        }
        Ok(cur.clone())
    }

    fn call(
        &mut self,
        name: &str,
        pos: usize,
        args: &[Arg],
        dot: &Value,
        fin: Option<Value>,
    ) -> Result<Value, TemplateError> {
        if name == "and" || name == "or" {
            let got = args.len() + usize::from(fin.is_some());
            if got == 0 {
                return Err(self.err(
                    pos,
                    ErrorKind::ArgCount {
                        name: name.into(),
                        want: "at least 1".into(),
                        got,
                    },
                ));
            }
            let mut last = Value::Null;
            for a in args {
                last = self.eval_arg(a, dot)?;
                if truthy(&last) == (name == "or") {
                    return Ok(last);
                }
            }
            return Ok(fin.unwrap_or(last));
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.eval_arg(a, dot)?);
        }
        vals.extend(fin);
        builtin(name, &vals).map_err(|k| self.err(pos, k))
    }
}

fn arg_text(src: &str, a: &Arg) -> String {
    let rest = &src[a.pos..];
    let end = rest
        .find(|c: char| is_space(c) || c == '|' || c == '}')
        .unwrap_or(rest.len());
    rest[..end].to_string()
}

// ---------------------------------------------------------------------------
// Values and functions

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn as_int_num(n: &Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => as_int_num(n),
        _ => None,
    }
}

fn sorted_entries(m: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut kv: Vec<_> = m.iter().collect();
    kv.sort_by(|a, b| a.0.cmp(b.0));
    kv
}

/// Go's `%v`.
fn fmt_v(v: &Value) -> String {
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

fn call_err(name: &str, msg: impl Into<String>) -> ErrorKind {
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

fn builtin(name: &str, a: &[Value]) -> Result<Value, ErrorKind> {
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

fn slice(a: &[Value]) -> Result<Value, ErrorKind> {
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

fn incompatible(name: &str) -> ErrorKind {
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

/// Go's `fmt.Sprint`: spaces between operands when neither is a string.
fn sprint(a: &[Value]) -> String {
    let mut out = String::new();
    for (i, v) in a.iter().enumerate() {
        if i > 0 && !v.is_string() && !a[i - 1].is_string() {
            out.push(' ');
        }
        out.push_str(&fmt_v(v));
    }
    out
}

fn title(s: &str) -> String {
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
fn sprintf(format: &str, args: &[Value]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Value {
        json!({
            "Id": "4f66ad9a0b2e",
            "Name": "/web",
            "Port": 8080,
            "Ratio": 0.25,
            "Big": 1234567.5,
            "Args": ["-g", "daemon off;"],
            "Empty": [],
            "Null": null,
            "State": {"Status": "running", "Running": true, "Pid": 4242, "ExitCode": 0},
            "Config": {
                "Cmd": ["nginx", "-g", "daemon off;"],
                "Env": ["PATH=/usr/bin", "A=1"],
                "Labels": {"com.example": "yes", "b": "2", "a": "1"},
                "Html": "<a&b>"
            },
            "NetworkSettings": {"Networks": {
                "bridge": {"IPAddress": "172.17.0.2"},
                "alpha": {"IPAddress": "10.0.0.5"}
            }}
        })
    }

    fn r(t: &str) -> String {
        match render(t, &data()) {
            Ok(s) => s,
            Err(e) => panic!("{t:?} failed: {e}"),
        }
    }

    fn e(t: &str) -> TemplateError {
        match render(t, &data()) {
            Ok(s) => panic!("{t:?} rendered {s:?}, expected an error"),
            Err(e) => e,
        }
    }

    #[test]
    fn field_chains() {
        assert_eq!(r("{{.State.Status}}"), "running");
        assert_eq!(r("status={{ .State.Status }}!"), "status=running!");
        assert_eq!(r("{{.State.Pid}}"), "4242");
        assert_eq!(r("{{.Config.Env}}"), "[PATH=/usr/bin A=1]");
        assert_eq!(r("{{.Config.Labels}}"), "map[a:1 b:2 com.example:yes]");
        assert_eq!(r("{{.State.Running}}"), "true");
        assert_eq!(r("plain text"), "plain text");
        assert_eq!(r(""), "");
    }

    #[test]
    fn missing_is_no_value() {
        assert_eq!(r("{{.Missing}}"), "<no value>");
        assert_eq!(r("{{.Missing.Deeper}}"), "<no value>");
        assert_eq!(r("{{.Null}}"), "<no value>");
        assert_eq!(r("{{.State.Nope}}"), "<no value>");
    }

    #[test]
    fn json_function() {
        let state = r("{{json .State}}");
        assert!(!state.contains(' ') && !state.contains('\n'), "{state}");
        assert_eq!(
            serde_json::from_str::<Value>(&state).unwrap(),
            data()["State"]
        );
        let cfg = r("{{json .Config}}");
        assert!(!cfg.ends_with('\n'));
        let back: Value = serde_json::from_str(&cfg).unwrap();
        assert_eq!(back, data()["Config"]);
        // Docker disables HTML escaping.
        assert!(cfg.contains("<a&b>"), "{cfg}");
        assert_eq!(
            r("{{.Config.Cmd | json}}"),
            r#"["nginx","-g","daemon off;"]"#
        );
        assert_eq!(r("{{json .Missing}}"), "null");
        assert_eq!(r("{{json .Id}}"), r#""4f66ad9a0b2e""#);
    }

    #[test]
    fn range_over_object_is_sorted() {
        assert_eq!(
            r("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"),
            "10.0.0.5 172.17.0.2 "
        );
        assert_eq!(
            r("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}"),
            "a=1 b=2 com.example=yes "
        );
        assert_eq!(
            r("{{range $n, $c := .NetworkSettings.Networks}}{{$n}}:{{$c.IPAddress}};{{end}}"),
            "alpha:10.0.0.5;bridge:172.17.0.2;"
        );
    }

    #[test]
    fn range_over_array() {
        assert_eq!(
            r("{{range $i, $e := .Args}}{{$i}}:{{$e}} {{end}}"),
            "0:-g 1:daemon off; "
        );
        assert_eq!(
            r("{{range $e := .Args}}[{{$e}}]{{end}}"),
            "[-g][daemon off;]"
        );
        assert_eq!(
            r("{{range .Config.Env}}{{.}},{{end}}"),
            "PATH=/usr/bin,A=1,"
        );
        assert_eq!(r("{{range .Empty}}x{{else}}none{{end}}"), "none");
        assert_eq!(r("{{range .Missing}}x{{else}}none{{end}}"), "none");
        assert_eq!(r("{{range .Args}}x{{else}}none{{end}}"), "xx");
        assert_eq!(r("{{range 3}}{{.}}{{end}}"), "012");
    }

    #[test]
    fn range_dollar_and_scoping() {
        assert_eq!(r("{{range .Args}}{{$.Name}}{{end}}"), "/web/web");
        assert_eq!(
            r("{{$x := .Id}}{{range .Args}}{{$x}} {{end}}"),
            "4f66ad9a0b2e 4f66ad9a0b2e "
        );
        // A variable declared inside the body does not leak past {{end}}.
        let err = e("{{range .Args}}{{$y := 1}}{{end}}{{$y}}");
        assert_eq!(err.kind, ErrorKind::UndefinedVariable("$y".into()));
        assert_eq!(
            r("{{$n := 0}}{{range .Args}}{{$n = .}}{{end}}{{$n}}"),
            "daemon off;"
        );
    }

    #[test]
    fn break_and_continue() {
        assert_eq!(
            r(r#"{{range .Config.Cmd}}{{if eq . "-g"}}{{continue}}{{end}}{{.}};{{end}}"#),
            "nginx;daemon off;;"
        );
        assert_eq!(
            r(r#"{{range .Config.Cmd}}{{if eq . "-g"}}{{break}}{{end}}{{.}};{{end}}"#),
            "nginx;"
        );
    }

    #[test]
    fn index_function() {
        assert_eq!(r(r#"{{index .Config.Labels "com.example"}}"#), "yes");
        assert_eq!(r(r#"{{index .Config.Labels "nope"}}"#), "<no value>");
        assert_eq!(r("{{index .Args 1}}"), "daemon off;");
        assert_eq!(
            r(r#"{{index .NetworkSettings.Networks "bridge" "IPAddress"}}"#),
            "172.17.0.2"
        );
        assert_eq!(
            r(r#"{{(index .NetworkSettings.Networks "alpha").IPAddress}}"#),
            "10.0.0.5"
        );
        assert_eq!(r(r#"{{index (index .Config "Cmd") 0}}"#), "nginx");
        assert_eq!(r(r#"{{index .Missing "x"}}"#), "<no value>");
    }

    #[test]
    fn if_else_chains() {
        assert_eq!(r("{{if .State.Running}}up{{else}}down{{end}}"), "up");
        assert_eq!(r("{{if .Missing}}up{{else}}down{{end}}"), "down");
        let t = r#"{{if eq .State.Status "exited"}}E{{else if eq .State.Status "running"}}R{{else}}?{{end}}"#;
        assert_eq!(r(t), "R");
        assert_eq!(r("{{if .Missing}}a{{else if .Null}}b{{end}}"), "");
        assert_eq!(
            r("{{if $x := .State.Pid}}pid {{$x}}{{else}}none{{end}}"),
            "pid 4242"
        );
    }

    #[test]
    fn go_truthiness() {
        let cases = [
            (json!(false), false),
            (json!(true), true),
            (json!(0), false),
            (json!(0.0), false),
            (json!(7), true),
            (json!(-1.5), true),
            (json!(""), false),
            (json!("x"), true),
            (json!([]), false),
            (json!([0]), true),
            (json!({}), false),
            (json!({"a": 1}), true),
            (json!(null), false),
        ];
        for (v, want) in cases {
            let got = render("{{if .}}T{{else}}F{{end}}", &v).unwrap();
            assert_eq!(got, if want { "T" } else { "F" }, "{v}");
        }
    }

    #[test]
    fn with_blocks() {
        assert_eq!(
            r("{{with .State}}{{.Status}}/{{.Pid}}{{end}}"),
            "running/4242"
        );
        assert_eq!(r("{{with .Missing}}x{{else}}none{{end}}"), "none");
        assert_eq!(
            r("{{with .Missing}}x{{else with .Id}}{{.}}{{end}}"),
            "4f66ad9a0b2e"
        );
        assert_eq!(r("{{with $s := .State}}{{$s.Status}}{{end}}"), "running");
    }

    #[test]
    fn printf_widths_and_verbs() {
        assert_eq!(r(r#"{{printf "%-8s|%5d" .Name .Port}}"#), "/web    | 8080");
        assert_eq!(
            r(r#"{{printf "%s=%v %q %t" .Id .Port .Name .State.Running}}"#),
            r#"4f66ad9a0b2e=8080 "/web" true"#
        );
        assert_eq!(
            r(r#"{{printf "%x %X %#x %x" 255 255 255 "hi"}}"#),
            "ff FF 0xff 6869"
        );
        assert_eq!(
            r(r#"{{printf "%05d|%+d|%.2f|%8.3f|%e" 42 7 .Ratio 3.14159 1234.5}}"#),
            "00042|+7|0.25|   3.142|1.234500e+03"
        );
        assert_eq!(
            r(r#"{{printf "%v %g %v" .Ratio .Big .Args}}"#),
            "0.25 1.2345675e+06 [-g daemon off;]"
        );
        assert_eq!(r(r#"{{printf "%d%%" 50}}"#), "50%");
        assert_eq!(r(r#"{{printf "%c%c" 104 'i'}}"#), "hi");
        assert_eq!(r(r#"{{printf "%q" "a\"b\n"}}"#), r#""a\"b\n""#);
        assert_eq!(r(r#"{{printf "%6.2s|" "abcdef"}}"#), "    ab|");
        assert_eq!(r(r#"{{.Name | printf "name=%s"}}"#), "name=/web");
    }

    #[test]
    fn printf_mistakes_render_like_go() {
        assert_eq!(r(r#"{{printf "%d %s"  1}}"#), "1 %!s(MISSING)");
        assert_eq!(r(r#"{{printf "%d" "x"}}"#), "%!d(string=x)");
        assert_eq!(r(r#"{{printf "%s" 5}}"#), "%!s(int=5)");
        assert_eq!(r(r#"{{printf "x" 1 "y"}}"#), "x%!(EXTRA int=1, string=y)");
        assert_eq!(r(r#"{{printf "%s" .Missing}}"#), "%!s(<nil>)");
    }

    #[test]
    fn value_printing() {
        assert_eq!(
            r("{{.Ratio}} {{.Big}} {{1e3}} {{-5}} {{0x1F}} {{1_000}}"),
            "0.25 1.2345675e+06 1000 -5 31 1000"
        );
        assert_eq!(r("{{true}} {{false}}"), "true false");
        assert_eq!(
            render("{{.}}", &json!([1, null, "x", {"k": [true]}])).unwrap(),
            "[1 <nil> x map[k:[true]]]"
        );
        assert_eq!(render("{{.}}", &json!(1.0)).unwrap(), "1");
        assert_eq!(render("{{.}}", &json!(0.0001)).unwrap(), "0.0001");
        assert_eq!(render("{{.}}", &json!(0.00001)).unwrap(), "1e-05");
    }

    #[test]
    fn docker_string_functions() {
        assert_eq!(r(r#"{{join .Config.Cmd " "}}"#), "nginx -g daemon off;");
        assert_eq!(r(r#"{{join .Missing ","}}"#), "");
        assert_eq!(r(r#"{{split "a:b:c" ":"}}"#), "[a b c]");
        assert_eq!(r(r#"{{index (split .Id "a") 1}}"#), "d9");
        assert_eq!(r(r#"{{len (split "a,b" ",")}}"#), "2");
        assert_eq!(
            r("{{upper .State.Status}} {{lower \"MiXed\"}}"),
            "RUNNING mixed"
        );
        assert_eq!(r(r#"{{title "hello big world"}}"#), "Hello Big World");
        assert_eq!(
            r("{{truncate .Id 4}} {{truncate .Id 99}}"),
            "4f66 4f66ad9a0b2e"
        );
        assert_eq!(r(r#"[{{pad "x" 2 1}}][{{pad "" 2 1}}]"#), "[  x ][]");
        assert_eq!(r("{{.State.Status | upper | printf \"%s!\"}}"), "RUNNING!");
    }

    #[test]
    fn len_print_println_slice() {
        assert_eq!(
            r("{{len .Args}} {{len .Config.Labels}} {{len .Id}} {{len .Missing}}"),
            "2 3 12 0"
        );
        assert_eq!(r(r#"{{print "a" 1 2 "b" "c"}}"#), "a1 2bc");
        assert_eq!(r(r#"{{println "a" 1}}"#), "a 1\n");
        assert_eq!(
            r("{{slice .Id 0 4}} {{slice .Config.Cmd 1}}"),
            "4f66 [-g daemon off;]"
        );
        assert_eq!(
            r(r#"{{html .Config.Html}} {{urlquery "a b&c"}}"#),
            "&lt;a&amp;b&gt; a+b%26c"
        );
    }

    #[test]
    fn comparisons_and_logic() {
        assert_eq!(
            r(r#"{{eq .State.Status "running"}} {{ne .Port 80}}"#),
            "true true"
        );
        assert_eq!(r(r#"{{eq .State.Status "exited" "running"}}"#), "true");
        assert_eq!(
            r("{{lt .Port 9000}} {{le 3 3}} {{gt .Ratio 0.5}} {{ge 2 1.5}}"),
            "true true false true"
        );
        assert_eq!(
            r(r#"{{lt "abc" "abd"}} {{eq .Missing .Null}} {{eq .Missing "x"}}"#),
            "true true false"
        );
        assert_eq!(
            r("{{and .State.Running .Port}} {{and .State.Running .Empty}}"),
            "8080 []"
        );
        assert_eq!(
            r("{{or .Missing .Id}} {{or 0 \"\"}} {{not .Empty}}"),
            "4f66ad9a0b2e  true"
        );
        // and/or short-circuit: the failing index is never evaluated.
        assert_eq!(r("{{or .Id (index .Args 99)}}"), "4f66ad9a0b2e");
        assert_eq!(
            r("{{if and .State.Running (eq .State.ExitCode 0)}}ok{{end}}"),
            "ok"
        );
    }

    #[test]
    fn trim_markers() {
        assert_eq!(r("a  {{- .State.Status -}}  b"), "arunningb");
        assert_eq!(r("a \n\t{{- .State.Status}} \n b"), "arunning \n b");
        assert_eq!(
            r("{{range .Args -}}\n  [{{.}}]\n{{- end}}"),
            "[-g][daemon off;]"
        );
        assert_eq!(r("{{-3}}"), "-3");
        assert_eq!(r("x {{- /* gone */ -}} y"), "xy");
        assert_eq!(r("a{{/* comment */}}b"), "ab");
    }

    #[test]
    fn nested_range_and_if() {
        let t = "{{range $n, $net := .NetworkSettings.Networks}}{{if eq $n \"bridge\"}}{{range $.Args}}{{$n}}:{{.}};{{end}}{{else}}{{$net.IPAddress}};{{end}}{{end}}";
        assert_eq!(r(t), "10.0.0.5;bridge:-g;bridge:daemon off;;");
        let multi = "{{range .Config.Env}}\n  {{- if eq . \"A=1\"}}\n    found {{.}}\n  {{- end}}\n{{- end}}\n";
        assert_eq!(r(multi), "\n    found A=1\n");
    }

    #[test]
    fn literals() {
        assert_eq!(r(r#"{{"}}"}}"#), "}}");
        assert_eq!(r("{{`raw \\n`}}"), "raw \\n");
        assert_eq!(r(r#"{{"tab\there\u00e9"}}"#), "tab\there\u{e9}");
        assert_eq!(r("{{print nil}}"), "<nil>");
        assert_eq!(r("{{(.State).Status}} {{$.State.Pid}}"), "running 4242");
    }

    #[test]
    fn docker_idioms() {
        let d = json!({
            "Mounts": [
                {"Type": "bind", "Source": "/src", "Destination": "/dst", "RW": true},
                {"Type": "volume", "Source": "/var/lib/v", "Destination": "/data", "RW": false}
            ],
            "HostConfig": {"Memory": 0, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}},
            "Config": {"Labels": null, "Env": null}
        });
        let rr = |t: &str| render(t, &d).unwrap();
        assert_eq!(
            rr("{{range .Mounts}}{{.Source}} -> {{.Destination}}{{if not .RW}} (ro){{end}}{{println}}{{end}}"),
            "/src -> /dst\n/var/lib/v -> /data (ro)\n"
        );
        assert_eq!(
            rr("{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}"),
            "0 no"
        );
        assert_eq!(
            rr("{{range $k, $v := .Config.Labels}}{{$k}}{{else}}no labels{{end}}"),
            "no labels"
        );
        assert_eq!(
            rr(r#"{{index .Config.Labels "x"}}|{{len .Config.Env}}|{{join .Config.Env ","}}"#),
            "<no value>|0|"
        );
        assert_eq!(
            render("{{$}}", &json!({"b": 1, "a": [1, 2]})).unwrap(),
            "map[a:[1 2] b:1]"
        );
        assert_eq!(
            rr("{{with .HostConfig.RestartPolicy}}{{.Name}}:{{.MaximumRetryCount}}{{end}}"),
            "no:0"
        );
        assert_eq!(rr("{{json .Config}}"), r#"{"Env":null,"Labels":null}"#);
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let err = e("{{.Id}}\nnäme: {{.Id}}\n  {{bogus .Id}}");
        assert_eq!((err.line, err.col), (3, 5));
        let err = e("é {{.Id 1}}");
        assert_eq!((err.line, err.col), (1, 5));
        assert_eq!(
            err.to_string(),
            "template: 1:5: can't give argument to non-function .Id"
        );
    }

    #[test]
    fn trim_around_else_and_end() {
        let t = "{{if .State.Running -}}\n  up\n{{- else -}}\n  down\n{{- end}}";
        assert_eq!(r(t), "up");
        assert_eq!(
            render(t, &json!({"State": {"Running": false}})).unwrap(),
            "down"
        );
    }

    /// Every prefix and every single-character deletion of real templates either renders or
    /// returns a positioned error; none panics (byte offsets, char boundaries, EOF handling).
    #[test]
    fn truncated_and_mangled_templates_never_panic() {
        let corpus = [
            r#"{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}"#,
            r#"a {{- if eq .State.Status "running" -}} é {{else if .X}}b{{else}}c{{end}}"#,
            r#"{{printf "%-8s|%5d %q %x" .Name .Port `r` 'c'}}{{/* c */}}"#,
            r#"{{with $x := (index .NetworkSettings.Networks "bridge").IPAddress}}{{$x | upper}}{{end}}"#,
            r#"{{range .Args}}{{if .}}{{continue}}{{end}}{{break}}{{else}}{{1.5e3}}{{-2}}{{0x1f}}{{end}}"#,
        ];
        let d = data();
        let mut rendered = 0;
        for t in corpus {
            assert!(render(t, &d).is_ok(), "{t}");
            let cuts: Vec<usize> = t.char_indices().map(|(i, _)| i).collect();
            for &i in &cuts {
                let prefix = &t[..i];
                let mut deleted = t.to_string();
                deleted.remove(i);
                for candidate in [prefix, deleted.as_str()] {
                    match render(candidate, &d) {
                        Ok(_) => rendered += 1,
                        Err(err) => assert!(err.line >= 1 && err.col >= 1, "{candidate}: {err}"),
                    }
                }
            }
        }
        assert!(rendered > 10, "only {rendered} variants rendered");
    }

    fn pos_msg(t: &str) -> (usize, usize, String) {
        let err = e(t);
        (err.line, err.col, err.to_string())
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            pos_msg("abcdefgh {{foo}}"),
            (
                1,
                12,
                r#"template: 1:12: unknown function "foo""#.to_string()
            )
        );
        assert_eq!(
            pos_msg("ab {{.State"),
            (1, 4, "template: 1:4: unclosed action".into())
        );
        assert_eq!(
            e("x\n  {{/* open").to_string(),
            "template: 2:3: unclosed comment"
        );
        assert_eq!(
            e("{{/* c */ .X}}").kind,
            ErrorKind::Syntax("comment ends before closing delimiter".into())
        );
        assert_eq!(e(r#"{{"abc}}"#).kind, ErrorKind::UnterminatedString);
        assert_eq!(e("{{`abc}}").kind, ErrorKind::UnterminatedString);
        assert_eq!(
            e(r#"{{"a\qb"}}"#).kind,
            ErrorKind::Syntax("unknown escape sequence: \\q".into())
        );
        assert_eq!(
            e("{{range .Args}}x").to_string(),
            r#"template: 1:3: unexpected EOF: missing {{end}} for "range""#
        );
        assert_eq!(
            e("{{if 1}}{{else}}").kind,
            ErrorKind::MissingEnd("if".into())
        );
        assert_eq!(
            e("x{{end}}").to_string(),
            "template: 1:4: unexpected {{end}}"
        );
        assert_eq!(e("{{else}}").kind, unexpected("{{else}}"));
        assert_eq!(
            e("{{if 1}}a{{else}}b{{else}}c{{end}}").kind,
            unexpected("{{else}} after {{else}}")
        );
        assert_eq!(
            e("{{with 1}}{{else if 1}}{{end}}").kind,
            ErrorKind::Unexpected("{{else if}} in {{with}}".into())
        );
        assert_eq!(
            e("line1\n{{$nope}}").to_string(),
            r#"template: 2:3: undefined variable "$nope""#
        );
        assert_eq!(
            e("{{$x = 1}}").kind,
            ErrorKind::UndefinedVariable("$x".into())
        );
        assert_eq!(e("{{12abc}}").kind, ErrorKind::BadNumber("12abc".into()));
        assert_eq!(
            e("{{.A & .B}}").to_string(),
            "template: 1:6: unrecognized character in action: '&'"
        );
        assert_eq!(e("{{}}").kind, ErrorKind::MissingValue);
        assert_eq!(e("{{.A |}}").kind, ErrorKind::MissingValue);
        assert_eq!(
            e("{{(len .A}}").kind,
            ErrorKind::Syntax("unclosed left paren".into())
        );
        assert_eq!(e("{{.A)}}").kind, unexpected("right paren"));
        assert_eq!(
            e("{{break}}").kind,
            ErrorKind::Syntax("{{break}} outside {{range}}".into())
        );
        assert_eq!(
            e("{{range .A}}{{else}}{{continue}}{{end}}").kind,
            ErrorKind::Syntax("{{continue}} outside {{range}}".into())
        );
        assert_eq!(
            e(r#"{{define "x"}}{{end}}"#).kind,
            ErrorKind::Syntax("{{define}} is not supported".into())
        );
        assert_eq!(
            e("{{.A if}}").kind,
            ErrorKind::Unexpected("<if> in command".into())
        );
        assert_eq!(
            e("{{.A := 1}}").kind,
            ErrorKind::Unexpected("\":=\" in operand".into())
        );
        assert_eq!(
            e("{{$a := 1}}{{if $a, $b := .X}}{{end}}").kind,
            ErrorKind::Unexpected("\",\" in operand".into())
        );
    }

    #[test]
    fn exec_errors() {
        assert_eq!(
            e("{{range .State.Status}}x{{end}}").to_string(),
            "template: 1:9: range over non-iterable value of type string"
        );
        assert_eq!(
            e("{{range true}}{{end}}").kind,
            ErrorKind::RangeNonIterable("bool")
        );
        assert_eq!(
            e("{{.State.Status.Foo}}").to_string(),
            "template: 1:3: can't evaluate field Foo in type string"
        );
        assert_eq!(e("{{.Id 1}}").kind, ErrorKind::NotAFunction(".Id".into()));
        assert_eq!(
            e("{{.Id | .Name}}").kind,
            ErrorKind::NotAFunction(".Name".into())
        );
        assert_eq!(
            e("{{nil}}").kind,
            ErrorKind::Syntax("nil is not a command".into())
        );
        assert_eq!(
            e("{{len .Args .Id}}").to_string(),
            "template: 1:3: wrong number of args for len: want 1 got 2"
        );
        assert_eq!(
            e("{{index .Args 5}}").to_string(),
            "template: 1:3: error calling index: index out of range: 5"
        );
        assert_eq!(
            e(r#"{{index .Args "x"}}"#).kind,
            call_err("index", "wrong type for value; expected int; got string")
        );
        assert_eq!(
            e("{{index .Config.Labels 1}}").kind,
            call_err("index", "value has type int; should be string")
        );
        assert_eq!(
            e(r#"{{eq .Port "8080"}}"#).kind,
            call_err("eq", "incompatible types for comparison")
        );
        assert_eq!(
            e("{{eq .Args .Args}}").kind,
            call_err("eq", "non-comparable types")
        );
        assert_eq!(
            e("{{lt true false}}").kind,
            call_err("lt", "invalid type for comparison")
        );
        assert_eq!(
            e("{{eq 1}}").kind,
            call_err("eq", "missing argument for comparison")
        );
        assert_eq!(e("{{len .Port}}").kind, call_err("len", "len of type int"));
        assert_eq!(
            e("{{upper .Port}}").kind,
            call_err("upper", "wrong type for value; expected string; got int")
        );
        assert_eq!(
            e("{{join .Id \",\"}}").kind,
            call_err(
                "join",
                "wrong type for value; expected []string; got string"
            )
        );
        assert_eq!(
            e("{{and}}").kind,
            ErrorKind::ArgCount {
                name: "and".into(),
                want: "at least 1".into(),
                got: 0
            }
        );
        assert_eq!(
            e("{{slice .Id 3 1}}").kind,
            call_err("slice", "invalid slice index: 3 > 1")
        );
        assert_eq!(
            e("{{printf 1}}").kind,
            call_err("printf", "wrong type for value; expected string; got int")
        );
    }
}

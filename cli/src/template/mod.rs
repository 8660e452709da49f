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
//!
//! `lex` → `parse` → `exec`, which calls `funcs` and prints values with `gofmt`.

#[cfg(test)]
mod error_tests;
mod exec;
mod funcs;
mod gofmt;
mod lex;
mod parse;
#[cfg(test)]
mod tests;

use serde_json::Value;

use exec::Exec;
use lex::lex;
use parse::{Parser, Stop};

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

/// The functions a template may call.
const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "html", "urlquery", "json", "join", "split", "upper", "lower", "title",
    "truncate", "pad",
];

/// Words that start a control action (some unsupported), never functions.
const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "break", "continue", "define", "template", "block",
];

fn unexpected(what: &str) -> ErrorKind {
    ErrorKind::Unexpected(what.to_string())
}

/// An error at byte `pos` of `src`, located as line and character column.
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

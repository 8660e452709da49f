//! Execution: walks the tree against JSON data, with Go's scoping of
//! variables, `break`/`continue`, field chains and Go's truthiness.

use serde_json::{Number, Value};

use super::funcs::builtin;
use super::gofmt::fmt_v;
use super::lex::is_space;
use super::parse::{Arg, ArgKind, Cmd, Node, Pipe};
use super::{err_at, ErrorKind, TemplateError};

#[derive(PartialEq)]
pub(super) enum Flow {
    Normal,
    Break,
    Continue,
}

pub(super) struct Exec<'a> {
    pub(super) src: &'a str,
    pub(super) vars: Vec<(String, Value)>,
    pub(super) out: String,
    pub(super) methods: Value,
}

static NULL: Value = Value::Null;

impl Exec<'_> {
    fn err(&self, pos: usize, kind: ErrorKind) -> TemplateError {
        err_at(self.src, pos, kind)
    }

    pub(super) fn walk(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, TemplateError> {
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

pub(super) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

pub(super) fn go_type(v: &Value) -> &'static str {
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

pub(super) fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => as_int_num(n),
        _ => None,
    }
}

pub(super) fn sorted_entries(m: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut kv: Vec<_> = m.iter().collect();
    kv.sort_by(|a, b| a.0.cmp(b.0));
    kv
}

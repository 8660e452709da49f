//! The parser: tokens → a tree of text, actions and control structures
//! (`if`, `range`, `with`), checking functions and variables as Go's
//! parser does.

use serde_json::Value;

use super::lex::{Tok, Token};
use super::{err_at, unexpected, ErrorKind, TemplateError, FUNCS, KEYWORDS};

#[derive(Debug)]
pub(super) enum Node {
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
pub(super) struct Pipe {
    pub(super) pos: usize,
    pub(super) decl: Vec<String>,
    pub(super) assign: bool,
    pub(super) cmds: Vec<Cmd>,
}

#[derive(Debug)]
pub(super) struct Cmd {
    pub(super) args: Vec<Arg>,
}

#[derive(Debug)]
pub(super) struct Arg {
    pub(super) pos: usize,
    pub(super) kind: ArgKind,
}

#[derive(Debug)]
pub(super) enum ArgKind {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Lit(Value),
    Nil,
    Sub(Box<Pipe>, Vec<String>),
}

pub(super) enum Stop {
    End(usize),
    /// `{{else}}` or `{{else if ...` / `{{else with ...` (keyword, its position).
    Else(usize, Option<(String, usize)>),
    Eof,
}

pub(super) struct Parser<'a> {
    pub(super) src: &'a str,
    pub(super) toks: Vec<Token>,
    pub(super) idx: usize,
    pub(super) vars: Vec<String>,
    pub(super) range_depth: usize,
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

    pub(super) fn parse_list(&mut self) -> Result<(Vec<Node>, Stop), TemplateError> {
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

//! `.dockerignore`: which context paths a build leaves out. Docker's rules:
//! one pattern a line; `#` in column 1 starts a comment; patterns are
//! trimmed and cleaned (`./a//b/` is `a/b`, a leading `/` dropped); Go
//! `filepath.Match` syntax (`*` and `?` within one path element, `[...]`
//! classes, `\` escapes) plus `**` for any number of directories; `!`
//! makes an exception; the last pattern that matches a path decides; a
//! pattern that matches a directory covers everything under it.

/// A pattern that is not valid `filepath.Match` syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(".dockerignore:{line}: bad pattern {pattern:?}")]
pub struct IgnoreError {
    pub line: usize,
    pub pattern: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`: one character other than `/`.
    AnyChar,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**` at the end: everything.
    Rest,
    /// `**` (or `**/`) elsewhere: zero or more whole directories.
    Dirs,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// One cleaned pattern line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The pattern after cleaning, without its `!`.
    pub text: String,
    /// True for `!` lines: a match re-includes the path.
    pub exception: bool,
    tokens: Vec<Token>,
}

/// The rules of one `.dockerignore` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dockerignore {
    pub patterns: Vec<Pattern>,
}

impl Dockerignore {
    pub fn parse(text: &str) -> Result<Self, IgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            if raw.starts_with('#') {
                continue;
            }
            let mut line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let exception = line.starts_with('!');
            if exception {
                line = line[1..].trim();
            }
            let mut cleaned = clean(line);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            let tokens = compile(&cleaned).ok_or_else(|| IgnoreError {
                line: i + 1,
                pattern: raw.to_string(),
            })?;
            patterns.push(Pattern {
                text: cleaned,
                exception,
                tokens,
            });
        }
        Ok(Self { patterns })
    }

    /// True when the build context leaves `path` (relative to the context
    /// root, `/`-separated) out.
    pub fn matches(&self, path: &str) -> bool {
        let file = clean(path.trim_start_matches('/'));
        let parents: Vec<&str> = match file.rfind('/') {
            Some(at) => file[..at].split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for p in &self.patterns {
            // An inclusion cannot add to a match, nor an exception undo a non-match.
            if p.exception != matched {
                continue;
            }
            let hit =
                p.matches(&file) || (1..=parents.len()).any(|n| p.matches(&parents[..n].join("/")));
            if hit {
                matched = !p.exception;
            }
        }
        matched
    }
}

impl Dockerignore {
    /// True when a context walk can skip directory `dir` and everything
    /// under it: the directory is excluded and no exception pattern reaches
    /// into it. Docker's rule: only an exception whose text starts with the
    /// directory's path keeps the walk going (so `!**/keep` does not).
    pub fn skips_dir(&self, dir: &str) -> bool {
        if !self.matches(dir) {
            return false;
        }
        let prefix = format!("{}/", clean(dir.trim_start_matches('/')));
        !self
            .patterns
            .iter()
            .any(|p| p.exception && format!("{}/", p.text).starts_with(&prefix))
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        match_tokens(&self.tokens, &chars)
    }
}

fn match_tokens(tokens: &[Token], s: &[char]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return s.is_empty();
    };
    match first {
        Token::Rest => true,
        Token::Star => {
            let mut k = 0;
            loop {
                if match_tokens(rest, &s[k..]) {
                    return true;
                }
                if k == s.len() || s[k] == '/' {
                    return false;
                }
                k += 1;
            }
        }
        Token::Dirs => {
            match_tokens(rest, s)
                || s.iter()
                    .enumerate()
                    .any(|(j, c)| *c == '/' && match_tokens(rest, &s[j + 1..]))
        }
        Token::AnyChar => s.first().is_some_and(|c| *c != '/') && match_tokens(rest, &s[1..]),
        Token::Literal(l) => s.first() == Some(l) && match_tokens(rest, &s[1..]),
        Token::Class { negated, ranges } => {
            s.first()
                .is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
                && match_tokens(rest, &s[1..])
        }
    }
}

/// Does `name` match the glob `pattern` (Go's `filepath.Match`: `*`, `?`,
/// `[...]`, `\\` escapes; `*` never matches `/`)? A malformed pattern
/// matches nothing. COPY and ADD expand their sources with it.
pub fn path_match(pattern: &str, name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    compile(pattern).is_some_and(|t| match_tokens(&t, &chars))
}

/// Is `pattern` a glob (has `*`, `?` or `[`)?
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Turns a cleaned pattern into tokens; None when it is malformed.
fn compile(pattern: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                tokens.push(if chars.peek().is_none() {
                    Token::Rest
                } else {
                    Token::Dirs
                });
            }
            '*' => tokens.push(Token::Star),
            '?' => tokens.push(Token::AnyChar),
            '\\' => tokens.push(Token::Literal(chars.next()?)),
            '[' => {
                let negated = chars.next_if_eq(&'^').is_some();
                let mut ranges = Vec::new();
                loop {
                    let lo = match chars.next()? {
                        ']' if !ranges.is_empty() => break,
                        ']' => return None,
                        '\\' => chars.next()?,
                        ch => ch,
                    };
                    let hi = if chars.next_if_eq(&'-').is_some() {
                        match chars.next()? {
                            '\\' => chars.next()?,
                            ']' => return None,
                            ch => ch,
                        }
                    } else {
                        lo
                    };
                    if hi < lo {
                        return None;
                    }
                    ranges.push((lo, hi));
                }
                tokens.push(Token::Class { negated, ranges });
            }
            c => tokens.push(Token::Literal(c)),
        }
    }
    Some(tokens)
}

/// Go's `filepath.Clean` for `/` paths: no empty or `.` elements, `..`
/// resolved lexically, no trailing `/`; empty becomes `.`.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
#[path = "dockerignore_tests.rs"]
mod tests;

//! Docker's variable substitution in one word: `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`,
//! `${VAR:?message}`, `${VAR?message}`, with quote removal (`'…'` literal,
//! `"…"` expanding) and the escape character (`\$foo` is `$foo`).
//! Which instructions get substituted, and with which variables, is
//! [`crate::resolve`]'s business.

use std::iter::Peekable;
use std::str::Chars;

use crate::error::ErrorKind;

/// Looks a variable up: `None` when it is not set (which differs from set to "").
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Expands variables in `word` and removes its quotes and escapes.
pub fn expand_word(word: &str, escape: char, lookup: Lookup<'_>) -> Result<String, ErrorKind> {
    let mut p = Expander {
        chars: word.chars().peekable(),
        escape,
        lookup,
        word,
        raw: false,
    };
    p.word(None)
}

/// Expands variables in free text (a COPY heredoc body), keeping quotes and
/// escapes as written, except that the escape character before `$` makes
/// it literal.
pub fn expand_text(text: &str, escape: char, lookup: Lookup<'_>) -> Result<String, ErrorKind> {
    let mut p = Expander {
        chars: text.chars().peekable(),
        escape,
        lookup,
        word: text,
        raw: true,
    };
    p.word(None)
}

struct Expander<'a> {
    chars: Peekable<Chars<'a>>,
    escape: char,
    lookup: Lookup<'a>,
    word: &'a str,
    /// Text mode: quotes are ordinary characters and escapes stay, but for `\$`.
    raw: bool,
}

impl Expander<'_> {
    fn bad(&self) -> ErrorKind {
        ErrorKind::BadSubstitution(self.word.to_string())
    }

    /// Reads until the end, or until an unquoted `stop` (which is consumed).
    fn word(&mut self, stop: Option<char>) -> Result<String, ErrorKind> {
        let mut out = String::new();
        loop {
            let Some(c) = self.chars.next() else {
                return match stop {
                    Some(_) => Err(self.bad()),
                    None => Ok(out),
                };
            };
            if Some(c) == stop {
                return Ok(out);
            }
            match c {
                '\'' | '"' if self.raw => out.push(c),
                '\'' => out.push_str(&self.single_quoted()?),
                '"' => out.push_str(&self.double_quoted()?),
                '$' => out.push_str(&self.dollar()?),
                c if c == self.escape && self.raw => match self.chars.peek().copied() {
                    Some('$') => {
                        out.push('$');
                        self.chars.next();
                    }
                    _ => out.push(c),
                },
                c if c == self.escape => {
                    if let Some(next) = self.chars.next() {
                        out.push(next);
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn single_quoted(&mut self) -> Result<String, ErrorKind> {
        let mut out = String::new();
        for c in self.chars.by_ref() {
            if c == '\'' {
                return Ok(out);
            }
            out.push(c);
        }
        Err(ErrorKind::UnterminatedQuote(self.word.to_string()))
    }

    fn double_quoted(&mut self) -> Result<String, ErrorKind> {
        let mut out = String::new();
        while let Some(c) = self.chars.next() {
            match c {
                '"' => return Ok(out),
                '$' => out.push_str(&self.dollar()?),
                c if c == self.escape => match self.chars.peek().copied() {
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        out.push(n);
                        self.chars.next();
                    }
                    _ => out.push(c),
                },
                c => out.push(c),
            }
        }
        Err(ErrorKind::UnterminatedQuote(self.word.to_string()))
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        if let Some(c) = self.chars.peek().copied().filter(char::is_ascii_digit) {
            self.chars.next();
            name.push(c);
            return name; // positional: one digit
        }
        while let Some(c) = self.chars.peek().copied() {
            if !(c.is_ascii_alphanumeric() || c == '_') {
                break;
            }
            name.push(c);
            self.chars.next();
        }
        name
    }

    /// After a `$`.
    fn dollar(&mut self) -> Result<String, ErrorKind> {
        match self.chars.peek().copied() {
            Some('{') => {
                self.chars.next();
                self.braced()
            }
            Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
                let name = self.name();
                Ok((self.lookup)(&name).unwrap_or_default())
            }
            _ => Ok("$".to_string()),
        }
    }

    /// After `${`.
    fn braced(&mut self) -> Result<String, ErrorKind> {
        let name = self.name();
        if name.is_empty() {
            return Err(self.bad());
        }
        let value = (self.lookup)(&name);
        let Some(c) = self.chars.next() else {
            return Err(self.bad());
        };
        if c == '}' {
            return Ok(value.unwrap_or_default());
        }
        let (colon, op) = if c == ':' {
            (true, self.chars.next().ok_or_else(|| self.bad())?)
        } else {
            (false, c)
        };
        if !matches!(op, '-' | '+' | '?') {
            return Err(self.bad());
        }
        let word = self.word(Some('}'))?;
        // With a colon, an empty value counts as unset.
        let set = match &value {
            Some(v) => !(colon && v.is_empty()),
            None => false,
        };
        Ok(match op {
            '-' if set => value.unwrap_or_default(),
            '-' => word,
            '+' if set => word,
            '+' => String::new(),
            _ if set => value.unwrap_or_default(),
            _ => {
                let message = if word.is_empty() {
                    "is not allowed to be unset".to_string()
                } else {
                    word
                };
                return Err(ErrorKind::UnsetVariable { name, message });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(word: &str) -> Result<String, ErrorKind> {
        let lookup = |n: &str| match n {
            "foo" => Some("/bar".to_string()),
            "empty" => Some(String::new()),
            "abc" => Some("hello".to_string()),
            _ => None,
        };
        expand_word(word, '\\', &lookup)
    }

    #[test]
    fn docker_reference_examples() {
        assert_eq!(env("${foo}").unwrap(), "/bar");
        assert_eq!(env("$foo").unwrap(), "/bar");
        assert_eq!(env(r"\$foo").unwrap(), "$foo");
        assert_eq!(env(r"\${foo}").unwrap(), "${foo}");
        assert_eq!(env("${foo}_bar").unwrap(), "/bar_bar");
        assert_eq!(env("$foo_bar").unwrap(), "");
    }

    #[test]
    fn modifiers_with_and_without_colon() {
        assert_eq!(env("${unset:-word}").unwrap(), "word");
        assert_eq!(env("${empty:-word}").unwrap(), "word");
        assert_eq!(env("${empty-word}").unwrap(), "");
        assert_eq!(env("${unset-word}").unwrap(), "word");
        assert_eq!(env("${foo:-word}").unwrap(), "/bar");
        assert_eq!(env("${foo:+alt}").unwrap(), "alt");
        assert_eq!(env("${empty:+alt}").unwrap(), "");
        assert_eq!(env("${empty+alt}").unwrap(), "alt");
        assert_eq!(env("${unset+alt}").unwrap(), "");
        assert_eq!(env("${unset:-$abc/x}").unwrap(), "hello/x");
        assert_eq!(env("${unset:-${also:-deep}}").unwrap(), "deep");
    }

    #[test]
    fn required_variables() {
        assert_eq!(env("${foo:?gone}").unwrap(), "/bar");
        assert_eq!(
            env("${empty:?must be set}").unwrap_err(),
            ErrorKind::UnsetVariable {
                name: "empty".into(),
                message: "must be set".into()
            }
        );
        assert_eq!(env("${empty?x}").unwrap(), "");
        assert!(env("${unset?}").is_err());
    }

    #[test]
    fn quotes_are_removed_single_literal_double_expanding() {
        assert_eq!(env(r#""John Doe""#).unwrap(), "John Doe");
        assert_eq!(env("'$foo'").unwrap(), "$foo");
        assert_eq!(env(r#""$foo is ${abc}""#).unwrap(), "/bar is hello");
        assert_eq!(env(r#""say \"hi\" \$x \n""#).unwrap(), r#"say "hi" $x \n"#);
        assert_eq!(env(r"Rex\ The\ Dog").unwrap(), "Rex The Dog");
        assert!(matches!(env("'open"), Err(ErrorKind::UnterminatedQuote(_))));
        assert!(matches!(
            env("\"open"),
            Err(ErrorKind::UnterminatedQuote(_))
        ));
    }

    #[test]
    fn lone_dollars_stay() {
        assert_eq!(env("cost: $").unwrap(), "cost: $");
        assert_eq!(env("a$-b").unwrap(), "a$-b");
    }

    #[test]
    fn bad_substitutions() {
        for w in ["${}", "${foo", "${foo%x}", "${foo:=x}", "${foo:-x"] {
            assert!(matches!(env(w), Err(ErrorKind::BadSubstitution(_))), "{w}");
        }
    }

    #[test]
    fn text_mode_keeps_quotes_and_escapes() {
        let lookup = |n: &str| (n == "FOO").then(|| "bar".to_string());
        let body = "echo \"hello ${FOO}\" 'x' \\n \\$FOO\n";
        assert_eq!(
            expand_text(body, '\\', &lookup).unwrap(),
            "echo \"hello bar\" 'x' \\n $FOO\n"
        );
    }

    #[test]
    fn backtick_escape_leaves_backslash_literal() {
        let lookup = |n: &str| (n == "d").then(|| "C:\\dir".to_string());
        assert_eq!(
            expand_word(r"$d\sub `$d", '`', &lookup).unwrap(),
            r"C:\dir\sub $d"
        );
    }
}

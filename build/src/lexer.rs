//! From Dockerfile text to logical lines: parser directives at the top,
//! comments and blank lines dropped, `\` (or the `escape` directive's
//! character) joining continued lines, and heredoc bodies attached to the
//! instruction that opened them.

use crate::error::{Error, ErrorKind, Result};
use crate::heredoc::{self, Heredoc};

/// The parser directives found at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    pub syntax: Option<String>,
    pub check: Option<String>,
    /// `\` unless `# escape=` said otherwise (only `` ` `` is the other choice).
    pub escape: char,
}

impl Default for Directives {
    fn default() -> Self {
        Self {
            syntax: None,
            check: None,
            escape: '\\',
        }
    }
}

/// One instruction with its continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    /// 1-based line the instruction starts on.
    pub line: usize,
    /// The instruction word as written (case kept, e.g. `run`).
    pub keyword: String,
    /// Everything after the keyword, continuation characters removed.
    pub rest: String,
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexed {
    pub directives: Directives,
    pub lines: Vec<LogicalLine>,
}

/// Instructions whose lines may open heredocs.
const HEREDOC_INSTRUCTIONS: [&str; 3] = ["RUN", "COPY", "ADD"];

/// Splits Dockerfile text into directives and logical lines.
pub fn lex(text: &str) -> Result<Lexed> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let (directives, mut next) = read_directives(&lines)?;
    let escape = directives.escape;
    let mut out = Vec::new();
    while next < lines.len() {
        if is_skippable(lines[next]) {
            next += 1;
            continue;
        }
        let start = next + 1;
        let mut joined = String::new();
        let mut current = lines[next].trim_start();
        next += 1;
        loop {
            match strip_continuation(current, escape) {
                None => {
                    joined.push_str(current);
                    break;
                }
                Some(head) => {
                    joined.push_str(head);
                    // Blank and comment lines inside a continuation are dropped.
                    while next < lines.len() && is_skippable(lines[next]) {
                        next += 1;
                    }
                    match lines.get(next) {
                        Some(line) => {
                            current = line;
                            next += 1;
                        }
                        None => break,
                    }
                }
            }
        }
        let joined = joined.trim();
        let (keyword, rest) = match joined.find(char::is_whitespace) {
            Some(at) => (&joined[..at], joined[at..].trim_start()),
            None => (joined, ""),
        };
        let heredocs = if HEREDOC_INSTRUCTIONS
            .iter()
            .any(|k| k.eq_ignore_ascii_case(keyword))
        {
            heredoc::read_bodies(heredoc::markers(rest, escape), &lines, &mut next, start)?
        } else {
            Vec::new()
        };
        out.push(LogicalLine {
            line: start,
            keyword: keyword.to_string(),
            rest: rest.to_string(),
            heredocs,
        });
    }
    Ok(Lexed {
        directives,
        lines: out,
    })
}

fn is_skippable(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// The line without its trailing escape character (and whitespace after it),
/// if it ends in one.
fn strip_continuation(line: &str, escape: char) -> Option<&str> {
    line.trim_end_matches([' ', '\t']).strip_suffix(escape)
}

/// A `# name=value` line, split, if the line has that shape.
fn directive(line: &str) -> Option<(String, String)> {
    let body = line.trim().strip_prefix('#')?;
    let (name, value) = body.split_once('=')?;
    let name = name.trim();
    let value = value.trim();
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !value.is_empty();
    ok.then(|| (name.to_ascii_lowercase(), value.to_string()))
}

/// Reads the directives at the top and returns them with the index of the
/// first line that is not one. As Docker documents, directive recognition
/// stops at the first line that is not a known directive: a blank line, a
/// comment, an instruction, or an unknown directive (which is then a comment).
fn read_directives(lines: &[&str]) -> Result<(Directives, usize)> {
    let mut d = Directives::default();
    let mut seen: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((name, value)) = directive(line) else {
            return Ok((d, i));
        };
        if !matches!(name.as_str(), "syntax" | "escape" | "check") {
            return Ok((d, i));
        }
        if seen.contains(&name) {
            return Err(Error::new(i + 1, ErrorKind::DuplicateDirective(name)));
        }
        match name.as_str() {
            "escape" => {
                d.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => return Err(Error::new(i + 1, ErrorKind::InvalidEscape(value))),
                };
            }
            "syntax" => d.syntax = Some(value),
            _ => d.check = Some(value),
        }
        seen.push(name);
    }
    Ok((d, lines.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(text: &str) -> Vec<(usize, String, String)> {
        lex(text)
            .unwrap()
            .lines
            .into_iter()
            .map(|l| (l.line, l.keyword, l.rest))
            .collect()
    }

    #[test]
    fn comments_blank_lines_and_leading_whitespace() {
        let got = summary(
            "# comment\n\n   FROM alpine\n  # indented comment\nRUN echo hi # not a comment\n",
        );
        assert_eq!(
            got,
            [
                (3, "FROM".into(), "alpine".into()),
                (5, "RUN".into(), "echo hi # not a comment".into())
            ]
        );
    }

    #[test]
    fn continuation_joins_and_drops_comment_and_blank_lines() {
        let got = summary("FROM a\nRUN echo hello \\\n# comment\n\n  world\nUSER x\n");
        assert_eq!(got[1], (2, "RUN".into(), "echo hello   world".into()));
        assert_eq!(got[2].0, 6);
    }

    #[test]
    fn trailing_whitespace_after_escape_still_continues() {
        let got = summary("RUN a \\  \n b\n");
        assert_eq!(got, [(1, "RUN".into(), "a  b".into())]);
    }

    #[test]
    fn continuation_at_end_of_file_ends_the_instruction() {
        assert_eq!(summary("RUN a \\"), [(1, "RUN".into(), "a".into())]);
    }

    #[test]
    fn crlf_lines() {
        assert_eq!(summary("FROM a\r\nRUN b \\\r\n c\r\n")[1].2, "b  c");
    }

    #[test]
    fn directives_at_top_any_case_and_spacing() {
        let l = lex("# syntax=docker/dockerfile:1\n#  ESCAPE = `\nFROM a\n").unwrap();
        assert_eq!(l.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(l.directives.escape, '`');
    }

    #[test]
    fn backtick_escape_continues_lines_and_backslash_is_literal() {
        let l = lex("# escape=`\n\nFROM mcr.microsoft.com/windows\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n  /s\n").unwrap();
        let rest: Vec<_> = l.lines.iter().map(|x| x.rest.as_str()).collect();
        assert_eq!(
            rest,
            [
                "mcr.microsoft.com/windows",
                "testfile.txt c:\\",
                "dir c:\\   /s"
            ]
        );
    }

    #[test]
    fn directive_after_comment_or_blank_or_instruction_is_a_comment() {
        for text in [
            "# About my dockerfile\n# escape=`\nFROM a\n",
            "\n# escape=`\nFROM a\n",
            "FROM a\n# escape=`\n",
            "# unknowndirective=value\n# escape=`\nFROM a\n",
        ] {
            assert_eq!(lex(text).unwrap().directives.escape, '\\', "{text:?}");
        }
    }

    #[test]
    fn duplicate_directive_is_an_error_with_its_line() {
        let err = lex("# escape=\\\n# escape=`\nFROM a\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.kind, ErrorKind::DuplicateDirective("escape".into()));
    }

    #[test]
    fn bad_escape_value_is_refused() {
        let err = lex("# escape=x\nFROM a\n").unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidEscape("x".into()));
    }

    #[test]
    fn heredoc_bodies_attach_to_their_instruction() {
        let text = "FROM a\nRUN <<EOF\n# not a comment\nFROM not-an-instruction\nEOF\nCOPY <<-A <<'B' /dst/\n\tone\n\tA\n$two\nB\nUSER me\n";
        let l = lex(text).unwrap();
        assert_eq!(l.lines.len(), 4);
        assert_eq!(
            l.lines[1].heredocs[0].content,
            "# not a comment\nFROM not-an-instruction\n"
        );
        assert_eq!(l.lines[2].line, 6);
        assert_eq!(l.lines[2].heredocs[0].content, "one\n");
        assert!(!l.lines[2].heredocs[1].expand);
        assert_eq!(l.lines[2].heredocs[1].content, "$two\n");
        assert_eq!(l.lines[3].line, 11);
    }

    #[test]
    fn heredoc_markers_only_for_run_copy_add() {
        let l = lex("FROM a\nLABEL x=<<EOF\nUSER b\n").unwrap();
        assert_eq!(l.lines.len(), 3);
        assert!(l.lines[1].heredocs.is_empty());
    }

    #[test]
    fn bom_is_skipped() {
        assert_eq!(summary("\u{feff}FROM a\n")[0].1, "FROM");
    }
}

//! Heredocs (`RUN <<EOF`, `<<-EOF`, `<<'EOF'`, `COPY <<A <<B /dir/`): finding the
//! markers on an instruction line and reading their bodies from the lines after it.

use crate::error::{Error, ErrorKind, Result};
use crate::words::raw_words;

/// One heredoc: its delimiter and the text between the instruction line and
/// the delimiter line (each body line ends in `\n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    pub content: String,
    /// False when the delimiter was quoted (`<<'EOF'`, `<<"EOF"`): the body is
    /// then taken literally, without variable expansion.
    pub expand: bool,
    /// True for `<<-EOF`: leading tabs are stripped from the body lines and
    /// from the delimiter line.
    pub strip_tabs: bool,
}

/// A marker found on the instruction line, before its body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub name: String,
    pub expand: bool,
    pub strip_tabs: bool,
}

/// The heredoc marker a word is, if it is one: `<<NAME`, `<<-NAME`,
/// `<<"NAME"`, `<<'NAME'`. An unquoted name is the run of `[A-Za-z0-9_.-]`
/// after `<<`, so `<<EOF>out` has the delimiter `EOF`.
pub fn marker(word: &str) -> Option<Marker> {
    let after = word.strip_prefix("<<")?;
    if after.starts_with('<') {
        return None; // `<<<` is a here-string of the shell
    }
    let (strip_tabs, after) = match after.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    let first = after.chars().next()?;
    if first == '\'' || first == '"' {
        let inner = &after[1..];
        let end = inner.find(first)?;
        let name = &inner[..end];
        if name.is_empty() {
            return None;
        }
        return Some(Marker {
            name: name.to_string(),
            expand: false,
            strip_tabs,
        });
    }
    let name: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .collect();
    if name.is_empty() {
        return None;
    }
    Some(Marker {
        name,
        expand: true,
        strip_tabs,
    })
}

/// All markers on an instruction line, in order.
pub fn markers(line: &str, escape: char) -> Vec<Marker> {
    raw_words(line, escape)
        .iter()
        .filter_map(|w| marker(w))
        .collect()
}

/// Reads the body of each marker, in order, from `lines[*next..]`, moving
/// `*next` past each delimiter line. `start_line` is the instruction's line,
/// for the error when a delimiter never comes.
pub fn read_bodies(
    markers: Vec<Marker>,
    lines: &[&str],
    next: &mut usize,
    start_line: usize,
) -> Result<Vec<Heredoc>> {
    let mut docs = Vec::with_capacity(markers.len());
    for m in markers {
        let mut content = String::new();
        loop {
            let Some(raw) = lines.get(*next) else {
                return Err(Error::new(
                    start_line,
                    ErrorKind::UnterminatedHeredoc(m.name),
                ));
            };
            *next += 1;
            let body = if m.strip_tabs {
                raw.trim_start_matches('\t')
            } else {
                raw
            };
            if body == m.name {
                break;
            }
            content.push_str(body);
            content.push('\n');
        }
        docs.push(Heredoc {
            name: m.name,
            content,
            expand: m.expand,
            strip_tabs: m.strip_tabs,
        });
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_of_every_form() {
        assert_eq!(
            marker("<<EOF"),
            Some(Marker {
                name: "EOF".into(),
                expand: true,
                strip_tabs: false
            })
        );
        assert_eq!(
            marker("<<-END"),
            Some(Marker {
                name: "END".into(),
                expand: true,
                strip_tabs: true
            })
        );
        assert_eq!(
            marker("<<'EOF'"),
            Some(Marker {
                name: "EOF".into(),
                expand: false,
                strip_tabs: false
            })
        );
        assert_eq!(
            marker("<<-\"EOT\""),
            Some(Marker {
                name: "EOT".into(),
                expand: false,
                strip_tabs: true
            })
        );
        assert_eq!(marker("<<EOF>out").map(|m| m.name), Some("EOF".into()));
    }

    #[test]
    fn not_markers() {
        assert_eq!(marker("<<"), None);
        assert_eq!(marker("<<<word"), None);
        assert_eq!(marker("<<''"), None);
        assert_eq!(marker("<<'open"), None);
        assert_eq!(marker("cat<<EOF"), None);
        assert_eq!(marker("EOF"), None);
    }

    #[test]
    fn quoted_words_are_not_markers() {
        assert!(markers("echo '<<EOF' \"<<X\"", '\\').is_empty());
        assert!(markers("echo \\<<EOF", '\\').is_empty());
        let found = markers("python3 <<A <<-'B' > /out", '\\');
        let names: Vec<_> = found.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
    }

    #[test]
    fn bodies_are_read_in_order_and_tabs_stripped_only_for_dash() {
        let lines = ["one", "A", "\t\ttwo", "\tB", "after"];
        let ms = markers("cmd <<A <<-B", '\\');
        let mut next = 0;
        let docs = read_bodies(ms, &lines, &mut next, 1).unwrap();
        assert_eq!(docs[0].content, "one\n");
        assert_eq!(docs[1].content, "two\n");
        assert_eq!(next, 4);
    }

    #[test]
    fn tab_indented_delimiter_does_not_end_a_plain_heredoc() {
        let lines = ["\tx", "\tEOF", "EOF"];
        let mut next = 0;
        let docs = read_bodies(markers("<<EOF", '\\'), &lines, &mut next, 3).unwrap();
        assert_eq!(docs[0].content, "\tx\n\tEOF\n");
    }

    #[test]
    fn missing_delimiter_names_it_and_the_line() {
        let lines = ["body"];
        let mut next = 0;
        let err = read_bodies(markers("<<EOF", '\\'), &lines, &mut next, 4).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Dockerfile:4: unterminated heredoc: no line \"EOF\" before the end of the file"
        );
    }
}

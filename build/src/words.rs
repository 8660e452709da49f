//! Splitting instruction arguments: quote-aware words, and the JSON-array
//! (exec) form.

/// Splits a line into words at unquoted whitespace, keeping quotes and
/// escapes as written (so `'<<EOF'` stays a quoted word, not a marker).
pub fn raw_words(line: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                word.push(c);
                if c == escape && q == '"' {
                    if let Some(next) = chars.next() {
                        word.push(next);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            None => {
                word.push(c);
                if c == escape {
                    if let Some(next) = chars.next() {
                        word.push(next);
                    }
                } else if c == '\'' || c == '"' {
                    quote = Some(c);
                }
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The argument text as a JSON array of strings (`["a", "b"]`), if it is
/// one; anything else (including an array holding a non-string) is not, and
/// Docker then reads the text as shell form.
pub fn json_array(text: &str) -> Option<Vec<String>> {
    let t = text.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

/// Whitespace-separated words, as the instructions that take plain word
/// lists (COPY, ADD, VOLUME, EXPOSE) read them.
pub fn plain_words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_words_keep_quotes_and_escapes() {
        assert_eq!(
            raw_words(r#"a="x y" b='p q'  c=d\ e"#, '\\'),
            [r#"a="x y""#, "b='p q'", r"c=d\ e"]
        );
        assert_eq!(raw_words("  ", '\\'), Vec::<String>::new());
        assert_eq!(
            raw_words(r#"k="say \"hi\" now""#, '\\'),
            [r#"k="say \"hi\" now""#]
        );
    }

    #[test]
    fn json_arrays_and_what_is_not_one() {
        assert_eq!(
            json_array(r#"["/bin/sh", "-c", "echo hi"]"#).unwrap(),
            ["/bin/sh", "-c", "echo hi"]
        );
        assert_eq!(json_array("[]").unwrap(), Vec::<String>::new());
        assert_eq!(json_array("['single', 'quotes']"), None);
        assert_eq!(json_array(r#"["a", 1]"#), None);
        assert_eq!(json_array("echo [x]"), None);
    }
}

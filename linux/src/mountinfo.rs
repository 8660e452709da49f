//! Fields of /proc/<pid>/mountinfo.

/// A mountinfo path field as the path it names: the kernel writes space,
/// tab, newline and backslash as `\ooo` (octal); other bytes pass as they
/// are, and so does a backslash not followed by three octal digits.
pub fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                // Three octal digits make at most 0o777; a byte holds 0o377.
                let v = u32::from(d[0] - b'0') * 64
                    + u32::from(d[1] - b'0') * 8
                    + u32::from(d[2] - b'0');
                out.push(v as u8);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_their_bytes() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/t\\011n\\012s\\134"), "/t\tn\ns\\");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn a_lone_backslash_stays() {
        assert_eq!(unescape("/a\\b"), "/a\\b");
        assert_eq!(unescape("/end\\04"), "/end\\04");
        assert_eq!(unescape("\\"), "\\");
        assert_eq!(unescape("/x\\089"), "/x\\089");
    }
}

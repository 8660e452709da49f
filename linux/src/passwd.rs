//! /etc/passwd lines (passwd(5)): `name:password:uid:gid:gecos:home:shell`.
//! Read as text, without NSS: hullc is linked statically, and inside a
//! container only its own file counts anyway.

/// One user's name and home directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub home: String,
}

/// The first entry of `text` (a passwd file) whose uid is `uid`.
pub fn by_uid(text: &str, uid: u32) -> Option<Entry> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 6 || f[2].trim().parse::<u32>().ok() != Some(uid) {
            return None;
        }
        Some(Entry {
            name: f[0].to_string(),
            home: f[5].to_string(),
        })
    })
}

/// `by_uid` on the file at `path`; None when it cannot be read.
pub fn by_uid_in(path: &str, uid: u32) -> Option<Entry> {
    by_uid(&std::fs::read_to_string(path).ok()?, uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_entry_of_a_uid() {
        let text = "root:x:0:0:root:/root:/bin/sh\n\
                    # a comment\n\
                    short:x:5\n\
                    daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n\
                    again:x:1:1::/other:/bin/sh\n";
        assert_eq!(
            by_uid(text, 1),
            Some(Entry {
                name: "daemon".into(),
                home: "/usr/sbin".into()
            })
        );
        assert_eq!(by_uid(text, 0).map(|e| e.home), Some("/root".into()));
        assert_eq!(by_uid(text, 5), None);
        assert_eq!(by_uid(text, 42), None);
        assert_eq!(by_uid("", 0), None);
    }
}

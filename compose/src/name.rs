//! Project names: `-p`, `COMPOSE_PROJECT_NAME` and `name:` must already be
//! valid; the directory's name is normalized as Compose does (lowercase,
//! only `a-z 0-9 _ -`, starting with a letter or digit).

use crate::error::{Error, Result};

pub fn is_valid(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

pub fn check(name: &str) -> Result<String> {
    if is_valid(name) {
        Ok(name.to_string())
    } else {
        Err(Error::ProjectName {
            name: name.to_string(),
        })
    }
}

/// A directory name made into a project name.
pub fn normalize(dir_name: &str) -> Result<String> {
    let kept: String = dir_name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    let trimmed = kept.trim_start_matches(['_', '-']);
    check(trimmed).map_err(|_| Error::ProjectName {
        name: dir_name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize("My App.v2").unwrap(), "myappv2");
        assert_eq!(normalize("_x-Y").unwrap(), "x-y");
        assert!(normalize("...").is_err());
        assert!(check("Upper").is_err());
        assert!(check("-lead").is_err());
        assert_eq!(check("ok_1-2").unwrap(), "ok_1-2");
    }
}

//! A file's YAML (interpolated) read into the typed model: this is where
//! unknown keys and wrong types are found, each error naming the file and
//! the key path (`services.website.depends-on`).

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::Error;

/// Deserializes `value` as T, turning serde's error into one naming the
/// file and the key path.
pub fn typed<T, D>(file: &Path, value: D) -> Result<T, Error>
where
    T: DeserializeOwned,
    D: for<'de> serde::Deserializer<'de>,
{
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        located(file, &path, &message)
    })
}

fn located(file: &Path, path: &str, message: &str) -> Error {
    // serde_path_to_error prints "." for the root and "?" for a key it has
    // not read yet.
    let path = path.trim_end_matches(".?").trim_end_matches('?');
    let path = if path == "." { "" } else { path };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        let key = if path.is_empty() {
            field.to_string()
        } else if path.ends_with(field) {
            path.to_string()
        } else {
            format!("{path}.{field}")
        };
        return Error::UnknownKey {
            file: file.to_path_buf(),
            key,
        };
    }
    // serde_norway appends the position of a value read from text; the
    // values here come from a tree, so there is none, but keep one line.
    let message = message.lines().next().unwrap_or(message).to_string();
    Error::Invalid {
        file: file.to_path_buf(),
        key: if path.is_empty() {
            "(top level)".to_string()
        } else {
            path.to_string()
        },
        message,
    }
}

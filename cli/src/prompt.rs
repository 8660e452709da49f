//! Docker's confirmation prompt for the prune commands: the warning and
//! " [y/N] " on stdout, one line from stdin; only "y" or "Y" goes ahead
//! (an empty line, end of input or anything else answers no).

use std::io::{BufRead, Write};

/// `hull container prune`'s warning.
pub const CONTAINERS: &str =
    "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?";
/// `hull volume prune`'s warning (anonymous volumes only).
pub const VOLUMES: &str = "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?";
/// `hull volume prune --all`'s warning.
pub const ALL_VOLUMES: &str = "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?";
/// `hull image prune`'s warning.
pub const DANGLING_IMAGES: &str =
    "WARNING! This will remove all dangling images.\nAre you sure you want to continue?";
/// `hull image prune --all`'s warning.
pub const ALL_IMAGES: &str = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?";
/// `hull network prune`'s warning.
pub const NETWORKS: &str = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?";

/// `hull system prune`'s warning: what each flag adds, in Docker's order.
pub fn system(all: bool, volumes: bool) -> String {
    let mut items = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if volumes {
        items.push("all anonymous volumes not used by at least one container");
    }
    items.push(if all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    });
    items.push(if all {
        "all build cache"
    } else {
        "unused build cache"
    });
    let mut w = String::from("WARNING! This will remove:");
    for i in items {
        w.push_str("\n  - ");
        w.push_str(i);
    }
    w.push_str("\n\nAre you sure you want to continue?");
    w
}

/// Ask `warning` unless `force`; true to go ahead.
pub fn confirm(warning: &str, force: bool) -> anyhow::Result<bool> {
    if force {
        return Ok(true);
    }
    let mut out = std::io::stdout().lock();
    write!(out, "{warning} [y/N] ")?;
    out.flush()?;
    drop(out);
    Ok(is_yes(&read_answer(&mut std::io::stdin().lock())?))
}

fn read_answer(input: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    input.read_line(&mut line)?;
    Ok(line)
}

/// The line without its end, "y" in any case.
fn is_yes(line: &str) -> bool {
    line.trim_end_matches(['\n', '\r'])
        .eq_ignore_ascii_case("y")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_goes_ahead() {
        for yes in ["y\n", "Y\n", "y", "y\r\n"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n\n", "yes\n", " y\n", "N\n", "yy\n"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }

    #[test]
    fn reads_one_line() {
        let mut input: &[u8] = b"y\nmore\n";
        assert_eq!(read_answer(&mut input).unwrap(), "y\n");
    }

    #[test]
    fn system_warning_has_dockers_shape() {
        assert_eq!(
            system(false, false),
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n  - unused build cache\n\nAre you sure you want to continue?"
        );
        let w = system(true, true);
        assert!(w.contains("  - all anonymous volumes not used by at least one container\n  - all images without at least one container associated to them\n  - all build cache\n"));
    }
}

//! `hull-importcheck [WORKSPACE]`: prints each floor crossing as
//! `file:line: why` and exits 1 when there is any (make lint).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    match hull_importcheck::check(&root) {
        Ok(found) if found.is_empty() => ExitCode::SUCCESS,
        Ok(found) => {
            for violation in &found {
                println!("{violation}");
            }
            eprintln!("importcheck: {} floor crossing(s)", found.len());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("importcheck: {e}");
            ExitCode::from(2)
        }
    }
}

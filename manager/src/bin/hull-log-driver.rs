//! `hull-log-driver`: the shim's logging binary for hull's containers
//! (containerd's `binary://` protocol: the output on fds 3 and 4, fd 5
//! closed once ready), writing Docker's json-file logs into `--dir`.
//!
//! A binary of its own, not a `hull` subcommand, because one runs per
//! container: without the CLI's code it maps and dirties far less memory.
//! Arguments: `[log-driver] --dir DIR [--max-size BYTES] [--max-file N]
//! [--partial-lines] [--cri-log FILE]` (write a partial line after 10 ms
//! without more output: prompts of -i/-t containers; CRI's log format at
//! FILE instead of json-file), each also as `--flag=value`.

use std::path::PathBuf;
use std::process::exit;

fn usage(msg: &str) -> ! {
    eprintln!("hull-log-driver: {msg}");
    exit(2)
}

fn main() {
    let mut dir: Option<PathBuf> = None;
    let mut max_size: u64 = 0;
    let mut max_file: u32 = 1;
    let mut partial_lines = false;
    let mut cri_log: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            // The subcommand name `hull` takes (the shim passes it along).
            "log-driver" => {}
            "--dir" => dir = Some(PathBuf::from(value())),
            "--max-size" => {
                let v = value();
                max_size = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("bad --max-size {v:?}")));
            }
            "--max-file" => {
                let v = value();
                max_file = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("bad --max-file {v:?}")));
            }
            "--partial-lines" => partial_lines = true,
            "--cri-log" => cri_log = Some(PathBuf::from(value())),
            _ => usage(&format!("unknown argument {arg:?}")),
        }
    }
    let Some(dir) = dir else {
        usage("--dir is required");
    };
    if let Err(e) = hull_manager::containers::logfile::run_driver(
        &dir,
        max_size,
        max_file,
        partial_lines,
        cri_log.as_deref(),
    ) {
        eprintln!("hull-log-driver: {}: {e}", dir.display());
        exit(1);
    }
}

//! hullc: a runc-compatible OCI runtime.

use clap::Parser;
use hull_runtime::cli::Cli;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help
        Err(e) => {
            // One line, like every other hullc error (clap's own is a page).
            let text = e.to_string();
            let msg: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
                .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
                .collect();
            let msg = msg.join(" ");
            eprintln!(
                "hullc: {} (see hullc --help)",
                msg.trim_start_matches("error: ")
            );
            std::process::exit(2);
        }
    };
    if cli.version || hull_runtime::only_prints(cli.command.as_ref()) {
        // SAFETY: restoring SIGPIPE's default disposition before any thread
        // exists; what these commands start (ps) gets the default anyway.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    if cli.version {
        print!("{}", hull_runtime::cli::version_text());
        return;
    }
    if cli.command.is_none() {
        // As runc: no command prints the help.
        let _ = <Cli as clap::CommandFactory>::command().print_help();
        return;
    }
    // Nothing the caller leaked may reach a container: every fd above the
    // passed-through ones is close-on-exec from here on.
    hull_runtime::process::program::close_fds_on_exec(
        3 + hull_runtime::preserved_fds(cli.command.as_ref()).max(0),
    );
    for fd in hull_runtime::fds_named_by_args(cli.command.as_ref()) {
        // SAFETY: clearing FD_CLOEXEC on a possibly-closed fd is harmless;
        // the file it names is read (and closed to the container) later.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
    let to_file = hull_runtime::logging::init(
        cli.global.log.as_deref(),
        cli.global.log_format,
        cli.global.debug,
    )
    .unwrap_or_else(|e| {
        eprintln!("hullc: log file: {e}");
        std::process::exit(1)
    });
    if hull_runtime::needs_sealed_exe(cli.command.as_ref()) {
        if let Err(e) = hull_runtime::process::sealed_exe::ensure_sealed() {
            eprintln!("hullc: {e}");
            std::process::exit(1);
        }
    }
    match hull_runtime::dispatch(&cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            if to_file {
                tracing::error!("{e}");
            }
            eprintln!("hullc: {e}");
            std::process::exit(hull_runtime::failure_code(cli.command.as_ref()));
        }
    }
}

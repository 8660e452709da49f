fn main() {
    // `hull … | head` ends quietly, as other CLIs do, instead of panicking
    // on a write to a closed pipe.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    std::process::exit(hull_manager::cli::main());
}

fn main() {
    std::process::exit(hull_manager::cli::main());
}

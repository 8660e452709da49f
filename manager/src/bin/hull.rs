fn main() { eprintln!("hull: not implemented yet"); std::process::exit(1); }

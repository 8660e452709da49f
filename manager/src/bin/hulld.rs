fn main() { eprintln!("hulld: not implemented yet"); std::process::exit(1); }

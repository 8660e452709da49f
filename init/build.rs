//! hull-init runs inside containers whose images have another libc, or
//! none: its bin is a static PIE in every profile (see static_link.rs).

#[path = "static_link.rs"]
mod static_link;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=static_link.rs");
    static_link::link_bins_statically("hull-init");
}

//! hull-pause is a pod's PID 1, in a root file system that holds nothing
//! but itself: its bin is a static PIE in every profile, linked the way
//! hull-init's is (init/static_link.rs).

#[path = "../init/static_link.rs"]
mod static_link;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../init/static_link.rs");
    static_link::link_bins_statically("hull-pause");
}

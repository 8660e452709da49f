//! OCI seccomp profile → BPF compiler (not implemented yet).

//! Compiler unit tests: program structure, architecture handling, operator semantics, and a
//! differential check of the BPF program (run in an interpreter) against the policy's own
//! evaluation, plus seccompiler as an independent oracle.

use oci_spec::runtime::LinuxSeccomp;

use crate::arch::{
    self, AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_S390X, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT,
};
use crate::bpf::{self, SeccompData};
use crate::compile::{self, Cond, Op, Policy, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS};
use crate::{parse_profile, SeccompError};

mod arches;
mod bad_input;
mod differential;
mod rules;

const DOCKER: &str = include_str!("../tests/data/docker-default-shape.json");

fn profile(json: &str) -> LinuxSeccomp {
    parse_profile(json).unwrap()
}

/// Compiles and returns (policy, program).
fn both(json: &str) -> (Policy, Vec<libc::sock_filter>) {
    let p = compile::build(&profile(json)).unwrap();
    let prog = crate::codegen::generate(&p).unwrap();
    (p, prog)
}

fn run(prog: &[libc::sock_filter], nr: u32, audit: u32, args: [u64; 6]) -> u32 {
    let big_endian = audit == AUDIT_ARCH_S390X;
    bpf::run(
        prog,
        &SeccompData {
            nr,
            arch: audit,
            args,
        },
        big_endian,
    )
}

fn nr(arch: &arch::ArchInfo, name: &str) -> u32 {
    arch.lookup(name)
        .unwrap_or_else(|| panic!("{name} not in {}", arch.name))
}

/// xorshift64*: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Values that hit comparison edges often.
    fn interesting(&mut self, around: &[u64]) -> u64 {
        match self.below(6) {
            0 => self.next(),
            1 => self.next() & 0xffff_ffff,
            2 => self.next() & 0xffff_ffff_0000_0000,
            _ => {
                let base = around[self.below(around.len() as u64) as usize];
                let d = self.below(5) as i64 - 2;
                let v = base.wrapping_add(d as u64);
                match self.below(3) {
                    0 => v ^ (1 << 32),
                    1 => (v & 0xffff_ffff) | (base & 0xffff_ffff_0000_0000),
                    _ => v,
                }
            }
        }
    }
}

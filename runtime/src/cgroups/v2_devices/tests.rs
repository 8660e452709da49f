//! Unit tests of the device-program compiler, against a model.

use super::*;
use oci_spec::runtime::LinuxDeviceCgroupBuilder;

// ---- building rules ----

pub(super) fn rule(
    allow: bool,
    typ: &str,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let typ = match typ {
        "a" => LinuxDeviceType::A,
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        "u" => LinuxDeviceType::U,
        "p" => LinuxDeviceType::P,
        other => panic!("type {other}"),
    };
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .typ(typ)
        .access(access.to_string());
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    b.build().unwrap()
}

pub(super) fn deny_all() -> LinuxDeviceCgroup {
    LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm".to_string())
        .build()
        .unwrap()
}

pub(super) fn allow_all() -> LinuxDeviceCgroup {
    rule(true, "a", None, None, "rwm")
}

pub(super) fn c(allow: bool, major: i64, minor: i64, access: &str) -> LinuxDeviceCgroup {
    rule(allow, "c", Some(major), Some(minor), access)
}

/// What Docker/containerd put in a default container's spec.
pub(super) fn docker_rules() -> Vec<LinuxDeviceCgroup> {
    vec![
        deny_all(),
        rule(true, "c", None, None, "m"),
        rule(true, "b", None, None, "m"),
        c(true, 1, 3, "rwm"),
        c(true, 1, 8, "rwm"),
        c(true, 1, 7, "rwm"),
        c(true, 5, 0, "rwm"),
        c(true, 1, 5, "rwm"),
        c(true, 1, 9, "rwm"),
        rule(true, "c", Some(136), None, "rwm"),
        c(true, 5, 2, "rwm"),
        c(true, 10, 200, "rwm"),
    ]
}

// ---- a small interpreter for the instructions we emit ----

const R: u32 = ACC_READ;
const W: u32 = ACC_WRITE;
const M: u32 = ACC_MKNOD;
const B: u32 = DEV_BLOCK;
const C: u32 = DEV_CHAR;

/// Run the program on a device context; panics on anything the kernel
/// verifier would reject that we can check here (bad opcode, jump out
/// of range or backwards, read of an unset register, fall off the end).
pub(super) fn run(prog: &[BpfInsn], typ: u32, major: u32, minor: u32, access: u32) -> bool {
    let ctx = [(access << 16) | typ, major, minor];
    let mut reg = [0u64; 11];
    let mut set = [false; 11];
    set[1] = true;
    let mut pc = 0usize;
    let get = |reg: &[u64; 11], set: &[bool; 11], r: u8| -> u64 {
        assert!(set[r as usize], "read of unset R{r}");
        reg[r as usize]
    };
    for _ in 0..prog.len() + 1 {
        let i = prog
            .get(pc)
            .unwrap_or_else(|| panic!("fell off the end at {pc}"));
        let (d, s) = (i.dst() as usize, i.src());
        let mut next = pc + 1;
        match i.code {
            LDX_MEM_W => {
                assert_eq!(s, R1, "loads only from the context");
                assert!(
                    i.off >= 0 && i.off % 4 == 0 && i.off < 12,
                    "ctx offset {}",
                    i.off
                );
                reg[d] = u64::from(ctx[i.off as usize / 4]);
                set[d] = true;
            }
            ALU32_AND_K => reg[d] = u64::from(get(&reg, &set, d as u8) as u32 & i.imm as u32),
            ALU32_RSH_K => reg[d] = u64::from((get(&reg, &set, d as u8) as u32) >> i.imm),
            ALU32_MOV_K => {
                reg[d] = u64::from(i.imm as u32);
                set[d] = true;
            }
            ALU32_MOV_X => {
                reg[d] = u64::from(get(&reg, &set, s) as u32);
                set[d] = true;
            }
            JMP_JEQ_K | JMP_JNE_K => {
                assert!(i.off > 0, "jump offset {} at {pc}", i.off);
                let eq = get(&reg, &set, d as u8) == i.imm as i64 as u64;
                if eq == (i.code == JMP_JEQ_K) {
                    next = pc + 1 + i.off as usize;
                }
            }
            JMP_EXIT => {
                let r0 = get(&reg, &set, R0);
                assert!(r0 <= 1, "R0 = {r0}");
                return r0 == 1;
            }
            op => panic!("unexpected opcode {op:#x} at {pc}"),
        }
        assert!(next < prog.len(), "jump past the end at {pc}");
        pc = next;
    }
    panic!("no exit")
}

/// Every instruction is reachable (the verifier rejects dead code) and
/// every jump lands inside the program.
pub(super) fn check_shape(prog: &[BpfInsn]) {
    assert!(prog.len() <= 4096, "{} instructions", prog.len());
    let mut reached = vec![false; prog.len()];
    let mut todo = vec![0usize];
    while let Some(pc) = todo.pop() {
        if pc >= prog.len() || std::mem::replace(&mut reached[pc], true) {
            continue;
        }
        let i = prog[pc];
        match i.code {
            JMP_EXIT => {}
            JMP_JEQ_K | JMP_JNE_K => {
                let t = pc + 1 + i.off as usize;
                assert!(t < prog.len(), "jump out of range at {pc}");
                todo.push(t);
                todo.push(pc + 1);
            }
            _ => todo.push(pc + 1),
        }
    }
    if let Some(dead) = reached.iter().position(|r| !r) {
        panic!("unreachable instruction {dead}: {prog:?}");
    }
    assert_eq!(prog.last().map(|i| i.code), Some(JMP_EXIT));
}

/// The semantics, written directly: per access bit, the last rule of
/// the effective list naming the device and the bit decides; default
/// deny; no rules at all allows everything.
pub(super) fn model(
    rules: &[LinuxDeviceCgroup],
    typ: u32,
    major: u32,
    minor: u32,
    access: u32,
) -> bool {
    if rules.is_empty() {
        return true;
    }
    let list = rule_list(rules).unwrap();
    [M, R, W].iter().filter(|b| access & *b != 0).all(|bit| {
        list.iter()
            .rev()
            .find(|r| r.matches(typ, major, minor) && r.access & bit != 0)
            .is_some_and(|r| r.allow)
    })
}

pub(super) fn allowed(
    rules: &[LinuxDeviceCgroup],
    typ: u32,
    major: u32,
    minor: u32,
    access: u32,
) -> bool {
    let prog = compile(rules).unwrap();
    check_shape(&prog);
    let got = run(&prog, typ, major, minor, access);
    assert_eq!(
        got,
        model(rules, typ, major, minor, access),
        "program and model disagree on {typ} {major}:{minor} {access:#b}"
    );
    got
}

const MAJORS: &[u32] = &[0, 1, 4, 5, 8, 10, 136, 137, 4095];
const MINORS: &[u32] = &[0, 1, 2, 3, 5, 7, 9, 200, 229, 1_048_575];

/// Program and model agree on every (type, major, minor, access) of a
/// grid that includes every number the rules mention.
pub(super) fn check_against_model(rules: &[LinuxDeviceCgroup]) {
    let prog = compile(rules).unwrap();
    check_shape(&prog);
    for typ in [B, C] {
        for &major in MAJORS {
            for &minor in MINORS {
                for access in 1..=ACC_ALL {
                    assert_eq!(
                        run(&prog, typ, major, minor, access),
                        model(rules, typ, major, minor, access),
                        "rules {rules:?}\nprogram {prog:?}\ndevice {typ} {major}:{minor} access {access:#05b}"
                    );
                }
            }
        }
    }
}

// ---- decisions, spelled out by hand ----

#[test]
fn docker_defaults() {
    let rules = docker_rules();
    assert!(allowed(&rules, C, 1, 3, R | W));
    assert!(allowed(&rules, C, 1, 9, R));
    assert!(allowed(&rules, C, 136, 4, R | W));
    assert!(allowed(&rules, C, 10, 200, R | W));
    // console comes from hullc's defaults only
    assert!(allowed(&rules, C, 5, 1, R | W));
    // mknod of anything, but no open
    assert!(allowed(&rules, C, 10, 229, M));
    assert!(!allowed(&rules, C, 10, 229, R));
    assert!(allowed(&rules, B, 8, 0, M));
    assert!(!allowed(&rules, B, 8, 0, R));
    assert!(!allowed(&rules, B, 8, 0, W));
    assert!(!allowed(&rules, C, 4, 1, R | W));
    assert!(!allowed(&rules, B, 1, 3, R));
    let n = compile(&rules).unwrap().len();
    eprintln!("docker-like rule set: {n} instructions");
    assert!(n < 80, "{n} instructions");
}

#[test]
fn deny_write_to_null_after_the_defaults() {
    let rules = vec![deny_all(), c(false, 1, 3, "w")];
    assert!(allowed(&rules, C, 1, 3, R));
    assert!(!allowed(&rules, C, 1, 3, W));
    assert!(!allowed(&rules, C, 1, 3, R | W), "O_RDWR needs w too");
    assert!(allowed(&rules, C, 1, 3, M));
    assert!(allowed(&rules, C, 1, 5, R | W));
    assert!(!allowed(&rules, C, 1, 4, R));
}

#[test]
fn later_rules_win() {
    let a = vec![deny_all(), c(true, 10, 1, "rwm"), c(false, 10, 1, "rwm")];
    assert!(!allowed(&a, C, 10, 1, R));
    let b = vec![deny_all(), c(false, 10, 1, "rwm"), c(true, 10, 1, "rwm")];
    assert!(allowed(&b, C, 10, 1, R | W | M));
    // a later deny punches a hole in an earlier wildcard
    let hole = vec![allow_all(), rule(false, "c", Some(10), None, "w")];
    assert!(!allowed(&hole, C, 10, 7, W));
    assert!(allowed(&hole, C, 10, 7, R));
    assert!(allowed(&hole, B, 10, 7, W));
    assert!(allowed(&hole, C, 11, 7, W));
    // and a later allow reopens part of it
    let mut reopen = hole.clone();
    reopen.push(c(true, 10, 7, "w"));
    assert!(allowed(&reopen, C, 10, 7, W));
    assert!(!allowed(&reopen, C, 10, 8, W));
}

#[test]
fn access_bits_are_decided_separately() {
    let split = vec![deny_all(), c(true, 10, 1, "r"), c(true, 10, 1, "w")];
    assert!(allowed(&split, C, 10, 1, R | W));
    assert!(!allowed(&split, C, 10, 1, M));
    assert!(!allowed(&split, C, 10, 1, R | M));
    let wild = vec![
        deny_all(),
        rule(true, "c", Some(10), None, "r"),
        c(true, 10, 1, "w"),
    ];
    assert!(allowed(&wild, C, 10, 1, R | W));
    assert!(!allowed(&wild, C, 10, 2, R | W));
    assert!(allowed(&wild, C, 10, 2, R));
}

#[test]
fn allow_all_first() {
    let rules = vec![allow_all(), c(false, 1, 3, "rwm")];
    assert!(!allowed(&rules, C, 1, 3, R));
    assert!(allowed(&rules, C, 1, 5, R | W | M));
    assert!(allowed(&rules, B, 8, 0, R | W));
    // "allow all" last wins over everything before it
    let rules = vec![deny_all(), c(false, 1, 3, "rwm"), allow_all()];
    let prog = compile(&rules).unwrap();
    assert_eq!(prog.len(), 8, "{prog:?}");
    assert!(allowed(&rules, C, 1, 3, R | W | M));
}

#[test]
fn allow_then_deny_all_wipes_the_defaults() {
    // v1: "a" allowed then "a" denied leaves no exceptions at all.
    let rules = vec![allow_all(), deny_all()];
    assert!(!allowed(&rules, C, 1, 3, R));
    assert_eq!(compile(&rules).unwrap().len(), 8);
}

#[test]
fn no_leading_deny_all_starts_from_deny() {
    let rules = vec![c(true, 10, 1, "rw")];
    assert!(allowed(&rules, C, 10, 1, R | W));
    assert!(!allowed(&rules, C, 10, 1, M));
    assert!(allowed(&rules, C, 1, 3, R | W), "defaults still apply");
    assert!(!allowed(&rules, C, 10, 2, R));
}

#[test]
fn no_rules_allow_everything() {
    let prog = compile(&[]).unwrap();
    assert_eq!(prog.len(), 8);
    assert!(allowed(&[], B, 8, 0, R | W | M));
}

#[test]
fn type_a_with_numbers_matches_both_types() {
    let rules = vec![deny_all(), rule(true, "a", Some(8), None, "r")];
    assert!(allowed(&rules, B, 8, 1, R));
    assert!(allowed(&rules, C, 8, 1, R));
    assert!(!allowed(&rules, B, 8, 1, W));
    assert!(!allowed(&rules, B, 9, 1, R));
}

#[test]
fn type_u_is_char_and_empty_access_is_rwm() {
    let rules = vec![deny_all(), rule(true, "u", Some(10), Some(1), "")];
    assert!(allowed(&rules, C, 10, 1, R | W | M));
    assert!(!allowed(&rules, B, 10, 1, R));
}

#[test]
fn negative_numbers_are_wildcards() {
    let rules = vec![deny_all(), rule(true, "b", Some(-1), Some(-1), "r")];
    assert!(allowed(&rules, B, 8, 3, R));
    assert!(!allowed(&rules, C, 8, 3, R));
}

#[test]
fn invalid_rules_are_errors_naming_the_rule() {
    let bad = [
        (rule(true, "p", Some(1), Some(1), "r"), "fifo"),
        (c(true, 1, 3, "rx"), "only r, w and m"),
        (c(true, 1 << 31, 3, "r"), "major 2147483648"),
        (c(true, 1, 1 << 40, "r"), "minor"),
    ];
    for (r, want) in bad {
        let e = compile(&[deny_all(), r]).unwrap_err().to_string();
        assert!(e.contains("linux.resources.devices[1]"), "{e}");
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn shadowed_rules_are_dropped() {
    // Duplicates of the defaults cost nothing.
    let base = compile(&[deny_all()]).unwrap().len();
    let dup = compile(&[deny_all(), c(true, 1, 3, "rwm"), c(true, 1, 5, "rwm")])
        .unwrap()
        .len();
    assert_eq!(base, dup);
    // Rules with the default's action at the start are dropped.
    let p = compile(&[deny_all(), c(false, 10, 1, "r")]).unwrap().len();
    assert_eq!(p, base);
}

// ---- program vs model, on a corpus and on pseudo-random rule sets ----

pub(super) fn corpus() -> Vec<Vec<LinuxDeviceCgroup>> {
    vec![
        vec![],
        docker_rules(),
        vec![deny_all()],
        vec![allow_all()],
        vec![deny_all(), c(false, 1, 3, "w")],
        vec![allow_all(), c(false, 1, 3, "w"), c(true, 1, 3, "w")],
        vec![
            deny_all(),
            rule(true, "a", None, None, "r"),
            c(false, 1, 3, "r"),
        ],
        vec![deny_all(), rule(false, "a", None, None, "w")],
        vec![
            c(false, 5, 1, "rw"),
            allow_all(),
            rule(false, "b", None, None, "m"),
        ],
        vec![
            rule(true, "b", Some(8), None, "rw"),
            rule(false, "b", Some(8), Some(0), "w"),
        ],
    ]
}

/// xorshift: deterministic, no dependency.
pub(super) struct Rng(pub(super) u64);
impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(super) fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

pub(super) fn random_rules(rng: &mut Rng) -> Vec<LinuxDeviceCgroup> {
    let n = rng.next() % 12;
    let mut out = Vec::new();
    if rng.next().is_multiple_of(2) {
        out.push(deny_all());
    }
    for _ in 0..n {
        match rng.next() % 12 {
            0 => out.push(allow_all()),
            1 => out.push(deny_all()),
            _ => {}
        }
        let typ = rng.pick(&["a", "b", "c", "c", "u"]);
        let major = rng.pick(&[None, Some(1), Some(5), Some(10), Some(136), Some(-1)]);
        let minor = rng.pick(&[None, Some(1), Some(3), Some(5), Some(200)]);
        let access = rng.pick(&["r", "w", "m", "rw", "rm", "wm", "rwm", ""]);
        out.push(rule(
            rng.next().is_multiple_of(2),
            typ,
            major,
            minor,
            access,
        ));
    }
    out
}

#[test]
fn program_matches_model_on_corpus() {
    for rules in corpus() {
        check_against_model(&rules);
    }
}

#[test]
fn program_matches_model_on_random_rule_sets() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..500 {
        check_against_model(&random_rules(&mut rng));
    }
}

#[test]
fn apply_errors_name_the_cgroup_dir() {
    let dir = Path::new("/nonexistent/hullc-v2-devices-test");
    let e = apply(dir, &[deny_all()]).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/hullc-v2-devices-test"), "{e}");
    let e = apply(dir, &[deny_all(), c(true, 1, 1, "z")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/hullc-v2-devices-test"), "{e}");
    assert!(e.contains("devices[1]"), "{e}");
    // no rules: nothing to do, not even an open
    apply(dir, &[]).unwrap();
}

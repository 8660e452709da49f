//! Architectures: audit arch values (linux/audit.h), word size, byte order, syscall tables.

use oci_spec::runtime::Arch;

use crate::tables;

// linux/audit.h: AUDIT_ARCH_* = EM_* | __AUDIT_ARCH_64BIT (0x80000000) | __AUDIT_ARCH_LE (0x40000000)
const AUDIT_ARCH_64BIT: u32 = 0x8000_0000;
const AUDIT_ARCH_LE: u32 = 0x4000_0000;
const EM_386: u32 = 3;
const EM_ARM: u32 = 40;
const EM_PPC64: u32 = 21;
const EM_S390: u32 = 22;
const EM_X86_64: u32 = 62;
const EM_AARCH64: u32 = 183;
const EM_RISCV: u32 = 243;

/// AUDIT_ARCH_X86_64 (also the audit arch of x32 syscalls).
pub const AUDIT_ARCH_X86_64: u32 = EM_X86_64 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE;
/// AUDIT_ARCH_I386.
pub const AUDIT_ARCH_I386: u32 = EM_386 | AUDIT_ARCH_LE;
/// AUDIT_ARCH_AARCH64.
pub const AUDIT_ARCH_AARCH64: u32 = EM_AARCH64 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE;
/// AUDIT_ARCH_ARM (little endian EABI).
pub const AUDIT_ARCH_ARM: u32 = EM_ARM | AUDIT_ARCH_LE;
/// AUDIT_ARCH_RISCV64.
pub const AUDIT_ARCH_RISCV64: u32 = EM_RISCV | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE;
/// AUDIT_ARCH_PPC64LE.
pub const AUDIT_ARCH_PPC64LE: u32 = EM_PPC64 | AUDIT_ARCH_64BIT | AUDIT_ARCH_LE;
/// AUDIT_ARCH_S390X (big endian).
pub const AUDIT_ARCH_S390X: u32 = EM_S390 | AUDIT_ARCH_64BIT;

/// x32 syscalls run under AUDIT_ARCH_X86_64 with this bit set in the syscall number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// One architecture a filter can have a section for.
#[derive(Debug, PartialEq, Eq)]
pub struct ArchInfo {
    /// The OCI / libseccomp name.
    pub name: &'static str,
    /// `seccomp_data.arch` for syscalls of this ABI.
    pub audit: u32,
    /// Syscall arguments are 64 bits wide. On 32-bit ABIs only the low word is compared, as
    /// libseccomp does (the kernel may leave junk in the upper half, e.g. for `int 0x80`
    /// from a 64-bit process).
    pub wide_args: bool,
    /// Byte order of `seccomp_data` for this ABI (where the low word of an argument sits).
    pub big_endian: bool,
    /// Name → number, sorted by name.
    pub table: &'static [(&'static str, u32)],
}

impl ArchInfo {
    /// The syscall number of `name` in this ABI, if it has one.
    pub fn lookup(&self, name: &str) -> Option<u32> {
        self.table
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| self.table[i].1)
    }

    /// True for the x32 ABI (shares AUDIT_ARCH_X86_64, told apart by X32_SYSCALL_BIT).
    pub fn is_x32(&self) -> bool {
        std::ptr::eq(self, &X32)
    }
}

/// x86_64.
pub static X86_64: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_X86_64",
    audit: AUDIT_ARCH_X86_64,
    wide_args: true,
    big_endian: false,
    table: tables::X86_64,
};
/// i386 (also reached from x86_64 processes through `int 0x80`).
pub static X86: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_X86",
    audit: AUDIT_ARCH_I386,
    wide_args: false,
    big_endian: false,
    table: tables::X86,
};
/// x32 (numbers in the table already include X32_SYSCALL_BIT). libseccomp treats x32
/// arguments as 32 bits wide; so do we.
pub static X32: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_X32",
    audit: AUDIT_ARCH_X86_64,
    wide_args: false,
    big_endian: false,
    table: tables::X32,
};
/// aarch64.
pub static AARCH64: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_AARCH64",
    audit: AUDIT_ARCH_AARCH64,
    wide_args: true,
    big_endian: false,
    table: tables::AARCH64,
};
/// 32-bit ARM EABI.
pub static ARM: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_ARM",
    audit: AUDIT_ARCH_ARM,
    wide_args: false,
    big_endian: false,
    table: tables::ARM,
};
/// riscv64.
pub static RISCV64: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_RISCV64",
    audit: AUDIT_ARCH_RISCV64,
    wide_args: true,
    big_endian: false,
    table: tables::RISCV64,
};
/// ppc64le.
pub static PPC64LE: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_PPC64LE",
    audit: AUDIT_ARCH_PPC64LE,
    wide_args: true,
    big_endian: false,
    table: tables::PPC64LE,
};
/// s390x.
pub static S390X: ArchInfo = ArchInfo {
    name: "SCMP_ARCH_S390X",
    audit: AUDIT_ARCH_S390X,
    wide_args: true,
    big_endian: true,
    table: tables::S390X,
};

/// Every architecture we can compile for.
#[cfg(test)]
pub static ALL: [&ArchInfo; 8] = [
    &X86_64, &X86, &X32, &AARCH64, &ARM, &RISCV64, &PPC64LE, &S390X,
];

/// The architecture this crate was built for (what SCMP_ARCH_NATIVE means, and the section
/// every filter has, as libseccomp always includes the native arch).
pub fn native() -> &'static ArchInfo {
    #[cfg(target_arch = "x86_64")]
    return &X86_64;
    #[cfg(target_arch = "x86")]
    return &X86;
    #[cfg(target_arch = "aarch64")]
    return &AARCH64;
    #[cfg(target_arch = "arm")]
    return &ARM;
    #[cfg(target_arch = "riscv64")]
    return &RISCV64;
    #[cfg(all(target_arch = "powerpc64", target_endian = "little"))]
    return &PPC64LE;
    #[cfg(target_arch = "s390x")]
    return &S390X;
}

/// Maps an OCI arch to ours, or the error naming it.
pub fn from_oci(arch: Arch) -> Result<&'static ArchInfo, crate::SeccompError> {
    Ok(match arch {
        Arch::ScmpArchNative => native(),
        Arch::ScmpArchX86_64 => &X86_64,
        Arch::ScmpArchX86 => &X86,
        Arch::ScmpArchX32 => &X32,
        Arch::ScmpArchAarch64 => &AARCH64,
        Arch::ScmpArchArm => &ARM,
        Arch::ScmpArchRiscv64 => &RISCV64,
        Arch::ScmpArchPpc64le => &PPC64LE,
        Arch::ScmpArchS390x => &S390X,
        other => return Err(crate::SeccompError::UnsupportedArch(other.to_string())),
    })
}

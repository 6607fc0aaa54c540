//! The image platform (`os`, `architecture`, `variant`) of an ELF file, in
//! the names the OCI image spec borrows from Go's GOOS/GOARCH, so that
//! runtimes pick the right image and refuse one for another CPU.

use serde_json::{Value, json};

use crate::elf::arch::{
    EM_386, EM_AARCH64, EM_ARM, EM_LOONGARCH, EM_MIPS, EM_PPC, EM_PPC64, EM_RISCV, EM_S390,
    EM_SPARCV9, EM_X86_64, arch_name,
};
use crate::elf::{Class, Data, ElfFile};

const EF_ARM_ABI_FLOAT_HARD: u32 = 0x400;

/// Where an image runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// Always "linux" for what elfroot bundles.
    pub os: String,
    /// GOARCH-style: amd64, arm64, arm, 386, ppc64le, s390x, riscv64...
    pub architecture: String,
    /// The CPU variant where one is customary: v8 for arm64, v7 for
    /// hard-float arm, v5 for soft-float arm.
    pub variant: Option<String>,
}

impl Platform {
    /// The platform an ELF file runs on, from its header alone.
    pub fn of(f: &ElfFile) -> Platform {
        match goarch(f.machine, f.class, f.data, f.e_flags) {
            Some((arch, variant)) => Platform::linux(arch.to_string(), variant.map(str::to_string)),
            None => Platform::linux(arch_name(f), None),
        }
    }

    /// The platform this program itself runs on.
    pub fn host() -> Platform {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "x86" => ("386", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
            "loongarch64" => ("loong64", None),
            other => (other, None),
        };
        Platform::linux(arch.to_string(), variant.map(str::to_string))
    }

    /// Parses `os/architecture[/variant]` (`linux/arm64`, `linux/arm/v7`).
    pub fn parse(s: &str) -> std::result::Result<Platform, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &&str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        match parts.as_slice() {
            [os, arch, rest @ ..] if rest.len() <= 1 && parts.iter().all(ok) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: rest.first().map(|v| v.to_string()),
            }),
            _ => Err(format!(
                "platform {s:?}: expected OS/ARCH[/VARIANT] in lowercase, e.g. linux/arm64"
            )),
        }
    }

    /// The platform an image config (or an index descriptor's `platform`)
    /// names, if it names one.
    pub fn from_json(v: &Value) -> Option<Platform> {
        let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Platform {
            os: field("os")?,
            architecture: field("architecture")?,
            variant: field("variant"),
        })
    }

    fn linux(architecture: String, variant: Option<String>) -> Platform {
        Platform {
            os: "linux".into(),
            architecture,
            variant,
        }
    }

    /// `os/architecture[/variant]`, as `podman --platform` takes it.
    pub fn display(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }

    /// The `platform` object of an index descriptor.
    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({"architecture": self.architecture, "os": self.os});
        if let Some(variant) = &self.variant {
            v["variant"] = json!(variant);
        }
        v
    }

    /// True when `v` (a config or a descriptor's platform) names this
    /// platform; a missing variant matches any.
    pub(crate) fn matches(&self, v: &Value) -> bool {
        let field = |k: &str| v.get(k).and_then(Value::as_str);
        field("os") == Some(self.os.as_str())
            && field("architecture") == Some(self.architecture.as_str())
            && match (field("variant"), &self.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// The GOARCH-style architecture and variant of an ELF header, where Go
/// (and so the image spec) has a name for it.
fn goarch(
    machine: u16,
    class: Class,
    data: Data,
    e_flags: u32,
) -> Option<(&'static str, Option<&'static str>)> {
    Some(match (machine, class, data) {
        (EM_X86_64, Class::Elf64, _) => ("amd64", None),
        (EM_386, ..) => ("386", None),
        (EM_AARCH64, _, Data::Little) => ("arm64", Some("v8")),
        (EM_AARCH64, _, Data::Big) => ("arm64be", Some("v8")),
        (EM_ARM, _, data) => {
            let arch = if data == Data::Little { "arm" } else { "armbe" };
            // Debian's armhf is ARMv7, armel ARMv5TE; the header only
            // says which float ABI, and that is what tells them apart.
            let hard = e_flags & EF_ARM_ABI_FLOAT_HARD != 0;
            (arch, Some(if hard { "v7" } else { "v5" }))
        }
        (EM_PPC64, _, Data::Little) => ("ppc64le", None),
        (EM_PPC64, _, Data::Big) => ("ppc64", None),
        (EM_PPC, ..) => ("ppc", None),
        (EM_S390, Class::Elf64, _) => ("s390x", None),
        (EM_S390, Class::Elf32, _) => ("s390", None),
        (EM_MIPS, Class::Elf64, Data::Little) => ("mips64le", None),
        (EM_MIPS, Class::Elf64, Data::Big) => ("mips64", None),
        (EM_MIPS, Class::Elf32, Data::Little) => ("mipsle", None),
        (EM_MIPS, Class::Elf32, Data::Big) => ("mips", None),
        (EM_RISCV, Class::Elf64, _) => ("riscv64", None),
        (EM_LOONGARCH, ..) => ("loong64", None),
        (EM_SPARCV9, ..) => ("sparc64", None),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(machine: u16, class: Class, data: Data, e_flags: u32) -> String {
        let (arch, variant) = goarch(machine, class, data, e_flags).unwrap();
        Platform::linux(arch.into(), variant.map(str::to_string)).display()
    }

    #[test]
    fn goarch_names() {
        use Class::*;
        use Data::*;
        assert_eq!(name(EM_X86_64, Elf64, Little, 0), "linux/amd64");
        assert_eq!(name(EM_AARCH64, Elf64, Little, 0), "linux/arm64/v8");
        assert_eq!(name(EM_ARM, Elf32, Little, 0x0500_0400), "linux/arm/v7");
        assert_eq!(name(EM_ARM, Elf32, Little, 0x0500_0200), "linux/arm/v5");
        assert_eq!(name(EM_386, Elf32, Little, 0), "linux/386");
        assert_eq!(name(EM_PPC64, Elf64, Little, 2), "linux/ppc64le");
        assert_eq!(name(EM_S390, Elf64, Big, 0), "linux/s390x");
        assert_eq!(name(EM_RISCV, Elf64, Little, 5), "linux/riscv64");
        assert_eq!(name(EM_MIPS, Elf32, Little, 0), "linux/mipsle");
        assert_eq!(goarch(EM_X86_64, Elf32, Little, 0), None);
    }

    #[test]
    fn parsed_and_read_from_json() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(p.display(), "linux/arm64/v8");
        assert_eq!(Platform::parse("linux/amd64").unwrap().variant, None);
        for bad in ["linux", "linux/", "Linux/amd64", "a/b/c/d", "linux/arm64/"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
        let v = json!({"os": "linux", "architecture": "arm", "variant": "v7"});
        assert_eq!(Platform::from_json(&v).unwrap().display(), "linux/arm/v7");
        assert_eq!(Platform::from_json(&json!({"os": "linux"})), None);
    }

    #[test]
    fn matching_ignores_a_missing_variant() {
        let arm64 = Platform::linux("arm64".into(), Some("v8".into()));
        assert!(arm64.matches(&json!({"os": "linux", "architecture": "arm64"})));
        let v7 = json!({"os": "linux", "architecture": "arm64", "variant": "v7"});
        assert!(!arm64.matches(&v7));
        assert!(!arm64.matches(&json!({"os": "linux", "architecture": "amd64"})));
    }
}

package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The architecture tables of runcage: every fact about an architecture
// (its GOARCH, its AUDIT_ARCH_* value, the name audit tools print, its
// libseccomp name) has its one table here, keyed to the OCI name
// (specs.Arch). The recorder and the importers of profiles/record use them
// through AuditArch, ArchByAuditName, LibseccompArch, SyscallName and
// NativeArches.

// nativeArch maps GOARCH to the seccomp architecture libseccomp always adds
// to a filter.
var nativeArch = map[string]specs.Arch{
	"386":      specs.ArchX86,
	"amd64":    specs.ArchX86_64,
	"arm":      specs.ArchARM,
	"arm64":    specs.ArchAARCH64,
	"loong64":  specs.ArchLOONGARCH64,
	"mips":     specs.ArchMIPS,
	"mipsle":   specs.ArchMIPSEL,
	"mips64":   specs.ArchMIPS64,
	"mips64le": specs.ArchMIPSEL64,
	"ppc64":    specs.ArchPPC64,
	"ppc64le":  specs.ArchPPC64LE,
	"riscv64":  specs.ArchRISCV64,
	"s390x":    specs.ArchS390X,
}

// archNames maps the OCI architecture names runc knows to libseccomp's names
// (runc's libcontainer/seccomp/config.go).
var archNames = map[specs.Arch]string{
	specs.ArchX86:         "x86",
	specs.ArchX86_64:      "amd64",
	specs.ArchX32:         "x32",
	specs.ArchARM:         "arm",
	specs.ArchAARCH64:     "arm64",
	specs.ArchMIPS:        "mips",
	specs.ArchMIPS64:      "mips64",
	specs.ArchMIPS64N32:   "mips64n32",
	specs.ArchMIPSEL:      "mipsel",
	specs.ArchMIPSEL64:    "mipsel64",
	specs.ArchMIPSEL64N32: "mipsel64n32",
	specs.ArchPPC:         "ppc",
	specs.ArchPPC64:       "ppc64",
	specs.ArchPPC64LE:     "ppc64le",
	specs.ArchRISCV64:     "riscv64",
	specs.ArchS390:        "s390",
	specs.ArchS390X:       "s390x",
	specs.ArchLOONGARCH64: "loong64",
}

// LibseccompArch returns libseccomp's name of the OCI architecture a
// ("amd64" for SCMP_ARCH_X86_64), and whether it knows a.
func LibseccompArch(a specs.Arch) (string, bool) {
	n, ok := archNames[a]
	return n, ok
}

// x32SyscallBit marks an x32 syscall number on the x86_64 audit architecture
// (__X32_SYSCALL_BIT).
const x32SyscallBit = 0x40000000

// auditArches maps the kernel's AUDIT_ARCH_* values (include/uapi/linux/
// audit.h), which audit records print as arch=c000003e, to OCI names.
var auditArches = map[uint32]specs.Arch{
	0xc000003e: specs.ArchX86_64,
	0x40000003: specs.ArchX86,
	0xc00000b7: specs.ArchAARCH64,
	0x40000028: specs.ArchARM,
	0xc0009026: specs.ArchLOONGARCH64,
	0x80000008: specs.ArchMIPS,
	0x40000008: specs.ArchMIPSEL,
	0x80000014: specs.ArchPPC,
	0x80000015: specs.ArchPPC64,
	0xc0000015: specs.ArchPPC64LE,
	0xc00000f3: specs.ArchRISCV64,
	0x00000016: specs.ArchS390,
	0x80000016: specs.ArchS390X,
}

// AuditArch returns the OCI architecture of an audit record's arch= value
// and syscall number: x86_64 numbers with __X32_SYSCALL_BIT set are x32.
func AuditArch(auditArch uint32, nr int) (specs.Arch, error) {
	a, ok := auditArches[auditArch]
	if !ok {
		return "", fmt.Errorf("%w: unknown audit architecture %#x", ErrInvalid, auditArch)
	}
	if a == specs.ArchX86_64 && nr&x32SyscallBit != 0 {
		return specs.ArchX32, nil
	}
	return a, nil
}

// auditArchNames maps the architecture names `ausearch -i` prints in an
// interpreted SECCOMP record (arch=x86_64) to OCI names.
var auditArchNames = map[string]specs.Arch{
	"x86_64":  specs.ArchX86_64,
	"i386":    specs.ArchX86,
	"aarch64": specs.ArchAARCH64,
	"armeb":   specs.ArchARM,
	"arm":     specs.ArchARM,
}

// ArchByAuditName returns the OCI architecture of the arch= name of an
// audit record that `ausearch -i` interpreted ("x86_64", "aarch64"), and
// whether it knows the name.
func ArchByAuditName(name string) (specs.Arch, bool) {
	a, ok := auditArchNames[name]
	return a, ok
}

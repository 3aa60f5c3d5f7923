package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

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

//go:build cgo && seccomp

package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// SyscallName returns the name libseccomp gives syscall number nr of
// architecture arch (an OCI name, "SCMP_ARCH_X86_64"). It fails for an
// architecture or a number libseccomp does not know.
func SyscallName(arch specs.Arch, nr int) (string, error) {
	name, ok := archNames[arch]
	if !ok {
		return "", fmt.Errorf("%w: unknown architecture %q", ErrInvalid, arch)
	}
	a, err := libseccomp.GetArchFromString(name)
	if err != nil {
		return "", fmt.Errorf("architecture %q: %w", arch, err)
	}
	s, err := libseccomp.ScmpSyscall(nr).GetNameByArch(a)
	if err != nil {
		return "", fmt.Errorf("syscall %d of %s: %w", nr, arch, err)
	}
	return s, nil
}

// syscallNumber returns the number of syscall name on architecture arch,
// as the kernel sees it (x32 numbers carry __X32_SYSCALL_BIT), or
// errUnknownSyscall when libseccomp does not know the name there.
func syscallNumber(arch specs.Arch, name string) (int, error) {
	ln, ok := archNames[arch]
	if !ok {
		return 0, fmt.Errorf("%w: unknown architecture %q", ErrInvalid, arch)
	}
	a, err := libseccomp.GetArchFromString(ln)
	if err != nil {
		return 0, fmt.Errorf("architecture %q: %w", arch, err)
	}
	nr, err := libseccomp.GetSyscallFromNameByArch(name, a)
	if err != nil || nr < 0 {
		return 0, errUnknownSyscall
	}
	if arch == specs.ArchX32 {
		nr |= x32SyscallBit
	}
	return int(nr), nil
}

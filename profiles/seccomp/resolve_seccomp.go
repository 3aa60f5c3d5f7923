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

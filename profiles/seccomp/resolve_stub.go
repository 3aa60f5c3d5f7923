//go:build !(cgo && seccomp)

package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SyscallName needs libseccomp, which this binary lacks: it always returns
// ErrSeccompNotEnabled. Build with cgo and the seccomp tag.
func SyscallName(arch specs.Arch, nr int) (string, error) {
	return "", ErrSeccompNotEnabled
}

func syscallNumber(arch specs.Arch, name string) (int, error) {
	return 0, ErrSeccompNotEnabled
}

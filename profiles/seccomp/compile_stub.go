//go:build !(cgo && seccomp)

package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Compile checks f without libseccomp, which this binary lacks: it returns
// the error validate finds, if any, and otherwise ErrSeccompNotEnabled. Build
// with cgo and the seccomp tag to compile filters.
func Compile(f *specs.LinuxSeccomp) error {
	if err := validate(f); err != nil {
		return fmt.Errorf("compile seccomp filter: %w", err)
	}
	return ErrSeccompNotEnabled
}

func compileBPF(f *specs.LinuxSeccomp) (int, error) {
	return 0, Compile(f)
}

func libVersion() string { return "none" }

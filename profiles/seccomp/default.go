package seccomp

import (
	_ "embed"
	goruntime "runtime"
	"slices"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:embed default.json
var defaultJSON []byte

var defaultFilter = sync.OnceValue(func() *specs.LinuxSeccomp {
	f, err := Parse(defaultJSON)
	if err != nil {
		// default.json is part of the source; the tests parse it.
		panic("seccomp: built-in default.json: " + err.Error())
	}
	return f
})

// Default returns runcage's built-in allowlist, profiles.SeccompRuntimeDefault
// (see the package documentation for what it allows), for the architecture
// family of this host (NativeArches). Each call returns a new deep copy that
// the caller may modify.
func Default() *specs.LinuxSeccomp {
	f := clone(defaultFilter())
	if native := NativeArches(); native != nil {
		f.Architectures = slices.DeleteFunc(f.Architectures, func(a specs.Arch) bool {
			return !slices.Contains(native, a)
		})
	}
	return f
}

// NativeArches returns the architectures a process on this host can make
// syscalls with, as Docker's arch map does: x86_64 with its 32-bit ABIs,
// aarch64 with 32-bit ARM. Listing other architectures only makes the
// filter larger: runcage and runc each compile it on every create, and its
// cost grows with the number of architectures. It returns nil for hosts it
// does not know, meaning "keep the list as it is".
func NativeArches() []specs.Arch {
	switch goruntime.GOARCH {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	}
	return nil
}

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

// NativeArches returns the native system-call ABI of this host: x86_64 on
// amd64, aarch64 on arm64. It leaves out the 32-bit compat ABIs (x86 and x32,
// 32-bit ARM) that Docker's arch map adds: each architecture in a filter adds
// a copy of its rule set, which runcage and runc each compile with libseccomp
// on every create (the default allowlist is 391 BPF instructions for x86_64
// alone and 1184 with x86 and x32), and syscalls of an unlisted ABI are
// killed, which is stricter. It returns nil for hosts it does not know,
// meaning "keep the list as it is".
func NativeArches() []specs.Arch {
	switch goruntime.GOARCH {
	case "amd64", "arm64":
		return []specs.Arch{nativeArch[goruntime.GOARCH]}
	}
	return nil
}

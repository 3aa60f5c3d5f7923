package seccomp

import (
	_ "embed"
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
// (see the package documentation for what it allows). Each call returns a new
// deep copy that the caller may modify.
func Default() *specs.LinuxSeccomp {
	return clone(defaultFilter())
}

//go:build !cgo || !seccomp

package recorder

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// errNoLibseccomp is returned where the agent needs libseccomp and runcage
// was built without it.
var errNoLibseccomp = errors.New("runcage was built without libseccomp (build tag seccomp): the recorder is not available")

// KnownSyscalls needs libseccomp; this build has none.
func KnownSyscalls([]specs.Arch) ([]string, error) { return nil, errNoLibseccomp }

// newNameResolver returns a nameResolver that resolves nothing: every notified
// syscall is then answered with the filter's default action.
func newNameResolver() nameResolver { return noNames{} }

type noNames struct{}

func (noNames) Name(auditArch uint32, nr int32) (string, string, bool) {
	return string(ociArch(auditArch, nr)), "", false
}

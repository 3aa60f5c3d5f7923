package record

import (
	"fmt"
	"strings"

	"github.com/runcage/runcage/profiles"
)

// refuseEmpty refuses to generate a profile from inputs that show no
// syscall: such a profile would allow only what runc and program start-up
// need, which is never what the user recorded. For `generate` (FilesOnly)
// every input must show a syscall, so that one failed recording in a list
// is named rather than silently merged; for `merge` the merged set must.
// The error satisfies errors.Is(err, profiles.ErrRefused) and names the
// inputs and the likely reason.
func refuseEmpty(o GenerateOptions, inputs []inputInfo, merged *Trace) error {
	if o.FilesOnly {
		for _, in := range inputs {
			if in.Syscalls == 0 {
				return profiles.Refusef("generate %q from %q refused: %s", o.Name, in.Path, emptyReason(in.Format))
			}
		}
	}
	if len(merged.Syscalls) > 0 {
		return nil
	}
	paths := make([]string, len(inputs))
	for i, in := range inputs {
		paths[i] = fmt.Sprintf("%q", in.Path)
	}
	return profiles.Refusef("generate %q refused: the inputs %s show no syscall between them", o.Name, strings.Join(paths, ", "))
}

// emptyReason says why an input of format f shows no syscall.
func emptyReason(f Format) string {
	switch f {
	case FormatTrace:
		return "the trace records no syscall: its container never ran (runc failed before it loaded the seccomp filter; see runc's log) or the recording was cut short; record again"
	case FormatStrace:
		return "the strace log shows no syscall"
	default:
		return fmt.Sprintf("the %s shows no syscall", f)
	}
}

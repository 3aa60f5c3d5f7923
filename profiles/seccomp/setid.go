package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// setIDCalls are the syscalls runtime/default allows only when they set no
// set-user-ID or set-group-ID bit (or, for open and openat, create no file).
var setIDCalls = []string{"chmod", "fchmod", "fchmodat", "creat", "mknod", "mknodat", "open", "openat"}

// AllowSetIDModes returns a copy of f, runtime/default's filter (Default),
// in which the set-ID mode rules are lifted: chmod, fchmod, fchmodat,
// creat, mknod, mknodat, open and openat are allowed whatever mode they
// carry. It is for profiles that install packages shipping set-ID files
// (dpkg fchmods them), and only where the container cannot write to a host
// directory that host users can reach: in a volume the container's root
// owns files as host root, and a set-ID file there is a host-root set-ID
// file. Nothing else changes.
func AllowSetIDModes(f *specs.LinuxSeccomp) (*specs.LinuxSeccomp, error) {
	if err := validate(f); err != nil {
		return nil, fmt.Errorf("allow set-ID modes: %w", err)
	}
	ix := index(f)
	perName := make(map[string][]rule, len(ix.byName))
	for n, rules := range ix.byName {
		perName[n] = rules
	}
	for _, n := range setIDCalls {
		perName[n] = []rule{newRule(specs.ActAllow, nil, nil)}
	}
	out := clone(f)
	out.Syscalls = group(perName, ix.defRule.actionKey())
	if err := validate(out); err != nil {
		return nil, fmt.Errorf("allow set-ID modes: %w", err)
	}
	return out, nil
}

// Package process hardens the container's process section: it forces
// no_new_privileges and refuses working directories that could reach host
// file descriptors leaked into the container (CVE-2024-21626).
package process

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// New returns a Modifier that sets process.noNewPrivileges and refuses an
// unsafe process.cwd (see CheckCwd). A spec without a process section is left
// unchanged. The profile is accepted for symmetry with the other modifiers:
// no profile setting relaxes these rules.
func New(p *profiles.Profile) profiles.Modifier {
	return modifier{}
}

type modifier struct{}

// Modify implements profiles.Modifier.
func (modifier) Modify(s *specs.Spec) error {
	if s.Process == nil {
		return nil
	}
	if err := CheckCwd(s.Process.Cwd); err != nil {
		return err
	}
	s.Process.NoNewPrivileges = true
	return nil
}

// CheckCwd returns a refusal (errors.Is(err, profiles.ErrRefused)) when cwd
// is not a safe working directory for a container process: when it is empty
// or relative, when it has a ".." element, or when it is at or under a
// procfs file-descriptor directory (/proc/self/fd, /proc/thread-self/fd,
// /proc/<pid>/fd, /proc/<pid>/task/<tid>/fd, and the fdinfo variants). Those
// are how CVE-2024-21626 reached a host directory fd that runc leaked into the
// container. CheckCwd is pure: it only looks at the string. It is meant for
// both create (config.json) and exec (process.json).
func CheckCwd(cwd string) error {
	if !strings.HasPrefix(cwd, "/") {
		return profiles.Refusef("process cwd %q refused: not an absolute path", cwd)
	}
	elems := strings.Split(cwd, "/")
	for _, e := range elems {
		if e == ".." {
			return profiles.Refusef("process cwd %q refused: contains a \"..\" element", cwd)
		}
	}
	// Drop empty and "." elements so that "/proc//self/./fd" is seen as
	// "/proc/self/fd", which is how the kernel resolves it.
	var parts []string
	for _, e := range elems {
		if e != "" && e != "." {
			parts = append(parts, e)
		}
	}
	if fdDir(parts) {
		return profiles.Refusef("process cwd %q refused: at or under a /proc file-descriptor directory (CVE-2024-21626)", cwd)
	}
	return nil
}

// fdDir reports whether the path elements parts name a procfs fd or fdinfo
// directory of some process or thread, or anything under one.
func fdDir(parts []string) bool {
	if len(parts) < 3 || parts[0] != "proc" {
		return false
	}
	isFD := func(e string) bool { return e == "fd" || e == "fdinfo" }
	switch {
	case parts[1] == "self" || parts[1] == "thread-self" || allDigits(parts[1]):
	default:
		return false
	}
	if isFD(parts[2]) {
		return true
	}
	// /proc/<pid>/task/<tid>/fd
	return len(parts) >= 5 && parts[2] == "task" && allDigits(parts[3]) && isFD(parts[4])
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

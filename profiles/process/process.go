// Package process hardens the container's process section: it forces
// no_new_privileges, keeps the container from being the last the OOM killer
// picks, and refuses working directories that could reach host file
// descriptors leaked into the container (CVE-2024-21626).
package process

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// OOMScoreAdjMember is the config.json member path that, named in a
// profile's allowed_members, keeps a negative process.oomScoreAdj.
const OOMScoreAdjMember = "process.oomScoreAdj"

// New returns a Modifier that sets process.noNewPrivileges, refuses an
// unsafe process.cwd (see CheckCwd), and sets process.oomScoreAdj to 0 when
// it is absent or negative. runc writes oom_score_adj as root: a negative
// value (-1000: never) makes the host's own processes die before the
// container's when memory runs out, and an absent one leaves the container
// with its caller's value (containerd's shim runs below 0). Engines set
// negative values on their own (CRI: -998 for the sandbox, -997 for
// Guaranteed pods), so the value is raised silently, not refused; a profile
// that names OOMScoreAdjMember in allowed_members keeps the bundle's value.
// A spec without a process section is left unchanged.
func New(p *profiles.Profile) profiles.Modifier {
	return modifier{keepOOM: p != nil && slices.Contains(p.AllowedMembers, OOMScoreAdjMember)}
}

type modifier struct{ keepOOM bool }

// Modify implements profiles.Modifier.
func (m modifier) Modify(s *specs.Spec) error {
	if s.Process == nil {
		return nil
	}
	if err := CheckCwd(s.Process.Cwd); err != nil {
		return err
	}
	s.Process.NoNewPrivileges = true
	if !m.keepOOM && (s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj < 0) {
		zero := 0
		s.Process.OOMScoreAdj = &zero
	}
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

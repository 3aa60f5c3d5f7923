package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// Actions of an AuditEvent.
const (
	// ActionAllowed: the syscall is not in the profile, and the agent let it
	// run (complain mode).
	ActionAllowed = "allowed"
	// ActionDenied: the profile's filter does not allow the syscall, and
	// the denial agent failed it with the profile's errno (every enforced
	// profile, see docs/recording.md).
	ActionDenied = "denied"
)

// AuditEvent is one line of runcage's audit log (/var/log/runcage/audit.log,
// the policy key audit_log): a JSON object on a line of its own, appended by
// the recorder agent of a container that runs a complain-mode profile, or an
// enforced profile (the denial agent, see docs/recording.md).
//
// The agent writes one event the first time a container makes a syscall its
// profile does not allow, with Count 1. While the syscall keeps coming it
// writes further events for the same (Container, Syscall) with the running
// total in Count, at most one every few seconds, and a last one when the
// container exits. So the newest event of a (Container, Syscall) pair holds
// its total, and a reader that wants the set of syscalls can take the union
// of the Syscall fields. Lines that do not parse as an AuditEvent (or have a
// Version it does not know) are not runcage's and a reader should skip them.
//
// Example:
//
//	{"version":1,"time":"2026-11-23T12:00:00.123456789Z","container":"c1","name":"redis","profile":"redis-gen","mode":"complain","arch":"SCMP_ARCH_X86_64","syscall":"ptrace","count":1,"action":"allowed","pid":4242}
type AuditEvent struct {
	// Version is AuditVersion.
	Version int `json:"version"`
	// Time is when the event was written (RFC 3339 with nanoseconds, UTC).
	Time time.Time `json:"time"`
	// Container is the container id.
	Container string `json:"container"`
	// Name is the recording name (the runcage.dev/recording-name
	// annotation, the Kubernetes container name, or the container id), as
	// Trace.Name.
	Name string `json:"name"`
	// Profile is the runcage profile the container runs.
	Profile string `json:"profile"`
	// Mode is "complain" or "enforce".
	Mode string `json:"mode"`
	// Arch is the syscall's architecture, in the OCI spelling
	// ("SCMP_ARCH_X86_64").
	Arch string `json:"arch,omitempty"`
	// Syscall is the syscall's name.
	Syscall string `json:"syscall"`
	// Count is how many times the container made the syscall so far.
	Count uint64 `json:"count"`
	// Action is ActionAllowed or ActionDenied.
	Action string `json:"action"`
	// Errno is the error the syscall got when it was denied.
	Errno int `json:"errno,omitempty"`
	// Pid is the host pid of the first process seen making the syscall.
	Pid int `json:"pid,omitempty"`
	// Exe is the executable of the process that made the syscall, as the
	// container sees it (the target of /proc/PID/exe). Events of one
	// (Container, Syscall, Errno, Exe) count together.
	Exe string `json:"exe,omitempty"`
	// Landlock, when set, makes the event a Landlock denial: an access the
	// profile's Landlock rules refused (the call failed with EACCES), not
	// a syscall its filter denied. Syscall then names the call that was
	// refused, if known ("" otherwise). Events of one (Container, Path or
	// Port, Access, Exe) count together.
	Landlock *LandlockAccess `json:"landlock,omitempty"`
}

// LandlockAccess is what the kernel's audit records of a Landlock denial
// say (see docs/landlock.md, "Denials"): the path or port and the denied
// access, in the words of a profile's [landlock] rules, so that `runcage
// profile widen` can grant exactly it.
type LandlockAccess struct {
	// Path is the file or directory of a file-system denial, as the
	// container sees it ("" for a port or scope denial). For a denied
	// create or remove it is the directory the entry is in.
	Path string `json:"path,omitempty"`
	// Port is the TCP port of a bind or connect denial (0 otherwise).
	Port int `json:"port,omitempty"`
	// Access are the denied accesses: the access names of a profile's
	// file rules ("read", "write", "execute", "list", "create", "remove",
	// or a single right such as "make-char"), "bind" or "connect" for a
	// port, or a scope ("signal", "abstract-unix-socket"); a right
	// runcage has no name for keeps the kernel's.
	Access []string `json:"access"`
	// Blockers are the denied rights as the kernel named them
	// ("fs.read_file", "net.bind_tcp", ...).
	Blockers []string `json:"blockers,omitempty"`
}

// AuditVersion is the version of AuditEvent this package writes.
const AuditVersion = 1

// ParseAuditLog reads an audit log and returns the trace it proves: the
// syscalls its events name, allowed (complain mode) or denied (enforce), with
// their highest counts summed over containers, named name. Both kinds widen a
// profile: a denied syscall is one the workload made and the profile
// refused. If containers is not empty, only events of those containers count.
// Lines that are not AuditEvents are skipped; the number skipped is
// returned.
func ParseAuditLog(r io.Reader, name string, containers ...string) (*Trace, int, error) {
	t := New(name, SourceComplain)
	type key struct{ c, s, a, exe string }
	high := map[key]uint64{}
	skipped := 0
	err := ScanAuditEvents(r, func(ev AuditEvent) {
		// A Landlock denial is no evidence about the seccomp filter:
		// the syscall ran, and Landlock refused its access.
		if ev.Landlock != nil || len(containers) > 0 && !slices.Contains(containers, ev.Container) {
			return
		}
		k := key{ev.Container, ev.Syscall, ev.Action, ev.Exe}
		high[k] = max(high[k], ev.Count)
		if ev.Container != "" {
			t.Containers = append(t.Containers, ev.Container)
		}
		if t.Arch == "" {
			t.Arch = ev.Arch
		}
		if t.Started.IsZero() || ev.Time.Before(t.Started) {
			t.Started = ev.Time
		}
		if ev.Time.After(t.Updated) {
			t.Updated = ev.Time
		}
	}, func() { skipped++ })
	if err != nil {
		return nil, skipped, err
	}
	for k, n := range high {
		t.Syscalls[k.s] += n
	}
	t.Complete = true
	t.Normalize()
	return t, skipped, nil
}

// ScanAuditEvents calls each with every AuditEvent of r, in order, and skip
// for every non-empty line that is not one (or has a Version it does not
// know). An event names a syscall, or is a Landlock denial, or both.
func ScanAuditEvents(r io.Reader, each func(AuditEvent), skip func()) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev AuditEvent
		if err := json.Unmarshal(line, &ev); err != nil || ev.Version < 1 || ev.Version > AuditVersion || ev.Syscall == "" && ev.Landlock == nil {
			if skip != nil {
				skip()
			}
			continue
		}
		each(ev)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	return nil
}

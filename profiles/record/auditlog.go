package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Actions of an AuditEvent.
const (
	// ActionAllowed: the syscall is not in the profile, and the agent let it
	// run (complain mode).
	ActionAllowed = "allowed"
	// ActionDenied: the syscall is not in the profile, and the agent failed
	// it with the profile's errno (enforce mode with log_denied = true).
	ActionDenied = "denied"
)

// AuditEvent is one line of runcage's audit log (/var/log/runcage/audit.log,
// the policy key audit_log): a JSON object on a line of its own, appended by
// the recorder agent of a container that runs a complain-mode profile, or an
// enforce profile with log_denied = true.
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
}

// AuditVersion is the version of AuditEvent this package writes.
const AuditVersion = 1

// ParseAuditLog reads an audit log and returns the trace it proves: the
// syscalls of its ActionAllowed events (with their highest counts summed over
// containers), named name. Lines that are not AuditEvents are skipped; the
// number skipped is returned. Denied events are listed in Trace.Denied.
func ParseAuditLog(r io.Reader, name string) (*Trace, int, error) {
	t := New(name, SourceComplain)
	type key struct{ c, s, a string }
	high := map[key]uint64{}
	skipped := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev AuditEvent
		if err := json.Unmarshal(line, &ev); err != nil || ev.Version < 1 || ev.Version > AuditVersion || ev.Syscall == "" {
			skipped++
			continue
		}
		k := key{ev.Container, ev.Syscall, ev.Action}
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
	}
	if err := sc.Err(); err != nil {
		return nil, skipped, fmt.Errorf("read audit log: %w", err)
	}
	for k, n := range high {
		switch k.a {
		case ActionDenied:
			if t.Denied == nil {
				t.Denied = map[string]uint64{}
			}
			t.Denied[k.s] += n
		default:
			t.Syscalls[k.s] += n
		}
	}
	t.Complete = true
	t.Normalize()
	return t, skipped, nil
}

package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DefaultAuditLog is where the agent appends AuditEvents unless the policy's
// audit_log says otherwise.
const DefaultAuditLog = "/var/log/runcage/audit.log"

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

// auditThrottle is the shortest time between two count updates of one
// (container, syscall) pair.
const auditThrottle = 5 * time.Second

// auditWriter appends AuditEvents for one container: the first sight of a
// syscall at once, count updates at most every auditThrottle (Flush), the
// totals once more at exit (Flush with final). It is safe for concurrent use.
type auditWriter struct {
	mu      sync.Mutex
	out     io.Writer
	base    AuditEvent // Container, Name, Profile, Mode
	now     func() time.Time
	entries map[string]*auditEntry
	err     error // first write error, reported once
}

type auditEntry struct {
	ev      AuditEvent
	written uint64    // count in the last event written
	last    time.Time // when it was written
}

// openAuditLog opens path for appending, creating it and its directory.
func openAuditLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return f, nil
}

func newAuditWriter(out io.Writer, base AuditEvent, now func() time.Time) *auditWriter {
	base.Version = AuditVersion
	return &auditWriter{out: out, base: base, now: now, entries: map[string]*auditEntry{}}
}

// Seen counts one occurrence of syscall; the first one is written at once.
func (w *auditWriter) Seen(arch, syscall, action string, errno, pid int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.entries[syscall]
	if e == nil {
		ev := w.base
		ev.Arch, ev.Syscall, ev.Action, ev.Errno, ev.Pid = arch, syscall, action, errno, pid
		e = &auditEntry{ev: ev}
		w.entries[syscall] = e
	}
	e.ev.Count++
	if e.written == 0 {
		w.write(e)
	}
}

// Flush writes the count of every syscall whose count changed since it was
// last written, if that was at least auditThrottle ago, or at all if final.
func (w *auditWriter) Flush(final bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	for _, e := range w.entries {
		if e.ev.Count != e.written && (final || now.Sub(e.last) >= auditThrottle) {
			w.write(e)
		}
	}
	return w.err
}

// write writes e's event as one line with a single write call, so that
// lines of concurrent agents appending to the same file never interleave.
func (w *auditWriter) write(e *auditEntry) {
	e.ev.Time = w.now().UTC()
	b, err := json.Marshal(e.ev)
	if err == nil {
		_, err = w.out.Write(append(b, '\n'))
	}
	if err != nil {
		if w.err == nil {
			w.err = fmt.Errorf("write audit log: %w", err)
		}
		return
	}
	e.written, e.last = e.ev.Count, e.ev.Time
}

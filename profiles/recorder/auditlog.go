package recorder

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles/record"
)

// auditThrottle is the shortest time between two count updates of one
// (container, syscall) pair.
const auditThrottle = 5 * time.Second

// auditWriter appends AuditEvents for one container: the first sight of a
// syscall at once, count updates at most every auditThrottle (Flush), the
// totals once more at exit (Flush with final). It is safe for concurrent use.
type auditWriter struct {
	mu      sync.Mutex
	out     io.Writer
	base    record.AuditEvent // Container, Name, Profile, Mode
	now     func() time.Time
	entries map[string]*auditEntry
	err     error // first write error, reported once
}

type auditEntry struct {
	ev      record.AuditEvent
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

func newAuditWriter(out io.Writer, base record.AuditEvent, now func() time.Time) *auditWriter {
	base.Version = record.AuditVersion
	return &auditWriter{out: out, base: base, now: now, entries: map[string]*auditEntry{}}
}

// maxAuditEntries bounds the (syscall, errno, executable) triples one
// writer counts apart; past it, new triples count under the syscall with
// the executable "(more)", so a hostile workload cannot grow the agent.
const maxAuditEntries = 1024

// Seen counts one occurrence of syscall, failed with errno (0: allowed) in
// executable exe; the first one of each triple is written at once.
func (w *auditWriter) Seen(arch, syscall, action string, errno, pid int, exe string) {
	w.count(func(exe string) string { return fmt.Sprintf("%s\x00%d\x00%s", syscall, errno, exe) }, exe, func(ev *record.AuditEvent) {
		ev.Arch, ev.Syscall, ev.Action, ev.Errno, ev.Pid = arch, syscall, action, errno, pid
	})
}

// SeenLandlock counts one Landlock denial of access a, in syscall (its
// name, or "") by executable exe; the first one of each (path or port,
// access, executable) is written at once. Past maxAuditEntries, a new one
// counts under its access alone, with no path or port and the executable
// "(more)".
func (w *auditWriter) SeenLandlock(arch, syscall string, pid int, exe string, a record.LandlockAccess) {
	access := strings.Join(a.Access, ",")
	w.count(func(exe string) string {
		if exe == moreExe {
			a.Path, a.Port, syscall = "", 0, ""
		}
		return fmt.Sprintf("landlock\x00%s\x00%d\x00%s\x00%s", a.Path, a.Port, access, exe)
	}, exe, func(ev *record.AuditEvent) {
		l := a
		ev.Arch, ev.Syscall, ev.Action, ev.Errno, ev.Pid, ev.Landlock = arch, syscall, record.ActionDenied, int(unix.EACCES), pid, &l
	})
}

// moreExe is the executable under which a writer counts what it has no
// room left to count apart.
const moreExe = "(more)"

// count counts one occurrence of the entry key(exe) names, made by fill
// from w.base on its first sight (and written at once); when w already
// counts maxAuditEntries entries, a new one counts as key(moreExe).
func (w *auditWriter) count(key func(exe string) string, exe string, fill func(*record.AuditEvent)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := key(exe)
	e := w.entries[k]
	if e == nil && len(w.entries) >= maxAuditEntries {
		exe = moreExe
		k = key(exe)
		e = w.entries[k]
	}
	if e == nil {
		ev := w.base
		fill(&ev)
		ev.Exe = exe
		e = &auditEntry{ev: ev}
		w.entries[k] = e
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

package record

import (
	"strings"
	"testing"
)

// A Landlock denial is an AuditEvent (with or without a syscall name), and
// no evidence about the seccomp filter: ParseAuditLog leaves it out.
func TestAuditLogLandlockEvents(t *testing.T) {
	log := `{"version":1,"time":"2026-12-06T08:00:00Z","container":"c1","profile":"ll","mode":"enforce","syscall":"openat","count":1,"action":"denied","errno":13,"exe":"/bin/cat","landlock":{"path":"/etc/group","access":["read"],"blockers":["fs.read_file"]}}
{"version":1,"time":"2026-12-06T08:00:00Z","container":"c1","profile":"ll","mode":"enforce","syscall":"","count":1,"action":"denied","errno":13,"landlock":{"access":["signal"]}}
{"version":1,"time":"2026-12-06T08:00:00Z","container":"c1","profile":"ll","mode":"enforce","syscall":"","count":1,"action":"denied"}
{"version":1,"time":"2026-12-06T08:00:01Z","container":"c1","profile":"ll","mode":"enforce","syscall":"statfs","count":2,"action":"denied","errno":1}
`
	var landlock, skipped int
	err := ScanAuditEvents(strings.NewReader(log), func(ev AuditEvent) {
		if ev.Landlock != nil {
			landlock++
		}
	}, func() { skipped++ })
	if err != nil || landlock != 2 || skipped != 1 {
		t.Errorf("scan: %d Landlock events, %d skipped, %v", landlock, skipped, err)
	}
	tr, _, err := ParseAuditLog(strings.NewReader(log), "t")
	if err != nil || len(tr.Syscalls) != 1 || tr.Syscalls["statfs"] != 2 {
		t.Errorf("ParseAuditLog: %v, %v", tr.Syscalls, err)
	}
}

//go:build integration

package denials

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/record"
)

// argScript makes, from perl-base's raw syscall() and chmod(), the calls
// runtime/default allows only for some arguments, each once with arguments
// it rejects: clone(CLONE_NEWNS|SIGCHLD) (syscall 56 on x86_64; if it were
// allowed the child would exit at once) and chmod(04755); chmod(0755) is
// the allowed control. unshare -U is denied outright (unshare(2)). Each
// prints NAME=ok or NAME=errno.
const argScript = `unshare -U true 2>/dev/null && echo unshare=ok || echo unshare=failed
perl -e '$r = syscall(56, 0x20000 | 17, 0, 0, 0, 0); exit 0 if $r == 0; print "clone=", ($r < 0 ? $! + 0 : "ok"), "\n"'
: > /dev/shm/f
perl -e 'print "chmod0755=", (chmod(0755, "/dev/shm/f") ? "ok" : $! + 0), "\n"'
perl -e 'print "chmod04755=", (chmod(04755, "/dev/shm/f") ? "ok" : $! + 0), "\n"'
`

// A syscall runtime/default allows only for some arguments, called with
// others, is denied with EPERM and named by `runcage denials` (the filter
// notifies exactly the calls its MASKED_EQ rules reject): a container's
// attempt at a mount namespace or a set-uid file is logged, as its
// outright denials are. Under passthrough nothing is logged.
func TestDenialsArguments(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("the script calls clone by its x86_64 number; this is %s", runtime.GOARCH)
	}
	if _, err := os.Lstat(filepath.Join(debian, "usr/bin/perl")); err != nil {
		t.Skipf("the Debian rootfs has no perl to make raw syscalls: %v", err)
	}
	e := integration.NewLab(t, bin, "runcage-argdeny-", "")

	res := run(e, "default", "arg1", argScript)
	if err := res.ExitError(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"unshare=failed", "clone=1\n", "chmod0755=ok", "chmod04755=1\n"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("default: want %q in the output:\n%s", want, res)
		}
	}
	got := map[string]record.AuditEvent{}
	out := e.Runcage("denials", "--json", "arg1")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev record.AuditEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("denials --json printed %q: %v", line, err)
		}
		got[ev.Syscall] = ev
	}
	// glibc's chmod is the chmod syscall on x86_64; unshare(1) calls unshare(2).
	for _, sc := range []string{"unshare", "clone", "chmod"} {
		ev, ok := got[sc]
		if !ok {
			t.Errorf("%s is not in `runcage denials`:\n%s", sc, out)
			continue
		}
		if ev.Errno != 1 || ev.Action != record.ActionDenied || ev.Container != "arg1" || ev.Profile != "default" || ev.Count < 1 {
			t.Errorf("%s denial misnamed: %+v", sc, ev)
		}
	}
	if ev, ok := got["clone"]; ok && ev.Exe != "/usr/bin/perl" {
		t.Errorf("clone denied to %q, want /usr/bin/perl (sh's own forks are allowed)", ev.Exe)
	}
	table := e.Runcage("denials", "arg1")
	t.Logf("default:\n%s`runcage denials arg1`:\n%s", res.Stdout, table)
	for _, want := range []string{"clone", "chmod", "EPERM", "/usr/bin/perl"} {
		if !strings.Contains(table, want) {
			t.Errorf("denials table lacks %q:\n%s", want, table)
		}
	}

	// Control: passthrough has no filter, so nothing is denied or logged.
	res = run(e, "passthrough", "arg2", argScript)
	if err := res.ExitError(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Stdout, "chmod04755=ok") {
		t.Errorf("passthrough: chmod 04755 should succeed:\n%s", res)
	}
	if out := strings.TrimSpace(e.Runcage("denials", "--json", "arg2")); out != "" {
		t.Errorf("passthrough logged denials:\n%s", out)
	}
}

package recorder

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// In ModeEnforce every rule of the enforced filter stays in the kernel:
// conditional ones (clone) and explicit errnos (clone3's ENOSYS) are never
// notified, so expected denials and argument checks cost nothing and are
// not logged; only what the filter does not allow at all is notified.
func TestNotifyFilterEnforceKeepsRules(t *testing.T) {
	enosys := uint(38)
	enforced := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: specs.ActAllow},
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7E020000, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		},
	}
	known := []string{"clone", "clone3", "getcwd", "mount", "read", "write"}
	for mode, wantNotify := range map[string][]string{
		ModeEnforce:  {"getcwd", "mount"},
		ModeComplain: {"clone", "getcwd", "mount"},
	} {
		f, err := NotifyFilter(enforced, known, mode, "/run/x.sock")
		if err != nil {
			t.Fatal(err)
		}
		var notified []string
		for _, sc := range f.Syscalls {
			if sc.Action == specs.ActNotify {
				notified = append(notified, sc.Names...)
			}
		}
		if !slices.Equal(notified, wantNotify) {
			t.Errorf("%s notifies %v, want %v", mode, notified, wantNotify)
		}
	}
}

// The denials log never grows past its bound: the previous generation is
// kept as .1, and every line is whole.
func TestRotatingLogBound(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log", "denials.log")
	l, err := openRotatingLog(p, 100)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 39) + "\n")
	for range 10 {
		if _, err := l.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	for _, f := range []string{p, p + ".1"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 100 || len(b)%len(line) != 0 {
			t.Errorf("%s holds %d bytes", f, len(b))
		}
	}
}

func TestDenialKey(t *testing.T) {
	if k := DenialKey("c1"); len(k) != 16 || k == DenialKey("c2") || strings.ContainsAny(k, "/.") {
		t.Errorf("DenialKey(c1) = %q", k)
	}
}

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
// notified outright, so expected denials and allowed argument values cost
// nothing; what the filter does not allow at all is notified, and clone's
// namespace flags get conditional NOTIFY rules (complementRules).
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
		conditional := map[string]int{}
		for _, sc := range f.Syscalls {
			switch {
			case sc.Action == specs.ActNotify && len(sc.Args) == 0:
				notified = append(notified, sc.Names...)
			case sc.Action == specs.ActNotify:
				for _, n := range sc.Names {
					conditional[n]++
				}
			}
		}
		if !slices.Equal(notified, wantNotify) {
			t.Errorf("%s notifies %v, want %v", mode, notified, wantNotify)
		}
		// 0x7E020000 has 7 bits set: one NOTIFY rule each in enforce.
		if want := map[string]int{ModeEnforce: 7}[mode]; conditional["clone"] != want || len(conditional) > 1 {
			t.Errorf("%s: conditional NOTIFY rules %v, want %d for clone", mode, conditional, want)
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

// complementRules writes the complement only for allowing MASKED_EQ(mask,
// 0) rules on distinct arguments, one rule per choice of one bit from each
// mask, and refuses every other shape.
func TestComplementRules(t *testing.T) {
	allow := verdict{allow: true}
	masked := func(i uint, m uint64) evalRule {
		return evalRule{v: allow, conds: []specs.LinuxSeccompArg{{Index: i, Value: m, Op: specs.OpMaskedEqual}}}
	}
	bit := func(i uint, b uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: b, ValueTwo: b, Op: specs.OpMaskedEqual}
	}
	for _, c := range []struct {
		name  string
		rules []evalRule
		want  [][]specs.LinuxSeccompArg // nil: refused
	}{
		{"one mask", []evalRule{masked(1, 0o6000)}, [][]specs.LinuxSeccompArg{{bit(1, 0o2000)}, {bit(1, 0o4000)}}},
		// openat: no O_CREAT/O_TMPFILE, or no set-ID mode: denied only with both.
		{"two arguments", []evalRule{masked(2, 0x400040), masked(3, 0o6000)}, [][]specs.LinuxSeccompArg{
			{bit(2, 0x40), bit(3, 0o2000)}, {bit(2, 0x400000), bit(3, 0o2000)},
			{bit(2, 0x40), bit(3, 0o4000)}, {bit(2, 0x400000), bit(3, 0o4000)},
		}},
		{"two rules on one argument", []evalRule{masked(1, 1), masked(1, 2)}, nil},
		{"value list", []evalRule{{v: allow, conds: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}}}, nil},
		{"errno rule", []evalRule{masked(0, 1), {v: verdict{errno: 93}, conds: []specs.LinuxSeccompArg{{Index: 0, Value: 16, Op: specs.OpEqualTo}}}}, nil},
		{"masked to a value", []evalRule{{v: allow, conds: []specs.LinuxSeccompArg{{Index: 0, Value: 3, ValueTwo: 1, Op: specs.OpMaskedEqual}}}}, nil},
		{"two conditions", []evalRule{{v: allow, conds: []specs.LinuxSeccompArg{masked(0, 1).conds[0], masked(1, 1).conds[0]}}}, nil},
		{"mask above 32 bits", []evalRule{masked(0, 1<<32)}, nil},
		{"too many rules", []evalRule{masked(0, 0xff), masked(1, 0xff)}, nil},
		{"no rules", nil, nil},
	} {
		got, ok := complementRules(c.rules)
		if ok != (c.want != nil) || !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("%s: complementRules = %v, %v; want %v", c.name, got, ok, c.want)
		}
	}
}

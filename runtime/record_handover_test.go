package runtime

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles/seccomp"
)

// handoverDenied judges the handover syscalls on their own rules only; it
// must say what seccomp.AllowedSyscalls says of the whole filter.
func TestHandoverDeniedAgreesWithAllowedSyscalls(t *testing.T) {
	errno, eperm := uint(38), uint(1)
	zero := []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}}
	def := seccomp.Default()
	without := func(f *specs.LinuxSeccomp, drop string) *specs.LinuxSeccomp {
		out := *f
		out.Syscalls = nil
		for _, sc := range f.Syscalls {
			sc.Names = slices.DeleteFunc(slices.Clone(sc.Names), func(n string) bool { return n == drop })
			if len(sc.Names) > 0 {
				out.Syscalls = append(out.Syscalls, sc)
			}
		}
		return &out
	}
	with := func(f *specs.LinuxSeccomp, rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
		out := *f
		out.Syscalls = append(slices.Clone(f.Syscalls), rules...)
		return &out
	}
	for _, tc := range []struct {
		name   string
		f      *specs.LinuxSeccomp
		denies string // what AllowedSyscalls says, checked too
	}{
		{"default", def, ""},
		{"default without read", without(def, "read"), "read"},
		{"default without write", without(def, "write"), "write"},
		{"read also killed (the allowance wins)", with(def, specs.LinuxSyscall{Names: []string{"read", "getpid"}, Action: specs.ActKill}), ""},
		{"read only killed", with(without(def, "read"), specs.LinuxSyscall{Names: []string{"read", "getpid"}, Action: specs.ActKill}), "read"},
		{"recvfrom denied for fd 0", with(without(def, "recvfrom"), specs.LinuxSyscall{Names: []string{"recvfrom"}, Action: specs.ActErrno, ErrnoRet: &eperm, Args: zero}), "recvfrom"},
		{"close allowed for fd 0", with(without(def, "close"), specs.LinuxSyscall{Names: []string{"close"}, Action: specs.ActAllow, Args: zero}), ""},
		{"close traced", with(without(def, "close"), specs.LinuxSyscall{Names: []string{"close"}, Action: specs.ActTrace}), ""},
		{"allowing default", &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"write", "ptrace"}, Action: specs.ActErrno, ErrnoRet: &errno}},
		}, "close"}, // AllowedSyscalls lists only what the filter names
		{"allowing default, rules for all", &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: append(slices.Clone(handoverSyscalls), "ptrace"), Action: specs.ActLog}},
		}, ""},
	} {
		allowed := seccomp.AllowedSyscalls(tc.f)
		want := ""
		for _, n := range handoverSyscalls {
			if !slices.Contains(allowed, n) {
				want = n
				break
			}
		}
		if want != tc.denies {
			t.Errorf("%s: AllowedSyscalls denies %q, the test expects %q", tc.name, want, tc.denies)
		}
		if n, denied := handoverDenied(tc.f); n != want || denied != (want != "") {
			t.Errorf("%s: handoverDenied = %q, %v; AllowedSyscalls denies %q", tc.name, n, denied, want)
		}
	}
}

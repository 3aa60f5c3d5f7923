//go:build cgo && seccomp

package seccomp

import (
	"errors"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDenyRules(t *testing.T) {
	enosys := uint(38)
	f := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: specs.ActAllow},
			{Names: []string{"landlock_add_rule"}, Action: specs.ActErrno, ErrnoRet: &enosys},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}}},
		},
	}
	got, err := DenyRules(f, []string{"landlock_create_ruleset", "landlock_add_rule"})
	if err != nil {
		t.Fatal(err)
	}
	want := []KernelRule{
		{0xc000003e, 444, retErrno | 1}, {0x40000003, 444, retErrno | 1}, {0xc000003e, 0x40000000 | 444, retErrno | 1},
		{0xc000003e, 445, retErrno | 38}, {0x40000003, 445, retErrno | 38}, {0xc000003e, 0x40000000 | 445, retErrno | 38},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %x\nwant %x", got, want)
	}
	for _, name := range []string{"read", "personality"} {
		if _, err := DenyRules(f, []string{name}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s, which the filter allows: %v", name, err)
		}
	}
	kill := &specs.LinuxSeccomp{DefaultAction: specs.ActKillProcess}
	if got, err := DenyRules(kill, []string{"seccomp"}); err != nil || len(got) != 1 || got[0].Ret != retKillProcess || got[0].Nr != 317 {
		t.Errorf("kill-process default: %x, %v", got, err)
	}
}

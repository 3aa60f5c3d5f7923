package seccomp

import (
	"errors"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

func TestCovers(t *testing.T) {
	wide := baseProfile()
	narrowed := func(change func(f *specs.LinuxSeccomp)) *specs.LinuxSeccomp {
		f := baseProfile()
		change(f)
		return f
	}
	tests := []struct {
		name    string
		wide    *specs.LinuxSeccomp
		narrow  *specs.LinuxSeccomp
		wantErr string // substring; empty means covered
	}{
		{name: "identical", wide: wide, narrow: baseProfile()},
		{name: "fewer syscalls", wide: wide, narrow: errnoFilt(allow("read"), with(allow("clone"), masked()))},
		{name: "conditional where wide is unconditional", wide: wide, narrow: errnoFilt(with(allow("socket"), eq(0, 2)))},
		{name: "denial with another action", wide: wide, narrow: filt(specs.ActKillProcess, allow("read"), sc(specs.ActTrap, "write"))},
		{name: "deny all", wide: wide, narrow: filt(specs.ActKillProcess)},
		{
			name:    "extra syscall",
			wide:    wide,
			narrow:  narrowed(func(f *specs.LinuxSeccomp) { f.Syscalls = append(f.Syscalls, allow("ptrace")) }),
			wantErr: `seccomp filter allows "ptrace", which the wider filter denies`,
		},
		{
			name:    "unconditional where wide is conditional",
			wide:    wide,
			narrow:  narrowed(func(f *specs.LinuxSeccomp) { f.Syscalls = append(f.Syscalls, allow("clone")) }),
			wantErr: `"clone"`,
		},
		{
			name:    "different conditions",
			wide:    wide,
			narrow:  errnoFilt(with(allow("personality"), eq(0, 8))),
			wantErr: `"personality"`,
		},
		{
			name:    "more conditions on the same syscall",
			wide:    wide,
			narrow:  errnoFilt(with(allow("personality"), eq(0, 0)), with(allow("personality"), eq(0, 8))),
			wantErr: `"personality"`,
		},
		{
			name:    "allowed instead of ENOSYS",
			wide:    wide,
			narrow:  errnoFilt(allow("clone3")),
			wantErr: `"clone3"`,
		},
		{
			name:    "NOTIFY counts as allowing in narrow",
			wide:    wide,
			narrow:  errnoFilt(sc(specs.ActNotify, "ptrace")),
			wantErr: `"ptrace"`,
		},
		{
			name:    "NOTIFY counts as denying in wide",
			wide:    errnoFilt(sc(specs.ActNotify, "read")),
			narrow:  errnoFilt(allow("read")),
			wantErr: `"read"`,
		},
		{
			name:    "allowing default",
			wide:    wide,
			narrow:  filt(specs.ActLog, sc(specs.ActKillProcess, "ptrace")),
			wantErr: "default action SCMP_ACT_LOG allows syscalls that the wider filter's default action SCMP_ACT_ERRNO denies",
		},
		{
			name:   "allowing default under an allowing default",
			wide:   filt(specs.ActAllow, sc(specs.ActKillProcess, "ptrace")),
			narrow: filt(specs.ActLog, sc(specs.ActTrap, "ptrace"), errnoRule(1, "mount")),
		},
		{
			name:    "blocklist narrow misses a denial of the blocklist wide",
			wide:    filt(specs.ActAllow, sc(specs.ActKillProcess, "ptrace"), errnoRule(1, "mount")),
			narrow:  filt(specs.ActAllow, sc(specs.ActKillProcess, "ptrace")),
			wantErr: `"mount"`,
		},
		{
			name:    "extra architecture",
			wide:    wide,
			narrow:  narrowed(func(f *specs.LinuxSeccomp) { f.Architectures = append(f.Architectures, specs.ArchMIPS) }),
			wantErr: `architecture "SCMP_ARCH_MIPS"`,
		},
		{
			name:   "fewer architectures",
			wide:   wide,
			narrow: narrowed(func(f *specs.LinuxSeccomp) { f.Architectures = nil }),
		},
		{
			name:    "many syscalls are summarised",
			wide:    errnoFilt(),
			narrow:  errnoFilt(allow("a1", "a2", "a3", "a4", "a5", "a6", "a7")),
			wantErr: `allows "a1", "a2", "a3", "a4", "a5" and 2 more`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Covers(tt.wide, tt.narrow)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Covers = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Covers = nil, want error containing %q", tt.wantErr)
			}
			if !errors.Is(err, profiles.ErrRefused) {
				t.Errorf("error %q is not a refusal", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestCoversInvalid(t *testing.T) {
	bad := errnoFilt(with(allow("read"), arg(0, "SCMP_CMP_XOR", 1)))
	for _, args := range [][2]*specs.LinuxSeccomp{{bad, Default()}, {Default(), bad}, {nil, Default()}} {
		err := Covers(args[0], args[1])
		if !errors.Is(err, ErrInvalid) || errors.Is(err, profiles.ErrRefused) {
			t.Errorf("Covers(invalid) = %v, want ErrInvalid and no refusal", err)
		}
	}
}

func TestAllowedSyscalls(t *testing.T) {
	tests := []struct {
		name string
		f    *specs.LinuxSeccomp
		want []string
	}{
		{name: "base", f: baseProfile(), want: []string{"clone", "openat", "personality", "read", "socket", "write"}},
		{name: "notify and trace count, log counts", f: errnoFilt(sc(specs.ActNotify, "b"), sc(specs.ActTrace, "a"), sc(specs.ActLog, "c"), sc(specs.ActTrap, "d"))},
		{name: "unconditional denial wins over conditional allowance", f: errnoFilt(with(allow("a"), eq(0, 1)), sc(specs.ActKillProcess, "a"))},
		{name: "conditional denial under an allowing default", f: filt(specs.ActAllow, with(errnoRule(1, "a"), eq(0, 1)), sc(specs.ActKillProcess, "b"))},
		{name: "invalid", f: errnoFilt(sc("bogus", "a"))},
	}
	tests[1].want = []string{"a", "b", "c"}
	tests[3].want = []string{"a"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AllowedSyscalls(tt.f); !slices.Equal(got, tt.want) {
				t.Errorf("AllowedSyscalls = %q, want %q", got, tt.want)
			}
		})
	}
}

package seccomp

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func skipWithoutLibseccomp(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrSeccompNotEnabled) {
		t.Skipf("skipped: %v; run go test -tags seccomp with cgo enabled", err)
	}
}

func TestCompileDefault(t *testing.T) {
	n, err := compileBPF(Default())
	skipWithoutLibseccomp(t, err)
	if err != nil {
		t.Fatalf("Compile(Default()): %v", err)
	}
	t.Logf("Default() compiles to %d BPF instructions for %d architectures (kernel limit %d)", n, len(Default().Architectures), maxInsns)
	if n == 0 {
		t.Error("empty BPF program")
	}

	n, err = compileBPF(dockerDefault(t))
	if err != nil {
		t.Fatalf("Compile(docker): %v", err)
	}
	t.Logf("Docker's default without capabilities, same architectures: %d BPF instructions", n)
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name      string
		f         *specs.LinuxSeccomp
		wantErr   string // substring; empty means success
		wantValid bool   // the error is about f itself (ErrInvalid)
	}{
		{name: "minimal", f: errnoFilt(allow("read"))},
		{name: "unknown syscall names are skipped, as runc does", f: errnoFilt(allow("read", "no_such_syscall_xyz"))},
		{name: "rule equal to the default is skipped", f: errnoFilt(errnoRule(1, "read"))},
		{name: "same argument twice is split into rules", f: errnoFilt(with(allow("personality"), eq(0, 0), eq(0, 8)))},
		{name: "all actions", f: filt(specs.ActKillProcess,
			allow("read"), sc(specs.ActLog, "write"), sc(specs.ActTrap, "ptrace"), errnoRule(38, "clone3"),
			sc(specs.ActTrace, "mount"), sc(specs.ActKill, "bpf"), sc(specs.ActKillThread, "umount2"),
			sc(specs.ActNotify, "openat"))},
		{name: "flags", f: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Flags: []specs.LinuxSeccompFlag{flagTsync, specs.LinuxSeccompFlagLog}}},
		{name: "nil", f: nil, wantErr: "no filter", wantValid: true},
		{name: "unknown action", f: errnoFilt(sc("SCMP_ACT_ALLOW_ALL", "read")), wantErr: `unknown action "SCMP_ACT_ALLOW_ALL"`, wantValid: true},
		{name: "unknown default action", f: filt("SCMP_ACT_NONE"), wantErr: `unknown defaultAction "SCMP_ACT_NONE"`, wantValid: true},
		{name: "bad operator", f: errnoFilt(with(allow("read"), arg(0, "SCMP_CMP_MAYBE", 1))), wantErr: `unknown operator "SCMP_CMP_MAYBE"`, wantValid: true},
		{name: "bad argument index", f: errnoFilt(with(allow("read"), eq(7, 1))), wantErr: "argument index 7 out of range", wantValid: true},
		{name: "bad architecture", f: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{"SCMP_ARCH_VAX"}}, wantErr: `unknown architecture "SCMP_ARCH_VAX"`, wantValid: true},
		{name: "notify as default", f: filt(specs.ActNotify, allow("read")), wantErr: "SCMP_ACT_NOTIFY cannot be the default action", wantValid: true},
		{name: "notify for write", f: errnoFilt(sc(specs.ActNotify, "read", "write")), wantErr: `SCMP_ACT_NOTIFY cannot be used for "write"`, wantValid: true},
		{name: "conflicting rules", f: errnoFilt(with(allow("socket"), eq(0, 2)), with(sc(specs.ActKillProcess, "socket"), eq(0, 2))), wantErr: `add rule for syscall "socket"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Compile(tt.f)
			if tt.wantErr == "" || !tt.wantValid {
				skipWithoutLibseccomp(t, err)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Compile succeeded, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrInvalid) != tt.wantValid {
				t.Errorf("errors.Is(%q, ErrInvalid) = %v, want %v", err, !tt.wantValid, tt.wantValid)
			}
			if !strings.HasPrefix(err.Error(), "compile seccomp filter: ") {
				t.Errorf("error %q lacks its context", err)
			}
		})
	}
}

func BenchmarkCompileDefault(b *testing.B) {
	f := Default()
	skipWithoutLibseccomp(b, Compile(f))
	for b.Loop() {
		if err := Compile(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompileDefaultX86 compiles Default() for the x86 family only, as
// Tighten gives for a bundle from dockerd on an x86_64 host.
func BenchmarkCompileDefaultX86(b *testing.B) {
	f := Default()
	f.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	skipWithoutLibseccomp(b, Compile(f))
	for b.Loop() {
		if err := Compile(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTightenDefaultDocker(b *testing.B) {
	p := Default()
	d := dockerDefault(&testing.T{})
	for b.Loop() {
		if _, err := Tighten(p, d); err != nil {
			b.Fatal(err)
		}
	}
}

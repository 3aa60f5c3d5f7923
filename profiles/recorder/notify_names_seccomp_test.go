//go:build cgo && seccomp

package recorder

import (
	"runtime"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestResolveLib(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the table holds x86 numbers")
	}
	for _, tc := range []struct {
		audit uint32
		nr    int32
		want  archName
	}{
		{0xc000003e, 0, archName{"SCMP_ARCH_X86_64", "read"}},
		{0xc000003e, 101, archName{"SCMP_ARCH_X86_64", "ptrace"}},
		{0xc000003e, 0x40000000 | 1, archName{"SCMP_ARCH_X32", "write"}},
		{0x40000003, 3, archName{"SCMP_ARCH_X86", "read"}},
		{0xc000003e, 5000, archName{arch: "SCMP_ARCH_X86_64"}},
		{0x1, 0, archName{arch: "AUDIT_ARCH_0x1"}},
	} {
		if got := resolveLib(tc.audit, tc.nr); got != tc.want {
			t.Errorf("resolveLib(%#x, %d) = %+v, want %+v", tc.audit, tc.nr, got, tc.want)
		}
	}
}

func TestKnownSyscalls(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("x86_64 host only")
	}
	for _, tc := range []struct {
		arches  []specs.Arch
		want    []string
		wantErr bool
	}{
		{arches: []specs.Arch{specs.ArchX86_64}, want: []string{"read", "openat", "ptrace"}},
		{arches: nil, want: []string{"read", "openat"}}, // the native architecture
		{arches: []specs.Arch{specs.ArchX86}, want: []string{"socketcall", "waitpid"}},
		{arches: []specs.Arch{"SCMP_ARCH_NONE"}, wantErr: true},
	} {
		got, err := KnownSyscalls(tc.arches)
		if (err != nil) != tc.wantErr {
			t.Fatalf("KnownSyscalls(%v): err %v", tc.arches, err)
		}
		for _, n := range tc.want {
			if !slices.Contains(got, n) {
				t.Errorf("KnownSyscalls(%v) lacks %q", tc.arches, n)
			}
		}
	}
}

package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestArchByAuditName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want specs.Arch
		ok   bool
	}{
		{"x86_64", specs.ArchX86_64, true},
		{"i386", specs.ArchX86, true},
		{"aarch64", specs.ArchAARCH64, true},
		{"armeb", specs.ArchARM, true},
		{"c000003e", "", false},
		{"", "", false},
	} {
		got, ok := ArchByAuditName(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ArchByAuditName(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLibseccompArch(t *testing.T) {
	for _, tc := range []struct {
		arch specs.Arch
		want string
		ok   bool
	}{
		{specs.ArchX86_64, "amd64", true},
		{specs.ArchX32, "x32", true},
		{specs.ArchAARCH64, "arm64", true},
		{"SCMP_ARCH_NONE", "", false},
	} {
		got, ok := LibseccompArch(tc.arch)
		if got != tc.want || ok != tc.ok {
			t.Errorf("LibseccompArch(%q) = %q, %v; want %q, %v", tc.arch, got, ok, tc.want, tc.ok)
		}
	}
}

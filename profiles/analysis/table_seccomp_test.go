//go:build cgo && seccomp

package analysis_test

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles/analysis"
	"github.com/runcage/runcage/profiles/recorder"
	"github.com/runcage/runcage/profiles/seccomp"
)

// TestTableNamesKnown checks that every syscall the tables name is one
// libseccomp knows on x86_64 or aarch64 (the architectures the tables were
// derived for), and passes seccomp.CheckName.
func TestTableNamesKnown(t *testing.T) {
	known, err := recorder.KnownSyscalls([]specs.Arch{specs.ArchX86_64, specs.ArchAARCH64})
	if err != nil {
		t.Fatal(err)
	}
	names := analysis.TableSyscalls()
	if len(names) < 150 {
		t.Fatalf("tables name only %d syscalls", len(names))
	}
	for _, n := range names {
		if err := seccomp.CheckName(n); err != nil {
			t.Error(err)
		}
		if _, found := slices.BinarySearch(known, n); !found {
			t.Errorf("%q is not a syscall libseccomp knows on x86_64 or aarch64", n)
		}
	}
}

package record

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runcage/runcage/profiles"
)

// TestGenerateRefusesNoSyscalls: a trace of a container that never ran
// (no syscalls) is refused by generate, named with the reason, even beside
// a good input; merge refuses only when the merged set is empty.
func TestGenerateRefusesNoSyscalls(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, syscalls map[string]uint64) string {
		tr := New(name, SourceRuncage)
		tr.Complete = true
		tr.Syscalls = syscalls
		b, err := tr.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty, good := write("empty", map[string]uint64{}), write("good", map[string]uint64{"read": 1})
	for _, tc := range []struct {
		name      string
		inputs    []string
		filesOnly bool
		want      string // "" for success
	}{
		{"generate empty", []string{empty}, true, "never ran"},
		{"generate empty beside good", []string{good, empty}, true, empty},
		{"merge empty", []string{empty}, false, "show no syscall"},
		{"merge empty beside good", []string{good, empty}, false, ""},
		{"generate good", []string{good}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(context.Background(), GenerateOptions{Name: "p", ProfilesDir: filepath.Join(dir, "profiles"), Force: true, Inputs: tc.inputs, FilesOnly: tc.filesOnly})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a refusal naming %q", err, tc.want)
			}
			if _, serr := os.Stat(filepath.Join(dir, "profiles", "p", "seccomp.json")); serr == nil && tc.name == "generate empty" {
				t.Errorf("a profile was written from an empty trace")
			}
		})
	}
}

//go:build cgo && seccomp

package seccomp

import (
	"os"
	goruntime "runtime"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// TestDefaultNamesResolve checks that libseccomp knows every name in
// default.json on at least one of its architectures: runc silently skips
// names it cannot resolve, so a typo would deny a syscall without notice.
// Names newer than the host's libseccomp are reported, not failed.
func TestDefaultNamesResolve(t *testing.T) {
	major, minor, micro := libseccomp.GetLibraryVersion()
	var unknown []string
	for _, n := range AllowedSyscalls(Default()) {
		known := false
		for _, a := range Default().Architectures {
			arch, err := libseccomp.GetArchFromString(archNames[a])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := libseccomp.GetSyscallFromNameByArch(n, arch); err == nil {
				known = true
				break
			}
		}
		if !known {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		t.Logf("libseccomp %d.%d.%d does not know %q; runc skips them on this host", major, minor, micro, unknown)
	}
	if len(unknown) > 5 {
		t.Errorf("too many unknown names, check for typos: %q", unknown)
	}
}

func TestCompileCached(t *testing.T) {
	dir := t.TempDir()
	if err := CompileCached(Default(), dir); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("want one cache mark, got %d", len(ents))
	}
	if err := CompileCached(Default(), dir); err != nil {
		t.Fatal(err)
	}
	// A filter that does not compile is never marked.
	bad := Default()
	bad.Syscalls[0].Args = []specs.LinuxSeccompArg{{Index: 9, Op: specs.OpEqualTo}}
	if err := CompileCached(bad, dir); err == nil {
		t.Fatal("invalid filter compiled")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("a failed compile left a cache mark")
	}
}

func BenchmarkCompileCachedHit(b *testing.B) {
	dir := b.TempDir()
	f := Default()
	if err := CompileCached(f, dir); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := CompileCached(f, dir); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDefaultNativeOnly checks that the default filter lists only the host's
// native ABI and that this keeps the program runc compiles on every start a
// fraction of what the 32-bit compat ABIs would make it.
func TestDefaultNativeOnly(t *testing.T) {
	native := NativeArches()
	if native == nil {
		t.Skipf("no native architecture known for GOARCH %s", goruntime.GOARCH)
	}
	f := Default()
	if len(f.Architectures) != 1 || f.Architectures[0] != native[0] {
		t.Fatalf("Default() architectures %v, want only %v", f.Architectures, native)
	}
	n, err := compileBPF(f)
	if err != nil {
		t.Fatal(err)
	}
	wide := Default()
	wide.Architectures = slices.Clone(defaultFilter().Architectures)
	nWide, err := compileBPF(wide)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default filter: %d BPF instructions native only, %d with %v", n, nWide, wide.Architectures)
	if n <= 0 || 2*n > nWide {
		t.Errorf("native-only filter has %d instructions, with compat ABIs %d: want less than half", n, nWide)
	}
}

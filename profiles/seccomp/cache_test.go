package seccomp

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// cacheFixture returns a cache directory (root's, 0700, as runcage makes
// it), the inputs of one Tighten, its result, and where its entry lives.
func cacheFixture(t *testing.T) (dir string, prof, bundle, want *specs.LinuxSeccomp, entry string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the cache trusts only root's files: run as root")
	}
	dir = filepath.Join(t.TempDir(), "cache")
	prof, bundle = Default(), dockerDefault(t)
	want, err := Tighten(prof, bundle)
	if err != nil {
		t.Fatal(err)
	}
	key, err := tightenKey(Source{Filter: prof}, bundle)
	if err != nil {
		t.Fatal(err)
	}
	return dir, prof, bundle, want, filepath.Join(dir, key+".json")
}

// mustTightenCached calls TightenCached and fails unless it returns want.
func mustTightenCached(t *testing.T, prof, bundle, want *specs.LinuxSeccomp, dir string) *specs.LinuxSeccomp {
	t.Helper()
	got, err := TightenCached(prof, bundle, dir)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Fatalf("TightenCached differs from Tighten:\n got %s\nwant %s", g, w)
	}
	return got
}

func TestTightenCachedHit(t *testing.T) {
	dir, prof, bundle, want, entry := cacheFixture(t)
	mustTightenCached(t, prof, bundle, want, dir) // miss: writes the entry
	st, err := os.Stat(entry)
	if err != nil {
		t.Fatalf("no cache entry written: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("entry mode %v, want 0600", st.Mode().Perm())
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("cache directory: %v, %v; want mode 0700", di, err)
	}
	mustTightenCached(t, prof, bundle, want, dir) // hit
	// The inputs are the key: another bundle filter has its own entry.
	other := clone(bundle)
	other.DefaultAction = specs.ActKillProcess
	want2, err := Tighten(prof, other)
	if err != nil {
		t.Fatal(err)
	}
	mustTightenCached(t, prof, other, want2, dir)
	if mustJSON(t, want2) == mustJSON(t, want) {
		t.Fatal("test is broken: both bundles tighten alike")
	}
	// And Tighten's refusals are returned, not cached.
	bad := clone(bundle)
	bad.Flags = append(bad.Flags, specs.LinuxSeccompFlagSpecAllow)
	if _, err := TightenCached(prof, bad, dir); !errors.Is(err, profiles.ErrRefused) {
		t.Fatalf("TightenCached of a refused bundle: %v, want a refusal", err)
	}
}

// Bundles choose their filters, and so how many entries there are: the
// cache never holds more than maxCacheEntries.
func TestTightenCachedBounded(t *testing.T) {
	dir, prof, bundle, want, entry := cacheFixture(t)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range maxCacheEntries + 10 {
		write(t, filepath.Join(dir, fmt.Sprintf("%064x.json", i)), []byte("x"), 0o600)
	}
	mustTightenCached(t, prof, bundle, want, dir)
	names, err := readDirNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) > maxCacheEntries {
		t.Fatalf("%d entries kept, want at most %d", len(names), maxCacheEntries)
	}
	if _, err := os.Stat(entry); err != nil {
		t.Fatalf("the new entry was not kept: %v", err)
	}
}

// A cache entry is used only when it is exactly what this build wrote for
// these inputs; anything else is recomputed (and the entry replaced), so a
// damaged or planted entry can never weaken the filter.
func TestTightenCachedDistrusts(t *testing.T) {
	allowAll := []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`)
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, dir, entry string, good []byte)
	}{
		{"truncated", func(t *testing.T, dir, entry string, good []byte) {
			write(t, entry, good[:len(good)/2], 0o600)
		}},
		{"filter changed, checksum kept", func(t *testing.T, dir, entry string, good []byte) {
			header, _, _ := bytes.Cut(good, []byte{'\n'})
			write(t, entry, append(append(header, '\n'), allowAll...), 0o600)
		}},
		{"another key's entry", func(t *testing.T, dir, entry string, good []byte) {
			other := clone(Default())
			other.DefaultAction = specs.ActAllow
			other.Syscalls = nil
			if _, err := TightenCached(other, nil, dir); err != nil {
				t.Fatal(err)
			}
			key, err := tightenKey(Source{Filter: other}, nil)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, key+".json"))
			if err != nil {
				t.Fatal(err)
			}
			write(t, entry, data, 0o600)
		}},
		{"writable by others", func(t *testing.T, dir, entry string, good []byte) {
			if err := os.Chmod(entry, 0o666); err != nil {
				t.Fatal(err)
			}
		}},
		{"not root's", func(t *testing.T, dir, entry string, good []byte) {
			if err := os.Chown(entry, 1000, 1000); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory writable by others", func(t *testing.T, dir, entry string, good []byte) {
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
		}},
		{"symlink", func(t *testing.T, dir, entry string, good []byte) {
			elsewhere := filepath.Join(t.TempDir(), "entry")
			write(t, elsewhere, good, 0o600)
			if err := os.Remove(entry); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, entry); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, prof, bundle, want, entry := cacheFixture(t)
			mustTightenCached(t, prof, bundle, want, dir)
			good, err := os.ReadFile(entry)
			if err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, dir, entry, good)
			// Marks the distrust: a spoiled entry that were used would
			// return the spoiled filter, or the one planted here.
			if f, ok := readCacheEntry(dir, entry, filepath.Base(entry[:len(entry)-len(".json")])); ok {
				t.Fatalf("spoiled entry used: %s", mustJSON(t, f))
			}
			mustTightenCached(t, prof, bundle, want, dir)
		})
	}
}

func write(t *testing.T, path string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkTightenCached compares Tighten of the default filter against
// Docker's with a cache hit of the same.
func BenchmarkTightenCached(b *testing.B) {
	prof := Default()
	bundle := dockerDefault(b)
	b.Run("tighten", func(b *testing.B) {
		for range b.N {
			if _, err := Tighten(prof, bundle); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hit", func(b *testing.B) {
		dir := filepath.Join(b.TempDir(), "cache")
		for range b.N {
			if _, err := TightenCached(prof, bundle, dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A keyed source is built on a miss only; a hit returns what Tighten of
// the built filter returned.
func TestTightenCachedSource(t *testing.T) {
	dir, _, bundle, _, _ := cacheFixture(t)
	want, err := Tighten(Default(), bundle)
	if err != nil {
		t.Fatal(err)
	}
	builds := 0
	src := Source{Key: DefaultKey(), Build: func() (*specs.LinuxSeccomp, error) { builds++; return Default(), nil }}
	for range 3 {
		got, err := tightenCached(src, bundle, dir)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
			t.Fatalf("cached source differs from Tighten:\n got %s\nwant %s", g, w)
		}
	}
	if builds != 1 {
		t.Errorf("source built %d times, want once (on the miss)", builds)
	}
	// A source without a key is never cached under a shared name.
	if key, err := tightenKey(Source{Build: src.Build}, bundle); err != nil || key != "" {
		t.Errorf("unkeyed source: key %q, %v; want none", key, err)
	}
}

// A long-lived process keeps what it read or computed in memory: a later
// call neither reads the entry again nor shares the filter it returns.
func TestTightenCachedMemo(t *testing.T) {
	dir, prof, bundle, want, entry := cacheFixture(t)
	first := mustTightenCached(t, prof, bundle, want, dir)
	first.DefaultAction = specs.ActAllow // a caller changes its copy
	first.Syscalls = nil
	// The entry on disk is gone: only the memo can answer, and it must
	// answer what Tighten does.
	if err := os.Remove(entry); err != nil {
		t.Fatal(err)
	}
	mustTightenCached(t, prof, bundle, want, dir)
	if _, err := os.Stat(entry); err == nil {
		t.Error("the memo did not answer: the entry was computed again")
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// configMapDir lays files out the way the kubelet does for a ConfigMap
// volume: a timestamped directory behind ..data, and one link per key.
func configMapDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	ts := filepath.Join(dir, "..2026_11_23_12_00_00.000000001")
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(ts, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSyncPolicyInstallsValidPolicy(t *testing.T) {
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "stale.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := "[profiles.web]\ncapabilities = [\"CAP_NET_BIND_SERVICE\"]\n"
	changed, err := syncPolicy(configMapDir(t, map[string]string{"config.toml": good, "web.json": "{}"}), dst)
	if err != nil || !changed {
		t.Fatalf("syncPolicy = %v, %v; want true, nil", changed, err)
	}
	if got := read(t, filepath.Join(dst, "config.toml")); got != good {
		t.Errorf("config.toml = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dst, "stale.json")); !os.IsNotExist(err) {
		t.Errorf("a file no longer in the ConfigMap was kept: %v", err)
	}
	changed, err = syncPolicy(configMapDir(t, map[string]string{"config.toml": good, "web.json": "{}"}), dst)
	if err != nil || changed {
		t.Errorf("second sync of the same files = %v, %v; want false, nil", changed, err)
	}
}

// TestSyncPolicyFailsClosed: a policy runcage would refuse is never
// installed, and the previous one stays byte for byte.
func TestSyncPolicyFailsClosed(t *testing.T) {
	dst := t.TempDir()
	good := "default_profile = \"default\"\n"
	if _, err := syncPolicy(configMapDir(t, map[string]string{"config.toml": good}), dst); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"unknown key":     "default_profil = \"default\"\n",
		"bad mode":        "[profiles.x]\nmode = \"sometimes\"\n",
		"not TOML":        "[profiles\n",
		"no such default": "default_profile = \"../etc\"\n",
	} {
		_, err := syncPolicy(configMapDir(t, map[string]string{"config.toml": bad}), dst)
		if err == nil {
			t.Errorf("%s: syncPolicy accepted %q", name, bad)
		}
		if got := read(t, filepath.Join(dst, "config.toml")); got != good {
			t.Errorf("%s: the installed policy changed to %q", name, got)
		}
	}
	if _, err := syncPolicy(configMapDir(t, map[string]string{"other.toml": good}), dst); err == nil || !strings.Contains(err.Error(), "config.toml") {
		t.Errorf("a ConfigMap without config.toml: %v", err)
	}
	entries, _ := os.ReadDir(dst)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("staging left behind: %s", e.Name())
		}
	}
}

func TestWriteAtomicReplacesRunningBinary(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "runcage")
	if err := os.WriteFile(p, []byte("old"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A process running the old file keeps its inode: the new content is
	// a new inode renamed over the name, never a write into the old one.
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := writeAtomic(p, []byte("new"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := make([]byte, 3)
	if _, err := f.ReadAt(old, 0); err != nil || string(old) != "old" {
		t.Errorf("the old inode changed: %q, %v", old, err)
	}
	if got := read(t, p); got != "new" {
		t.Errorf("new content %q", got)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o755 {
		t.Errorf("mode %v", st.Mode())
	}
}

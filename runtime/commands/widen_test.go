package commands

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// widenFront returns a Front whose policy keeps its profiles in
// dir/profiles, a new temporary directory dir, and that profiles directory.
func widenFront(t *testing.T) (*Front, string, string) {
	dir := t.TempDir()
	profilesDir := filepath.Join(dir, "profiles")
	global := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(global, []byte("profiles_dir = "+strconv.Quote(profilesDir)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return bugFront(global), dir, profilesDir
}

// widen adds exactly the denied syscalls, keeps the profile's mode, says
// so when it adds nothing, and refuses a profile generate did not write.
func TestWidenKeepsModeAndRefusesHandWritten(t *testing.T) {
	f, dir, profilesDir := widenFront(t)
	trace := filepath.Join(dir, "t.json")
	if err := os.WriteFile(trace, []byte(`{"version":1,"name":"t","source":"runcage","complete":true,"syscalls":{"read":1,"openat":2}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := bugApp(t, f, "profile", "generate", "--name", "web", "--mode", "complain", trace); err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr)
	}
	events := filepath.Join(dir, "denials.json")
	line := `{"version":1,"time":"2026-12-06T08:00:00Z","container":"c1","name":"c1","profile":"web","mode":"enforce","arch":"SCMP_ARCH_X86_64","syscall":"statfs","count":3,"action":"denied","errno":1,"exe":"/bin/stat"}` + "\n"
	if err := os.WriteFile(events, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := bugApp(t, f, "profile", "widen", "web", events)
	if err != nil || !strings.Contains(out, "added statfs") || strings.Contains(out, "also allowed now") || strings.Contains(out, "no longer allowed") {
		t.Fatalf("widen: %v\n%s%s", err, out, stderr)
	}
	toml, _ := os.ReadFile(filepath.Join(profilesDir, "web", "profile.toml"))
	if !strings.Contains(string(toml), "\nmode = \"complain\"\n") {
		t.Errorf("widen lost complain mode:\n%s", toml)
	}
	if out, _, err := bugApp(t, f, "profile", "widen", "web", events); err != nil || !strings.Contains(out, "nothing added to web: it already allows statfs") {
		t.Errorf("second widen: %v\n%s", err, out)
	}
	mount := strings.ReplaceAll(line, `"statfs"`, `"mount"`)
	if err := os.WriteFile(events, []byte(mount), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, err := bugApp(t, f, "profile", "widen", "web", events); err != nil || !strings.Contains(out, "nothing added to web: mount is denied by runtime/default too") {
		t.Errorf("widen by mount: %v\n%s", err, out)
	}
	hand := filepath.Join(profilesDir, "hand")
	if err := os.MkdirAll(hand, 0o755); err != nil {
		t.Fatal(err)
	}
	sc, _ := os.ReadFile(filepath.Join(profilesDir, "web", "seccomp.json"))
	if err := os.WriteFile(filepath.Join(hand, "seccomp.json"), sc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hand, "profile.toml"), []byte("seccomp = \"seccomp.json\"\npids_limit = 50\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bugApp(t, f, "profile", "widen", "hand", events); err == nil || !strings.Contains(err.Error(), "not written by runcage profile generate") {
		t.Errorf("widen of a hand-written profile: %v, want a refusal", err)
	}
	if got, _ := os.ReadFile(filepath.Join(hand, "profile.toml")); !strings.Contains(string(got), "pids_limit = 50") {
		t.Errorf("hand-written profile changed:\n%s", got)
	}
}

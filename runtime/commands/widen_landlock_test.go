package commands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// landlockTrace writes, in dir, a recording that read /etc/passwd, ran
// /bin/app and bound TCP 8080, with the evidence Landlock rules are
// generated from, and returns its path.
func landlockTrace(t *testing.T, dir string) string {
	t.Helper()
	trace := filepath.Join(dir, "t.json")
	if err := os.WriteFile(trace, []byte(`{"version":1,"name":"t","source":"runcage","complete":true,"syscalls":{"read":1,"openat":2,"bind":1},
"files":[{"path":"/etc/passwd","access":"r"},{"path":"/bin/app","access":"x"}],
"ports":[{"use":"bind","family":"AF_INET","port":8080}],"ports_and_listings":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return trace
}

// A profile generated from a recording carries Landlock rules that show
// and diff print; widen adds a path or a port, prints each addition, says
// why when it adds nothing, and keeps the additions when the syscalls are
// widened later.
func TestWidenLandlock(t *testing.T) {
	f, dir, profilesDir := widenFront(t)
	trace := landlockTrace(t, dir)
	if out, stderr, err := bugApp(t, f, "profile", "generate", "--name", "web", trace); err != nil || !strings.Contains(out, "\nlandlock: 9 file rules, TCP bind: [8080], connect: no port\n") {
		t.Fatalf("generate: %v\n%s%s", err, out, stderr)
	}
	if _, stderr, err := bugApp(t, f, "profile", "generate", "--name", "bare", "--no-landlock", trace); err != nil {
		t.Fatalf("generate --no-landlock: %v\n%s", err, stderr)
	}
	out, _, err := bugApp(t, f, "profile", "show", "web")
	if err != nil || !strings.Contains(out, `"landlock"`) || !strings.Contains(out, `"/etc/passwd"`) || !strings.Contains(out, "8080") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if out, _, _ := bugApp(t, f, "profile", "show", "bare"); strings.Contains(out, `"landlock"`) {
		t.Errorf("--no-landlock profile shows rules:\n%s", out)
	}
	var diff strings.Builder
	if different, err := profileDiff(&diff, profilesDir, "bare", "web"); err != nil || !different {
		t.Errorf("diff bare web: %v, different %v", err, different)
	}
	if out := diff.String(); !strings.Contains(out, "landlock:\n") || !strings.Contains(out, "+ /etc/passwd read") || !strings.Contains(out, "+ tcp bind 8080") {
		t.Errorf("diff bare web:\n%s", out)
	}

	out, stderr, err := bugApp(t, f, "profile", "widen", "--landlock-path", "/var/lib/x:write,list", "--landlock-bind", "8081", "web")
	if err != nil || !strings.Contains(out, "added Landlock path /var/lib/x: list,write\n") || !strings.Contains(out, "added Landlock TCP bind port 8081\n") || !strings.Contains(out, "2 Landlock rules added") {
		t.Fatalf("widen: %v\n%s%s", err, out, stderr)
	}
	if out, _, err := bugApp(t, f, "profile", "widen", "--landlock-path", "/var/lib/x/sub:write", "--landlock-bind", "8080", "web"); err != nil || !strings.Contains(out, "nothing added to web: its Landlock rules already grant all of it") {
		t.Errorf("widen by what is granted: %v\n%s", err, out)
	}
	if _, _, err := bugApp(t, f, "profile", "widen", "--landlock-path", "/var/lib/x:fly", "web"); err == nil || !strings.Contains(err.Error(), `unknown access "fly"`) {
		t.Errorf("widen by a bad access: %v", err)
	}
	if _, _, err := bugApp(t, f, "profile", "widen", "--landlock-path", "var:read", "web"); err == nil || !strings.Contains(err.Error(), "absolute clean") {
		t.Errorf("widen by a relative path: %v", err)
	}
	if _, _, err := bugApp(t, f, "profile", "widen", "--landlock-bind", "80", "bare"); err == nil || !strings.Contains(err.Error(), "no Landlock rules to widen") {
		t.Errorf("widen of a profile without rules: %v", err)
	}

	// A later widen of the syscalls keeps the Landlock additions, and one
	// of a profile without rules does not add them.
	events := filepath.Join(dir, "denials.json")
	line := `{"version":1,"time":"2026-12-06T08:00:00Z","container":"c1","name":"c1","profile":"web","mode":"enforce","arch":"SCMP_ARCH_X86_64","syscall":"statfs","count":3,"action":"denied","errno":1,"exe":"/bin/stat"}` + "\n"
	if err := os.WriteFile(events, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web", "bare"} {
		if out, stderr, err := bugApp(t, f, "profile", "widen", name, events); err != nil || !strings.Contains(out, "added statfs") {
			t.Fatalf("widen %s by statfs: %v\n%s%s", name, err, out, stderr)
		}
	}
	out, _, _ = bugApp(t, f, "profile", "show", "web")
	if !strings.Contains(out, `"/var/lib/x"`) || !strings.Contains(out, "8081") {
		t.Errorf("the syscall widen lost the Landlock additions:\n%s", out)
	}
	if out, _, _ := bugApp(t, f, "profile", "show", "bare"); strings.Contains(out, `"landlock"`) {
		t.Errorf("the syscall widen added Landlock rules to a --no-landlock profile:\n%s", out)
	}
}

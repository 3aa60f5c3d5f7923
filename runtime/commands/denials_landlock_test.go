package commands

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runcage/runcage/profiles/record"
	"github.com/runcage/runcage/profiles/recorder"
)

// The Landlock denials of `runcage denials --json` widen a generated
// profile by exactly their paths and ports (beside the syscalls of the same
// file), what a rule cannot grant is named, and a second widen adds
// nothing.
func TestWidenFromLandlockDenials(t *testing.T) {
	f, dir, _ := widenFront(t)
	if out, stderr, err := bugApp(t, f, "profile", "generate", "--name", "web", landlockTrace(t, dir)); err != nil {
		t.Fatalf("generate: %v\n%s%s", err, out, stderr)
	}
	const head = `{"version":1,"time":"2026-12-06T08:00:00Z","container":"c1","name":"c1","profile":"web","mode":"enforce","count":1,"action":"denied","errno":13,"exe":"/bin/app",`
	events := filepath.Join(dir, "denials.json")
	lines := head + `"syscall":"openat","landlock":{"path":"/etc/group","access":["read"],"blockers":["fs.read_file"]}}
` + head + `"syscall":"bind","landlock":{"port":8081,"access":["bind"],"blockers":["net.bind_tcp"]}}
` + head + `"syscall":"kill","landlock":{"access":["signal"],"blockers":["scope.signal"]}}
` + `{"version":1,"time":"2026-12-06T08:00:00Z","container":"c1","name":"c1","profile":"web","mode":"enforce","arch":"SCMP_ARCH_X86_64","syscall":"statfs","count":3,"action":"denied","errno":1,"exe":"/bin/stat"}
`
	if err := os.WriteFile(events, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := bugApp(t, f, "profile", "widen", "web", events)
	for _, want := range []string{"added statfs", "added Landlock path /etc/group: read\n", "added Landlock TCP bind port 8081\n", "2 Landlock rules added", "not added: Landlock signal -: widen grants paths and TCP ports only"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("widen lacks %q: %v\n%s%s", want, err, out, stderr)
		}
	}
	if strings.Contains(out, "added openat") || strings.Contains(out, "added bind") || strings.Contains(out, "added kill") {
		t.Errorf("a Landlock denial widened the syscalls:\n%s", out)
	}
	out, _, err = bugApp(t, f, "profile", "widen", "web", events)
	if err != nil || !strings.Contains(out, "nothing added to web: its Landlock rules already grant all of it") {
		t.Errorf("second widen: %v\n%s", err, out)
	}
	// A path the kernel reported that no rule may name is refused by name.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(head+`"syscall":"openat","landlock":{"path":"/etc/../x","access":["read"]}}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, err := bugApp(t, f, "profile", "widen", "web", bad); err != nil || !strings.Contains(out, "not added: Landlock read /etc/../x") {
		t.Errorf("widen by an unclean path: %v\n%s", err, out)
	}
	// A denial at / (a file created at the top) is not widened into a rule
	// that would grant create on every directory.
	root := filepath.Join(dir, "root.json")
	if err := os.WriteFile(root, []byte(head+`"syscall":"openat","landlock":{"path":"/","access":["create"],"blockers":["fs.make_reg"]}}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, err := bugApp(t, f, "profile", "widen", "web", root); err != nil || !strings.Contains(out, "not added: Landlock create /: a rule on / grants it on every file") || strings.Contains(out, "added Landlock path /:") {
		t.Errorf("widen by a denial at /: %v\n%s", err, out)
	}
}

// `runcage denials` prints the Landlock denials in a table of their own,
// and, for the containers whose profile has Landlock rules, why they are
// not reported where the kernel's audit is disabled, or cannot be read.
func TestDenialsLandlockTable(t *testing.T) {
	at := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	ds := []record.AuditEvent{
		{Container: "c1", Profile: "web", Syscall: "getcwd", Errno: 1, Exe: "/bin/realpath", Count: 2, Action: record.ActionDenied, Time: at},
		{Container: "c1", Profile: "web", Syscall: "openat", Errno: 13, Exe: "/bin/cat", Count: 1, Action: record.ActionDenied, Time: at,
			Landlock: &record.LandlockAccess{Path: "/etc/group", Access: []string{"read"}}},
		{Container: "c1", Profile: "web", Syscall: "bind", Errno: 13, Exe: "/bin/app", Count: 4, Action: record.ActionDenied, Time: at,
			Landlock: &record.LandlockAccess{Port: 8081, Access: []string{"bind"}}},
	}
	var b bytes.Buffer
	if err := writeDenialsTable(&b, "/log", ds, nil, nil); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	sys, ll, ok := strings.Cut(out, "Landlock denials")
	if !ok || !strings.Contains(sys, "getcwd") || strings.Contains(sys, "/etc/group") {
		t.Fatalf("table:\n%s", out)
	}
	for _, want := range []string{"read    /etc/group", "bind    tcp port 8081", "/bin/app", "runcage profile widen PROFILE FILE"} {
		if !strings.Contains(ll, want) {
			t.Errorf("Landlock table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "not reported") {
		t.Errorf("a note without unreported containers:\n%s", out)
	}

	b.Reset()
	if err := writeDenialsTable(&b, "/log", nil, []string{"c2 (profile ll)"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"no denials logged in /log", "Landlock denials of c2 (profile ll) are not reported on this host: the kernel's audit is disabled",
		`EACCES ("Permission denied")`, "auditctl -e 1", "audit=1", "runcage does not change it"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("note lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	writeLandlockUnreported(&b, []string{"c2 (profile ll)"}, errors.New("operation not permitted"))
	if !strings.Contains(b.String(), "cannot tell whether the kernel's audit is enabled (operation not permitted)") {
		t.Errorf("note with an unknown audit state:\n%s", b.String())
	}
}

// landlockUnreported names, while audit is disabled, the containers whose
// profile has Landlock rules, from the log and the containers that exist,
// and nothing while it is enabled.
func TestLandlockUnreported(t *testing.T) {
	dir := t.TempDir()
	global := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(global, []byte("state_dir = "+strconv.Quote(filepath.Join(dir, "state"))+`
[profiles.ll.landlock]
[[profiles.ll.landlock.fs]]
path = "/etc/passwd"
access = ["read"]
[profiles.plain]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	pol, err := bugFront(global).LoadPolicy()
	if err != nil {
		t.Fatal(err)
	}
	agents := filepath.Join(dir, "state", "agents")
	if err := os.MkdirAll(agents, 0o700); err != nil {
		t.Fatal(err)
	}
	for id, prof := range map[string]string{"running": "ll", "other": "plain"} {
		cfg := `{"mode":"enforce","container":"` + id + `","profile":"` + prof + `"}`
		if err := os.WriteFile(recorder.ContainerConfig(agents, recorder.DenialKey(id)), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logged := []record.AuditEvent{{Container: "gone", Profile: "ll"}, {Container: "gone2", Profile: "plain"}}
	off := func() (bool, error) { return false, nil }
	got, aerr := landlockUnreported(pol, nil, logged, off)
	if aerr != nil || strings.Join(got, "; ") != "gone (profile ll); running (profile ll)" {
		t.Errorf("audit off: %q, %v", got, aerr)
	}
	if got, _ := landlockUnreported(pol, []string{"other"}, nil, off); got != nil {
		t.Errorf("a container without rules: %q", got)
	}
	if got, _ := landlockUnreported(pol, nil, logged, func() (bool, error) { return true, nil }); got != nil {
		t.Errorf("audit on: %q", got)
	}
	failed := errors.New("no permission")
	if got, aerr := landlockUnreported(pol, []string{"running"}, nil, func() (bool, error) { return false, failed }); len(got) != 1 || aerr != failed {
		t.Errorf("audit state unknown: %q, %v", got, aerr)
	}
}

// `runcage check` says whether Landlock denials can be reported here, from
// the audit state.
func TestLandlockDenialsStatus(t *testing.T) {
	for _, c := range []struct {
		on   bool
		err  error
		want string
	}{
		{true, nil, "reported"},
		{false, nil, "not reported: the kernel's audit is disabled"},
		{false, errors.New("permission denied"), "unknown: the kernel's audit state cannot be read (permission denied)"},
	} {
		got := landlockDenialsStatus(func() (bool, error) { return c.on, c.err })
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("audit %v, %v: %q, want %q...", c.on, c.err, got, c.want)
		}
	}
}

//go:build integration

// Package denials tests the repair loop with real runc on the Debian root
// filesystem: a profile that lacks a syscall the workload needs is
// enforced, the failure is named by `runcage denials` (container, profile,
// syscall, errno, executable, count) after the container is gone, `runcage
// profile widen` adds exactly that syscall, and the workload passes. The
// expected denial glibc makes on every pthread_create (clone3, answered
// ENOSYS in the kernel) never reaches the log.
package denials

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/record"
)

var (
	bin    integration.Binaries
	debian string
)

func TestMain(m *testing.M) {
	os.Exit(integration.DebianSuite("denials", &bin, &debian).Run(m))
}

// run runs script in a new container of profile on the read-only Debian
// rootfs, deletes it, and returns its result.
func run(e *integration.Lab, profile, id, script string) integration.Result {
	e.T.Helper()
	bundle := filepath.Join(e.Dir, "b-"+id)
	s := integration.BaseSpec(nil, "/bin/sh", "-c", script)
	s.Root.Path, s.Root.Readonly = debian, true
	integration.WriteBundle(e.T, bundle, s)
	rt := e.Runtime(profile)
	res := rt.Exec(2*time.Minute, "run", "--bundle", bundle, id)
	rt.Exec(time.Minute, "delete", "-f", id)
	return res
}

// The repair loop: enforce, see the denial named, widen, pass.
func TestDenialsRepairLoop(t *testing.T) {
	e := integration.NewLab(t, bin, "runcage-denials-", "")
	e.Runcage("profile", "merge", "--name", "web", "default")
	// The profile lacks getcwd, which realpath needs (pwd falls back).
	sc := filepath.Join(e.Dir, "profiles", "web", "seccomp.json")
	if err := integration.DropSyscall(sc, "getcwd"); err != nil {
		t.Fatal(err)
	}

	// redis-server starts its background threads at once: glibc tries
	// clone3 on every pthread_create, and the profile answers ENOSYS in
	// the kernel, so that it falls back to clone.
	const script = "timeout 1 redis-server --port 0 --save '' >/dev/null; cd /tmp && realpath ."
	res := run(e, "web", "den1", script)
	if res.Exit == 0 || !strings.Contains(res.Stderr+res.Stdout, "Operation not permitted") {
		t.Fatalf("control: realpath should fail without getcwd:\n%s", res)
	}
	// The container is gone; its denials are not.
	out := e.Runcage("denials", "--json", "den1")
	var evs []record.AuditEvent
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev record.AuditEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("denials --json printed %q: %v", line, err)
		}
		evs = append(evs, ev)
	}
	var found bool
	for _, ev := range evs {
		if ev.Syscall == "clone3" {
			t.Errorf("expected denial logged: %+v", ev)
		}
		if ev.Syscall == "getcwd" && ev.Exe == "/usr/bin/realpath" {
			found = true
			if ev.Container != "den1" || ev.Profile != "web" || ev.Errno != 1 || ev.Count < 1 || ev.Action != record.ActionDenied {
				t.Errorf("denial misnamed: %+v", ev)
			}
		}
	}
	if !found {
		t.Fatalf("getcwd by /usr/bin/realpath not in `runcage denials`:\n%s", out)
	}
	table := e.Runcage("denials", "den1")
	for _, want := range []string{"den1", "web", "getcwd", "EPERM", "/usr/bin/realpath"} {
		if !strings.Contains(table, want) {
			t.Errorf("denials table lacks %q:\n%s", want, table)
		}
	}

	in := filepath.Join(e.Dir, "den1.json")
	if err := os.WriteFile(in, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	widen := e.Runcage("profile", "widen", "web", in)
	if !strings.Contains(widen, "added getcwd") || strings.Count(widen, "added ") != 1 {
		t.Errorf("widen should add exactly getcwd:\n%s", widen)
	}
	again := e.Runcage("profile", "widen", "web", in)
	if !strings.Contains(again, "nothing added") {
		t.Errorf("a second widen should say it adds nothing:\n%s", again)
	}
	if res := run(e, "web", "den2", script); res.Exit != 0 {
		t.Fatalf("after widen:\n%s", res)
	}
	if out := e.Runcage("denials", "den2"); strings.Contains(out, "getcwd") {
		t.Errorf("getcwd still denied after widen:\n%s", out)
	}
}

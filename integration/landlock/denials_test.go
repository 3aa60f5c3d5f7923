//go:build integration

package landlock

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/record"
	"github.com/runcage/runcage/profiles/recorder"
	"github.com/runcage/runcage/profiles/seccomp"
)

// setAudit sets the kernel's audit subsystem on or off (AUDIT_SET over
// NETLINK_AUDIT, what `auditctl -e` does) and returns the kernel's answer.
func setAudit(on bool) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return fmt.Errorf("audit socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 2}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	// struct audit_status: mask, enabled, then eight more u32 fields.
	req := make([]byte, unix.NLMSG_HDRLEN+40)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.AUDIT_SET)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(req[8:], 1)
	binary.NativeEndian.PutUint32(req[unix.NLMSG_HDRLEN:], unix.AUDIT_STATUS_ENABLED)
	if on {
		binary.NativeEndian.PutUint32(req[unix.NLMSG_HDRLEN+4:], 1)
	}
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("audit set: %w", err)
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("audit set: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("audit set: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4 {
				if e := int32(binary.NativeEndian.Uint32(m.Data[0:4])); e != 0 {
					return fmt.Errorf("audit set: %w", unix.Errno(-e))
				}
				return nil
			}
		}
	}
}

// withAudit sets the host's audit to on for the rest of t, and back to what
// it was when t ends.
func withAudit(t *testing.T, on bool) {
	t.Helper()
	was, err := recorder.AuditEnabled()
	if err != nil {
		t.Fatalf("read the kernel's audit state: %v", err)
	}
	if err := setAudit(on); err != nil {
		t.Fatalf("set the kernel's audit to %v: %v", on, err)
	}
	t.Cleanup(func() {
		if err := setAudit(was); err != nil {
			t.Errorf("restore the kernel's audit to %v: %v", was, err)
		}
	})
	if now, err := recorder.AuditEnabled(); err != nil || now != on {
		t.Fatalf("the kernel's audit is %v (%v) after setting it to %v", now, err, on)
	}
}

// denialsLab is a Lab (its own state directory, denial agent and denials
// log) whose policy has the ll profile of rules.
func denialsLab(t *testing.T) (*integration.Lab, *env) {
	e := newEnv(t)
	lab := integration.NewLab(t, e.bin, "runcage-lldenials-", "[profiles.ll]\n"+strings.ReplaceAll(rules, "NAME", "ll"))
	return lab, e
}

// secret writes a world-readable file for a container's /etc.
func secret(t *testing.T, dir, name string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// landlockDenials returns the Landlock denials `runcage denials --json id`
// prints.
func landlockDenials(lab *integration.Lab, id string) []record.AuditEvent {
	lab.T.Helper()
	out := lab.Runcage("denials", "--json", id)
	var evs []record.AuditEvent
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var ev record.AuditEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			lab.T.Fatalf("denials --json printed %q: %v", line, err)
		}
		if ev.Landlock != nil {
			evs = append(evs, ev)
		}
	}
	return evs
}

// has reports whether evs hold a denial of access to target (a path, or
// a port as "tcp:PORT") by container id.
func has(evs []record.AuditEvent, id, access, target string) bool {
	for _, ev := range evs {
		l := ev.Landlock
		t := l.Path
		if l.Port != 0 {
			t = fmt.Sprintf("tcp:%d", l.Port)
		}
		if ev.Container == id && t == target && strings.Join(l.Access, ",") == access && ev.Count >= 1 && ev.Action == record.ActionDenied {
			return true
		}
	}
	return false
}

// TestLandlockDenialsReported: with the host's audit enabled, the Landlock
// denials of a container (its own process's and an exec'd process's: a
// file read and a port bind) are in `runcage denials` and its --json,
// attributed to that container and not to a second one running at the
// same time under the same profile, whose own denials are its alone.
func TestLandlockDenialsReported(t *testing.T) {
	withAudit(t, true)
	lab, e := denialsLab(t)
	rt := lab.Runtime("ll")
	hostA, hostB := secret(t, lab.Dir, "secret-a"), secret(t, lab.Dir, "secret-b")
	opt := integration.RootfsOptions{Extra: map[string]string{"/etc/secret-a": hostA, "/etc/secret-b": hostB}}
	a, b := newID(), newID()
	// Each container reads its own secret and binds its own port, both
	// denied, and keeps running; the other's are never touched by it.
	rt.CreateStart(t, e.bundle(spec("sh", "-c", "cat /etc/secret-a; /bin/bindtest 8081; exec sleep 60"), opt), a)
	rt.CreateStart(t, e.bundle(spec("sh", "-c", "cat /etc/secret-b; /bin/bindtest 8082; exec sleep 60"), opt), b)
	// An exec'd process has a Landlock domain of its own.
	if r := rt.Exec(timeout, "exec", a, "cat", "/etc/group"); r.Exit == 0 || !strings.Contains(r.Stderr, "Permission denied") {
		t.Fatalf("exec cat /etc/group under ll: %s", r)
	}

	wantA := [][3]string{{a, "read", "/etc/secret-a"}, {a, "bind", "tcp:8081"}, {a, "read", "/etc/group"}}
	wantB := [][3]string{{b, "read", "/etc/secret-b"}, {b, "bind", "tcp:8082"}}
	var evsA, evsB []record.AuditEvent
	err := integration.WaitFor(20*time.Second, func() error {
		evsA, evsB = landlockDenials(lab, a), landlockDenials(lab, b)
		for _, w := range wantA {
			if !has(evsA, w[0], w[1], w[2]) {
				return fmt.Errorf("%s: no %s %s denial", w[0], w[1], w[2])
			}
		}
		for _, w := range wantB {
			if !has(evsB, w[0], w[1], w[2]) {
				return fmt.Errorf("%s: no %s %s denial", w[0], w[1], w[2])
			}
		}
		return nil
	})
	if err != nil {
		agents, _ := filepath.Glob(filepath.Join(lab.Dir, "state", "agents", "*"))
		t.Fatalf("%v\ndenials of %s: %+v\ndenials of %s: %+v\nagents directory: %v\ndenials log:\n%s\nlog:\n%s", err, a, evsA, b, evsB,
			agents, integration.FileText(filepath.Join(lab.Dir, "denials.log")), integration.FileText(rt.Log))
	}
	// Nothing of one container is the other's.
	for _, w := range wantB {
		if has(evsA, a, w[1], w[2]) {
			t.Errorf("%s's denial %s %s attributed to %s", b, w[1], w[2], a)
		}
	}
	for _, w := range wantA {
		if has(evsB, b, w[1], w[2]) {
			t.Errorf("%s's denial %s %s attributed to %s", a, w[1], w[2], b)
		}
	}
	for _, ev := range append(evsA, evsB...) {
		if ev.Profile != "ll" || ev.Errno != 13 || ev.Exe == "" || ev.Pid == 0 {
			t.Errorf("denial misnamed: %+v %+v", ev, *ev.Landlock)
		}
	}

	table := lab.Runcage("denials", a)
	t.Logf("runcage denials %s:\n%s", a, table)
	for _, want := range []string{"Landlock denials", a, "ll", "read", "/etc/secret-a", "bind", "tcp port 8081", "/etc/group", "/bin/bindtest"} {
		if !strings.Contains(table, want) {
			t.Errorf("denials table lacks %q:\n%s", want, table)
		}
	}
	for _, not := range []string{"secret-b", "8082", "not reported"} {
		if strings.Contains(table, not) {
			t.Errorf("denials table of %s holds %q:\n%s", a, not, table)
		}
	}
}

// TestLandlockDenialsAuditDisabled: with the host's audit disabled the
// kernel reports no Landlock denial, and `runcage denials` says so for a
// container whose profile has Landlock rules, with what the workload sees
// and how to turn reporting on; for one without rules it says nothing of
// it.
func TestLandlockDenialsAuditDisabled(t *testing.T) {
	withAudit(t, false)
	lab, e := denialsLab(t)
	confined, plain := newID(), newID()
	lab.Runtime("ll").CreateStart(t, e.bundle(spec("sh", "-c", "cat /etc/group; exec sleep 60"), integration.RootfsOptions{}), confined)
	lab.Runtime("default").CreateStart(t, e.bundle(spec("sleep", "60"), integration.RootfsOptions{}), plain)

	out := lab.Runcage("denials", confined)
	t.Logf("runcage denials %s:\n%s", confined, out)
	for _, want := range []string{
		"Landlock denials of " + confined + " (profile ll) are not reported on this host",
		"the kernel's audit is disabled",
		"EACCES", "Permission denied",
		"auditctl -e 1", "audit=1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("denials %s lacks %q:\n%s", confined, want, out)
		}
	}
	if strings.Contains(out, "/etc/group") {
		t.Errorf("a denial is shown with audit disabled:\n%s", out)
	}
	if out := lab.Runcage("denials", plain); strings.Contains(out, "not reported") {
		t.Errorf("denials of a container without Landlock rules speaks of them:\n%s", out)
	}
	// --json keeps its output JSON lines and says it on stderr.
	res := integration.Runtime{Path: lab.Bin.Runcage, Env: []string{"RUNCAGE_CONFIG=" + lab.Policy}}.Exec(time.Minute, "denials", "--json", confined)
	if err := res.ExitError(); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(res.Stdout) != "" || !strings.Contains(res.Stderr, "auditctl -e 1") {
		t.Errorf("denials --json with audit disabled: %s", res)
	}
}

// TestLandlockDenialsWidenLoop: the loop the denials exist for. A profile
// generated from a recording that read /etc/passwd and bound TCP 8080
// denies the workload /etc/secret-a and TCP 8081; `runcage denials --json`
// names both, `runcage profile widen` grants exactly them, and the
// workload then passes, with no Landlock denial left.
func TestLandlockDenialsWidenLoop(t *testing.T) {
	withAudit(t, true)
	lab, e := denialsLab(t)
	syscalls := map[string]uint64{}
	for _, n := range seccomp.AllowedSyscalls(seccomp.Default()) {
		syscalls[n] = 1
	}
	tr := map[string]any{
		"version": 1, "name": "gen", "source": "runcage", "complete": true, "syscalls": syscalls,
		"files": []map[string]string{{"path": "/etc/passwd", "access": "r"}, {"path": "/bin/busybox", "access": "x"}, {"path": "/bin/bindtest", "access": "x"}},
		"ports": []map[string]any{{"use": "bind", "family": "AF_INET", "port": 8080}}, "ports_and_listings": true,
	}
	data, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(lab.Dir, "gen.json")
	if err := os.WriteFile(trace, data, 0o644); err != nil {
		t.Fatal(err)
	}
	lab.Runcage("profile", "generate", "--name", "gen", "--profiles-dir", lab.Profiles, trace)
	opt := integration.RootfsOptions{Extra: map[string]string{"/etc/secret-a": secret(t, lab.Dir, "secret-a")}}
	const work = "cat /etc/passwd >/dev/null && echo passwd=ok; cat /etc/secret-a; /bin/bindtest 8080 8081"
	run := func() (integration.Result, string) {
		id := newID()
		rt := lab.Runtime("gen")
		rt.DeleteLater(t, id)
		return rt.Exec(timeout, "run", "--bundle", e.bundle(spec("sh", "-c", work), opt), id), id
	}
	res, id := run()
	if !strings.Contains(res.Stderr, "Permission denied") || !strings.Contains(res.Stdout, "bind8081=errno 13") || !strings.Contains(res.Stdout, "bind8080=ok") || !strings.Contains(res.Stdout, "passwd=ok") {
		t.Fatalf("the generated profile should deny /etc/secret-a and TCP 8081: %s", res)
	}
	var out string
	err = integration.WaitFor(20*time.Second, func() error {
		out = lab.Runcage("denials", "--json", id)
		if evs := landlockDenials(lab, id); !has(evs, id, "read", "/etc/secret-a") {
			return fmt.Errorf("no read /etc/secret-a denial")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	in := filepath.Join(lab.Dir, "denials.json")
	if err := os.WriteFile(in, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	widen := lab.Runcage("profile", "widen", "--profiles-dir", lab.Profiles, "gen", in)
	if !strings.Contains(widen, "added Landlock path /etc/secret-a: read") || !strings.Contains(widen, "added Landlock TCP bind port 8081") {
		t.Fatalf("widen:\n%s", widen)
	}
	res, id = run()
	if res.Exit != 0 || !strings.Contains(res.Stdout, "secret-a") || !strings.Contains(res.Stdout, "bind8081=ok") || strings.Contains(res.Stderr, "Permission denied") {
		t.Fatalf("after widen: %s", res)
	}
	time.Sleep(time.Second)
	if evs := landlockDenials(lab, id); len(evs) != 0 {
		t.Errorf("Landlock denials after widen: %+v", evs)
	}
}

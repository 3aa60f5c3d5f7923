//go:build integration

package adversarial

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
)

// stateHostDir makes a root-owned host directory under e.Dir holding a
// root-only file, as /etc holds /etc/shadow.
func stateHostDir(e *Env, name string) string {
	e.T.Helper()
	d := filepath.Join(e.Dir, name)
	os.RemoveAll(d) // fresh for each run: the control's files stay out of the proof
	if err := os.MkdirAll(d, 0o755); err != nil {
		e.T.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "secret"), []byte("host-secret\n"), 0o600); err != nil {
		e.T.Fatal(err)
	}
	return d
}

// TestHostFilesAdversarial: class 3. A bind of a host directory that is not
// under a volume root keeps its host ids: the container's root has no more
// power over it than an unprivileged host user.
func TestHostFilesAdversarial(t *testing.T) {
	RunCases(t, []Case{
		{
			Name: "read-root-only-file-in-bind", Class: 3, Expect: Contained,
			Script: `cat /h/secret 2>/dev/null | grep -q host-secret && echo ` + Pwned + `; true`,
			Mutate: func(e *Env, s *specs.Spec) { s.Mounts = append(s.Mounts, Bind(stateHostDir(e, "hostdir"), "/h")) },
		},
		{
			Name: "append-to-root-0600-file-in-bind", Class: 3, Expect: Contained,
			Script: `echo appended >>/h/secret 2>/dev/null && echo ` + Pwned + `; true`,
			Mutate: func(e *Env, s *specs.Spec) { s.Mounts = append(s.Mounts, Bind(stateHostDir(e, "hostdir"), "/h")) },
		},
		{
			Name: "create-file-owned-by-host-root-in-bind", Class: 3, Expect: Contained,
			Script: `cp /bin/busybox /h/sh 2>/dev/null; true`,
			Mutate: func(e *Env, s *specs.Spec) { s.Mounts = append(s.Mounts, Bind(stateHostDir(e, "hostdir"), "/h")) },
			Proof: func(e *Env, res integration.Result) bool {
				var st syscall.Stat_t
				return syscall.Stat(filepath.Join(e.Dir, "hostdir", "sh"), &st) == nil && st.Uid == 0
			},
		},
		{
			// In a volume root the container's root owns what it writes
			// as host root does: setting the set-user-ID bit there must
			// fail, or the file is a host-root setuid binary.
			Name: "setuid-file-in-volume-root", Class: 3, Expect: Contained,
			Script: `cp /bin/busybox /vol/sh && chmod 4755 /vol/sh; true`,
			Policy: func(e *Env) string {
				return "volume_roots = [" + strconv.Quote(filepath.Join(e.Dir, "volumes")) + "]\n"
			},
			Mutate: func(e *Env, s *specs.Spec) {
				v := filepath.Join(e.Dir, "volumes", "v1")
				os.RemoveAll(v)
				if err := os.MkdirAll(v, 0o755); err != nil {
					e.T.Fatal(err)
				}
				s.Mounts = append(s.Mounts, Bind(v, "/vol"))
			},
			Proof: func(e *Env, res integration.Result) bool {
				var st syscall.Stat_t
				err := syscall.Stat(filepath.Join(e.Dir, "volumes", "v1", "sh"), &st)
				return err == nil && st.Uid == 0 && st.Mode&syscall.S_ISUID != 0
			},
		},
	})
}

// TestWritableBundle: class 9. A bundle another host user can write to is
// refused: that user could replace config.json after runcage's rewrite.
func TestWritableBundle(t *testing.T) {
	e := NewEnv(t, "")
	b := e.Bundle("open", Spec("true"), nil, integration.RootfsOptions{})
	if err := os.Chmod(b, 0o777); err != nil {
		t.Fatal(err)
	}
	// Control: an unprivileged host user can replace config.json there.
	out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"sh", "-c", `mv "$1/config.json" "$1/stolen" && mv "$1/stolen" "$1/config.json" && echo `+Pwned, "sh", b).CombinedOutput()
	if err != nil || !strings.Contains(string(out), Pwned) {
		t.Fatalf("control: user 65534 could not replace config.json in a 0777 bundle (%v): %s", err, out)
	}
	rt := e.Runcage("")
	res := e.Run(rt, b)
	if msg := LastError(rt); res.Exit == 0 || !strings.Contains(msg, "writable by") {
		t.Fatalf("runcage ran a bundle others can write: %s\nlog: %s", res, msg)
	}
	// The same bundle made private runs.
	if err := os.Chmod(b, 0o755); err != nil {
		t.Fatal(err)
	}
	if res := e.Run(rt, b); res.Exit != 0 {
		t.Fatalf("private bundle: %s\nlog: %s", res, readFile(rt.Log))
	}
}

// TestStateByIdentity: class 8. A container's record is found under any
// spelling of its runc root, and a second root cannot create, delete or
// undo the same id.
func TestStateByIdentity(t *testing.T) {
	e := NewEnv(t, "")
	rt := e.Runcage("")
	id := e.Start(rt, "victim", Spec("sleep 600"))

	alias := filepath.Join(e.Dir, "root-alias")
	if err := os.Symlink(rt.Root, alias); err != nil {
		t.Fatal(err)
	}
	capsExec := []string{"exec", "--cap", "CAP_SYS_ADMIN", id, "sh", "-c", capsScript}

	// Control: plain runc's exec adds the capability to the container.
	ctl := integration.Runtime{Name: "runc", Path: e.Bin.Runc, Root: rt.Root}
	if res := ctl.Exec(invokeTimeout, capsExec...); !strings.Contains(res.Stdout, Pwned) {
		t.Fatalf("control: runc exec --cap did not add a capability: %s", res)
	}

	// The alias spelling of the root, with a weaker profile asked for:
	// the container's record (profile default) still decides.
	weak := e.Runcage("passthrough")
	weak.Root = alias
	res := weak.Exec(invokeTimeout, capsExec...)
	if strings.Contains(res.Stdout, Pwned) || res.Exit == 0 {
		t.Fatalf("exec through a root alias with --runcage-profile passthrough got capabilities: %s\nlog: %s", res, readFile(weak.Log))
	}

	// Another root: create of the same id is refused, delete leaves the
	// victim's mounts and ids alone.
	other := e.Runcage("")
	other.Root = filepath.Join(e.Dir, "root-other")
	b2 := e.Bundle("attacker", Spec("true"), nil, integration.RootfsOptions{})
	if res := other.Exec(invokeTimeout, "create", "--bundle", b2, id); res.Exit == 0 {
		other.Exec(invokeTimeout, "delete", "--force", id)
		t.Fatalf("create of a live id under another root was accepted: %s", res)
	} else if msg := LastError(other); !strings.Contains(msg, "another runc root") {
		t.Errorf("refusal %q does not say the id is in use under another root", msg)
	}
	other.Exec(invokeTimeout, "delete", "--force", id)
	if res := rt.Exec(invokeTimeout, "exec", id, "cat", "/etc/passwd"); res.Exit != 0 || !strings.Contains(res.Stdout, "root:") {
		t.Fatalf("victim lost its rootfs after a delete under another root: %s", res)
	}
	entries, _ := filepath.Glob(filepath.Join(e.StateDir, "userns", "*"))
	if len(entries) == 0 {
		t.Fatalf("victim's id allocation is gone from %s", e.StateDir)
	}
}

// TestTenantsAdversarial: class 7. A bundle's own id mappings must stay
// inside runcage's pool: below it live host accounts.
func TestTenantsAdversarial(t *testing.T) {
	RunCases(t, []Case{
		{
			Name: "own-mapping-onto-host-accounts", Class: 7, Expect: Refused,
			Want:   []string{"outside runcage's id pool"},
			Script: `cat /mnt/private 2>/dev/null | grep -q user-1000 && echo ` + Pwned + `; true`,
			Mutate: func(e *Env, s *specs.Spec) {
				d := filepath.Join(e.Dir, "home")
				os.RemoveAll(d)
				if err := os.MkdirAll(d, 0o755); err != nil {
					e.T.Fatal(err)
				}
				f := filepath.Join(d, "private")
				if err := os.WriteFile(f, []byte("user-1000\n"), 0o600); err != nil {
					e.T.Fatal(err)
				}
				if err := os.Chown(f, 1000, 1000); err != nil {
					e.T.Fatal(err)
				}
				m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1, Size: 65536}}
				s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
				s.Process.User = specs.User{UID: 999, GID: 999}
				s.Mounts = append(s.Mounts, Bind(d, "/mnt"))
			},
		},
	})
}

// TestSandboxAnnotationAlone: class 7. Naming another pod's sandbox in
// io.kubernetes.cri.sandbox-id, without joining its namespaces, must not
// hand over that pod's id range.
func TestSandboxAnnotationAlone(t *testing.T) {
	e := NewEnv(t, "")
	rt := e.Runcage("")
	victim := e.Start(rt, "victim", Spec("sleep 600"))
	vmap := rt.Exec(invokeTimeout, "exec", victim, "cat", "/proc/self/uid_map")
	if vmap.Exit != 0 || strings.TrimSpace(vmap.Stdout) == "" {
		t.Fatalf("victim uid_map: %s", vmap)
	}
	// No control: the shared range is runcage's own state; plain runc
	// gives a container no range at all.
	s := Spec("cat /proc/self/uid_map")
	s.Annotations = map[string]string{"io.kubernetes.cri.sandbox-id": victim}
	res := e.Run(rt, e.Bundle("attacker", s, nil, integration.RootfsOptions{}))
	if res.Exit != 0 {
		t.Fatalf("attacker did not run: %s\nlog: %s", res, readFile(rt.Log))
	}
	if strings.Fields(res.Stdout)[1] == strings.Fields(vmap.Stdout)[1] {
		t.Fatalf("a container naming the victim's sandbox got its id range: %q", res.Stdout)
	}
}

// TestConcurrentCreatesOfOneID: class 8. Concurrent creates of one id
// serialize: one container lives, with its rootfs mount and its ids, and
// the losers undo nothing of it.
func TestConcurrentCreatesOfOneID(t *testing.T) {
	e := NewEnv(t, "")
	rt := e.Runcage("")
	rt.Log = ""
	id := NewID()
	const n = 6
	bundles := make([]string, n)
	for i := range bundles {
		bundles[i] = e.Bundle("b"+strconv.Itoa(i), Spec("sleep 600"), nil, integration.RootfsOptions{})
	}
	t.Cleanup(func() { rt.Exec(invokeTimeout, "delete", "--force", id) })
	results := make(chan integration.Result, n)
	for _, b := range bundles {
		go func() { results <- rt.Exec(invokeTimeout, "run", "-d", "--bundle", b, id) }()
	}
	won := 0
	var lost []string
	for range bundles {
		if res := <-results; res.Exit == 0 {
			won++
		} else {
			lost = append(lost, res.Stderr)
		}
	}
	t.Logf("losers: %q", lost)
	if won != 1 {
		t.Fatalf("%d of %d concurrent creates of one id succeeded, want 1", won, n)
	}
	if res := rt.Exec(invokeTimeout, "exec", id, "cat", "/etc/passwd"); res.Exit != 0 || !strings.Contains(res.Stdout, "root:") {
		t.Fatalf("the live container lost its rootfs: %s", res)
	}
	if res := rt.Exec(invokeTimeout, "exec", id, "cat", "/proc/self/uid_map"); res.Exit != 0 || strings.HasPrefix(strings.TrimSpace(res.Stdout), "0 0 ") {
		t.Fatalf("the live container has no user namespace of its own: %s", res)
	}
	b, err := os.ReadFile(filepath.Join(e.StateDir, "userns", "allocations.json"))
	if err != nil || !strings.Contains(string(b), id) {
		t.Fatalf("the live container's allocation is gone (%v): %s", err, b)
	}
}

// TestOtherVerbsAdversarial: update cannot lift a profile's limit, and
// restore takes create's path, so a hostile bundle is refused there too.
func TestOtherVerbsAdversarial(t *testing.T) {
	e := NewEnv(t, "[profiles.default]\npids_limit = 64\n")
	rt := e.Runcage("")
	id := e.Start(rt, "capped", Spec("sleep 600"))
	res := rt.Exec(invokeTimeout, "update", "--pids-limit", "100000", id)
	if res.Exit == 0 || !strings.Contains(LastError(rt), "pids limit 100000 refused") {
		t.Errorf("update lifted the profile's pids limit: %s\nlog: %s", res, LastError(rt))
	}
	res = rt.Exec(invokeTimeout, "update", "--pids-limit", "32", id)
	if res.Exit != 0 {
		t.Errorf("update within the profile's limit refused: %s\nlog: %s", res, LastError(rt))
	}
	// Control: plain runc on the same container lifts it.
	ctl := integration.Runtime{Name: "runc", Path: e.Bin.Runc, Root: rt.Root}
	if res := ctl.Exec(invokeTimeout, "update", "--pids-limit", "100000", id); res.Exit != 0 {
		t.Errorf("control: runc update refused: %s", res)
	}

	// restore: criu is not needed to see the refusal, which comes first.
	s := Spec("true")
	s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"lo": {}}
	hb := e.Bundle("hostile-restore", s, nil, integration.RootfsOptions{})
	res = rt.Exec(invokeTimeout, "restore", "--image-path", filepath.Join(e.Dir, "no-image"), "--bundle", hb, NewID())
	if res.Exit == 0 || !strings.Contains(LastError(rt), `"linux.netDevices" refused`) {
		t.Errorf("restore of a bundle with linux.netDevices was not refused by runcage: %s\nlog: %s", res, LastError(rt))
	}
}

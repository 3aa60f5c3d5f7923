//go:build integration

// Package landlock proves runcage's Landlock enforcement on real runc: a
// profile with Landlock rules confines the container's process and every
// process exec'd into it, through the static helper runcage binds into the
// container (cmd/runcage-landlock), and each check passes under default,
// which has no Landlock rules, so that every denial is the rules' doing.
package landlock

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	stdslices "slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/seccomp"
)

const timeout = 60 * time.Second

var ids atomic.Int64

func TestMain(m *testing.M) {
	os.Exit(integration.Suite{Name: "landlock", Needs: "it starts real containers"}.Run(m))
}

// rules are the Landlock rules under test, for a profile NAME: read
// /etc/passwd, execute /bin, read and write /dev/null, create and write in
// /var, bind TCP 8080 (and a path that does not exist, which grants nothing).
const rules = `
[profiles.NAME.landlock]
require = "required"
bind = [8080]
[[profiles.NAME.landlock.fs]]
path = "/etc/passwd"
access = ["read"]
[[profiles.NAME.landlock.fs]]
path = "/bin"
access = ["execute"]
[[profiles.NAME.landlock.fs]]
path = "/dev/null"
access = ["read", "write"]
[[profiles.NAME.landlock.fs]]
path = "/var"
access = ["create", "write"]
[[profiles.NAME.landlock.fs]]
path = "/no/such/dir"
access = ["read"]
`

// profiles are ll (runtime/default plus rules) and llsc (rules, and a
// seccomp file of its own that does not allow Landlock's syscalls, as a
// generated filter may not: runcage must allow them for the helper).
func profilesText(seccompFile string) string {
	return "[profiles.ll]\n" + strings.ReplaceAll(rules, "NAME", "ll") +
		"[profiles.llsc]\nseccomp = " + strconv.Quote(seccompFile) + "\n" + strings.ReplaceAll(rules, "NAME", "llsc")
}

// script runs the checks and prints one key=result line for each.
const script = `
try() { k=$1; shift; if out=$("$@" 2>&1); then echo "$k=ok"; else echo "$k=$out"; fi; }
try read-passwd cat /etc/passwd
try read-group cat /etc/group
try write-var sh -c 'echo x > /var/ok'
try write-tmp sh -c 'echo x > /tmp/no'
/bin/bindtest 8080 8081
`

type env struct {
	t      *testing.T
	bin    integration.Binaries
	dir    string
	policy string
	bindt  string
	probe  string
}

func newEnv(t *testing.T) *env {
	bin, err := integration.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(filepath.Dir(bin.Runcage), "runcage-landlock")
	if _, err := os.Stat(helper); err != nil {
		t.Fatalf("the Landlock helper must be beside runcage (make build, or gcc -static -o %s cmd/runcage-landlock/main.c): %v", helper, err)
	}
	dir := integration.TempDir(t, "runcage-ll-")
	e := &env{t: t, bin: bin, dir: dir}
	sc := filepath.Join(dir, "seccomp-no-landlock.json")
	writeFilterWithoutLandlock(t, sc)
	e.policy = integration.PolicyFile(t, dir, "runtime = "+strconv.Quote(bin.Runc)+"\nstate_dir = "+strconv.Quote(filepath.Join(dir, "state"))+"\n"+profilesText(sc))
	e.bindt = filepath.Join(dir, "bindtest")
	root, err := integration.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	e.probe = filepath.Join(dir, "sysprobe")
	for out, src := range map[string]string{e.bindt: "bindtest.c", e.probe: "sysprobe.c"} {
		if b, err := exec.Command("gcc", "-static", "-O2", "-o", out, filepath.Join(root, "integration/landlock/testdata", src)).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v: %s", src, err, b)
		}
	}
	return e
}

// writeFilterWithoutLandlock writes runtime/default without Landlock's
// three syscalls to path.
func writeFilterWithoutLandlock(t *testing.T, path string) {
	f := seccomp.Default()
	for i := range f.Syscalls {
		f.Syscalls[i].Names = stdslices.DeleteFunc(f.Syscalls[i].Names, func(n string) bool { return strings.HasPrefix(n, "landlock_") })
	}
	for _, n := range []string{"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"} {
		if stdslices.Contains(seccomp.AllowedSyscalls(f), n) {
			t.Fatalf("the test filter still allows %s", n)
		}
	}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *env) runcage(profile string) integration.Runtime {
	return e.bin.RuncageIn(e.dir, profile, []string{"RUNCAGE_CONFIG=" + e.policy})
}

// bundle writes a busybox bundle with /bin/bindtest and /bin/sysprobe
// running s.
func (e *env) bundle(s *specs.Spec, opt integration.RootfsOptions) string {
	e.t.Helper()
	dir, err := os.MkdirTemp(e.dir, "bundle-")
	if err != nil {
		e.t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if opt.Extra == nil {
		opt.Extra = map[string]string{}
	}
	opt.Extra["/bin/bindtest"] = e.bindt
	opt.Extra["/bin/sysprobe"] = e.probe
	if err := integration.BuildRootfs(filepath.Join(dir, "rootfs"), opt); err != nil {
		e.t.Fatal(err)
	}
	integration.WriteBundle(e.t, dir, s)
	return dir
}

func newID() string {
	return "ll-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(ids.Add(1), 10)
}

// run runs s to completion under rt and returns the result.
func (e *env) run(rt integration.Runtime, s *specs.Spec, opt integration.RootfsOptions) integration.Result {
	e.t.Helper()
	b := e.bundle(s, opt)
	id := newID()
	rt.DeleteLater(e.t, id)
	return rt.Exec(timeout, "run", "--bundle", b, id)
}

func results(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func spec(args ...string) *specs.Spec {
	return integration.BaseSpec(nil, args...)
}

func TestLandlockConfines(t *testing.T) {
	e := newEnv(t)
	denied := map[string]string{
		"read-passwd": "ok",
		"read-group":  "Permission denied",
		"write-var":   "ok",
		"write-tmp":   "Permission denied",
		"bind8080":    "ok",
		"bind8081":    "errno 13",
	}
	want := map[string]map[string]string{
		"ll":   denied,
		"llsc": denied,
		"default": {
			"read-passwd": "ok", "read-group": "ok", "write-var": "ok", "write-tmp": "ok", "bind8080": "ok", "bind8081": "ok",
		},
	}
	for _, prof := range []string{"ll", "llsc", "default"} {
		t.Run(prof, func(t *testing.T) {
			rt := e.runcage(prof)
			res := e.run(rt, spec("sh", "-c", script), integration.RootfsOptions{})
			if res.Exit != 0 {
				t.Fatalf("%s\nlog: %s", res, integration.FileText(rt.Log))
			}
			got := results(res.Stdout)
			for k, v := range want[prof] {
				if !strings.Contains(got[k], v) {
					t.Errorf("%s: %s = %q, want %q\n%s", prof, k, got[k], v, res)
				}
			}
		})
	}
}

// TestLandlockKeepsTheWorkloadFilter: the helper needs Landlock's calls,
// which llsc's own filter denies; runcage allows them for the helper and
// the helper denies them again before it execs the workload, so the
// workload (and an exec'd process) gets what the profile's filter gives,
// as under plain runc with that filter (the control), while ll, whose
// filter allows them, gets them.
func TestLandlockKeepsTheWorkloadFilter(t *testing.T) {
	e := newEnv(t)
	// landlock_create_ruleset(NULL, 0, VERSION) and
	// landlock_restrict_self(-1, 0): EPERM where the filter denies them.
	probe := []string{"/bin/sysprobe", "create=444:0:0:1", "restrict=446:-1:0"}
	filter, err := os.ReadFile(filepath.Join(e.dir, "seccomp-no-landlock.json"))
	if err != nil {
		t.Fatal(err)
	}
	control := spec(probe...)
	if err := json.Unmarshal(filter, &control.Linux.Seccomp); err != nil {
		t.Fatal(err)
	}
	runc := e.bin.RuncIn(e.dir)
	res := e.run(runc, control, integration.RootfsOptions{})
	if got := results(res.Stdout); res.Exit != 0 || got["create"] != "errno 1" || got["restrict"] != "errno 1" {
		t.Fatalf("control: plain runc with llsc's filter: %s", res)
	}
	for prof, want := range map[string]map[string]string{
		"llsc": {"create": "errno 1", "restrict": "errno 1"},
		"ll":   {"create": "ok", "restrict": "errno 9"},
	} {
		t.Run(prof, func(t *testing.T) {
			rt := e.runcage(prof)
			b := e.bundle(spec(append([]string{"sh", "-c", `"$@"; exec sleep 60`, "sh"}, probe...)...), integration.RootfsOptions{})
			id := newID()
			rt.CreateStart(t, b, id)
			check := func(what string, r integration.Result) {
				got := results(r.Stdout)
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s under %s: %s = %q, want %q\n%s", what, prof, k, got[k], v, r)
					}
				}
			}
			check("exec", rt.Exec(timeout, append([]string{"exec", id}, probe...)...))
			check("init", e.run(rt, spec(probe...), integration.RootfsOptions{}))
		})
	}
}

// TestLandlockExec: a process exec'd into a confined container is
// confined too, given on the command line or as a --process file (as the
// containerd shim and Docker do).
func TestLandlockExec(t *testing.T) {
	e := newEnv(t)
	for _, prof := range []string{"ll", "default"} {
		t.Run(prof, func(t *testing.T) {
			rt := e.runcage(prof)
			b := e.bundle(spec("sleep", "60"), integration.RootfsOptions{})
			id := newID()
			rt.CreateStart(t, b, id)
			res := rt.Exec(timeout, "exec", id, "cat", "/etc/group")
			proc := spec("cat", "/etc/group").Process
			pf := filepath.Join(e.dir, "process-"+id+".json")
			data, err := json.Marshal(proc)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(pf, data, 0o600); err != nil {
				t.Fatal(err)
			}
			res2 := rt.Exec(timeout, "exec", "--process", pf, id)
			for _, r := range []integration.Result{res, res2} {
				denied := strings.Contains(r.Stderr, "Permission denied")
				if prof == "ll" && (r.Exit == 0 || !denied) {
					t.Errorf("exec under ll read /etc/group: %s", r)
				}
				if prof == "default" && r.Exit != 0 {
					t.Errorf("exec under default: %s", r)
				}
			}
			if r := rt.Exec(timeout, "exec", id, "cat", "/etc/passwd"); r.Exit != 0 {
				t.Errorf("exec cat /etc/passwd: %s", r)
			}
		})
	}
}

// TestLandlockExecKeepsCreateRules: an exec applies the rules its
// container was created with, not the profile's rules of the moment. A
// profile widened after create does not widen the running container's
// exec'd processes, and a container created before its profile had rules
// (so without the helper) can still be exec'd into, as confined as its
// own processes are.
func TestLandlockExecKeepsCreateRules(t *testing.T) {
	e := newEnv(t)
	base := "runtime = " + strconv.Quote(e.bin.Runc) + "\nstate_dir = " + strconv.Quote(filepath.Join(e.dir, "state")) + "\n"
	policy := filepath.Join(e.dir, "changing.toml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(policy, []byte(base+text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rt := func(prof string) integration.Runtime {
		return e.bin.RuncageIn(e.dir, prof, []string{"RUNCAGE_CONFIG=" + policy})
	}
	// At create: "narrow" has the rules, "late" has none.
	write("[profiles.narrow]\n" + strings.ReplaceAll(rules, "NAME", "narrow") + "[profiles.late]\n")
	narrow, late := newID(), newID()
	rt("narrow").CreateStart(t, e.bundle(spec("sleep", "60"), integration.RootfsOptions{}), narrow)
	rt("late").CreateStart(t, e.bundle(spec("sleep", "60"), integration.RootfsOptions{}), late)

	// Then "narrow" is widened to read /etc too, and "late" gains rules.
	widened := strings.ReplaceAll(rules, "NAME", "narrow") + "[[profiles.narrow.landlock.fs]]\npath = \"/etc\"\naccess = [\"read\"]\n"
	write("[profiles.narrow]\n" + widened + "[profiles.late]\n" + strings.ReplaceAll(rules, "NAME", "late"))

	if r := rt("narrow").Exec(timeout, "exec", narrow, "cat", "/etc/group"); r.Exit == 0 || !strings.Contains(r.Stderr, "Permission denied") {
		t.Errorf("exec into a container created under the narrow rules read /etc/group after the profile was widened: %s", r)
	}
	if r := rt("narrow").Exec(timeout, "exec", narrow, "cat", "/etc/passwd"); r.Exit != 0 {
		t.Errorf("exec cat /etc/passwd under the create-time rules: %s", r)
	}
	// The control: a container created under the widened profile reads it.
	wide := newID()
	rt("narrow").CreateStart(t, e.bundle(spec("sleep", "60"), integration.RootfsOptions{}), wide)
	if r := rt("narrow").Exec(timeout, "exec", wide, "cat", "/etc/group"); r.Exit != 0 {
		t.Errorf("exec into a container created under the widened rules: %s", r)
	}
	// "late": created without the helper, exec'd like its own processes.
	if r := rt("late").Exec(timeout, "exec", late, "cat", "/etc/group"); r.Exit != 0 {
		t.Errorf("exec into a container created before its profile had rules: %s", r)
	}
}

// TestLandlockReadonlyRootfs: the helper is bound in /dev, so a read-only
// rootfs needs nothing created in it.
func TestLandlockReadonlyRootfs(t *testing.T) {
	e := newEnv(t)
	s := spec("sh", "-c", script)
	s.Root.Readonly = true
	rt := e.runcage("ll")
	res := e.run(rt, s, integration.RootfsOptions{})
	got := results(res.Stdout)
	if res.Exit != 0 || got["read-passwd"] != "ok" || !strings.Contains(got["read-group"], "Permission denied") {
		t.Fatalf("%s\nlog: %s", res, integration.FileText(rt.Log))
	}
}

// TestLandlockHostileBundles: bundles that would make the helper's bind
// land somewhere else, or be replaced, are refused with the reason. The
// control: plain runc runs the first two (a bind of its own at the
// helper's place, no tmpfs at /dev), so the refusal is runcage's.
func TestLandlockHostileBundles(t *testing.T) {
	e := newEnv(t)
	rt := e.runcage("ll")
	runc := e.bin.RuncIn(e.dir)
	planted := spec("true")
	planted.Mounts = append(planted.Mounts, specs.Mount{Destination: "/dev/.runcage-landlock", Type: "bind", Source: "/bin/true", Options: []string{"bind", "ro"}})
	noDev := spec("true")
	noDev.Mounts = without(noDev.Mounts, "/dev")
	for _, c := range []struct {
		name string
		s    *specs.Spec
		opt  integration.RootfsOptions
		want string
		// runcRuns: plain runc runs this bundle (the control).
		runcRuns bool
	}{
		{"a mount at the helper's place", planted, integration.RootfsOptions{}, "runcage binds its Landlock helper there", true},
		{"no tmpfs at /dev", noDev, integration.RootfsOptions{}, "without a tmpfs at /dev", true},
		{"/dev a symlink in the rootfs", spec("true"), integration.RootfsOptions{Symlinks: map[string]string{"/dev": "/tmp"}}, "/dev is a symlink", false},
		{"empty process.args", spec(), integration.RootfsOptions{}, "without process.args", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.runcRuns {
				if res := e.run(runc, c.s, c.opt); res.Exit != 0 {
					t.Fatalf("control: plain runc does not run this bundle either: %s\nlog: %s", res, integration.FileText(runc.Log))
				}
			}
			res := e.run(rt, c.s, c.opt)
			log := integration.FileText(rt.Log)
			if res.Exit == 0 || !strings.Contains(res.Stderr+log, c.want) {
				t.Fatalf("want a refusal with %q: %s\nlog: %s", c.want, res, log)
			}
			t.Logf("refused: %s", strings.TrimSpace(res.Stderr))
		})
	}
}

// without returns ms without the mounts at dest.
func without(ms []specs.Mount, dest string) []specs.Mount {
	var out []specs.Mount
	for _, m := range ms {
		if m.Destination != dest {
			out = append(out, m)
		}
	}
	return out
}

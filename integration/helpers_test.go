//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// invokeTimeout bounds every runtime invocation, so a hung container fails
// its test instead of the whole run.
const invokeTimeout = 60 * time.Second

var (
	// probe is /bin/probe, built once per test binary.
	probe     = ProbeOnce()
	idCounter atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	probe.Remove()
	uprobe.Remove()
	os.Exit(code)
}

// testEnv is one test's view of the binaries under test plus a private
// temporary directory for bundles, state roots and log files.
type testEnv struct {
	t   *testing.T
	bin Binaries
	dir string
	// policyEnv is added to every runcage invocation. It names $RUNC as the
	// delegate when $RUNC is not the bin/runc beside runcage, so that plain
	// runc and runcage are compared against the same runc.
	policyEnv []string
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("integration tests must run as root: they create real containers")
	}
	bin, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	dir := TempDir(t, "runcage-it-")
	e := &testEnv{t: t, bin: bin, dir: dir}
	if filepath.Join(filepath.Dir(bin.Runcage), "runc") != bin.Runc {
		e.policyEnv = []string{"RUNCAGE_CONFIG=" + e.policy("runtime = "+strconv.Quote(bin.Runc)+"\n")}
	}
	return e
}

// policy writes a runcage policy file with the given TOML text and returns
// its path.
func (e *testEnv) policy(toml string) string {
	e.t.Helper()
	return PolicyFile(e.t, e.dir, toml)
}

// runc returns plain runc with its own state root and log file.
func (e *testEnv) runc() Runtime {
	return e.bin.RuncIn(e.dir)
}

// runcage returns runcage with --runcage-profile profile (none if profile is
// empty, which selects the policy's default), its own state root and a log
// file named after the profile.
func (e *testEnv) runcage(profile string) Runtime {
	return e.bin.RuncageIn(e.dir, profile, e.policyEnv)
}

// bundle makes a bundle directory named name with a busybox rootfs
// (including /bin/probe) and config.json rendered from spec. It returns the
// directory and the exact config.json bytes written.
func (e *testEnv) bundle(name string, spec *specs.Spec, opt RootfsOptions) (string, []byte) {
	e.t.Helper()
	b, err := MarshalSpec(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.rawBundle(name, b, opt), b
}

// rawBundle is bundle with config.json given as bytes.
func (e *testEnv) rawBundle(name string, config []byte, opt RootfsOptions) string {
	e.t.Helper()
	dir := filepath.Join(e.dir, name)
	extra := map[string]string{"/bin/probe": probe.Path(e.t)}
	for k, v := range opt.Extra {
		extra[k] = v
	}
	opt.Extra = extra
	if err := BuildRootfs(filepath.Join(dir, "rootfs"), opt); err != nil {
		e.t.Fatal(err)
	}
	if err := WriteConfig(dir, config); err != nil {
		e.t.Fatal(err)
	}
	return dir
}

// newID returns a container id unique within this test process.
func newID() string {
	return fmt.Sprintf("rcit-%d-%d", os.Getpid(), idCounter.Add(1))
}

// deleteLater force-deletes container id with rt when the test ends. It uses
// the runtime's root but no log file, so cleanup never pollutes the logs a
// test asserts on.
func (e *testEnv) deleteLater(rt Runtime, id string) {
	rt.DeleteLater(e.t, id)
}

// run runs the bundle to completion with `run` (no -d, no terminal) and
// returns the result. The container is always deleted afterwards.
func (e *testEnv) run(rt Runtime, bundle string) Result {
	e.t.Helper()
	id := newID()
	e.deleteLater(rt, id)
	res := rt.Exec(invokeTimeout, "run", "--bundle", bundle, id)
	if res.Err != nil {
		e.t.Fatalf("%s: %v\n%s", rt.Name, res.Err, res)
	}
	return res
}

// mustRun is run that fails the test unless the exit status is want.
func (e *testEnv) mustRun(rt Runtime, bundle string, want int) Result {
	e.t.Helper()
	res := e.run(rt, bundle)
	if res.Exit != want {
		e.t.Fatalf("%s: want exit %d, got\n%s\nlog: %s", rt.Name, want, res, FileText(rt.Log))
	}
	return res
}

var statusRE = regexp.MustCompile(`(?m)^(Cap(?:Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp(?:_filters)?):\s+(\S+)\s*$`)

// statusLines parses the /proc/self/status lines a container printed.
func statusLines(out string) map[string]string {
	m := map[string]string{}
	for _, sm := range statusRE.FindAllStringSubmatch(out, -1) {
		m[sm[1]] = sm[2]
	}
	return m
}

var verdictRE = regexp.MustCompile(`(?m)^(probe|check) ([a-z_]+)=(\S+)`)

// verdicts parses "probe NAME=RESULT" and "check NAME=RESULT ..." lines into
// a map keyed by "probe NAME" / "check NAME".
func verdicts(out string) map[string]string {
	m := map[string]string{}
	for _, sm := range verdictRE.FindAllStringSubmatch(out, -1) {
		m[sm[1]+" "+sm[2]] = sm[3]
	}
	return m
}

// hardeningScript prints the capability, no_new_privs and seccomp lines of
// /proc/self/status, runs /bin/probe, then tries privileged operations with
// busybox and prints "check NAME=ok" or "check NAME=fail <error text>".
const hardeningScript = `
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp(_filters)?):' /proc/self/status
/bin/probe
chk() {
	n=$1; shift
	if "$@" >/tmp/chk.out 2>&1; then
		echo "check $n=ok"
	else
		echo "check $n=fail $(tr '\n' ' ' </tmp/chk.out)"
	fi
}
chk mount mount -t tmpfs none /mnt
chk unshare unshare -U true
chk mknod mknod /tmp/x c 1 3
chk ping ping -c 1 -W 1 127.0.0.1
echo done
`

// hardeningChecks are the names hardeningScript must report on.
var hardeningChecks = []string{
	"probe rawsock", "probe add_key", "probe keyctl", "probe mount", "probe mknod",
	"probe chown", "probe bpf",
	"check mount", "check unshare", "check mknod", "check ping",
}

func shSpec(caps []string, script string) *specs.Spec {
	return BaseSpec(caps, "sh", "-c", script)
}

// capSet is a kind of bundle every profile test runs with.
type capSet struct {
	name string
	caps []string
	nnp  bool // process.noNewPrivileges
}

func (cs capSet) spec(script string) *specs.Spec {
	s := shSpec(cs.caps, script)
	s.Process.NoNewPrivileges = cs.nnp
	return s
}

// capSets are the bundles `runc spec` writes (no_new_privs on) and the ones
// Docker and containerd write by default (no_new_privs off).
var capSets = []capSet{
	{"runc-spec-caps", RuncSpecCaps, true},
	{"docker-default-caps", DockerDefaultCaps, false},
}

// containsFold reports whether s contains sub, ignoring case.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

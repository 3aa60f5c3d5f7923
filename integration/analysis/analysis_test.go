//go:build integration

// Package analysis tests `runcage profile generate`'s completion by
// analysis with real runc on the Debian root filesystem: a workload is
// recorded under a short exercise, a profile is generated with and without
// --recorded-only, and the full exercise, which needs a syscall the short
// one never made, runs under each. Under the recorded-only profile it must
// fail (the control); under the analysed one it must pass, and the
// syscall's reason must be "static: ...".
//
// Workloads and exercises:
//   - nginx: short = GET /health (answered from memory) five times; full =
//     GET of a 6 MiB file, which nginx serves with sendfile.
//   - redis-server: short = PING; full = SET, then SAVE (the RDB file is
//     written, fsync'ed and renamed) and redis-benchmark.
//   - a static, stripped Go HTTP server built here (net/http): short =
//     GET /health; full = GET of a 6 MiB file, which Go serves with
//     sendfile. Its syscalls come from the pclntab.
package analysis

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/seccomp"
)

var (
	bin    integration.Binaries
	debian string
)

func TestMain(m *testing.M) {
	os.Exit(integration.DebianSuite("analysis", &bin, &debian).Run(m))
}

// env is one test's private directories and policy.
type env struct{ *integration.Lab }

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{integration.NewLab(t, bin, "runcage-analysis-", "")}
}

// bundle makes a bundle on an overlay of the Debian rootfs, with files
// added, running args as uid and gid 33 (runcage profiles keep no
// capabilities), recorded under the name rec.
func (e *env) bundle(name, rec string, files map[string][]byte, args ...string) string {
	e.T.Helper()
	return e.bundleMode(name, rec, files, 0o644, args...)
}

func (e *env) bundleMode(name, rec string, files map[string][]byte, mode os.FileMode, args ...string) string {
	e.T.Helper()
	bdir := filepath.Join(e.Dir, name)
	merged := integration.OverlayOn(e.T, debian, filepath.Join(bdir, "ovl"))
	integration.WriteFiles(e.T, merged, files, mode)
	if err := os.MkdirAll(filepath.Join(merged, "data"), 0o777); err != nil {
		e.T.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(merged, "data"), 0o777); err != nil {
		e.T.Fatal(err)
	}
	s := integration.BaseSpec(nil, args...)
	s.Root.Path = merged
	s.Process.User = specs.User{UID: 33, GID: 33}
	s.Annotations = map[string]string{"runcage.dev/recording-name": rec}
	integration.WriteBundle(e.T, bdir, s)
	return bdir
}

// start creates and starts a container and returns its id and pid.
func (e *env) start(rt integration.Runtime, bundle string) (string, int) {
	e.T.Helper()
	id := integration.NewID("ana")
	return id, rt.StartPid(e.T, bundle, id)
}

// stop kills the container and deletes it; the recorder marks a trace
// complete when the container is gone, however it ended.
func (e *env) stop(rt integration.Runtime, id string) {
	e.T.Helper()
	if err := rt.Stop(e.T, id, "KILL", 20*time.Second); err != nil {
		e.T.Fatalf("stop: %v", err)
	}
}

// generated is one generated profile as `runcage profile show` prints it.
type generated struct {
	Reasons map[string]string `json:"syscall_reasons"`
	Allowed []string          `json:"seccomp_allowed_syscalls"`
}

// generate writes profile name from the recording rec (with --recorded-only
// if recordedOnly) and returns what `runcage profile show` says of it.
func (e *env) generate(name, rec string, recordedOnly bool) generated {
	e.T.Helper()
	// The subject here is the syscall analysis; the short exercises never
	// read the servers' documents, so Landlock rules generated from them
	// would deny the full exercise for a reason this suite does not test
	// (integration/landlock and the record suite's round trips do).
	flags := []string{"--no-landlock"}
	if recordedOnly {
		flags = append(flags, "--recorded-only")
	}
	e.Generate(name, rec, flags...)
	var g generated
	out := e.Runcage("profile", "show", name)
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		e.T.Fatalf("profile show %s: %v\n%s", name, err, out)
	}
	if len(g.Allowed) == 0 || len(g.Reasons) != len(g.Allowed) {
		e.T.Fatalf("profile show %s: %d syscalls allowed, %d reasons", name, len(g.Allowed), len(g.Reasons))
	}
	return g
}

// maxServerSyscalls is the goal for a server's generated profile. The
// three servers of this suite stay within it since data is followed by
// block (redis: 121, was 130 with libsystemd's sd-bus callbacks counted).
const maxServerSyscalls = 130

// compare logs the sizes of the two profiles against runtime/default's and
// checks that the analysed profile stays within runtime/default, below half
// of it, within the goal of at most maxServerSyscalls, and that analysis
// added something.
func compare(t *testing.T, workload string, recOnly, full generated) {
	t.Helper()
	def := len(seccomp.AllowedSyscalls(seccomp.Default()))
	static := 0
	for _, r := range full.Reasons {
		if strings.HasPrefix(r, "static: ") {
			static++
		}
	}
	t.Logf("%s: recorded-only %d syscalls, with analysis %d (%d static), runtime/default %d",
		workload, len(recOnly.Allowed), len(full.Allowed), static, def)
	if b := seccomp.BeyondDefault(full.Allowed); len(b) != 0 {
		t.Errorf("%s: the analysed profile allows %v, beyond runtime/default", workload, b)
	}
	if 2*len(full.Allowed) >= def {
		t.Errorf("%s: the analysed profile allows %d syscalls: want less than half of %d", workload, len(full.Allowed), def)
	}
	if len(full.Allowed) > maxServerSyscalls {
		t.Errorf("%s: the analysed profile allows %d syscalls: want at most %d", workload, len(full.Allowed), maxServerSyscalls)
	}
	if static == 0 {
		t.Errorf("%s: analysis added nothing", workload)
	}
}

// webServer is an HTTP server on port 8080 whose short exercise is five
// GET /health (answered "ok\n" from memory) and whose full exercise is GET
// /big.bin, a 6 MiB file it serves with sendfile.
type webServer struct {
	name  string            // recording name and profile name prefix
	files map[string][]byte // added to the rootfs (and /srv/www/big.bin)
	mode  os.FileMode       // of the files added
	args  []string
	// reason is the prefix sendfile's reason must have.
	reason string
}

// run records the short exercise, generates with and without
// --recorded-only, and runs the full exercise under each: the
// recorded-only profile must cut the file (the control), the analysed one
// must serve it whole, with sendfile allowed for a static reason.
func (w webServer) run(t *testing.T, e *env) {
	t.Helper()
	big := make([]byte, 6<<20)
	for i := range big {
		big[i] = byte(i * 7 % 251)
	}
	want := sha256.Sum256(big)
	files := map[string][]byte{"/srv/www/big.bin": big}
	maps.Copy(files, w.files)
	curl := func(pid int, path string) ([]byte, error) {
		return integration.InNetns(pid, "curl", "-sS", "--fail", "--max-time", "10", "http://127.0.0.1:8080"+path).Output()
	}
	health := func(pid int) {
		t.Helper()
		if err := integration.WaitFor(20*time.Second, func() error {
			out, err := curl(pid, "/health")
			if err != nil || string(out) != "ok\n" {
				return fmt.Errorf("health: %v: %q", err, out)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	rt := e.Runtime("record")
	id, pid := e.start(rt, e.bundleMode(w.name+"-rec", w.name, files, w.mode, w.args...))
	for range 5 {
		health(pid)
	}
	e.stop(rt, id)
	tr := e.Trace(w.name)
	if tr.Syscalls["sendfile"] != 0 {
		t.Fatalf("the short exercise made sendfile: the test cannot show what analysis adds")
	}
	for _, o := range tr.Objects {
		if o.Analysis == "none" {
			t.Errorf("object %s not analysed: %s", o.Path, o.Note)
		}
	}
	if len(tr.Objects) == 0 {
		t.Fatal("the recording lists no mapped objects")
	}
	recOnly := e.generate(w.name+"-rec-only", w.name, true)
	full := e.generate(w.name+"-analysed", w.name, false)
	compare(t, w.name, recOnly, full)
	t.Logf("%s: sendfile: %q", w.name, full.Reasons["sendfile"])
	if r := full.Reasons["sendfile"]; !strings.HasPrefix(r, w.reason) {
		t.Errorf("sendfile reason %q, want %s...", r, w.reason)
	}
	if _, ok := recOnly.Reasons["sendfile"]; ok {
		t.Errorf("the recorded-only profile allows sendfile")
	}
	for _, n := range []string{"clock_gettime", "gettimeofday", "time"} {
		if recOnly.Reasons[n] == "" || full.Reasons[n] == "" {
			t.Errorf("%s (the vDSO's fallback) not allowed: recorded-only %q, analysed %q", n, recOnly.Reasons[n], full.Reasons[n])
		}
	}

	for _, c := range []struct {
		profile string
		wantOK  bool
	}{{w.name + "-rec-only", false}, {w.name + "-analysed", true}} {
		rt := e.Runtime(c.profile)
		id, pid := e.start(rt, e.bundleMode(c.profile, "unused-"+c.profile, files, w.mode, w.args...))
		health(pid)
		out, err := curl(pid, "/big.bin")
		ok := err == nil && sha256.Sum256(out) == want
		t.Logf("under %s: GET /big.bin gave %d of %d bytes (err %v)", c.profile, len(out), len(big), err)
		if ok != c.wantOK {
			t.Errorf("under %s: full exercise passed = %v, want %v", c.profile, ok, c.wantOK)
		}
		e.stop(rt, id)
	}
}

// TestAnalysisNginxSendfile runs webServer on nginx: its sendfile comes
// from nginx's import of sendfile64.
func TestAnalysisNginxSendfile(t *testing.T) {
	webServer{
		name:   "nginx",
		files:  map[string][]byte{integration.NginxConfPath: []byte(integration.NginxConf)},
		mode:   0o644,
		args:   integration.NginxArgs(),
		reason: "static: /usr/sbin/nginx:sendfile",
	}.run(t, newEnv(t))
}

// TestAnalysisRedis records redis-server answering PING, and runs SET,
// SAVE and redis-benchmark under the profiles generated without analysis
// (the control: it must fail) and with it (it must pass).
func TestAnalysisRedis(t *testing.T) {
	e := newEnv(t)
	args := integration.RedisArgs("--dir", "/data")
	cli := func(pid int, a ...string) (string, error) {
		out, err := integration.InNetns(pid, append([]string{"redis-cli", "-p", "6379"}, a...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	ping := func(pid int) {
		t.Helper()
		if err := integration.WaitFor(20*time.Second, func() error {
			if out, err := cli(pid, "ping"); err != nil || out != "PONG" {
				return fmt.Errorf("ping: %v: %s", err, out)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	rt := e.Runtime("record")
	id, pid := e.start(rt, e.bundle("redis-rec", "redis", nil, args...))
	ping(pid)
	e.stop(rt, id)
	tr := e.Trace("redis")
	recOnly := e.generate("redis-rec-only", "redis", true)
	full := e.generate("redis-analysed", "redis", false)
	compare(t, "redis", recOnly, full)
	missed := []string{}
	for n, r := range full.Reasons {
		if strings.HasPrefix(r, "static: ") && tr.Syscalls[n] == 0 {
			missed = append(missed, n)
		}
	}
	t.Logf("redis: added by analysis: %v", missed)

	// The full exercise under each profile: SAVE needs fsync and rename,
	// which PING never made.
	for _, c := range []struct {
		profile string
		wantOK  bool
	}{{"redis-rec-only", false}, {"redis-analysed", true}} {
		rt := e.Runtime(c.profile)
		id, pid := e.start(rt, e.bundle(c.profile, "unused-"+c.profile, nil, args...))
		ping(pid)
		var failed []string
		if out, err := cli(pid, "set", "k", "v"); err != nil || out != "OK" {
			failed = append(failed, fmt.Sprintf("SET: %v: %s", err, out))
		}
		if out, err := cli(pid, "save"); err != nil || out != "OK" {
			failed = append(failed, fmt.Sprintf("SAVE: %v: %s", err, out))
		}
		if out, err := integration.InNetns(pid, "redis-benchmark", "-p", "6379", "-t", "set,get,lpush,lrange", "-n", "2000", "-q").CombinedOutput(); err != nil || !strings.Contains(string(out), "requests per second") {
			failed = append(failed, fmt.Sprintf("redis-benchmark: %v: %s", err, out))
		}
		t.Logf("under %s: full exercise failures: %q", c.profile, failed)
		if ok := len(failed) == 0; ok != c.wantOK {
			t.Errorf("under %s: full exercise passed = %v, want %v", c.profile, ok, c.wantOK)
		}
		e.stop(rt, id)
	}
}

const goServer = `package main

import "net/http"

func main() {
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	http.Handle("/", http.FileServer(http.Dir("/srv/www")))
	panic(http.ListenAndServe(":8080", nil))
}
`

// TestAnalysisGoServer records a static, stripped Go server answering
// health checks; serving a large file needs sendfile, which only the
// analysis of its pclntab finds.
func TestAnalysisGoServer(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(e.Dir, "gosrc")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"main.go": goServer, "go.mod": "module gosrv\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(e.Dir, "gosrv"), ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv, err := os.ReadFile(filepath.Join(e.Dir, "gosrv"))
	if err != nil {
		t.Fatal(err)
	}
	webServer{
		name:   "gosrv",
		files:  map[string][]byte{"/usr/local/bin/gosrv": srv},
		mode:   0o755,
		args:   []string{"/usr/local/bin/gosrv"},
		reason: "static: /usr/local/bin/gosrv:",
	}.run(t, e)
}

//go:build integration

// Package record tests runcage's recorder with real runc on a real Debian
// root filesystem: record redis-server and nginx under the record profile
// while they serve real clients, generate a profile from the traces, enforce
// it, serve again, and check that what the workload never did is refused.
package record

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/record"
	"github.com/runcage/runcage/profiles/seccomp"
)

var (
	bin      integration.Binaries
	debian   string
	rawProbe string
)

func TestMain(m *testing.M) {
	var tmp string
	s := integration.DebianSuite("record", &bin, &debian)
	setup := s.Setup
	s.Setup = func() error {
		if err := setup(); err != nil {
			return err
		}
		var err error
		if tmp, err = os.MkdirTemp("", "runcage-rec-probe-"); err != nil {
			return err
		}
		rawProbe = filepath.Join(tmp, "rprobe")
		return integration.BuildRawProbe(rawProbe)
	}
	s.Teardown = func() error {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
		return nil
	}
	os.Exit(s.Run(m))
}

// env is one test's private directories and policy.
type env struct{ *integration.Lab }

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{integration.NewLab(t, bin, "runcage-rec-", "")}
}

// bundle makes a bundle whose rootfs is an overlay of the Debian rootfs
// (with the raw probe as /usr/local/bin/rprobe and any files given) and
// whose process runs args.
func (e *env) bundle(name string, files map[string][]byte, mutate func(*specs.Spec), args ...string) string {
	e.T.Helper()
	bdir := filepath.Join(e.Dir, name)
	merged := integration.OverlayOn(e.T, debian, filepath.Join(bdir, "ovl"))
	probe, err := os.ReadFile(rawProbe)
	if err != nil {
		e.T.Fatal(err)
	}
	integration.WriteFiles(e.T, merged, map[string][]byte{"/usr/local/bin/rprobe": probe}, 0o755)
	integration.WriteFiles(e.T, merged, files, 0o644)
	s := integration.BaseSpec(nil, args...)
	s.Root.Path = merged
	if mutate != nil {
		mutate(s)
	}
	integration.WriteBundle(e.T, bdir, s)
	return bdir
}

func newID() string { return integration.NewID("rec") }

// stop sends SIGTERM, waits for the container to stop and deletes it.
func (e *env) stop(rt integration.Runtime, id string) {
	e.T.Helper()
	if err := rt.Stop(e.T, id, "TERM", 20*time.Second); err != nil {
		e.T.Fatalf("stop: %v", err)
	}
}

func probeVerdicts(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(l, "probe "), "="); ok && strings.HasPrefix(l, "probe ") {
			m[k] = v
		}
	}
	return m
}

// waitRedis waits until redis answers PING in the netns of pid.
func waitRedis(t *testing.T, pid int) {
	t.Helper()
	if err := integration.WaitFor(20*time.Second, func() error {
		out, err := integration.InNetns(pid, "redis-cli", "-p", "6379", "ping").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "PONG" {
			return fmt.Errorf("redis-cli ping: %v: %s", err, out)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// redisBench runs redis-benchmark (the host's) against the container and
// checks that every test ran.
func redisBench(t *testing.T, pid int, n int) map[string]float64 {
	t.Helper()
	out, err := integration.InNetns(pid, "redis-benchmark", "-p", "6379", "-t", "set,get,incr,lpush,lrange", "-n", strconv.Itoa(n), "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	got := integration.ParseRedisBench(string(out))
	for _, k := range []string{"SET", "GET", "INCR", "LPUSH", "LRANGE_100 (first 100 elements)"} {
		if got[k] <= 0 {
			t.Fatalf("redis-benchmark: no result for %s in\n%s", k, out)
		}
	}
	return got
}

// generate runs `runcage profile generate` on the recording rec and checks
// that it wrote the profile's seccomp.json.
func (e *env) generate(name, rec string) {
	e.T.Helper()
	out := e.Generate(name, rec)
	if _, err := os.Stat(filepath.Join(e.Profiles, name, "seccomp.json")); err != nil {
		e.T.Fatalf("generate wrote no seccomp.json: %v\n%s", err, out)
	}
}

func allowedCount(t *testing.T, path string) int {
	t.Helper()
	f, err := seccomp.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return len(seccomp.AllowedSyscalls(f))
}

// TestRecordRedisRoundTrip records redis-server under the record profile
// while redis-benchmark runs against it, generates a profile from the
// trace, and serves the benchmark again under that profile, where syscalls
// redis never made fail with EPERM.
func TestRecordRedisRoundTrip(t *testing.T) {
	e := newEnv(t)
	rt := e.Runtime("record")
	id := newID()
	b := e.bundle("redis-rec", nil, func(s *specs.Spec) {
		s.Annotations = map[string]string{"runcage.dev/recording-name": "redis"}
	}, integration.RedisArgs()...)
	pid := rt.StartPid(t, b, id)
	waitRedis(t, pid)
	redisBench(t, pid, 20000)
	// runc exec's own post-filter syscalls must be in the trace too.
	res := rt.Exec(time.Minute, "exec", id, "/usr/local/bin/rprobe")
	if res.Exit != 0 {
		ps, _ := exec.Command("ps", "-eo", "pid,ppid,stat,wchan:32,cmd").CombinedOutput()
		t.Fatalf("exec probe under record: %s\nlog: %s\nps:\n%s", res, integration.FileText(rt.Log), ps)
	}
	// record answers as default would: these are refused.
	for k, v := range probeVerdicts(res.Stdout) {
		if v != "EPERM" {
			t.Errorf("under record, probe %s = %s, want EPERM (default refuses it)", k, v)
		}
	}
	e.stop(rt, id)

	tr := e.Trace("redis")
	if !slices.Contains(tr.Containers, id) {
		t.Errorf("trace containers %v lack %s", tr.Containers, id)
	}
	for _, s := range []string{"epoll_wait", "accept4", "read", "openat", "execve", "exit_group"} {
		if tr.Syscalls[s] == 0 {
			t.Errorf("trace lacks %s: %v", s, tr.SyscallNames())
		}
	}
	for _, s := range []string{"unshare", "mount", "ptrace"} {
		if tr.Syscalls[s] != 0 {
			t.Errorf("trace allows %s, which default refuses", s)
		}
		if tr.Denied[s] == 0 {
			t.Errorf("trace does not list the refused %s as denied: %v", s, tr.Denied)
		}
	}
	var sawRedis, sawInet bool
	for _, f := range tr.Files {
		sawRedis = sawRedis || f.Path == "/usr/bin/redis-server" && strings.Contains(f.Access, "x")
	}
	for _, s := range tr.Sockets {
		sawInet = sawInet || (s.Family == "AF_INET" || s.Family == "AF_INET6") && s.Type == "SOCK_STREAM"
	}
	if !sawRedis || !sawInet {
		t.Errorf("trace lacks the exec of /usr/bin/redis-server (%v) or a TCP socket (%v)", sawRedis, sawInet)
	}

	e.generate("redis-gen", "redis")
	gen := allowedCount(t, filepath.Join(e.Profiles, "redis-gen", "seccomp.json"))
	def := len(seccomp.AllowedSyscalls(seccomp.Default()))
	t.Logf("redis-gen allows %d syscalls; runtime/default allows %d", gen, def)
	if gen >= def {
		t.Errorf("generated profile allows %d syscalls, not fewer than default's %d", gen, def)
	}

	rt2 := e.Runtime("redis-gen")
	id2 := newID()
	b2 := e.bundle("redis-gen", nil, nil, integration.RedisArgs()...)
	pid2 := rt2.StartPid(t, b2, id2)
	waitRedis(t, pid2)
	redisBench(t, pid2, 20000)
	res = rt2.Exec(time.Minute, "exec", id2, "/usr/local/bin/rprobe")
	if res.Exit != 0 {
		t.Fatalf("exec probe under redis-gen: %s", res)
	}
	got := probeVerdicts(res.Stdout)
	for _, k := range []string{"unshare", "mount", "ptrace"} {
		if got[k] != "EPERM" {
			t.Errorf("under redis-gen, probe %s = %q, want EPERM\n%s", k, got[k], res.Stdout)
		}
	}
	e.stop(rt2, id2)
}

const nginxPage = "runcage recorded nginx\n"

// TestRecordNginxRoundTrip records nginx (as an unprivileged user, since
// runcage profiles keep no capabilities) serving a file to curl, generates,
// enforces, and fetches again.
func TestRecordNginxRoundTrip(t *testing.T) {
	e := newEnv(t)
	files := map[string][]byte{integration.NginxConfPath: []byte(integration.NginxConf), "/srv/www/index.html": []byte(nginxPage)}
	asUser := func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 33, GID: 33}
		s.Annotations = map[string]string{"runcage.dev/recording-name": "nginx"}
	}
	args := integration.NginxArgs()
	fetch := func(pid int) {
		t.Helper()
		var out []byte
		err := integration.WaitFor(20*time.Second, func() error {
			var err error
			out, err = integration.InNetns(pid, "curl", "-sS", "--max-time", "5", "http://127.0.0.1:8080/index.html").CombinedOutput()
			if err != nil {
				return fmt.Errorf("curl: %v: %s", err, out)
			}
			return nil
		})
		if err != nil || string(out) != nginxPage {
			t.Fatalf("fetch: %v: %q", err, out)
		}
	}
	rt := e.Runtime("record")
	id := newID()
	pid := rt.StartPid(t, e.bundle("nginx-rec", files, asUser, args...), id)
	for range 20 {
		fetch(pid)
	}
	if res := rt.Exec(time.Minute, "exec", id, "/usr/local/bin/rprobe"); res.Exit != 0 {
		t.Fatalf("exec probe under record: %s", res)
	}
	e.stop(rt, id)
	tr := e.Trace("nginx")
	for _, s := range []string{"accept4", "sendfile", "epoll_wait"} {
		if tr.Syscalls[s] == 0 && !(s == "epoll_wait" && tr.Syscalls["epoll_pwait"] > 0) {
			t.Errorf("nginx trace lacks %s: %v", s, tr.SyscallNames())
		}
	}
	e.generate("nginx-gen", "nginx")
	t.Logf("nginx-gen allows %d syscalls; runtime/default allows %d",
		allowedCount(t, filepath.Join(e.Profiles, "nginx-gen", "seccomp.json")), len(seccomp.AllowedSyscalls(seccomp.Default())))

	rt2 := e.Runtime("nginx-gen")
	id2 := newID()
	pid2 := rt2.StartPid(t, e.bundle("nginx-gen", files, asUser, args...), id2)
	fetch(pid2)
	res := rt2.Exec(time.Minute, "exec", id2, "/usr/local/bin/rprobe")
	got := probeVerdicts(res.Stdout)
	for _, k := range []string{"unshare", "mount", "ptrace"} {
		if got[k] != "EPERM" {
			t.Errorf("under nginx-gen, probe %s = %q, want EPERM\n%s", k, got[k], res)
		}
	}
	e.stop(rt2, id2)
}

// TestAgentDeath kills the recorder agent while the container runs: the
// container must not hang (its notified syscalls fail with ENOSYS, so it
// exits), and the recording must stay marked incomplete.
func TestAgentDeath(t *testing.T) {
	e := newEnv(t)
	rt := e.Runtime("record")
	id := newID()
	script := `while :; do if ! cat /etc/hostname >/dev/null 2>&1; then echo cat-failed; exit 3; fi; sleep 0.1; done`
	b := e.bundle("death", nil, nil, "sh", "-c", script)
	rt.StartPid(t, b, id)
	agent := findAgent(t, e)
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
		t.Fatalf("kill agent %d: %v", agent, err)
	}
	start := time.Now()
	if err := rt.WaitStopped(id, 15*time.Second); err != nil {
		t.Fatalf("container did not stop after the agent died: %v", err)
	}
	t.Logf("container stopped %v after the agent was killed", time.Since(start).Round(time.Millisecond))
	if res := rt.Exec(time.Minute, "delete", id); res.Exit != 0 {
		t.Fatalf("delete: %s", res)
	}
	data, err := os.ReadFile(filepath.Join(e.RecDir, id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := record.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Complete {
		t.Errorf("the trace of a container whose agent died is marked complete")
	}
}

// findAgent returns the pid of the agent serving this test's container:
// the process whose argv[0] is the agent's and whose log (stderr) lies in
// the test's own state directory.
func findAgent(t *testing.T, e *env) int {
	t.Helper()
	agents, _, err := integration.RecorderProcesses(func(logPath string) bool { return strings.HasPrefix(logPath, e.Dir+"/") })
	if err != nil {
		t.Fatal(err)
	}
	if len(agents) == 0 {
		t.Fatalf("no agent process with its log under %s", e.Dir)
	}
	return agents[0]
}

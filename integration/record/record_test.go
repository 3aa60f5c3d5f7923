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
	"sync/atomic"
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
	ids      atomic.Int64
)

func TestMain(m *testing.M) {
	var tmp string
	os.Exit(integration.Suite{
		Name:  "record",
		Needs: "it creates real containers",
		Setup: func() error {
			var err error
			if bin, err = integration.FindBinaries(); err != nil {
				return err
			}
			if debian, err = integration.DebianRootfs(); err != nil {
				return err
			}
			if tmp, err = os.MkdirTemp("", "runcage-rec-probe-"); err != nil {
				return err
			}
			rawProbe = filepath.Join(tmp, "rprobe")
			return integration.BuildRawProbe(rawProbe)
		},
		Teardown: func() error {
			if tmp != "" {
				os.RemoveAll(tmp)
			}
			return nil
		},
	}.Run(m))
}

// env is one test's private directories and policy.
type env struct {
	t        *testing.T
	dir      string
	policy   string
	recDir   string
	audit    string
	profiles string
}

func newEnv(t *testing.T, extra string) *env {
	t.Helper()
	dir := integration.TempDir(t, "runcage-rec-")
	e := &env{t: t, dir: dir,
		recDir: filepath.Join(dir, "recordings"), audit: filepath.Join(dir, "audit.log"),
		profiles: filepath.Join(dir, "profiles")}
	e.policy = filepath.Join(dir, "policy.toml")
	text := fmt.Sprintf("runtime = %q\nstate_dir = %q\nrecordings_dir = %q\naudit_log = %q\nprofiles_dir = %q\n%s",
		bin.Runc, filepath.Join(dir, "state"), e.recDir, e.audit, e.profiles, extra)
	if err := os.WriteFile(e.policy, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) runtime(profile string) integration.Runtime {
	return integration.Runtime{
		Name: "runcage/" + profile,
		Path: bin.Runcage,
		Pre:  []string{"--runcage-profile", profile},
		Env:  []string{"RUNCAGE_CONFIG=" + e.policy},
		Root: filepath.Join(e.dir, "root"),
		Log:  filepath.Join(e.dir, "runcage-"+profile+".log"),
	}
}

// bundle makes a bundle whose rootfs is an overlay of the Debian rootfs
// (with the raw probe as /usr/local/bin/rprobe and any files given) and
// whose process runs args.
func (e *env) bundle(name string, files map[string]string, mutate func(*specs.Spec), args ...string) string {
	e.t.Helper()
	bdir := filepath.Join(e.dir, name)
	merged, undo, err := integration.Overlay(debian, filepath.Join(bdir, "ovl"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if err := undo(); err != nil {
			e.t.Error(err)
		}
	})
	probe, err := os.ReadFile(rawProbe)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(merged, "usr/local/bin/rprobe"), probe, 0o755); err != nil {
		e.t.Fatal(err)
	}
	for p, content := range files {
		dst := filepath.Join(merged, filepath.Clean("/"+p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(content), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	s := integration.BaseSpec(nil, args...)
	s.Root.Path = merged
	if mutate != nil {
		mutate(s)
	}
	b, err := integration.MarshalSpec(s)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := integration.WriteConfig(bdir, b); err != nil {
		e.t.Fatal(err)
	}
	return bdir
}

func newID() string { return fmt.Sprintf("rec-%d-%d", os.Getpid(), ids.Add(1)) }

// start creates and starts a detached container and returns its pid.
func (e *env) start(rt integration.Runtime, bundle, id string) int {
	e.t.Helper()
	rt.CreateStart(e.t, bundle, id)
	st, err := rt.State(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Pid
}

// stop sends SIGTERM, waits for the container to stop and deletes it.
func (e *env) stop(rt integration.Runtime, id string) {
	e.t.Helper()
	rt.Exec(time.Minute, "kill", id, "TERM")
	if err := rt.WaitStopped(id, 20*time.Second); err != nil {
		rt.Exec(time.Minute, "kill", id, "KILL")
		e.t.Fatalf("stop: %v", err)
	}
	if res := rt.Exec(time.Minute, "delete", id); res.Exit != 0 {
		e.t.Fatalf("delete: %s", res)
	}
}

// trace waits until the recording name is complete and returns it.
func (e *env) trace(name string) *record.Trace {
	e.t.Helper()
	tr, err := integration.WaitTrace(filepath.Join(e.recDir, name+".json"), 20*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	return tr
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

var redisArgs = []string{"redis-server", "--port", "6379", "--save", "", "--appendonly", "no", "--protected-mode", "no"}

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

// generate runs `runcage profile generate`. It waits a while for the
// command to exist: another part of runcage provides it.
func (e *env) generate(name string, traces ...string) {
	e.t.Helper()
	args := append([]string{"profile", "generate", "--name", name, "--profiles-dir", e.profiles}, traces...)
	cmd := exec.Command(bin.Runcage, args...)
	cmd.Env = append(os.Environ(), "RUNCAGE_CONFIG="+e.policy)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("runcage %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if _, err := os.Stat(filepath.Join(e.profiles, name, "seccomp.json")); err != nil {
		e.t.Fatalf("generate wrote no seccomp.json: %v\n%s", err, out)
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
	e := newEnv(t, "")
	rt := e.runtime("record")
	id := newID()
	b := e.bundle("redis-rec", nil, func(s *specs.Spec) {
		s.Annotations = map[string]string{"runcage.dev/recording-name": "redis"}
	}, redisArgs...)
	pid := e.start(rt, b, id)
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

	tr := e.trace("redis")
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

	e.generate("redis-gen", filepath.Join(e.recDir, "redis.json"))
	gen := allowedCount(t, filepath.Join(e.profiles, "redis-gen", "seccomp.json"))
	def := len(seccomp.AllowedSyscalls(seccomp.Default()))
	t.Logf("redis-gen allows %d syscalls; runtime/default allows %d", gen, def)
	if gen >= def {
		t.Errorf("generated profile allows %d syscalls, not fewer than default's %d", gen, def)
	}

	rt2 := e.runtime("redis-gen")
	id2 := newID()
	b2 := e.bundle("redis-gen", nil, nil, redisArgs...)
	pid2 := e.start(rt2, b2, id2)
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

const nginxConf = `worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
	access_log off;
	sendfile on;
	client_body_temp_path /tmp/body;
	proxy_temp_path /tmp/proxy;
	fastcgi_temp_path /tmp/fastcgi;
	uwsgi_temp_path /tmp/uwsgi;
	scgi_temp_path /tmp/scgi;
	server {
		listen 8080;
		root /srv/www;
	}
}
`

const nginxPage = "runcage recorded nginx\n"

// TestRecordNginxRoundTrip records nginx (as an unprivileged user, since
// runcage profiles keep no capabilities) serving a file to curl, generates,
// enforces, and fetches again.
func TestRecordNginxRoundTrip(t *testing.T) {
	e := newEnv(t, "")
	files := map[string]string{"/etc/runcage-test/nginx.conf": nginxConf, "/srv/www/index.html": nginxPage}
	asUser := func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 33, GID: 33}
		s.Annotations = map[string]string{"runcage.dev/recording-name": "nginx"}
	}
	args := []string{"nginx", "-e", "stderr", "-c", "/etc/runcage-test/nginx.conf", "-g", "daemon off;"}
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
	rt := e.runtime("record")
	id := newID()
	pid := e.start(rt, e.bundle("nginx-rec", files, asUser, args...), id)
	for range 20 {
		fetch(pid)
	}
	if res := rt.Exec(time.Minute, "exec", id, "/usr/local/bin/rprobe"); res.Exit != 0 {
		t.Fatalf("exec probe under record: %s", res)
	}
	e.stop(rt, id)
	tr := e.trace("nginx")
	for _, s := range []string{"accept4", "sendfile", "epoll_wait"} {
		if tr.Syscalls[s] == 0 && !(s == "epoll_wait" && tr.Syscalls["epoll_pwait"] > 0) {
			t.Errorf("nginx trace lacks %s: %v", s, tr.SyscallNames())
		}
	}
	e.generate("nginx-gen", filepath.Join(e.recDir, "nginx.json"))
	t.Logf("nginx-gen allows %d syscalls; runtime/default allows %d",
		allowedCount(t, filepath.Join(e.profiles, "nginx-gen", "seccomp.json")), len(seccomp.AllowedSyscalls(seccomp.Default())))

	rt2 := e.runtime("nginx-gen")
	id2 := newID()
	pid2 := e.start(rt2, e.bundle("nginx-gen", files, asUser, args...), id2)
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
	e := newEnv(t, "")
	rt := e.runtime("record")
	id := newID()
	script := `while :; do if ! cat /etc/hostname >/dev/null 2>&1; then echo cat-failed; exit 3; fi; sleep 0.1; done`
	b := e.bundle("death", nil, nil, "sh", "-c", script)
	e.start(rt, b, id)
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
	data, err := os.ReadFile(filepath.Join(e.recDir, id+".json"))
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
	agents, _, err := integration.RecorderProcesses(func(logPath string) bool { return strings.HasPrefix(logPath, e.dir+"/") })
	if err != nil {
		t.Fatal(err)
	}
	if len(agents) == 0 {
		t.Fatalf("no agent process with its log under %s", e.dir)
	}
	return agents[0]
}

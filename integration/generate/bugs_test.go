//go:build integration

package generate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/record"
)

// bugEnv is newEnv with a recordings directory, a state directory and an
// audit log of the test's own, and any extra policy lines.
func bugEnv(t *testing.T, stateDir, extra string) *env {
	t.Helper()
	return bugEnvIn(t, newEnv(t), stateDir, extra)
}

// bugEnvIn rewrites e's policy as bugEnv describes.
func bugEnvIn(t *testing.T, e *env, stateDir, extra string) *env {
	t.Helper()
	if stateDir == "" {
		stateDir = filepath.Join(e.dir, "runcage-state")
	}
	pol := fmt.Sprintf("runtime = %s\nprofiles_dir = %s\nrecordings_dir = %s\nstate_dir = %s\naudit_log = %s\n%s",
		strconv.Quote(e.bin.Runc), strconv.Quote(e.profiles), strconv.Quote(filepath.Join(e.dir, "recordings")),
		strconv.Quote(stateDir), strconv.Quote(filepath.Join(e.dir, "audit.log")), extra)
	if err := os.WriteFile(e.policy, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// bugRecording waits until the one recording in e's recordings directory
// is final and returns it: complete or, with agentGone, as its agent left
// it when it exited (the agent's socket is gone), complete or not.
func bugRecording(t *testing.T, e *env, agentGone bool) (string, *record.Trace) {
	t.Helper()
	var path string
	var tr *record.Trace
	err := integration.WaitFor(20*time.Second, func() error {
		if socks, _ := filepath.Glob(filepath.Join(e.dir, "runcage-state", "agents", "*.sock")); agentGone && len(socks) > 0 {
			return fmt.Errorf("agent still listening: %v", socks)
		}
		paths, _ := filepath.Glob(filepath.Join(e.dir, "recordings", "*.json"))
		if len(paths) != 1 {
			return fmt.Errorf("recordings: %v", paths)
		}
		data, err := os.ReadFile(paths[0])
		if err != nil {
			return err
		}
		if tr, err = record.Parse(data); err != nil {
			return err
		}
		path = paths[0]
		if !agentGone && !tr.Complete {
			return fmt.Errorf("%s is not complete", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path, tr
}

// TestBugPrivateProcfsPathsNotRecorded records a container under the
// record profile and checks that no recorded path lies outside the
// container's mount tree: runc 1.2+ works in a private procfs (a detached
// mount from fsopen/open_tree), whose paths read back through
// /proc/<pid>/fd as "/1/task/1/fd/..." or "/self/...". Such paths must not
// reach the trace, nor the AppArmor profile generated from it.
func TestBugPrivateProcfsPathsNotRecorded(t *testing.T) {
	e := bugEnv(t, "", "")
	res := e.run("record", "/bin/sh", "-c", "ls /proc/self/fd >/dev/null; cat /proc/self/status >/dev/null; ls /")
	if res.Exit != 0 {
		t.Fatalf("recorded run:\n%s", res)
	}
	path, tr := bugRecording(t, e, false)
	var bad []string
	for _, f := range tr.Files {
		t.Logf("recorded %s %s", f.Access, f.Path)
		if bugDetachedPath(f.Path) {
			bad = append(bad, f.Path)
		}
	}
	if len(bad) > 0 {
		t.Errorf("paths of runc's private procfs recorded: %q", bad)
	}
	if len(tr.Files) == 0 {
		t.Fatal("no file recorded at all: the test cannot tell")
	}
	// Nor is runc's own binary (runc init runs a sealed copy of it, named
	// /runc or /memfd:runc_cloned...) among the objects analysed.
	runcSum, err := fileSHA256(e.bin.Runc)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range tr.Objects {
		if o.SHA256 == runcSum || strings.Contains(o.Path, "runc") {
			t.Errorf("runc's binary recorded as an object of the workload: %+v", o.Path)
		}
	}
	if len(tr.Objects) == 0 {
		t.Error("no object recorded at all: the test cannot tell")
	}
	if res := e.runcage("profile", "generate", "--name", "procfs", path); res.Exit != 0 {
		t.Fatalf("generate:\n%s", res)
	}
	aa, err := os.ReadFile(filepath.Join(e.profiles, "procfs", "apparmor"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(aa), "\n") {
		if f := strings.Fields(l); len(f) > 0 && bugDetachedPath(f[0]) {
			t.Errorf("apparmor rule for a private procfs path: %s", l)
		}
	}
}

// bugDetachedPath reports whether p looks like a path relative to a
// detached procfs mount rather than one in the container: /<pid>/...,
// /self/..., /thread-self/....
func bugDetachedPath(p string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if first == "self" || first == "thread-self" {
		return true
	}
	_, err := strconv.Atoi(first)
	return err == nil
}

// TestBugStateDirUnder0700: a state_dir below a directory others cannot
// search cannot work (the container's root, an unprivileged host id, must
// reach the rootfs runcage mounts below state_dir). `runcage check` says
// so, and create refuses before runc runs, naming the directory and the
// fix; once the directory is searchable the same container runs.
func TestBugStateDirUnder0700(t *testing.T) {
	e := newEnv(t)
	priv := filepath.Join(e.dir, "priv")
	if err := os.Mkdir(priv, 0o700); err != nil {
		t.Fatal(err)
	}
	e = bugEnvIn(t, e, filepath.Join(priv, "state"), "")
	res := e.runcage("check")
	if !strings.Contains(res.Stdout, priv) || !strings.Contains(res.Stdout, "chmod o+x") {
		t.Errorf("check does not name %s and the fix:\n%s", priv, res)
	}
	res = e.run("default", "/bin/true")
	log, _ := os.ReadFile(filepath.Join(e.dir, "runcage.log"))
	if res.Exit == 0 || !strings.Contains(res.Stderr+string(log), priv) || !strings.Contains(res.Stderr+string(log), "chmod o+x") {
		t.Errorf("create under a 0700 ancestor: want a refusal naming %s and the fix\n%s\nlog: %s", priv, res, log)
	}
	if strings.Contains(res.Stderr+string(log), "remount-propagation") {
		t.Errorf("runc ran although the state_dir cannot work:\n%s", res)
	}
	if err := os.Chmod(priv, 0o711); err != nil {
		t.Fatal(err)
	}
	if res := e.run("default", "/bin/true"); res.Exit != 0 {
		t.Errorf("after chmod o+x %s:\n%s", priv, res)
	}
	if res := e.runcage("check"); strings.Contains(res.Stdout, "chmod o+x") {
		t.Errorf("check still complains after chmod:\n%s", res)
	}
}

// TestBugNeverStartedTraceRefused: a container whose runc fails before it
// loads the filter (here: a bind mount of a missing source) leaves a trace
// that is not complete and has no syscalls, and generate refuses it,
// naming the trace and the reason.
func TestBugNeverStartedTraceRefused(t *testing.T) {
	e := bugEnv(t, "", "")
	s := integration.BaseSpec(nil, "/bin/true")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: filepath.Join(e.dir, "missing"), Options: []string{"rbind"}})
	res := e.runSpec("record", s)
	if res.Exit == 0 {
		t.Fatalf("a container with a missing mount source ran:\n%s", res)
	}
	path, tr := bugRecording(t, e, true)
	t.Logf("trace: complete %v, started %v, updated %v, %d syscalls", tr.Complete, tr.Started, tr.Updated, len(tr.Syscalls))
	if tr.Complete || len(tr.Syscalls) != 0 {
		t.Errorf("trace of a container that never ran: %+v", tr)
	}
	res = e.runcage("profile", "generate", "--name", "never", path)
	if res.Exit == 0 || !strings.Contains(res.Stderr, path) || !strings.Contains(res.Stderr, "never ran") {
		t.Errorf("generate from %s: want a refusal naming it and the reason\n%s", path, res)
	}
	if _, err := os.Stat(filepath.Join(e.profiles, "never")); err == nil {
		t.Error("a profile was written")
	}
}

// TestBugListCountsFilterAndDockerNextStep: for a generated profile,
// `profile list` states the number of syscalls its seccomp.json allows
// (what `profile show` lists), not only those the trace showed; and
// generate, when daemon.json registers runcage runtimes but not the new
// one, prints the install that registers it, which --install-docker runs.
func TestBugListCountsFilterAndDockerNextStep(t *testing.T) {
	e := bugEnv(t, "", "")
	trace := filepath.Join(e.dir, "t.json")
	if err := os.WriteFile(trace, []byte(`{"version":1,"name":"t","source":"runcage","complete":true,"syscalls":{"getpid":1,"uname":1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	daemon := filepath.Join(e.dir, "daemon.json")
	if res := e.runcage("install", "docker", "--config", daemon, "--profiles", "default"); res.Exit != 0 {
		t.Fatalf("install:\n%s", res)
	}
	res := e.runcage("profile", "generate", "--name", "two", "--docker-config", daemon, trace)
	if res.Exit != 0 {
		t.Fatalf("generate:\n%s", res)
	}
	want := e.bin.Runcage + " install docker --config " + daemon + " --binary " + e.bin.Runcage + " --profiles default,two"
	if !strings.Contains(res.Stdout, want) || !strings.Contains(res.Stdout, "reload") {
		t.Errorf("generate does not print %q and a reload:\n%s", want, res)
	}
	var allowed struct {
		Syscalls []string `json:"seccomp_allowed_syscalls"`
	}
	show := e.runcage("profile", "show", "two")
	if err := json.Unmarshal([]byte(show.Stdout), &allowed); err != nil || len(allowed.Syscalls) <= 2 {
		t.Fatalf("profile show two: %v\n%s", err, show)
	}
	list := e.runcage("profile", "list")
	wantCount := fmt.Sprintf("%d syscalls", len(allowed.Syscalls))
	found := false
	for _, l := range strings.Split(list.Stdout, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "two" {
			found = true
			if f[1]+" "+f[2] != wantCount {
				t.Errorf("profile list: %q, want %q first", l, wantCount)
			}
		}
	}
	if !found {
		t.Errorf("profile list lacks two:\n%s", list)
	}
	if res := e.runcage("profile", "generate", "--name", "two", "--force", "--install-docker", "--docker-config", daemon, trace); res.Exit != 0 {
		t.Fatalf("generate --install-docker:\n%s", res)
	}
	data, err := os.ReadFile(daemon)
	if err != nil || !strings.Contains(string(data), `"runcage-two"`) {
		t.Errorf("--install-docker did not register runcage-two: %v\n%s", err, data)
	}
}

// TestBugInstallDockerPolicy: `install docker --policy PATH` registers the
// profiles PATH defines, which is the policy the runtimes will load, and
// not those of the global policy.
func TestBugInstallDockerPolicy(t *testing.T) {
	e := bugEnv(t, "", "[profiles.globalonly]\npids_limit = 100\n")
	other := filepath.Join(e.dir, "other.toml")
	if err := os.WriteFile(other, []byte("[profiles.web]\npids_limit = 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	daemon := filepath.Join(e.dir, "daemon.json")
	if res := e.runcage("install", "docker", "--config", daemon, "--policy", other); res.Exit != 0 {
		t.Fatalf("install:\n%s", res)
	}
	data, err := os.ReadFile(daemon)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"runcage-web"`) || strings.Contains(string(data), `"runcage-globalonly"`) {
		t.Errorf("daemon.json registers the wrong policy's profiles:\n%s", data)
	}
}

// fileSHA256 returns the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

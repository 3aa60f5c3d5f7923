package runtime

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The tests below run the real runcage binary against a fake delegate (a
// shell script that records its argv, NUL-separated, and exits 0). They
// check the promises of the front end: argv reaches the delegate byte for
// byte, runcage's own flags are removed, a refusal forwards nothing and is
// logged in runc's JSON format, and the bundle is rewritten once.

var runcageBin string

func TestMain(m *testing.M) {
	// The in-process Create starts the denial agent through
	// /proc/self/exe, which is this binary: serve it as Main would.
	if isAgent(os.Args) {
		os.Exit(runAgent(os.Args))
	}
	if sock := os.Getenv(warmClientEnv); sock != "" {
		os.Exit(warmClientMain(sock))
	}
	dir, err := os.MkdirTemp("", "runcage-bin")
	if err != nil {
		panic(err)
	}
	runcageBin = filepath.Join(dir, "runcage")
	cmd := exec.Command("go", "build", "-tags", "seccomp", "-o", runcageBin, "../cmd/runcage")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		panic("build runcage: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type fake struct {
	dir, policy, argvFile string
}

func newFake(t *testing.T, extraPolicy string) *fake {
	t.Helper()
	dir := t.TempDir()
	// The state directory must be reachable by a container's root, an
	// unprivileged host id, as on a host: t.TempDir and its parent are 0700.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	f := &fake{dir: dir, argvFile: filepath.Join(dir, "argv")}
	script := filepath.Join(dir, "fake-runc")
	body := "#!/bin/sh\nprintf '%s\\0' \"$0\" \"$@\" > " + f.argvFile + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	f.policy = filepath.Join(dir, "config.toml")
	pol := "runtime = \"" + script + "\"\nstate_dir = \"" + filepath.Join(dir, "state") + "\"\n" + extraPolicy
	if err := os.WriteFile(f.policy, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	// Creates really set up user namespaces (id-mapped mounts, id ranges):
	// delete the test container the way an engine would. The fake
	// delegate keeps no state, so runcage sees it gone and cleans up.
	t.Cleanup(func() {
		if _, stderr, code := f.run(t, "", "delete", "c1"); code != 0 {
			t.Errorf("delete: exit %d: %s", code, stderr)
		}
		if data, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(data), dir) {
			t.Errorf("mounts left under %s after delete", dir)
		}
	})
	return f
}

func (f *fake) run(t *testing.T, argv0 string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin := runcageBin
	if argv0 != "" {
		bin = filepath.Join(f.dir, argv0)
		_ = os.Symlink(runcageBin, bin)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "RUNCAGE_CONFIG="+f.policy)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// forwarded returns the argv the fake delegate received, without argv[0],
// or nil if it was not called.
func (f *fake) forwarded(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(f.argvFile)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
	return parts[1:]
}

func bundle(t testing.TB, mutate func(*specs.Spec)) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{
			Args: []string{"sh"}, Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
				Effective: []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
				Permitted: []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
				Ambient:   []string{"CAP_KILL"},
			},
		},
		Mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"},
		}},
	}
	if mutate != nil {
		mutate(s)
	}
	data, _ := json.MarshalIndent(s, "", "\t")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestForwardsArgvByteForByte(t *testing.T) {
	weird := "id-with-\u00e9"
	for _, args := range [][]string{
		{"state", "c1"},
		{"--root", "/run/x y", "--log", "/tmp/l", "--log-format", "json", "kill", "--all", "c1", "KILL"},
		{"--root=/run/z", "list", "-f", "json"},
		{"--debug", "--systemd-cgroup", "ps", "--format", "json", weird},
		{"--some-future-flag=1", "features"},
		{"delete", "--force", "c1"},
		{"pause", "c1"},
		{"events", "--stats", "c1"},
		{"spec", "--rootless"},
	} {
		f := newFake(t, "")
		if _, stderr, code := f.run(t, "", args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
		if got := f.forwarded(t); !equal(got, args) {
			t.Errorf("forwarded %q, want %q", got, args)
		}
	}
}

func TestStripsOwnFlags(t *testing.T) {
	f := newFake(t, "")
	b := bundle(t, nil)
	_, stderr, code := f.run(t, "", "--runcage-profile=passthrough", "--runcage-config", f.policy, "--root", "/r", "create", "--bundle", b, "c1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := []string{"--root", "/r", "create", "--bundle", b, "c1"}
	if got := f.forwarded(t); !equal(got, want) {
		t.Fatalf("forwarded %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(b, "config.json.runcage-orig")); !os.IsNotExist(err) {
		t.Fatal("passthrough touched the bundle")
	}
}

func TestCreateHardensOnceAndKeepsOriginal(t *testing.T) {
	for _, form := range [][]string{{"--bundle", "B"}, {"--bundle=B"}, {"-b", "B"}, {"-b=B"}} {
		f := newFake(t, "")
		b := bundle(t, nil)
		orig, _ := os.ReadFile(filepath.Join(b, "config.json"))
		args := []string{"--log", filepath.Join(f.dir, "log.json"), "--log-format", "json", "create"}
		for _, a := range form {
			args = append(args, strings.Replace(a, "B", b, 1))
		}
		args = append(args, "c1")
		if _, stderr, code := f.run(t, "", args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", form, code, stderr)
		}
		if got := f.forwarded(t); !equal(got, args) {
			t.Fatalf("forwarded %q, want %q", got, args)
		}
		kept, _ := os.ReadFile(filepath.Join(b, "config.json.runcage-orig"))
		if !bytes.Equal(kept, orig) {
			t.Fatal("original config not kept byte for byte")
		}
		var s specs.Spec
		data, _ := os.ReadFile(filepath.Join(b, "config.json"))
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		c := s.Process.Capabilities
		if len(c.Bounding)+len(c.Effective)+len(c.Permitted)+len(c.Inheritable)+len(c.Ambient) != 0 {
			t.Errorf("capabilities left: %+v", c)
		}
		if !s.Process.NoNewPrivileges || s.Linux.Seccomp == nil || len(s.Linux.MaskedPaths) == 0 {
			t.Errorf("not hardened: nnp=%v seccomp=%v masked=%v", s.Process.NoNewPrivileges, s.Linux.Seccomp != nil, s.Linux.MaskedPaths)
		}
		if log, _ := os.ReadFile(filepath.Join(f.dir, "log.json")); len(log) != 0 {
			t.Errorf("info noise in the log: %s", log)
		}
		// A second create on the same bundle changes nothing more.
		if _, stderr, code := f.run(t, "", args...); code != 0 {
			t.Fatalf("second create: exit %d: %s", code, stderr)
		}
		again, _ := os.ReadFile(filepath.Join(b, "config.json"))
		kept2, _ := os.ReadFile(filepath.Join(b, "config.json.runcage-orig"))
		if !bytes.Equal(again, data) || !bytes.Equal(kept2, orig) {
			t.Error("second create rewrote the bundle")
		}
	}
}

func TestRefusalForwardsNothingAndLogsJSON(t *testing.T) {
	f := newFake(t, "")
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
		s.Annotations = map[string]string{"evil": "a\nb\x1b[31m"}
	})
	before, _ := os.ReadFile(filepath.Join(b, "config.json"))
	logf := filepath.Join(f.dir, "log.json")
	_, stderr, code := f.run(t, "", "--log", logf, "--log-format", "json", "create", "--bundle", b, "c1")
	if code == 0 {
		t.Fatal("refused bundle exited 0")
	}
	if f.forwarded(t) != nil {
		t.Fatal("delegate was called after a refusal")
	}
	after, _ := os.ReadFile(filepath.Join(b, "config.json"))
	if !bytes.Equal(before, after) {
		t.Fatal("refused bundle was modified")
	}
	data, _ := os.ReadFile(logf)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one log line, got %q", data)
	}
	var entry map[string]string
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatalf("log line is not JSON: %q", lines[0])
	}
	if entry["level"] != "error" || entry["time"] == "" || !strings.HasPrefix(entry["msg"], "runcage: create \"c1\": ") ||
		!strings.Contains(entry["msg"], `"CAP_SYS_ADMIN"`) {
		t.Fatalf("log entry = %v", entry)
	}
	if !strings.Contains(stderr, entry["msg"]) {
		t.Errorf("stderr %q does not carry the message", stderr)
	}
}

func TestArgv0SelectsProfile(t *testing.T) {
	f := newFake(t, "")
	b := bundle(t, nil)
	orig, _ := os.ReadFile(filepath.Join(b, "config.json"))
	if _, stderr, code := f.run(t, "runcage-passthrough", "create", "-b", b, "c1"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	now, _ := os.ReadFile(filepath.Join(b, "config.json"))
	if !bytes.Equal(orig, now) {
		t.Fatal("runcage-passthrough changed the bundle")
	}
}

func TestExecHardening(t *testing.T) {
	f := newFake(t, "[profiles.web]\ncapabilities = [\"CAP_NET_BIND_SERVICE\"]\n")
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"cap not kept", []string{"exec", "--cap", "CAP_SYS_ADMIN", "c1", "sh"}, `exec --cap "CAP_SYS_ADMIN" refused`},
		{"cap misspelt", []string{"exec", "--cap", "sys_admin", "c1", "sh"}, `capability "sys_admin" refused`},
		{"nnp off", []string{"exec", "--no-new-privs=false", "c1", "sh"}, "exec --no-new-privs=false refused"},
		{"apparmor escape", []string{"exec", "--apparmor", "unconfined", "c1", "sh"}, `exec --apparmor "unconfined" refused`},
		{"cwd escape", []string{"exec", "--cwd", "/proc/self/fd/7", "c1", "sh"}, "/proc/self/fd/7"},
		{"kept cap ok", []string{"--runcage-profile", "web", "exec", "--cap", "CAP_NET_BIND_SERVICE", "c1", "sh"}, ""},
		{"plain ok", []string{"exec", "-t", "c1", "sh", "--cap", "CAP_SYS_ADMIN"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(f.argvFile)
			_, stderr, code := f.run(t, "", tc.args...)
			if tc.wantErr == "" {
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				return
			}
			if code == 0 || !strings.Contains(stderr, tc.wantErr) || f.forwarded(t) != nil {
				t.Fatalf("exit %d, stderr %q, want refusal with %q", code, stderr, tc.wantErr)
			}
		})
	}
}

func TestExecProcessFileRewritten(t *testing.T) {
	f := newFake(t, "")
	p := specs.Process{
		Args: []string{"sh"}, Cwd: "/",
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"}},
	}
	data, _ := json.Marshal(p)
	path := filepath.Join(f.dir, "process.json")
	// A member runcage has no decision for is refused, by name.
	os.WriteFile(path, append(data[:len(data)-1], []byte(`,"futureField":{"x":1}}`)...), 0o600)
	if _, stderr, code := f.run(t, "", "exec", "--process", path, "--detach", "c1"); code == 0 || !strings.Contains(stderr, `"process.futureField" refused`) {
		t.Fatalf("exit %d, stderr %q, want the unknown member refused", code, stderr)
	}
	// A member runcage leaves alone keeps its bytes.
	os.WriteFile(path, append(data[:len(data)-1], []byte(`,"consoleSize":{"height":1,"width":2}}`)...), 0o600)
	if _, stderr, code := f.run(t, "", "exec", "--process", path, "--detach", "c1"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	out, _ := os.ReadFile(path)
	var got specs.Process
	json.Unmarshal(out, &got)
	if !got.NoNewPrivileges || len(got.Capabilities.Bounding)+len(got.Capabilities.Ambient) != 0 {
		t.Fatalf("process file not hardened: %s", out)
	}
	if !bytes.Contains(out, []byte(`"consoleSize":{"height":1,"width":2}`)) {
		t.Fatalf("untouched member lost: %s", out)
	}
	// A process asking for more than the engine default is refused.
	p.Capabilities.Bounding = []string{"CAP_SYS_ADMIN"}
	data, _ = json.Marshal(p)
	os.WriteFile(path, data, 0o600)
	if _, stderr, code := f.run(t, "", "exec", "--process", path, "c1"); code == 0 || !strings.Contains(stderr, "CAP_SYS_ADMIN") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestVersionPrintsBoth(t *testing.T) {
	f := newFake(t, "")
	out, _, code := f.run(t, "", "--version")
	if code != 0 || !strings.HasPrefix(out, "runcage version ") {
		t.Fatalf("exit %d, out %q", code, out)
	}
	if got := f.forwarded(t); !equal(got, []string{"--version"}) {
		t.Fatalf("delegate got %q", got)
	}
}

func TestUpdateGuard(t *testing.T) {
	f := newFake(t, "[profiles.capped]\npids_limit = 100\n")
	res := filepath.Join(f.dir, "res.json")
	os.WriteFile(res, []byte(`{"pids":{"limit":0}}`), 0o644)
	if _, stderr, code := f.run(t, "", "--runcage-profile=capped", "update", "-r", res, "c1"); code == 0 || !strings.Contains(stderr, "pids limit unlimited refused") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	os.WriteFile(res, []byte(`{"unified":{"cgroup.procs":"1"}}`), 0o644)
	if _, stderr, code := f.run(t, "", "update", "--resources", res, "c1"); code == 0 || !strings.Contains(stderr, `unified.cgroup.procs" refused`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	os.WriteFile(res, []byte(`{"pids":{"limit":50},"memory":{"limit":1048576}}`), 0o644)
	if _, stderr, code := f.run(t, "", "--runcage-profile=capped", "update", "-r", res, "c1"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUsageAsksForHelp(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want bool
	}{
		{[]string{"runcage"}, true},
		{[]string{"runcage", "--help"}, true},
		{[]string{"runcage", "-h"}, true},
		{[]string{"runcage", "--root", "/r", "--help"}, true},
		{[]string{"runcage", "help"}, true},
		{[]string{"runcage", "help", "run"}, false},
		{[]string{"runcage", "run", "--help"}, false},
		{[]string{"runcage", "--version"}, false},
		{[]string{"runcage", "state", "c1"}, false},
	} {
		inv, err := Scan(tc.argv)
		if err != nil {
			t.Fatalf("%q: %v", tc.argv, err)
		}
		if got := usage(inv); got != tc.want {
			t.Errorf("usage(%q) = %v, want %v", tc.argv, got, tc.want)
		}
	}
}

package commands

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/runcage/runcage/profiles/policy"
)

// bugApp runs one command line of f's commands and returns its output.
func bugApp(t *testing.T, f *Front, args ...string) (string, string, error) {
	t.Helper()
	var out, errw bytes.Buffer
	app := &cli.App{Name: "runcage", Writer: &out, ErrWriter: &errw}
	for _, mk := range all {
		app.Commands = append(app.Commands, mk(f))
	}
	err := app.Run(append([]string{"runcage"}, args...))
	return out.String(), errw.String(), err
}

// bugPolicy writes a policy file with a profile named profile and returns
// its path.
func bugPolicy(t *testing.T, dir, profile string) string {
	t.Helper()
	p := filepath.Join(dir, profile+".toml")
	body := "profiles_dir = " + strconv.Quote(filepath.Join(dir, "profiles-"+profile)) + "\n[profiles." + profile + "]\npids_limit = 100\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// bugFront is a Front whose global policy is the file global.
func bugFront(global string) *Front {
	return &Front{LoadPolicy: func() (*policy.Policy, error) { return policy.Load(global, true) }}
}

// daemonRuntimes returns the runtime names and args of a daemon.json.
func daemonRuntimes(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Runtimes map[string]struct {
			RuntimeArgs []string `json:"runtimeArgs"`
		} `json:"runtimes"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for n, r := range d.Runtimes {
		out[n] = r.RuntimeArgs
	}
	return out
}

// TestInstallDockerPolicyRegistersItsProfiles: `install docker --policy
// PATH` registers the profiles of PATH, which the runtimes will load, not
// those of the global policy.
func TestInstallDockerPolicyRegistersItsProfiles(t *testing.T) {
	dir := t.TempDir()
	global, other := bugPolicy(t, dir, "globalonly"), bugPolicy(t, dir, "web")
	daemon := filepath.Join(dir, "daemon.json")
	if _, stderr, err := bugApp(t, bugFront(global), "install", "docker", "--config", daemon, "--policy", other); err != nil {
		t.Fatalf("install: %v\n%s", err, stderr)
	}
	rts := daemonRuntimes(t, daemon)
	if args, ok := rts["runcage-web"]; !ok || !slices.Contains(args, "--runcage-config="+other) {
		t.Errorf("runcage-web not registered with --runcage-config=%s: %v", other, rts)
	}
	if _, ok := rts["runcage-globalonly"]; ok {
		t.Errorf("registered the global policy's profile: %v", rts)
	}
	// A --profiles name is checked against PATH as well.
	if _, _, err := bugApp(t, bugFront(global), "install", "docker", "--config", daemon, "--policy", other, "--profiles", "globalonly"); err == nil {
		t.Error("--profiles globalonly accepted although --policy does not define it")
	}
	// A relative --policy would be resolved in dockerd's directory.
	if _, _, err := bugApp(t, bugFront(global), "install", "docker", "--config", daemon, "--policy", "web.toml"); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative --policy: err = %v", err)
	}
}

// TestProfileListCountsTheFilter: the count profile list prints is what the
// filter allows (runc's syscalls included), as profile show lists them.
func TestProfileListCountsTheFilter(t *testing.T) {
	dir := t.TempDir()
	f := bugFront(bugPolicy(t, dir, "web"))
	list, _, err := bugApp(t, f, "profile", "list")
	if err != nil {
		t.Fatal(err)
	}
	show, _, err := bugApp(t, f, "profile", "show", "web")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Allowed []string `json:"seccomp_allowed_syscalls"`
	}
	if err := json.Unmarshal([]byte(show), &s); err != nil || len(s.Allowed) == 0 {
		t.Fatalf("profile show web: %v\n%s", err, show)
	}
	want := strconv.Itoa(len(s.Allowed)) + " syscalls"
	for _, l := range strings.Split(list, "\n") {
		if fs := strings.Fields(l); len(fs) > 1 && fs[0] == "web" {
			if !strings.Contains(l, want) {
				t.Errorf("profile list says %q, want %q", l, want)
			}
			return
		}
	}
	t.Errorf("profile list lacks web:\n%s", list)
}

func TestShellWords(t *testing.T) {
	got := shellWords([]string{"/usr/bin/runcage", "--policy", "/etc/run cage/it's.toml", "--profiles", "a,b"})
	want := `/usr/bin/runcage --policy '/etc/run cage/it'\''s.toml' --profiles a,b`
	if got != want {
		t.Errorf("shellWords = %s, want %s", got, want)
	}
}

// TestGenerateSaysDockerNextStep: after generate, a daemon.json that
// registers runcage runtimes but not runcage-NAME gets the exact install
// command printed; --install-docker runs it.
func TestGenerateSaysDockerNextStep(t *testing.T) {
	dir := t.TempDir()
	global := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(global, []byte("profiles_dir = "+strconv.Quote(filepath.Join(dir, "profiles"))+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := bugFront(global)
	trace := filepath.Join(dir, "t.json")
	if err := os.WriteFile(trace, []byte(`{"version":1,"name":"t","source":"runcage","complete":true,"syscalls":{"read":1,"openat":2}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	daemon := filepath.Join(dir, "daemon.json")
	// No daemon.json: nothing about Docker.
	out, stderr, err := bugApp(t, f, "profile", "generate", "--name", "gen", "--docker-config", daemon, trace)
	if err != nil || strings.Contains(out, "docker") {
		t.Fatalf("generate without daemon.json: %v\n%s%s", err, out, stderr)
	}
	if _, stderr, err := bugApp(t, f, "install", "docker", "--config", daemon, "--profiles", "default"); err != nil {
		t.Fatalf("install: %v\n%s", err, stderr)
	}
	out, stderr, err = bugApp(t, f, "profile", "generate", "--name", "gen", "--force", "--docker-config", daemon, trace)
	if err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr)
	}
	exe, _ := os.Executable()
	want := exe + " install docker --config " + daemon + " --binary " + exe + " --profiles default,gen"
	if !strings.Contains(out, want) || !strings.Contains(out, "reload") {
		t.Errorf("generate does not print %q and a reload:\n%s", want, out)
	}
	if _, ok := daemonRuntimes(t, daemon)["runcage-gen"]; ok {
		t.Fatal("generate changed daemon.json without --install-docker")
	}
	out, stderr, err = bugApp(t, f, "profile", "generate", "--name", "gen", "--force", "--install-docker", "--docker-config", daemon, trace)
	if err != nil {
		t.Fatalf("generate --install-docker: %v\n%s", err, stderr)
	}
	if _, ok := daemonRuntimes(t, daemon)["runcage-gen"]; !ok {
		t.Errorf("--install-docker did not register runcage-gen:\n%s", out)
	}
	out, _, _ = bugApp(t, f, "profile", "generate", "--name", "gen", "--force", "--docker-config", daemon, trace)
	if !strings.Contains(out, "runtime runcage-gen is registered") {
		t.Errorf("regenerating a registered profile:\n%s", out)
	}
}

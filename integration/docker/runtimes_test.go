//go:build integration

package docker

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	it "github.com/runcage/runcage/integration"
)

// TestProfileRuntimesAreLinks: install registered each runcage-<profile>
// runtime as the runcage-<profile> link with no runtimeArgs, so dockerd
// runs the link itself: it writes a wrapper shell script (in
// <data-root>/runtimes) only for runtimes with runtimeArgs, and there is
// none for runcage's. TestRuntimePicksProfile shows the link selects the
// profile.
func TestProfileRuntimesAreLinks(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(eng.WorkDir, "daemon.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Runtimes map[string]struct {
			Path        string   `json:"path"`
			RuntimeArgs []string `json:"runtimeArgs"`
		} `json:"runtimes"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"default", "passthrough"} {
		rt := cfg.Runtimes["runcage-"+p]
		link := filepath.Join(filepath.Dir(runcageBin), "runcage-"+p)
		if rt.Path != link || len(rt.RuntimeArgs) != 0 {
			t.Errorf("runtime runcage-%s = %+v, want path %s and no runtimeArgs", p, rt, link)
		}
		if target, err := os.Readlink(link); err != nil || target != "runcage" {
			t.Errorf("%s -> %q (%v), want runcage", link, target, err)
		}
	}
	dir := filepath.Join(eng.WorkDir, "data", "runtimes")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("dockerd's wrapper-script directory: %v", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "runcage") {
			t.Errorf("dockerd wrote a wrapper script %s for a runcage runtime", filepath.Join(dir, e.Name()))
		}
	}
}

// dockerdMajor returns the major version of the dockerd binary
// ("Docker version 20.10.24+dfsg1, build 5d6db84" is 20).
func dockerdMajor() (int, string, error) {
	cmd := exec.Command("dockerd", "--version")
	cmd.Env = []string{it.HostPATH}
	out, err := cmd.Output()
	if err != nil {
		return 0, "", fmt.Errorf("dockerd --version: %w", err)
	}
	v := strings.TrimSpace(string(out))
	var major int
	if _, err := fmt.Sscanf(strings.TrimPrefix(v, "Docker version "), "%d.", &major); err != nil {
		return 0, v, fmt.Errorf("dockerd --version: cannot read %q: %w", v, err)
	}
	return major, v, nil
}

// TestShimRuntime runs a container with `docker run --runtime
// io.containerd.runcage.v2`, runcage's containerd shim by its runtime
// name, which Docker 23 and later hand to containerd (the shim must be in
// the PATH of dockerd's containerd). Docker 20.10 takes only runc-style
// runtime binaries, so there the test skips and runcage runs through the
// runtime-binary registration the other tests use.
func TestShimRuntime(t *testing.T) {
	major, version, err := dockerdMajor()
	if err != nil {
		t.Fatal(err)
	}
	if major < 23 {
		t.Skipf("%s cannot run a containerd shim as --runtime (Docker 23 and later can); Docker 20.10 runs runcage as a runtime binary (tested by the other tests)", version)
	}
	if _, err := it.FindShim(); err != nil {
		t.Fatal(err)
	}
	// Without shim options the shim reads the policy at its default
	// path: check the enforcement, not this suite's state directory.
	res := mustDocker(t, time.Minute, "run", "--rm", "--network", "none", "--runtime", "io.containerd.runcage.v2", busybox, "sh", "-c", reportScript)
	checkHardened(t, "io.containerd.runcage.v2", res.Stdout)
}

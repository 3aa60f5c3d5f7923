//go:build integration

package containerd

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	it "github.com/runcage/runcage/integration"
)

// shimVersions are the containerd releases, besides the installed one
// (Debian's 1.6, which runs the whole suite), that runcage's shim is
// tested against, with the version of their configuration file.
// integration/rootfs/containerd.sh builds them on first use.
var shimVersions = []struct {
	Version string
	Config  int
}{
	{"1.7.35", 2},
	{"2.4.2", 3},
}

// TestShimVersions runs a representative part of the shim tests against
// each of shimVersions: a hardened run with its refused exec and update,
// refused creates with runcage's reason, and a killed shim's cleanup,
// all through `ctr run --runtime /abs/shim --runtime-config-path`
// (runtimeoptions.Options with ConfigPath, what the CRI sends). A version
// that cannot be built is skipped with the reason, except in CI
// ($CI set), where that fails.
func TestShimVersions(t *testing.T) {
	for _, v := range shimVersions {
		t.Run("containerd-"+v.Version, func(t *testing.T) {
			useContainerd(t, v.Version, v.Config)
			ctrPrintsCode = strings.HasPrefix(v.Version, "1.")
			t.Cleanup(func() { ctrPrintsCode = true })
			t.Run("RunHardened", TestShimRunHardened)
			t.Run("Refused", TestShimRefused)
			t.Run("Killed", TestShimKilled)
		})
	}
}

// useContainerd starts containerd version (built by it.ContainerdBin) with
// a configuration file of version config, imports the test image and makes
// it the suite's daemon until t ends; then the suite's own daemon is back
// and the started one is purged and stopped. The tests using it must not
// run in parallel with others.
func useContainerd(t *testing.T, version string, config int) {
	t.Helper()
	startContainerd(t, version, it.ContainerdConfig{Version: config}, nil)
}

// startContainerd is useContainerd with the configuration cfg, and
// configure, when not nil, called with the daemon (already the suite's
// daemon) after its configuration file is written and before it starts.
func startContainerd(t *testing.T, version string, cfg it.ContainerdConfig, configure func(*it.Containerd) error) *it.Containerd {
	t.Helper()
	bin, err := it.ContainerdBin(version)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("containerd %s is needed in CI: %v", version, err)
		}
		t.Skipf("containerd %s could not be built here: %v", version, err)
	}
	d, err := it.NewContainerd()
	if err != nil {
		t.Fatal(err)
	}
	d.Bin = bin
	prev := daemon
	daemon = d
	t.Cleanup(func() {
		daemon = prev
		if err := d.Shutdown(ns); err != nil {
			t.Errorf("stop containerd %s: %v\n%s", version, err, d.LogTail())
		}
	})
	// The suite's policy names this daemon's directories as engine state
	// too (the CRI's network namespaces are under its state directory)
	// while it runs.
	policy := filepath.Join(eng.WorkDir, "policy.toml")
	orig, err := os.ReadFile(policy)
	if err != nil {
		t.Fatal(err)
	}
	const key = "\nengine_state_dirs = ["
	text := strings.Replace(string(orig), key, key+strconv.Quote(d.Root)+", "+strconv.Quote(d.State)+", ", 1)
	if text == string(orig) {
		t.Fatalf("the suite's policy %s has no engine_state_dirs line:\n%s", policy, orig)
	}
	if err := os.WriteFile(policy, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(policy, orig, 0o644); err != nil {
			t.Errorf("restore the suite's policy: %v", err)
		}
	})
	if err := d.WriteConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		if err := configure(d); err != nil {
			t.Fatal(err)
		}
	}
	// As the suite's daemon: the policy reaches the runc shim's runtime
	// through containerd's environment (runcage's shim reads the options).
	if err := d.Start([]string{"RUNCAGE_CONFIG=" + policy}); err != nil {
		t.Fatal(err)
	}
	if res := d.Ctr(ns, "version"); res.Exit == 0 {
		t.Logf("containerd %s from %s:\n%s", version, bin, res.Stdout)
	}
	if err := d.Import(ns, archive); err != nil {
		t.Fatal(err)
	}
	return d
}

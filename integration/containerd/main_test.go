//go:build integration

// Package containerd runs runcage under a real containerd 1.6 through
// `ctr run --runc-binary`, the way containerd's runc shim calls any
// runc-compatible runtime. TestMain starts one containerd on a private root,
// state directory and socket, imports a locally built busybox image into it,
// and stops and removes everything afterwards.
package containerd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	it "github.com/runcage/runcage/integration"
)

// ns is the containerd namespace the tests work in.
const ns = "runcage-it"

// image is the reference the busybox test image is imported under.
const image = "docker.io/runcage/busybox:it"

var (
	daemon   *it.Containerd
	bins     it.Binaries
	stateDir string // runcage's state_dir, from the test policy
	workDir  string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	return it.Suite{
		Name:     "containerd",
		Needs:    "they start containerd and real containers",
		Setup:    setup,
		Teardown: teardown,
	}.Run(m)
}

func setup() error {
	var err error
	if bins, err = it.FindBinaries(); err != nil {
		return err
	}
	if workDir, err = os.MkdirTemp("", "runcage-ctr-it-"); err != nil {
		return err
	}
	if err := os.Chmod(workDir, 0o711); err != nil {
		return err
	}
	probe := filepath.Join(workDir, "probe")
	if err := it.BuildProbe(probe); err != nil {
		return err
	}
	archive, err := it.BuildImageArchive(workDir, it.OCIImage{
		Name: image,
		Cmd:  []string{"/bin/sh"},
		Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	}, it.RootfsOptions{Extra: map[string]string{"/bin/probe": probe}})
	if err != nil {
		return err
	}
	// The policy reaches runcage through containerd's environment: the
	// runc shim runs its runtime with the shim's environment, which is
	// containerd's. Its state_dir keeps runcage's allocations and mounts
	// in this test's directory, where the tests can count them.
	stateDir = filepath.Join(workDir, "runcage-state")
	policy := "state_dir = " + strconv.Quote(stateDir) + "\nvolume_roots = [" + strconv.Quote(filepath.Join(workDir, "vols")) + "]\n"
	if filepath.Join(filepath.Dir(bins.Runcage), "runc") != bins.Runc {
		policy += "runtime = " + strconv.Quote(bins.Runc) + "\n"
	}
	if daemon, err = it.NewContainerd(); err != nil {
		return err
	}
	// This containerd's private root and state are engine state, as
	// /var/lib/containerd and /run/containerd are by default.
	policy += "engine_state_dirs = [" + strconv.Quote(daemon.Root) + ", " + strconv.Quote(daemon.State) + "]\n"
	policyPath := filepath.Join(workDir, "policy.toml")
	if err := os.WriteFile(policyPath, []byte(policy), 0o644); err != nil {
		return err
	}
	if err := daemon.WriteConfig(it.ContainerdConfig{CRI: false}); err != nil {
		return err
	}
	if err := daemon.Start([]string{"RUNCAGE_CONFIG=" + policyPath}); err != nil {
		return err
	}
	if res := daemon.Ctr(ns, "image", "import", archive); res.Exit != 0 {
		return fmt.Errorf("import image: %s", res)
	}
	return nil
}

func teardown() error {
	var errs []error
	if daemon != nil {
		if err := daemon.Purge(ns); err != nil {
			errs = append(errs, err)
		}
		if err := daemon.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if workDir != "" {
		if mounts, _ := it.MountPointsUnder(workDir); len(mounts) > 0 {
			errs = append(errs, fmt.Errorf("mounts left under %s: %q", workDir, mounts))
		}
		os.RemoveAll(workDir)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	return nil
}

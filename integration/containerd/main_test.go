//go:build integration

// Package containerd runs runcage under a real containerd 1.6 through
// `ctr run`, both through runcage's own shim (containerd-shim-runcage-v2)
// and through containerd's runc shim with runcage as its runc binary
// (`--runc-binary`, the way that shim calls any runc-compatible runtime). TestMain starts one containerd on a private root,
// state directory and socket, imports a locally built busybox image into it,
// and stops and removes everything afterwards.
package containerd

import (
	"os"
	"testing"

	it "github.com/runcage/runcage/integration"
)

// ns is the containerd namespace the tests work in.
const ns = "runcage-it"

// image is the reference the busybox test image is imported under.
const image = "docker.io/runcage/busybox:it"

var (
	eng    it.Engine
	daemon *it.Containerd
)

func TestMain(m *testing.M) {
	os.Exit(it.EngineSuite{Name: "containerd", Engine: &eng, Start: start,
		Stop: func() error { return daemon.Shutdown(ns) }, MountsAreLeaks: true}.Run(m))
}

// archive is the busybox test image's OCI archive, for the daemons
// TestShimVersions starts.
var archive string

func start() error {
	var err error
	if archive, err = eng.BusyboxArchive(image); err != nil {
		return err
	}
	// The policy reaches runcage through containerd's environment: the
	// runc shim runs its runtime with the shim's environment, which is
	// containerd's. Its state_dir keeps runcage's allocations and mounts
	// in this test's directory, where the tests can count them.
	var policy string
	if daemon, policy, err = eng.ContainerdEngine(it.LandlockPolicy); err != nil {
		return err
	}
	if err := daemon.WriteConfig(it.ContainerdConfig{CRI: false}); err != nil {
		return err
	}
	if err := daemon.Start([]string{"RUNCAGE_CONFIG=" + policy}); err != nil {
		return err
	}
	return daemon.Import(ns, archive)
}

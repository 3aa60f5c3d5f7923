//go:build integration

// Package docker runs runcage under a real dockerd (Debian's docker.io
// 20.10), registered the way users register it: `runcage install docker`
// writes the daemon.json the daemon is started with (runtimes "runcage"
// and "runcage-<profile>", the latter running the runcage-<profile> link
// install makes, with no runtimeArgs), and the policy reaches runcage
// through dockerd's environment, as /etc/runcage/config.toml would by
// default. TestMain starts one
// dockerd (which starts its own containerd) on a private socket, data root
// and exec root under a temporary directory, imports a busybox image (with
// the probe) and the cached Debian rootfs, and stops, unmounts and removes
// everything afterwards, also when a test fails.
package docker

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	it "github.com/runcage/runcage/integration"
)

const (
	busybox = "runcage-it/busybox:it"
	debian  = "runcage-it/debian:it"
)

var (
	eng     it.Engine
	sock    string
	dockerd *it.Daemon
	// runcageBin is the copy of runcage install registered; its
	// runcage-<profile> links are beside it.
	runcageBin string
	// cli is the docker CLI for this dockerd, with only PATH and a private
	// HOME and client configuration in its environment.
	cli it.CLI
)

func TestMain(m *testing.M) {
	os.Exit(it.EngineSuite{Name: "docker", Tools: []string{"dockerd", "docker"}, Package: "docker.io",
		Engine: &eng, Start: start, Stop: stop}.Run(m))
}

func start() error {
	sock = filepath.Join(eng.WorkDir, "docker.sock")
	cli = it.CLI{
		Argv: []string{"docker", "--host", "unix://" + sock},
		Env:  []string{it.HostPATH, "HOME=" + eng.WorkDir, "DOCKER_CONFIG=" + filepath.Join(eng.WorkDir, "cli")},
	}
	// The volumes the tests bind live in WorkDir/vols: the policy names it
	// a volume root, as /var/lib/docker/volumes is by default; and it names
	// this dockerd's private data and exec roots as engine state, as
	// /var/lib/docker and /run/docker are by default.
	policy, err := eng.WritePolicy([]string{filepath.Join(eng.WorkDir, "data"), filepath.Join(eng.WorkDir, "exec")}, it.LandlockPolicy)
	if err != nil {
		return err
	}
	// A copy of runcage, so that install's runcage-<profile> links land
	// in this suite's directory.
	runcageBin = filepath.Join(eng.WorkDir, "bin", "runcage")
	if err := os.MkdirAll(filepath.Dir(runcageBin), 0o755); err != nil {
		return err
	}
	b, err := os.ReadFile(eng.Bins.Runcage)
	if err != nil {
		return err
	}
	if err := os.WriteFile(runcageBin, b, 0o755); err != nil {
		return err
	}
	// and the Landlock helper it (and its shim) finds beside itself.
	helper, err := it.LandlockHelperBeside(eng.Bins.Runcage)
	if err != nil {
		return err
	}
	if b, err = os.ReadFile(helper); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(runcageBin), "runcage-landlock"), b, 0o755); err != nil {
		return err
	}
	// Beside it, runcage's shim, for Docker 23+ (TestShimRuntime): dockerd's
	// PATH starts with this directory, and its containerd finds the shim
	// there by name.
	if shim, err := it.FindShim(); err == nil {
		if b, err = os.ReadFile(shim); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(filepath.Dir(runcageBin), "containerd-shim-runcage-v2"), b, 0o755); err != nil {
			return err
		}
	}
	daemonJSON := filepath.Join(eng.WorkDir, "daemon.json")
	for i, want := range []string{"wrote " + daemonJSON, "already installed"} {
		// The second run proves idempotence on the real binary.
		out, err := exec.Command(eng.Bins.Runcage, "--runcage-config", policy, "install", "docker",
			"--config", daemonJSON, "--binary", runcageBin,
			"--profiles", "default,passthrough,"+it.LandlockProfile).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			return fmt.Errorf("runcage install docker (run %d): %v: %s", i+1, err, out)
		}
	}
	argv := []string{"dockerd",
		"--host", "unix://" + sock,
		"--data-root", filepath.Join(eng.WorkDir, "data"),
		"--exec-root", filepath.Join(eng.WorkDir, "exec"),
		"--pidfile", filepath.Join(eng.WorkDir, "docker.pid"),
		"--config-file", daemonJSON,
		"--iptables=false", "--ip6tables=false", "--ip-masq=false", "--bridge=none",
		"--storage-driver", "overlay2",
	}
	// dockerd → containerd → runc shim → runcage all inherit
	// RUNCAGE_CONFIG.
	if dockerd, err = it.StartDaemon("dockerd", argv, []string{"PATH=" + filepath.Dir(runcageBin) + ":" + strings.TrimPrefix(it.HostPATH, "PATH="), "RUNCAGE_CONFIG=" + policy}, filepath.Join(eng.WorkDir, "dockerd.log")); err != nil {
		return err
	}
	if err := it.WaitHTTPSocket(dockerd, sock, "/_ping", 60*time.Second); err != nil {
		return err
	}
	bb, err := eng.BusyboxRootfs()
	if err != nil {
		return err
	}
	deb, err := it.DebianRootfs()
	if err != nil {
		return err
	}
	for _, img := range []struct {
		rootfs, ref string
		timeout     time.Duration
	}{{bb, busybox, 2 * time.Minute}, {deb, debian, 5 * time.Minute}} {
		t0 := time.Now()
		if err := it.ImportImage(cli.Argv, cli.Env, img.rootfs, img.ref, img.timeout); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "docker suite: %s imported in %v\n", img.ref, time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// stop removes every container and stops dockerd (and with it its
// containerd); EngineSuite then kills any shim or runtime left for this
// root, unmounts everything under the work directory and removes it.
func stop() error {
	if dockerd == nil {
		return nil
	}
	var errs []error
	if ids := docker(30*time.Second, "ps", "-aq"); ids.Exit == 0 && strings.TrimSpace(ids.Stdout) != "" {
		errs = append(errs, docker(2*time.Minute, append([]string{"rm", "-f"}, strings.Fields(ids.Stdout)...)...).ExitError())
	}
	return errors.Join(append(errs, dockerd.Stop(30*time.Second))...)
}

// docker runs the docker CLI against the test's dockerd and waits up to
// timeout.
func docker(timeout time.Duration, args ...string) it.Result {
	return cli.Run(timeout, args...)
}

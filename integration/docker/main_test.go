//go:build integration

// Package docker runs runcage under a real dockerd (Debian's docker.io
// 20.10), registered the way users register it: `runcage install docker`
// writes the daemon.json the daemon is started with. TestMain starts one
// dockerd (which starts its own containerd) on a private socket, data root
// and exec root under a temporary directory, imports a busybox image (with
// the probe) and the cached Debian rootfs, and stops, unmounts and removes
// everything afterwards, also when a test fails.
package docker

import (
	"bytes"
	"context"
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
	bins     it.Binaries
	workDir  string
	stateDir string // runcage's state_dir, from the test policy
	sock     string
	dockerd  *it.Daemon
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	return it.Suite{
		Name:     "docker",
		Needs:    "they start dockerd and real containers",
		Setup:    setup,
		Teardown: teardown,
	}.Run(m)
}

func setup() error {
	var err error
	if bins, err = it.FindBinaries(); err != nil {
		return err
	}
	for _, tool := range []string{"dockerd", "docker"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not installed (make deps installs docker.io): %w", tool, err)
		}
	}
	if workDir, err = os.MkdirTemp("", "runcage-docker-it-"); err != nil {
		return err
	}
	// Traversable by the containers' mapped root, which owns nothing here.
	if err := os.Chmod(workDir, 0o711); err != nil {
		return err
	}
	stateDir = filepath.Join(workDir, "state")
	sock = filepath.Join(workDir, "docker.sock")
	policy := filepath.Join(workDir, "policy.toml")
	// The volumes the tests bind live in workDir/vols: name it a volume
	// root, as /var/lib/docker/volumes is by default; and name this
	// dockerd's private data and exec roots as engine state, as
	// /var/lib/docker and /run/docker are by default.
	pol := fmt.Sprintf("runtime = %q\nstate_dir = %q\nvolume_roots = [%q]\nengine_state_dirs = [%q, %q]\n",
		bins.Runc, stateDir, filepath.Join(workDir, "vols"), filepath.Join(workDir, "data"), filepath.Join(workDir, "exec"))
	if err := os.WriteFile(policy, []byte(pol), 0o644); err != nil {
		return err
	}
	daemonJSON := filepath.Join(workDir, "daemon.json")
	for i, want := range []string{"wrote " + daemonJSON, "already installed"} {
		// The second run proves idempotence on the real binary.
		out, err := exec.Command(bins.Runcage, "--runcage-config", policy, "install", "docker",
			"--config", daemonJSON, "--binary", bins.Runcage, "--policy", policy,
			"--profiles", "default,passthrough").CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			return fmt.Errorf("runcage install docker (run %d): %v: %s", i+1, err, out)
		}
	}
	argv := []string{"dockerd",
		"--host", "unix://" + sock,
		"--data-root", filepath.Join(workDir, "data"),
		"--exec-root", filepath.Join(workDir, "exec"),
		"--pidfile", filepath.Join(workDir, "docker.pid"),
		"--config-file", daemonJSON,
		"--iptables=false", "--ip6tables=false", "--ip-masq=false", "--bridge=none",
		"--storage-driver", "overlay2",
	}
	if dockerd, err = it.StartDaemon("dockerd", argv, []string{it.HostPATH}, filepath.Join(workDir, "dockerd.log")); err != nil {
		return err
	}
	if err := it.WaitHTTPSocket(dockerd, sock, "/_ping", 60*time.Second); err != nil {
		return err
	}
	probe := filepath.Join(workDir, "probe")
	if err := it.BuildProbe(probe); err != nil {
		return err
	}
	bb := filepath.Join(workDir, "busybox-rootfs")
	if err := it.BuildRootfs(bb, it.RootfsOptions{Extra: map[string]string{"/bin/probe": probe}}); err != nil {
		return err
	}
	t0 := time.Now()
	if err := it.ImportImage(dockerCLI(), []string{it.HostPATH}, bb, busybox, 2*time.Minute); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "docker suite: busybox image imported in %v\n", time.Since(t0).Round(time.Millisecond))
	deb, err := it.DebianRootfs()
	if err != nil {
		return err
	}
	t0 = time.Now()
	if err := it.ImportImage(dockerCLI(), []string{it.HostPATH}, deb, debian, 5*time.Minute); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "docker suite: debian image imported in %v\n", time.Since(t0).Round(time.Millisecond))
	return nil
}

// teardown removes every container, stops dockerd (and with it its
// containerd), kills any shim or runtime left for this root, unmounts
// everything under the work directory and removes it.
func teardown() error {
	var errs []string
	if dockerd != nil {
		if ids := docker(30*time.Second, "ps", "-aq"); ids.exit == 0 && strings.TrimSpace(ids.stdout) != "" {
			if res := docker(2*time.Minute, append([]string{"rm", "-f"}, strings.Fields(ids.stdout)...)...); res.exit != 0 {
				errs = append(errs, res.String())
			}
		}
		if err := dockerd.Stop(30 * time.Second); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if workDir == "" {
		return nil
	}
	for _, k := range it.KillProcessesUnder(workDir) {
		errs = append(errs, "killed leftover process "+k)
	}
	if err := it.UnmountUnder(workDir); err != nil {
		errs = append(errs, err.Error())
	}
	if err := os.RemoveAll(workDir); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

func dockerCLI() []string {
	return []string{"docker", "--host", "unix://" + sock}
}

// result is one docker CLI invocation.
type result struct {
	argv           []string
	stdout, stderr string
	exit           int
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("%q: exit %d in %v\nstdout:\n%s\nstderr:\n%s", r.argv, r.exit, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// docker runs the docker CLI against the test's dockerd, with only PATH in
// its environment, and waits up to timeout.
func docker(timeout time.Duration, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cli := dockerCLI()
	argv := append(cli[1:], args...)
	cmd := exec.CommandContext(ctx, cli[0], argv...)
	cmd.Env = []string{it.HostPATH, "HOME=" + workDir, "DOCKER_CONFIG=" + filepath.Join(workDir, "cli")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	res := result{argv: append(cli, args...), stdout: out.String(), stderr: errb.String(), exit: -1, elapsed: time.Since(start)}
	if cmd.ProcessState != nil {
		res.exit = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		res.stderr += fmt.Sprintf("\n(timed out after %v)", timeout)
	} else if err != nil && res.exit == -1 {
		res.stderr += "\n" + err.Error()
	}
	return res
}

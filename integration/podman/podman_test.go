//go:build integration

// Package podman runs runcage under a real Podman 4.3 (`podman run
// --runtime <repo>/bin/runcage`), with Podman's storage, run root, tmpdir
// and events on private paths under a temporary directory.
//
// Podman runs `create` through conmon, with conmon's environment, but
// `start`, `delete` and the exit command's clean-up directly, with a
// stripped environment and (for the clean-up) without --runtime-flag. So
// RUNCAGE_CONFIG and --runtime-flag=runcage-config cannot carry a policy
// to every invocation, and a `delete` that reads another policy than its
// `create` would look for the container's state in the wrong place. These
// tests therefore use runcage's built-in policy (no /etc/runcage/config.toml
// on the test host, state under /run/runcage, delegate bin/runc beside
// bin/runcage), as a production host uses its one policy file, and check
// leaks by the container ids they started.
package podman

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

	"golang.org/x/sys/unix"

	it "github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/policy"
)

const image = "localhost/runcage-it/busybox:it"

var (
	bins    it.Binaries
	workDir string
	// ulimits holds --ulimit flags when this process cannot raise
	// resource limits (see setup).
	ulimits []string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	return it.Suite{
		Name:     "podman",
		Needs:    "they start real containers",
		Setup:    setup,
		Teardown: teardown,
	}.Run(m)
}

func setup() error {
	var err error
	if bins, err = it.FindBinaries(); err != nil {
		return err
	}
	if filepath.Join(filepath.Dir(bins.Runcage), "runc") != bins.Runc {
		return fmt.Errorf("the podman suite uses runcage's built-in policy, whose delegate is the runc beside runcage; $RUNC=%s is not %s", bins.Runc, filepath.Join(filepath.Dir(bins.Runcage), "runc"))
	}
	if _, err := os.Stat(policy.DefaultPath); err == nil {
		return fmt.Errorf("%s exists: the podman suite relies on the built-in policy (see the package comment) and never edits the host's", policy.DefaultPath)
	}
	for _, tool := range []string{"podman", "conmon"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not installed (make deps installs podman): %w", tool, err)
		}
	}
	if workDir, err = os.MkdirTemp("", "runcage-podman-it-"); err != nil {
		return err
	}
	if err := os.Chmod(workDir, 0o711); err != nil {
		return err
	}
	// Podman (as root) sets RLIMIT_NOFILE to 1048576 and RLIMIT_NPROC to
	// 32768, and runc raises them with prlimit, which needs
	// CAP_SYS_RESOURCE. A test runner without it (some CI sandboxes)
	// could start no container at all, with plain runc as with runcage,
	// so pass limits no higher than this process's own.
	if !hasCap(unix.CAP_SYS_RESOURCE) {
		var nofile, nproc unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile)
		unix.Getrlimit(unix.RLIMIT_NPROC, &nproc)
		ulimits = []string{
			"--ulimit", fmt.Sprintf("nofile=%d:%d", min(nofile.Max, 1024), min(nofile.Max, 1024)),
			"--ulimit", fmt.Sprintf("nproc=%d:%d", min(nproc.Max, 4096), min(nproc.Max, 4096)),
		}
		fmt.Fprintf(os.Stderr, "podman suite: no CAP_SYS_RESOURCE here, so podman's default rlimits cannot be set by any runtime; passing %v\n", ulimits)
	}
	probe := filepath.Join(workDir, "probe")
	if err := it.BuildProbe(probe); err != nil {
		return err
	}
	bb := filepath.Join(workDir, "busybox-rootfs")
	if err := it.BuildRootfs(bb, it.RootfsOptions{Extra: map[string]string{"/bin/probe": probe}}); err != nil {
		return err
	}
	return it.ImportImage(podmanCLI(), []string{it.HostPATH}, bb, image, 2*time.Minute)
}

func hasCap(c int) bool {
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}

func teardown() error {
	if workDir == "" {
		return nil
	}
	var errs []string
	if res := podman(2*time.Minute, "rm", "-af", "-t", "0"); res.exit != 0 {
		errs = append(errs, res.String())
	}
	if res := podman(2*time.Minute, "system", "reset", "-f"); res.exit != 0 {
		errs = append(errs, res.String())
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

// podmanCLI is podman with every path of its own under workDir. The
// same flags reach the clean-up podman that conmon runs when a container
// exits.
func podmanCLI() []string {
	return []string{"podman",
		"--root", filepath.Join(workDir, "root"),
		"--runroot", filepath.Join(workDir, "runroot"),
		"--tmpdir", filepath.Join(workDir, "tmp"),
		"--storage-driver", "overlay",
		"--cgroup-manager", "cgroupfs",
		"--events-backend", "file",
	}
}

type result struct {
	argv           []string
	stdout, stderr string
	exit           int
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("%q: exit %d in %v\nstdout:\n%s\nstderr:\n%s", r.argv, r.exit, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// podman runs podman with only PATH (and a private HOME and containers
// config directory) in its environment.
func podman(timeout time.Duration, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cli := podmanCLI()
	cmd := exec.CommandContext(ctx, cli[0], append(cli[1:], args...)...)
	cmd.Env = []string{it.HostPATH, "HOME=" + workDir, "XDG_CONFIG_HOME=" + filepath.Join(workDir, "config")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	cmd.Run()
	res := result{argv: append(cli, args...), stdout: out.String(), stderr: errb.String(), exit: -1, elapsed: time.Since(start)}
	if cmd.ProcessState != nil {
		res.exit = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		res.stderr += fmt.Sprintf("\n(timed out after %v)", timeout)
	}
	return res
}

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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	it "github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/policy"
)

const image = "localhost/runcage-it/busybox:it"

var (
	eng it.Engine
	// cli is podman with every path of its own under the work directory,
	// and only PATH (and a private HOME and containers config directory)
	// in its environment. The same flags reach the clean-up podman that
	// conmon runs when a container exits.
	cli it.CLI
	// ulimits holds --ulimit flags when this process cannot raise
	// resource limits (see start).
	ulimits []string
)

func TestMain(m *testing.M) {
	os.Exit(it.EngineSuite{Name: "podman", Tools: []string{"podman", "conmon"}, Package: "podman",
		Engine: &eng, Start: start, Stop: stop}.Run(m))
}

func start() error {
	bins := eng.Bins
	if filepath.Join(filepath.Dir(bins.Runcage), "runc") != bins.Runc {
		return fmt.Errorf("the podman suite uses runcage's built-in policy, whose delegate is the runc beside runcage; $RUNC=%s is not %s", bins.Runc, filepath.Join(filepath.Dir(bins.Runcage), "runc"))
	}
	if _, err := os.Stat(policy.DefaultPath); err == nil {
		return fmt.Errorf("%s exists: the podman suite relies on the built-in policy (see the package comment) and never edits the host's", policy.DefaultPath)
	}
	cli = it.CLI{
		Argv: []string{"podman",
			"--root", filepath.Join(eng.WorkDir, "root"),
			"--runroot", filepath.Join(eng.WorkDir, "runroot"),
			"--tmpdir", filepath.Join(eng.WorkDir, "tmp"),
			"--storage-driver", "overlay",
			"--cgroup-manager", "cgroupfs",
			"--events-backend", "file",
		},
		Env: []string{it.HostPATH, "HOME=" + eng.WorkDir, "XDG_CONFIG_HOME=" + filepath.Join(eng.WorkDir, "config")},
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
	bb, err := eng.BusyboxRootfs()
	if err != nil {
		return err
	}
	return it.ImportImage(cli.Argv, cli.Env, bb, image, 2*time.Minute)
}

func hasCap(c int) bool {
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}

// stop removes every container and resets podman's storage; EngineSuite
// then kills what is left, unmounts and removes the work directory.
func stop() error {
	if cli.Argv == nil {
		return nil
	}
	return errors.Join(podman(2*time.Minute, "rm", "-af", "-t", "0").ExitError(), podman(2*time.Minute, "system", "reset", "-f").ExitError())
}

// podman runs the podman CLI and waits up to timeout.
func podman(timeout time.Duration, args ...string) it.Result {
	return cli.Run(timeout, args...)
}

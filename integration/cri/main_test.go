//go:build integration

// Package cri runs runcage under a real containerd 1.6 through the CRI,
// exactly as the kubelet does for a pod whose RuntimeClass names the
// handler "runcage": a Go client on k8s.io/cri-api v1 calls RunPodSandbox
// with runtime_handler "runcage", then CreateContainer and StartContainer.
//
// TestMain registers runcage with containerd the way an administrator does,
// with `runcage install containerd` on a private main config (handlers
// "runcage" and "runcage-strict" run runcage's shim,
// containerd-shim-runcage-v2), starts containerd on a private root, state
// directory and socket, and imports a locally built pause image and busybox
// image into the k8s.io namespace (there is no registry to pull from). The
// main config also registers "bin-runcage" and "bin-runcage-strict" as
// install did before the shim (and still does with --shim=false):
// containerd's runc shim with runcage as its runc binary. Every test of
// runcage's enforcement runs through both (see registrations).
package cri

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	it "github.com/runcage/runcage/integration"
)

const (
	// criNS is the containerd namespace the CRI plugin uses.
	criNS = "k8s.io"
	// pauseImage and busyboxImage are the references the test images are
	// imported under; the CRI's sandbox_image is pauseImage.
	pauseImage   = "docker.io/runcage/pause:it"
	busyboxImage = "docker.io/runcage/busybox:it"
)

var (
	eng    it.Engine
	daemon *it.Containerd
	client *it.CRIClient
	// runcageBin is the copy of runcage that install registered; the
	// runcage-<profile> links and the copy of the shim are beside it.
	runcageBin string
	// shimBin is that copy of the shim; optionsDir holds the options files
	// install wrote for the shim handlers.
	shimBin, optionsDir string
	// cgroupParent is the pods' cgroup parent (cgroupfs driver).
	cgroupParent string
	// installOutput is what `runcage install containerd` printed.
	installOutput string
)

// testPolicy is the runcage policy of this suite. "strict" may be selected
// by the runcage.dev/profile annotation of a default pod: it is the
// default profile with a pids limit, so it tightens. "loose" may be named
// too, but it keeps a capability the default profile does not, so runcage
// must refuse it.
const testPolicy = `
[profiles.default]
annotation_selectable = ["strict", "loose", "ll"]

[profiles.strict]
description = "default plus a pids limit, for the CRI suite"
pids_limit = 64

[profiles.loose]
description = "keeps CAP_NET_RAW: weaker than default"
capabilities = ["CAP_NET_RAW"]
` + it.LandlockPolicy

func TestMain(m *testing.M) {
	os.Exit(it.EngineSuite{Name: "cri", Engine: &eng, Start: start, Stop: stop, MountsAreLeaks: true,
		OnSetupError: func() {
			if daemon != nil {
				fmt.Fprintln(os.Stderr, "containerd log:\n"+daemon.LogTail())
			}
		}}.Run(m))
}

func start() error {
	// Images: the pause program alone, and busybox with the probe.
	pauseTar, err := eng.PauseArchive(pauseImage)
	if err != nil {
		return err
	}
	busyboxTar, err := eng.BusyboxArchive(busyboxImage)
	if err != nil {
		return err
	}

	// containerd's main config, as a node has it before runcage, and the
	// policy. It reaches runcage through containerd's environment
	// (containerd → containerd-shim-runc-v2 → runcage all inherit it).
	var policyPath string
	if daemon, policyPath, err = eng.ContainerdEngine(testPolicy); err != nil {
		return err
	}
	subnet := fmt.Sprintf("10.213.%d.0/24", os.Getpid()%250+1)
	if err := daemon.WriteConfig(it.ContainerdConfig{CRI: true, SandboxImage: pauseImage, Runc: eng.Bins.Runc, Subnet: subnet}); err != nil {
		return err
	}

	// runcage install containerd, on copies of runcage and the shim so
	// that the runcage-<profile> links land in this test's directory, and
	// with the shim already where containerd 1.6 looks for it by name (the
	// daemon's PATH starts with binDir), so install makes no link
	// elsewhere.
	binDir := filepath.Join(eng.WorkDir, "bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		return err
	}
	shim, err := it.FindShim()
	if err != nil {
		return err
	}
	runcageBin = filepath.Join(binDir, "runcage")
	shimBin = filepath.Join(binDir, "containerd-shim-runcage-v2")
	// The Landlock helper goes beside the copies, where runcage and the
	// shim look for it.
	helper, err := it.LandlockHelperBeside(eng.Bins.Runcage)
	if err != nil {
		return err
	}
	for src, dst := range map[string]string{eng.Bins.Runcage: runcageBin, shim: shimBin, helper: filepath.Join(binDir, "runcage-landlock")} {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			return err
		}
	}
	bins := map[string]string{}
	for name, bin := range binaryHandlers {
		bins[name] = filepath.Join(binDir, bin)
	}
	if err := it.AddRuncHandlers(daemon.Config, bins); err != nil {
		return err
	}
	optionsDir = filepath.Join(eng.WorkDir, "shim-options")
	cmd := exec.Command(eng.Bins.Runcage, "--runcage-config", policyPath, "install", "containerd",
		"--config", daemon.Config,
		"--dropin", filepath.Join(daemon.Dir, "conf.d", "runcage.toml"),
		"--binary", runcageBin,
		"--shim-binary", shimBin,
		"--shim-link-dir", binDir,
		"--options-dir", optionsDir,
		"--profiles", "strict")
	cmd.Env = []string{it.HostPATH}
	out, err := cmd.CombinedOutput()
	installOutput = string(out)
	if err != nil {
		return fmt.Errorf("runcage install containerd: %w\n%s", err, out)
	}

	cgroupParent = fmt.Sprintf("/runcage-cri-it-%d", os.Getpid())
	// RUNCAGE_CONFIG reaches runcage through containerd's runc shim; the
	// shim handlers name the policy in their options files.
	if err := daemon.Start([]string{"RUNCAGE_CONFIG=" + policyPath, "PATH=" + binDir + ":" + strings.TrimPrefix(it.HostPATH, "PATH=")}); err != nil {
		return err
	}
	if err := daemon.Import(criNS, pauseTar, busyboxTar); err != nil {
		return err
	}
	if client, err = it.DialCRI(daemon.Address); err != nil {
		return err
	}
	return client.WaitImages(pauseImage, busyboxImage)
}

// binaryHandlers are the handlers of the runc-binary registration the
// suite adds to the main config (it.AddRuncHandlers), for the policy's
// default profile and for "strict" (through the runcage-strict link
// install makes), by the binary in the suite's bin directory they run.
var binaryHandlers = map[string]string{"bin-runcage": "runcage", "bin-runcage-strict": "runcage-strict"}

// stop removes every pod and stops containerd, and removes the pods'
// cgroup parent; EngineSuite then checks and removes the work directory.
func stop() error {
	var errs []error
	if client != nil {
		errs = append(errs, removeAllPods()...)
		client.Conn.Close()
	}
	errs = append(errs, daemon.Shutdown(criNS))
	if cgroupParent != "" {
		// runc removes each container's cgroup; the parent is the test's.
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", cgroupParent))
		for _, d := range dirs {
			if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// removeAllPods stops and removes every pod sandbox the CRI knows.
func removeAllPods() []error {
	c, cancel := ctx()
	defer cancel()
	resp, err := client.Runtime.ListPodSandbox(c, &cri.ListPodSandboxRequest{})
	if err != nil {
		return []error{fmt.Errorf("list pods: %w", err)}
	}
	var errs []error
	for _, p := range resp.Items {
		if _, err := client.Runtime.StopPodSandbox(c, &cri.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop pod %s: %w", p.Id, err))
		}
		if _, err := client.Runtime.RemovePodSandbox(c, &cri.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove pod %s: %w", p.Id, err))
		}
	}
	return errs
}

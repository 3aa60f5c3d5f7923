//go:build integration

// Package cri runs runcage under a real containerd 1.6 through the CRI,
// exactly as the kubelet does for a pod whose RuntimeClass names the
// handler "runcage": a Go client on k8s.io/cri-api v1 calls RunPodSandbox
// with runtime_handler "runcage", then CreateContainer and StartContainer.
//
// TestMain registers runcage with containerd the way an administrator does,
// with `runcage install containerd` on a private main config, starts
// containerd on a private root, state directory and socket, and imports a
// locally built pause image and busybox image into the k8s.io namespace
// (there is no registry to pull from).
package cri

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

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
	client *criClient
	// runcageBin is the copy of runcage that install registered; the
	// runcage-<profile> links are beside it.
	runcageBin string
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
annotation_selectable = ["strict", "loose"]

[profiles.strict]
description = "default plus a pids limit, for the CRI suite"
pids_limit = 64

[profiles.loose]
description = "keeps CAP_NET_RAW: weaker than default"
capabilities = ["CAP_NET_RAW"]
`

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
	pause := filepath.Join(eng.WorkDir, "pause")
	if err := it.BuildPause(pause); err != nil {
		return err
	}
	pauseDir := filepath.Join(eng.WorkDir, "pause-image")
	for _, d := range []string{"", "dev", "proc", "sys", "etc"} {
		if err := os.MkdirAll(filepath.Join(pauseDir, d), 0o755); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(pause)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(pauseDir, "pause"), b, 0o755); err != nil {
		return err
	}
	pauseTar := filepath.Join(eng.WorkDir, "pause.tar")
	if err := it.WriteOCIArchive(pauseTar, it.OCIImage{Name: pauseImage, Rootfs: pauseDir, Entrypoint: []string{"/pause"}}); err != nil {
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

	// runcage install containerd, on a copy of runcage so that the
	// runcage-<profile> links land in this test's directory.
	binDir := filepath.Join(eng.WorkDir, "bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		return err
	}
	runcageBin = filepath.Join(binDir, "runcage")
	if b, err = os.ReadFile(eng.Bins.Runcage); err != nil {
		return err
	}
	if err := os.WriteFile(runcageBin, b, 0o755); err != nil {
		return err
	}
	cmd := exec.Command(eng.Bins.Runcage, "--runcage-config", policyPath, "install", "containerd",
		"--config", daemon.Config,
		"--dropin", filepath.Join(daemon.Dir, "conf.d", "runcage.toml"),
		"--binary", runcageBin,
		"--profiles", "strict")
	out, err := cmd.CombinedOutput()
	installOutput = string(out)
	if err != nil {
		return fmt.Errorf("runcage install containerd: %w\n%s", err, out)
	}

	cgroupParent = fmt.Sprintf("/runcage-cri-it-%d", os.Getpid())
	if err := daemon.Start([]string{"RUNCAGE_CONFIG=" + policyPath}); err != nil {
		return err
	}
	if err := daemon.Import(criNS, pauseTar, busyboxTar); err != nil {
		return err
	}
	if client, err = dialCRI(daemon.Address); err != nil {
		return err
	}
	// The CRI plugin learns about images imported with ctr through
	// containerd's events; wait until it lists both.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, cancel := ctx()
		resp, err := client.img.ListImages(c, &cri.ListImagesRequest{})
		cancel()
		if err != nil {
			return fmt.Errorf("list images: %w", err)
		}
		var tags []string
		for _, img := range resp.Images {
			tags = append(tags, img.RepoTags...)
		}
		if slicesContainAll(tags, pauseImage, busyboxImage) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the CRI does not list the imported images after 30s: %q", tags)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func slicesContainAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// stop removes every pod and stops containerd, and removes the pods'
// cgroup parent; EngineSuite then checks and removes the work directory.
func stop() error {
	var errs []error
	if client != nil {
		errs = append(errs, removeAllPods()...)
		client.conn.Close()
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
	resp, err := client.rt.ListPodSandbox(c, &cri.ListPodSandboxRequest{})
	if err != nil {
		return []error{fmt.Errorf("list pods: %w", err)}
	}
	var errs []error
	for _, p := range resp.Items {
		if _, err := client.rt.StopPodSandbox(c, &cri.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop pod %s: %w", p.Id, err))
		}
		if _, err := client.rt.RemovePodSandbox(c, &cri.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove pod %s: %w", p.Id, err))
		}
	}
	return errs
}

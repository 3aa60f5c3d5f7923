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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	daemon  *it.Containerd
	client  *criClient
	bins    it.Binaries
	workDir string
	// stateDir is runcage's state_dir in the test policy.
	stateDir string
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
	os.Exit(run(m))
}

func run(m *testing.M) int {
	return it.Suite{
		Name:     "cri",
		Needs:    "they start containerd and real pods",
		Setup:    setup,
		Teardown: teardown,
		OnSetupError: func() {
			if daemon != nil {
				fmt.Fprintln(os.Stderr, "containerd log:\n"+daemon.LogTail())
			}
		},
	}.Run(m)
}

func setup() error {
	var err error
	if bins, err = it.FindBinaries(); err != nil {
		return err
	}
	if workDir, err = os.MkdirTemp("", "runcage-cri-it-"); err != nil {
		return err
	}
	if err := os.Chmod(workDir, 0o711); err != nil {
		return err
	}

	// Images: the pause program alone, and busybox with the probe.
	probe, pause := filepath.Join(workDir, "probe"), filepath.Join(workDir, "pause")
	if err := it.BuildProbe(probe); err != nil {
		return err
	}
	if err := it.BuildPause(pause); err != nil {
		return err
	}
	pauseDir := filepath.Join(workDir, "pause-image")
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
	pauseTar := filepath.Join(workDir, "pause.tar")
	if err := it.WriteOCIArchive(pauseTar, it.OCIImage{Name: pauseImage, Rootfs: pauseDir, Entrypoint: []string{"/pause"}}); err != nil {
		return err
	}
	busyboxTar, err := it.BuildImageArchive(workDir, it.OCIImage{
		Name: busyboxImage,
		Cmd:  []string{"/bin/sh"},
		Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	}, it.RootfsOptions{Extra: map[string]string{"/bin/probe": probe}})
	if err != nil {
		return err
	}

	// containerd's main config, as a node has it before runcage.
	if daemon, err = it.NewContainerd(); err != nil {
		return err
	}

	// The policy (it names this containerd's private root and state as
	// engine state). It reaches runcage through containerd's environment
	// (containerd → containerd-shim-runc-v2 → runcage all inherit it).
	stateDir = filepath.Join(workDir, "runcage-state")
	policy := "state_dir = " + strconv.Quote(stateDir) + "\nruntime = " + strconv.Quote(bins.Runc) + "\nvolume_roots = [" + strconv.Quote(filepath.Join(workDir, "vols")) + "]\n" +
		"engine_state_dirs = [" + strconv.Quote(daemon.Root) + ", " + strconv.Quote(daemon.State) + "]\n" + testPolicy
	policyPath := filepath.Join(workDir, "policy.toml")
	if err := os.WriteFile(policyPath, []byte(policy), 0o644); err != nil {
		return err
	}

	subnet := fmt.Sprintf("10.213.%d.0/24", os.Getpid()%250+1)
	if err := daemon.WriteConfig(it.ContainerdConfig{CRI: true, SandboxImage: pauseImage, Runc: bins.Runc, Subnet: subnet}); err != nil {
		return err
	}

	// runcage install containerd, on a copy of runcage so that the
	// runcage-<profile> links land in this test's directory.
	binDir := filepath.Join(workDir, "bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		return err
	}
	runcageBin = filepath.Join(binDir, "runcage")
	if b, err = os.ReadFile(bins.Runcage); err != nil {
		return err
	}
	if err := os.WriteFile(runcageBin, b, 0o755); err != nil {
		return err
	}
	cmd := exec.Command(bins.Runcage, "--runcage-config", policyPath, "install", "containerd",
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
	for _, tar := range []string{pauseTar, busyboxTar} {
		if res := daemon.Ctr(criNS, "image", "import", tar); res.Exit != 0 {
			return fmt.Errorf("import image: %s", res)
		}
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

func teardown() error {
	var errs []string
	if client != nil {
		for _, err := range removeAllPods() {
			errs = append(errs, err.Error())
		}
		client.conn.Close()
	}
	if daemon != nil {
		if err := daemon.Purge(criNS); err != nil {
			errs = append(errs, err.Error())
		}
		if err := daemon.Close(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if cgroupParent != "" {
		// runc removes each container's cgroup; the parent is the test's.
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", cgroupParent))
		for _, d := range dirs {
			if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
				errs = append(errs, fmt.Sprintf("remove cgroup %s: %v", d, err))
			}
		}
	}
	if workDir != "" {
		if mounts, _ := it.MountPointsUnder(workDir); len(mounts) > 0 {
			errs = append(errs, fmt.Sprintf("mounts left under %s: %q", workDir, mounts))
		}
		os.RemoveAll(workDir)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
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

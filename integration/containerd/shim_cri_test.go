//go:build integration

package containerd

import (
	"context"
	"encoding/json"
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

// criNS is the containerd namespace of the CRI's pods.
const criNS = "k8s.io"

// TestShimRuntimePathCRI registers runcage's shim with the CRI of each of
// shimVersions the way a RuntimeClass handler is configured, runtime_type
// io.containerd.runcage.v2 with runtime_path (the shim's absolute path:
// no binary in PATH) and options ConfigPath (the CRI sends them as
// runtimeoptions.Options), and runs a pod through it with the kubelet's
// calls: its pause process is hardened by the default profile, and
// nothing of it is left after StopPodSandbox and RemovePodSandbox.
func TestShimRuntimePathCRI(t *testing.T) {
	shim, err := it.FindShim()
	if err != nil {
		t.Fatal(err)
	}
	const pauseRef = "docker.io/runcage/pause:it"
	pause, err := eng.PauseArchive(pauseRef)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range shimVersions {
		t.Run("containerd-"+v.Version, func(t *testing.T) {
			testShimRuntimePathCRI(t, v.Version, v.Config, shim, pauseRef, pause)
		})
	}
}

func testShimRuntimePathCRI(t *testing.T, version string, config int, shim, pauseRef, pause string) {
	cgroupParent := fmt.Sprintf("/runcage-ctrd-cri-it-%d", os.Getpid())
	t.Cleanup(func() {
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", cgroupParent))
		for _, d := range dirs {
			os.Remove(d)
		}
	})
	d := startContainerd(t, version, it.ContainerdConfig{CRI: true, SandboxImage: pauseRef, Runc: eng.Bins.Runc,
		Subnet: fmt.Sprintf("10.214.%d.0/24", os.Getpid()%250+1), Version: config}, func(d *it.Containerd) error {
		table := `plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runcage`
		if config == 3 {
			table = `plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runcage`
		}
		text := fmt.Sprintf("\n[%s]\n  runtime_type = \"io.containerd.runcage.v2\"\n  runtime_path = %q\n  [%s.options]\n    ConfigPath = %q\n",
			table, shim, table, shimOptions(t, ""))
		f, err := os.OpenFile(d.Config, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteString(text)
		return err
	})
	if err := d.Import(criNS, pause); err != nil {
		t.Fatal(err)
	}
	client, err := it.DialCRI(d.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Conn.Close() })
	if err := client.WaitImages(pauseRef); err != nil {
		t.Fatal(err)
	}

	uid := newID("cri-pod")
	logs := filepath.Join(eng.WorkDir, "logs", uid)
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := &cri.PodSandboxConfig{
		Metadata:     &cri.PodSandboxMetadata{Name: "shim-path", Namespace: "runcage-it", Uid: uid},
		Hostname:     "shim-path",
		LogDirectory: logs,
		Linux: &cri.LinuxPodSandboxConfig{
			CgroupParent: cgroupParent,
			SecurityContext: &cri.LinuxSandboxSecurityContext{
				NamespaceOptions: &cri.NamespaceOption{Network: cri.NamespaceMode_POD, Pid: cri.NamespaceMode_CONTAINER, Ipc: cri.NamespaceMode_POD},
			},
		},
	}
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := client.Runtime.RunPodSandbox(c, &cri.RunPodSandboxRequest{Config: cfg, RuntimeHandler: "runcage"})
	if err != nil {
		t.Fatalf("RunPodSandbox with the runcage handler: %v\ncontainerd log:\n%s", err, d.LogTail())
	}
	id := resp.PodSandboxId
	removed := false
	remove := func() {
		if removed {
			return
		}
		removed = true
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := client.Runtime.StopPodSandbox(c, &cri.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Errorf("StopPodSandbox: %v", err)
		}
		if _, err := client.Runtime.RemovePodSandbox(c, &cri.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Errorf("RemovePodSandbox: %v", err)
		}
	}
	t.Cleanup(remove)

	st, err := client.Runtime.PodSandboxStatus(c, &cri.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(st.GetInfo()["info"]), &info); err != nil || info.Pid <= 0 {
		t.Fatalf("pod status info has no pid (%v): %s", err, st.GetInfo()["info"])
	}
	// The pause process runs under runcage's shim, found by its path.
	served := false
	for _, pid := range d.ShimPIDs() {
		exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
		served = served || exe == shim
	}
	if !served {
		t.Errorf("no shim running from %s (runtime_path) among %v", shim, d.ShimPIDs())
	}
	if err := it.HardenedStatus(it.ProcStatusFields(it.ProcFile(t, info.Pid, "status"))); err != nil {
		t.Errorf("pause process %d: %v", info.Pid, err)
	}
	if m := hostUIDMap(t, info.Pid); it.IsIdentityMap(m) || it.MapsHostRoot(m) {
		t.Errorf("pause process %d: uid_map %v: want a user namespace without host root", info.Pid, m)
	}
	if config == 3 {
		// 2.x's CRI asks every pod for ip_unprivileged_port_start=0
		// (enable_unprivileged_ports); runcage writes it into the pod's
		// network namespace, which runc in the user namespace cannot.
		out, err := exec.Command("nsenter", "--net=/proc/"+strconv.Itoa(info.Pid)+"/ns/net",
			"cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").Output()
		if err != nil || strings.TrimSpace(string(out)) != "0" {
			t.Errorf("pod netns ip_unprivileged_port_start = %q (%v), want 0 as containerd 2.x asked", out, err)
		}
	}
	remove()
	var left []string
	err = it.WaitFor(15*time.Second, func() error {
		var err error
		if left, err = d.Leftovers(eng.StateDir, filepath.Join(d.RuncRoot, criNS), id); err == nil && len(left) > 0 {
			return fmt.Errorf("%d left", len(left))
		}
		return err
	})
	if err != nil {
		t.Errorf("after RemovePodSandbox: still held (%v): %q", err, left)
	}
}

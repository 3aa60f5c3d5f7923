//go:build integration

package cri

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	it "github.com/runcage/runcage/integration"
)

var seq atomic.Int64

// pod is one pod sandbox a test made through the CRI.
type pod struct {
	id      string
	cfg     *cri.PodSandboxConfig
	removed bool
}

// podConfig is what the kubelet sends for a plain pod: its own network,
// IPC and UTS namespaces (network through CNI), a PID namespace per
// container, cgroupfs parent, and the pod's annotations.
func podConfig(name string, annotations map[string]string) *cri.PodSandboxConfig {
	uid := fmt.Sprintf("%s-%d-%d", name, os.Getpid(), seq.Add(1))
	return &cri.PodSandboxConfig{
		Metadata:     &cri.PodSandboxMetadata{Name: name, Namespace: "runcage-it", Uid: uid},
		Hostname:     name,
		LogDirectory: filepath.Join(eng.WorkDir, "logs", uid),
		Labels:       map[string]string{"app": name},
		Annotations:  annotations,
		Linux: &cri.LinuxPodSandboxConfig{
			CgroupParent: cgroupParent,
			SecurityContext: &cri.LinuxSandboxSecurityContext{
				NamespaceOptions: &cri.NamespaceOption{
					Network: cri.NamespaceMode_POD,
					Pid:     cri.NamespaceMode_CONTAINER,
					Ipc:     cri.NamespaceMode_POD,
				},
			},
		},
	}
}

// runPod calls RunPodSandbox with the given RuntimeClass handler and
// registers StopPodSandbox and RemovePodSandbox for the end of the test.
func runPod(t *testing.T, name, handler string, annotations map[string]string) (*pod, error) {
	t.Helper()
	cfg := podConfig(name, annotations)
	if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
		t.Fatal(err)
	}
	c, cancel := ctx()
	defer cancel()
	start := time.Now()
	resp, err := client.Runtime.RunPodSandbox(c, &cri.RunPodSandboxRequest{Config: cfg, RuntimeHandler: handler})
	if err != nil {
		return nil, err
	}
	t.Logf("RunPodSandbox(%s, handler %q): %v", name, handler, time.Since(start).Round(time.Millisecond))
	p := &pod{id: resp.PodSandboxId, cfg: cfg}
	t.Cleanup(func() { p.remove(t) })
	return p, nil
}

// remove stops and removes the pod; it is idempotent.
func (p *pod) remove(t *testing.T) {
	t.Helper()
	if p.removed {
		return
	}
	p.removed = true
	c, cancel := ctx()
	defer cancel()
	if _, err := client.Runtime.StopPodSandbox(c, &cri.StopPodSandboxRequest{PodSandboxId: p.id}); err != nil {
		t.Errorf("StopPodSandbox: %v", err)
	}
	if _, err := client.Runtime.RemovePodSandbox(c, &cri.RemovePodSandboxRequest{PodSandboxId: p.id}); err != nil {
		t.Errorf("RemovePodSandbox: %v", err)
	}
}

// containerConfig is a busybox container running args with mounts.
func containerConfig(name string, mounts []*cri.Mount, args ...string) *cri.ContainerConfig {
	return &cri.ContainerConfig{
		Metadata: &cri.ContainerMetadata{Name: name},
		Image:    &cri.ImageSpec{Image: busyboxImage},
		Command:  args,
		LogPath:  name + ".log",
		Mounts:   mounts,
		Linux: &cri.LinuxContainerConfig{
			SecurityContext: &cri.LinuxContainerSecurityContext{
				NamespaceOptions: &cri.NamespaceOption{
					Network: cri.NamespaceMode_POD,
					Pid:     cri.NamespaceMode_CONTAINER,
					Ipc:     cri.NamespaceMode_POD,
				},
			},
		},
	}
}

// startContainer calls CreateContainer and StartContainer in the pod.
func (p *pod) startContainer(t *testing.T, cfg *cri.ContainerConfig) (string, error) {
	t.Helper()
	c, cancel := ctx()
	defer cancel()
	resp, err := client.Runtime.CreateContainer(c, &cri.CreateContainerRequest{PodSandboxId: p.id, Config: cfg, SandboxConfig: p.cfg})
	if err != nil {
		return "", fmt.Errorf("CreateContainer %s: %w", cfg.Metadata.Name, err)
	}
	if _, err := client.Runtime.StartContainer(c, &cri.StartContainerRequest{ContainerId: resp.ContainerId}); err != nil {
		return resp.ContainerId, fmt.Errorf("StartContainer %s: %w", cfg.Metadata.Name, err)
	}
	return resp.ContainerId, nil
}

// infoPID reads the host pid from the "info" JSON of a verbose status.
func infoPID(info map[string]string) (int, error) {
	var v struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(info["info"]), &v); err != nil {
		return 0, fmt.Errorf("parse status info: %w", err)
	}
	if v.Pid <= 0 {
		return 0, fmt.Errorf("status info has no pid: %s", info["info"])
	}
	return v.Pid, nil
}

func (p *pod) pausePID(t *testing.T) int {
	t.Helper()
	return statusPID(t, "PodSandboxStatus", func(c context.Context) (map[string]string, error) {
		st, err := client.Runtime.PodSandboxStatus(c, &cri.PodSandboxStatusRequest{PodSandboxId: p.id, Verbose: true})
		return st.GetInfo(), err
	})
}

func containerPID(t *testing.T, id string) int {
	t.Helper()
	return statusPID(t, "ContainerStatus", func(c context.Context) (map[string]string, error) {
		st, err := client.Runtime.ContainerStatus(c, &cri.ContainerStatusRequest{ContainerId: id, Verbose: true})
		return st.GetInfo(), err
	})
}

// statusPID calls the verbose status call and returns the host pid of its
// "info" JSON.
func statusPID(t *testing.T, call string, status func(context.Context) (map[string]string, error)) int {
	t.Helper()
	c, cancel := ctx()
	defer cancel()
	info, err := status(c)
	if err != nil {
		t.Fatalf("%s: %v", call, err)
	}
	pid, err := infoPID(info)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// execSync runs argv in the container like `kubectl exec` and returns
// its stdout; a non-zero exit fails the test.
func execSync(t *testing.T, id string, argv ...string) string {
	t.Helper()
	c, cancel := ctx()
	defer cancel()
	resp, err := client.Runtime.ExecSync(c, &cri.ExecSyncRequest{ContainerId: id, Cmd: argv, Timeout: 60})
	if err != nil {
		t.Fatalf("ExecSync %q: %v", argv, err)
	}
	if resp.ExitCode != 0 {
		t.Fatalf("ExecSync %q: exit %d\nstdout:\n%s\nstderr:\n%s", argv, resp.ExitCode, resp.Stdout, resp.Stderr)
	}
	return string(resp.Stdout)
}

// checkHardenedPID checks a process from the host: the default profile's
// status values and a user namespace that does not map host root. It
// returns the process's uid_map text.
func checkHardenedPID(t *testing.T, what string, pid int) string {
	t.Helper()
	if err := it.HardenedStatus(it.ProcStatusFields(it.ProcFile(t, pid, "status"))); err != nil {
		t.Errorf("%s (pid %d): %v", what, pid, err)
	}
	text := it.ProcFile(t, pid, "uid_map")
	m, err := it.ParseIDMapText(text)
	if err != nil || it.IsIdentityMap(m) || it.MapsHostRoot(m) {
		t.Errorf("%s (pid %d): uid_map %q: want a user namespace without host root (err %v)", what, pid, text, err)
	}
	return text
}

// pidsMax returns the pids.max of the process's cgroup (cgroup v1).
func pidsMax(t *testing.T, pid int) string {
	t.Helper()
	for _, l := range strings.Split(it.ProcFile(t, pid, "cgroup"), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "pids") {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids", f[2], "pids.max"))
			if err != nil {
				t.Fatalf("pids.max of pid %d: %v", pid, err)
			}
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("pid %d has no pids cgroup:\n%s", pid, it.ProcFile(t, pid, "cgroup"))
	return ""
}

// insideScript is the ctr suite's check, run through ExecSync: every
// container writes to the shared /data volume, and leaves /data/kept.
var insideScript = it.InsideScript(`if echo volume-write >/data/from-$(hostname)-$$ && rm /data/from-$(hostname)-$$ && echo kept >/data/kept; then echo "volume_write: ok"; else echo "volume_write: failed"; fi`)

// assertNothingLeft checks that runcage, runc and containerd hold nothing
// for the removed pods: no runcage mounts, records or allocations, no
// mounts under containerd's directory, no runc state for ids.
func assertNothingLeft(t *testing.T, ids ...string) {
	t.Helper()
	// The runcage handlers set no runc Root, so the shims' default
	// applies: /run/containerd/runc/<namespace>.
	if left, err := daemon.Leftovers(eng.StateDir, filepath.Join("/run/containerd/runc", criNS), ids...); err != nil || len(left) > 0 {
		t.Errorf("after RemovePodSandbox, still held (err %v):\n%s", err, strings.Join(left, "\n"))
	}
}

// registration is one way the CRI reaches runcage: the RuntimeClass
// handlers for the policy's default profile and for "strict".
type registration struct{ Name, Base, Strict string }

// registrations: runcage's shim, as `runcage install containerd`
// registers it, and containerd's runc shim with runcage as its runc
// binary (binaryHandlers).
var registrations = []registration{
	{"shim", "runcage", "runcage-strict"},
	{"binary", "bin-runcage", "bin-runcage-strict"},
}

// eachRegistration runs f as a subtest per registration.
func eachRegistration(t *testing.T, f func(t *testing.T, reg registration)) {
	for _, reg := range registrations {
		t.Run(reg.Name, func(t *testing.T) { f(t, reg) })
	}
}

// TestPodHardened runs a pod with each registration's default handler and
// two app containers sharing a volume, and checks enforcement in the pause
// container and in both app containers, the shared user-namespace range,
// writes to the rootfs and the volume, and that nothing is left after
// StopPodSandbox and RemovePodSandbox.
func TestPodHardened(t *testing.T) {
	eachRegistration(t, testPodHardened)
}

func testPodHardened(t *testing.T, reg registration) {
	begin := time.Now()
	vol := eng.Volume(t)
	p, err := runPod(t, "hardened", reg.Base, nil)
	if err != nil {
		t.Fatalf("RunPodSandbox: %v\ncontainerd log:\n%s", err, daemon.LogTail())
	}
	pausePID := p.pausePID(t)
	pauseMap := checkHardenedPID(t, "pause container", pausePID)

	mounts := []*cri.Mount{{ContainerPath: "/data", HostPath: vol}}
	var ids []string
	for _, name := range []string{"app1", "app2"} {
		id, err := p.startContainer(t, containerConfig(name, mounts, "/bin/sleep", "600"))
		if err != nil {
			t.Fatalf("%v\ncontainerd log:\n%s", err, daemon.LogTail())
		}
		ids = append(ids, id)
	}
	for i, id := range ids {
		pid := containerPID(t, id)
		m := checkHardenedPID(t, fmt.Sprintf("app%d", i+1), pid)
		if m != pauseMap {
			t.Errorf("app%d uid_map %q differs from the pause container's %q: one pod must share one range", i+1, m, pauseMap)
		}
		for _, ns := range []string{"user", "net", "ipc", "uts"} {
			a, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
			b, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pausePID, ns))
			if a == "" || a != b {
				t.Errorf("app%d %s namespace %q, pause %q: want the pod's", i+1, ns, a, b)
			}
		}
	}
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	if podNet, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pausePID)); podNet == hostNet {
		t.Errorf("the pod runs in the host's network namespace %s", hostNet)
	}

	al, err := it.RuncageAllocations(eng.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(al) != 1 || al[0].Key != p.id || len(al[0].Containers) != 3 {
		t.Errorf("allocations: want one, for pod %s, shared by its 3 containers; got %+v", p.id, al)
	}

	out := execSync(t, ids[0], "/bin/sh", "-c", insideScript)
	t.Logf("ExecSync in app1:\n%s", out)
	f := it.ProcStatusFields(out)
	if err := it.HardenedStatus(f); err != nil {
		t.Errorf("exec'd process: %v", err)
	}
	if f["busybox_owner"] != "0:0" {
		t.Errorf("/bin/busybox owner seen inside = %q, want 0:0 (id-mapped rootfs)", f["busybox_owner"])
	}
	if f["rootfs_write"] != "ok" || f["volume_write"] != "ok" {
		t.Errorf("writes: rootfs %q, volume %q; want ok", f["rootfs_write"], f["volume_write"])
	}
	for _, probe := range []string{"mount", "mknod", "bpf", "rawsock", "add_key"} {
		if !strings.Contains(out, "probe "+probe+"=E") {
			t.Errorf("probe %s succeeded or did not run", probe)
		}
	}
	// The second container sees what the first wrote to the shared volume.
	if got := execSync(t, ids[1], "/bin/cat", "/data/kept"); got != "kept\n" {
		t.Errorf("app2 reads %q from the shared volume, want %q", got, "kept\n")
	}

	p.remove(t)
	assertNothingLeft(t, append(ids, p.id)...)
	t.Logf("TestPodHardened/%s: %v", reg.Name, time.Since(begin).Round(time.Millisecond))
}

// TestPodAnnotationTightens selects the stricter profile "strict" with the
// runcage.dev/profile pod annotation, which the policy permits: its pids
// limit applies to the pause and the app container.
func TestPodAnnotationTightens(t *testing.T) {
	eachRegistration(t, func(t *testing.T, reg registration) {
		checkStrictPod(t, "tight", reg.Base, map[string]string{"runcage.dev/profile": "strict"}, "profile strict")
	})
}

// TestHandlerProfile uses the RuntimeClass handlers for the profile
// "strict": runcage-strict, whose shim options file names the profile, and
// bin-runcage-strict, whose runcage-strict link selects it by name.
func TestHandlerProfile(t *testing.T) {
	eachRegistration(t, func(t *testing.T, reg registration) {
		checkStrictPod(t, "handler", reg.Strict, nil, "handler "+reg.Strict)
	})
}

// checkStrictPod runs a pod with handler and annotations and an app
// container in it, checks that both its pause and app container are
// hardened with the pids limit 64 of the profile "strict" (which why
// selected), and that nothing is left after the pod's removal.
func checkStrictPod(t *testing.T, name, handler string, annotations map[string]string, why string) {
	t.Helper()
	p, err := runPod(t, name, handler, annotations)
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	id, err := p.startContainer(t, containerConfig("app", nil, "/bin/sleep", "600"))
	if err != nil {
		t.Fatal(err)
	}
	for what, pid := range map[string]int{"pause": p.pausePID(t), "app": containerPID(t, id)} {
		checkHardenedPID(t, what, pid)
		if got := pidsMax(t, pid); got != "64" {
			t.Errorf("%s: pids.max = %q, want 64 (%s)", what, got, why)
		}
	}
	p.remove(t)
	assertNothingLeft(t, id, p.id)
}

// TestPodAnnotationWeakeningRefused asks for weaker profiles through the
// pod annotation. runcage must refuse the pod, and its reason must be in
// the error the CRI returns to the kubelet.
func TestPodAnnotationWeakeningRefused(t *testing.T) {
	for _, tc := range []struct {
		profile string
		reason  string
	}{
		{"loose", `profile "loose" is weaker than "default"`},
		{"passthrough", `profile "default" does not let annotations select "passthrough"`},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			eachRegistration(t, func(t *testing.T, reg registration) {
				_, err := runPod(t, "weak-"+tc.profile, reg.Base, map[string]string{"runcage.dev/profile": tc.profile})
				if err == nil {
					t.Fatalf("RunPodSandbox with runcage.dev/profile=%s succeeded", tc.profile)
				}
				t.Logf("CRI error: %v", err)
				if err := it.CheckRefusal(err.Error(), tc.reason); err != nil {
					t.Errorf("CRI: %v", err)
				}
				assertNothingLeft(t)
			})
		})
	}
}

// TestPlainRuncControl runs the same pod with containerd's default runc
// handler. It proves the checks can fail: without runcage the app
// container keeps capabilities and runs without a user namespace.
func TestPlainRuncControl(t *testing.T) {
	p, err := runPod(t, "control", "", nil)
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	id, err := p.startContainer(t, containerConfig("app", nil, "/bin/sleep", "600"))
	if err != nil {
		t.Fatal(err)
	}
	pid := containerPID(t, id)
	if err := it.HardenedStatus(it.ProcStatusFields(it.ProcFile(t, pid, "status"))); err == nil {
		t.Errorf("a plain runc container looks hardened: the checks would not tell runcage from runc")
	}
	if m, err := it.ParseIDMapText(it.ProcFile(t, pid, "uid_map")); err != nil || !it.IsIdentityMap(m) {
		t.Errorf("plain runc: uid_map %v, want the identity", m)
	}
}

// TestHostPathRefused: a pod author's hostPath volumes reach config.json as
// bind sources. runcage's own state and a host device are refused, with
// the reason in the CRI error; containerd's plain runc handler (the
// control) starts the same container.
func TestHostPathRefused(t *testing.T) {
	for _, tc := range []struct {
		name, host, reason string
	}{
		{"runcage-state", eng.StateDir, "runcage's"},
		{"kmsg", "/dev/kmsg", `"/dev/kmsg"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mounts := []*cri.Mount{{ContainerPath: "/h", HostPath: tc.host}}
			ctl, err := runPod(t, "ctl-"+tc.name, "", nil)
			if err != nil {
				t.Fatalf("control RunPodSandbox: %v", err)
			}
			if _, err := ctl.startContainer(t, containerConfig("app", mounts, "/bin/true")); err != nil {
				t.Fatalf("control: plain runc refused the hostPath, so the case proves nothing: %v", err)
			}
			ctl.remove(t)
			eachRegistration(t, func(t *testing.T, reg registration) {
				p, err := runPod(t, "hostpath-"+tc.name, reg.Base, nil)
				if err != nil {
					t.Fatalf("RunPodSandbox: %v", err)
				}
				defer p.remove(t)
				_, err = p.startContainer(t, containerConfig("app", mounts, "/bin/true"))
				if err == nil {
					t.Fatalf("a hostPath of %s was accepted", tc.host)
				}
				if err := it.CheckRefusal(err.Error(), tc.reason); err != nil {
					t.Errorf("CRI: %v", err)
				}
			})
		})
	}
}

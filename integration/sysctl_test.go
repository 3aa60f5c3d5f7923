//go:build integration

package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// pinnedNetns creates a network namespace pinned under /run/netns with
// `ip netns add`, as the CRI does for a pod: it is owned by the host's user
// namespace. It is deleted when the test ends.
func pinnedNetns(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: needs ip (iproute2) to pin a network namespace")
	}
	name := newID() + "-netns"
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
	return filepath.Join("/run/netns", name)
}

// hostSysctl reads /proc/sys/net/<rel> of the network namespace at netns
// from the host.
func hostSysctl(t *testing.T, netns, rel string) string {
	t.Helper()
	out, err := exec.Command("nsenter", "--net="+netns, "cat", "/proc/sys/net/"+rel).Output()
	if err != nil {
		t.Fatalf("nsenter --net=%s cat %s: %v", netns, rel, err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// joinNetns makes s join the network namespace at netns and set sysctl.
func joinNetns(s *specs.Spec, netns string, sysctl map[string]string) *specs.Spec {
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = netns
		}
	}
	s.Linux.Sysctl = sysctl
	return s
}

// TestSysctlPodNetns proves that a container of a pod starts under the
// default profile with the sysctls containerd 2.x's CRI sets in every pod:
// it gets a user namespace of runcage's, but the pod's network namespace,
// pinned under /run/netns, belongs to the host's user namespace, so runc
// could not write them (EACCES); runcage writes them from the host side.
// ip_unprivileged_port_start reads 0 from the host and the container, and
// ping_group_range is narrowed to the container's mapped groups (0 65535
// inside, the range's host gids outside). A sysctl the policy does not
// allow is still refused, and a net.* name that is not a plain dotted name
// is refused without a write.
func TestSysctlPodNetns(t *testing.T) {
	u := newUsernsEnv(t, "")
	rt := u.rt("")
	netns := pinnedNetns(t)
	want := map[string]string{
		"net.ipv4.ip_unprivileged_port_start": "0",
		"net.ipv4.ping_group_range":           "0 2147483647",
	}
	id := newID()
	b, _ := u.bundle("pod", joinNetns(podSpec(id), netns, want), RootfsOptions{})
	u.deleteLater(rt, id)
	u.mustCreate(rt, b, id)
	if got := hostSysctl(t, netns, "ipv4/ip_unprivileged_port_start"); got != "0" {
		t.Errorf("ip_unprivileged_port_start read from the host = %q, want 0", got)
	}
	m := u.hostUIDMap(rt, id)
	if IsIdentityMap(m) {
		t.Fatalf("container has no user namespace of its own: %v", m)
	}
	wantHost := fmt.Sprintf("%d %d", m[0].HostID, m[0].HostID+65535)
	if got := hostSysctl(t, netns, "ipv4/ping_group_range"); got != wantHost {
		t.Errorf("ping_group_range read from the host = %q, want the mapped host groups %q", got, wantHost)
	}

	// A second container of the pod joins the sandbox's IPC and UTS
	// namespaces, and so its user namespace, and the same pinned network
	// namespace; it sets the sysctls again, and reads them from inside.
	pid := u.initPid(rt, id)
	s := joinNetns(podSpec(id), netns, want)
	for i, ns := range s.Linux.Namespaces {
		switch ns.Type {
		case specs.IPCNamespace:
			s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/ipc", pid)
		case specs.UTSNamespace:
			s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/uts", pid)
		}
	}
	s.Process.Args = []string{"cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/net/ipv4/ping_group_range"}
	b, _ = u.bundle("app", s, RootfsOptions{})
	res := u.mustRun(rt, b, 0)
	if got := strings.Join(strings.Fields(res.Stdout), " "); got != "0 0 65535" {
		t.Errorf("inside the pod's second container: %q, want \"0 0 65535\"", got)
	}
	if got := hostSysctl(t, netns, "ipv4/ping_group_range"); got != wantHost {
		t.Errorf("ping_group_range after the second container = %q, want %q", got, wantHost)
	}
	if res := rt.Exec(invokeTimeout, "delete", "--force", id); res.Exit != 0 {
		t.Fatalf("delete: %s", res)
	}

	// Refusals, each in a fresh netns so a write would show.
	other := pinnedNetns(t)
	before := hostSysctl(t, other, "ipv4/ip_unprivileged_port_start")
	for _, c := range []struct {
		name, why string
		sysctl    map[string]string
	}{
		{"not namespaced", "is not in a separate kernel namespace", map[string]string{"kernel.panic": "1", "net.ipv4.ip_unprivileged_port_start": "0"}},
		{"not plain", "not a plain dotted name", map[string]string{"net.ipv4.x/../../../../kernel.panic": "1", "net.ipv4.ip_unprivileged_port_start": "0"}},
	} {
		b, _ := u.bundle("refused-"+strings.ReplaceAll(c.name, " ", "-"), joinNetns(podSpec(""), other, c.sysctl), RootfsOptions{})
		id := newID()
		u.deleteLater(rt, id)
		res := rt.Exec(invokeTimeout, "create", "--bundle", b, id)
		if res.Exit == 0 || !strings.Contains(res.Stderr, c.why) {
			t.Errorf("%s: want a refusal saying %q, got\n%s", c.name, c.why, res)
			continue
		}
		t.Logf("%s: refused: %s", c.name, strings.TrimSpace(res.Stderr))
	}
	if got := hostSysctl(t, other, "ipv4/ip_unprivileged_port_start"); got != before {
		t.Errorf("a refused create changed ip_unprivileged_port_start of the pod netns from %s to %s", before, got)
	}
}

package userns

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
)

func TestHostPingGroupRange(t *testing.T) {
	one := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	two := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 1000, HostID: 500000, Size: 64536}}
	for _, c := range []struct {
		v    string
		gids []specs.LinuxIDMapping
		want string
	}{
		{"0 65535", one, "100000 165535"},
		{"0 2147483647", one, "100000 165535"},
		{"10 20", one, "100010 100020"},
		{"1 0", one, "1 0"},
		{"0 65535", two, "100000 100999"}, // one host range: cut at the first mapping
		{"1500 1600", two, "500500 500600"},
	} {
		got, err := hostPingGroupRange(c.v, c.gids)
		if err != nil || got != c.want {
			t.Errorf("hostPingGroupRange(%q, %v) = %q, %v; want %q", c.v, c.gids, got, err, c.want)
		}
	}
	for _, v := range []string{"70000 70001", "0", "a b", "0 1 2", "-1 5"} {
		if _, err := hostPingGroupRange(v, one); !errors.Is(err, profiles.ErrRefused) {
			t.Errorf("hostPingGroupRange(%q) = %v; want a refusal", v, err)
		}
	}
}

func TestPlainSysctlName(t *testing.T) {
	for _, k := range []string{"net.ipv4.ip_unprivileged_port_start", "net.ipv4.conf.eth-0.forwarding"} {
		if err := plainSysctlName(k); err != nil {
			t.Errorf("plainSysctlName(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"net..ipv4", "net.ipv4.", "net./x", "net.a/../../kernel", "net.a b", "net.x\n"} {
		if err := plainSysctlName(k); err == nil {
			t.Errorf("plainSysctlName(%q) accepted", k)
		}
	}
}

// pinNetns creates a network namespace owned by the test's (the host's)
// user namespace and pins it by a bind mount, as an engine does under
// /run/netns. It returns the pin's path.
func pinNetns(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread leaves with its namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, "")
	}()
	if err := <-errc; err != nil {
		t.Fatalf("pin a network namespace: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(path, unix.MNT_DETACH) })
	return path
}

// readSysctlIn reads a sysctl file of the network namespace at netns, from
// the host's user namespace.
func readSysctlIn(t *testing.T, netns, rel string) string {
	t.Helper()
	out, err := exec.Command("nsenter", "--net="+netns, "cat", "/proc/sys/net/"+rel).Output()
	if err != nil {
		t.Fatalf("nsenter cat %s: %v", rel, err)
	}
	return strings.TrimSpace(string(out))
}

func podSysctlSpec(netns, userns string, sysctl map[string]string) *specs.Spec {
	return &specs.Spec{Linux: &specs.Linux{
		Namespaces:  []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: netns}, {Type: specs.UserNamespace, Path: userns}},
		GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
		Sysctl:      sysctl,
	}}
}

// A container with a new user namespace joining a network namespace the
// host's user namespace owns: runcage writes the net.* sysctls into it
// (ping_group_range in host group ids) and takes them out of the spec;
// other sysctls stay for runc to decide.
func TestPodSysctlsWritesHostOwned(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("skipped: needs nsenter to read the sysctls back")
	}
	netns := pinNetns(t)
	s := podSysctlSpec(netns, "", map[string]string{
		"net.ipv4.ip_unprivileged_port_start": "0",
		"net.ipv4.ping_group_range":           "0 65535",
		"kernel.shm_rmid_forced":              "1",
	})
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.IPCNamespace})
	if err := PodSysctls(s); err != nil {
		t.Fatal(err)
	}
	if len(s.Linux.Sysctl) != 1 || s.Linux.Sysctl["kernel.shm_rmid_forced"] != "1" {
		t.Errorf("sysctls left for runc: %v; want only kernel.shm_rmid_forced", s.Linux.Sysctl)
	}
	if got := readSysctlIn(t, netns, "ipv4/ip_unprivileged_port_start"); got != "0" {
		t.Errorf("ip_unprivileged_port_start = %q, want 0", got)
	}
	if got := strings.Join(strings.Fields(readSysctlIn(t, netns, "ipv4/ping_group_range")), " "); got != "100000 165535" {
		t.Errorf("ping_group_range = %q, want the mapped host groups 100000 165535", got)
	}
}

// Refusals: the host's network namespace, a name that is not plain dotted,
// a network namespace another user namespace owns; and the cases left to
// runc: no user namespace, a new network namespace, one the container's
// user namespace owns.
func TestPodSysctlsDecides(t *testing.T) {
	requireRoot(t)
	port := func() map[string]string { return map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"} }
	netns := pinNetns(t)
	// The host's own value: harmless should the check ever let it through.
	cur, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		t.Fatal(err)
	}
	// thread-self: pinNetns may have left the main thread, which /proc/self
	// shows, in the pinned namespace.
	for name, s := range map[string]*specs.Spec{
		"host netns": podSysctlSpec("/proc/thread-self/ns/net", "", map[string]string{"net.ipv4.ip_unprivileged_port_start": strings.TrimSpace(string(cur))}),
		"bad name":   podSysctlSpec(netns, "", map[string]string{"net.ipv4.x/../../../kernel.panic": "1"}),
		"host wide":  podSysctlSpec(netns, "", map[string]string{"kernel.panic": "1", "net.ipv4.ip_unprivileged_port_start": "0"}),
		"host ipc":   podSysctlSpec(netns, "", map[string]string{"kernel.shmmax": "1", "net.ipv4.ip_unprivileged_port_start": "0"}),
	} {
		if err := PodSysctls(s); !errors.Is(err, profiles.ErrRefused) {
			t.Errorf("%s: PodSysctls = %v; want a refusal", name, err)
		}
	}
	if got := readSysctlIn(t, netns, "ipv4/ip_unprivileged_port_start"); got == "0" {
		t.Errorf("a refused spec wrote ip_unprivileged_port_start = 0")
	}
	noUserns := podSysctlSpec(netns, "", port())
	noUserns.Linux.Namespaces = noUserns.Linux.Namespaces[:1]
	for name, s := range map[string]*specs.Spec{
		"no user namespace": noUserns,
		"new netns":         podSysctlSpec("", "", port()),
	} {
		if err := PodSysctls(s); err != nil || len(s.Linux.Sysctl) != 1 {
			t.Errorf("%s: PodSysctls = %v, sysctls %v; want them left for runc", name, err, s.Linux.Sysctl)
		}
	}

	// A process in a user namespace of its own with a network namespace
	// that user namespace owns.
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--net", "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("skipped the owned cases: unshare: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	proc := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/"
	for i := 0; ; i++ { // until unshare has made the namespaces and run sleep
		if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/comm"); string(comm) == "sleep\n" {
			break
		}
		if i == 500 {
			t.Fatal("unshare did not run sleep within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := podSysctlSpec(proc+"net", proc+"user", port())
	if err := PodSysctls(s); err != nil || len(s.Linux.Sysctl) != 1 {
		t.Errorf("netns owned by the joined user namespace: PodSysctls = %v, sysctls %v; want them left for runc", err, s.Linux.Sysctl)
	}
	s = podSysctlSpec(proc+"net", "", port())
	if err := PodSysctls(s); !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), "neither the container's nor the host's") {
		t.Errorf("netns owned by another user namespace: PodSysctls = %v; want a refusal", err)
	}
}

package userns

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/namespaces"
)

// PodSysctls writes the net.* sysctls of s itself, from the host side, when
// runc could not: the container has a user namespace (its own or the one
// runcage injected) and joins, by path, a network namespace that user
// namespace does not own. That is every container of a CRI pod: the engine
// pins the pod's network namespace under /run/netns, owned by the host's
// user namespace, and runc, already inside the container's user namespace
// when it writes /proc/sys/net, gets EACCES (containerd 2.x sets
// net.ipv4.ip_unprivileged_port_start and net.ipv4.ping_group_range in
// every pod by default).
//
// It changes only who writes, never what is allowed: it runs after every
// policy check, takes only keys runc itself would accept for a joined
// network namespace (net.*, and not in the host's network namespace), and
// writes the values as the spec gives them, except ping_group_range, whose
// container group ids (already narrowed to the mapped ones by
// namespaces.FitPingGroupRange) are translated to the host group ids they
// map to, since the kernel reads the range in the writer's user namespace.
// The written keys are removed from s, so runc does not write them again.
//
// It leaves s alone when there is no user namespace, no net.* sysctl, no
// network namespace path (a new network namespace belongs to the
// container's user namespace, and runc writes), or when the joined network
// namespace belongs to the user namespace the container joins. A network
// namespace owned by any user namespace other than runcage's own is
// refused, as are a host network namespace, a key that is not a plain
// dotted name, and a write the kernel fails: fail closed.
func PodSysctls(s *specs.Spec) error {
	if s.Linux == nil || len(s.Linux.Sysctl) == 0 {
		return nil
	}
	ui := slices.IndexFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
	ni := slices.IndexFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
	if ui < 0 || ni < 0 || s.Linux.Namespaces[ni].Path == "" {
		return nil
	}
	var keys []string
	for k := range s.Linux.Sysctl {
		if strings.HasPrefix(k, "net.") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	if err := runcRefuses(s); err != nil {
		return err // refused before anything is written
	}
	netns, userns := s.Linux.Namespaces[ni].Path, s.Linux.Namespaces[ui].Path
	f, err := os.Open(netns)
	if err != nil {
		return fmt.Errorf("sysctls: open network namespace %q: %w", netns, profiles.PathCause(err))
	}
	defer f.Close()
	write, err := hostWrites(f, userns)
	if err != nil {
		return profiles.Refusef("sysctl %q refused: network namespace %q: %v", keys[0], netns, err)
	}
	if !write {
		return nil // the container's user namespace owns it: runc writes
	}
	vals := make([]string, len(keys))
	for i, k := range keys {
		if err := plainSysctlName(k); err != nil {
			return profiles.Refusef("sysctl %q refused: %v", k, err)
		}
		vals[i] = s.Linux.Sysctl[k]
		if k == namespaces.PingGroupRange {
			gids, err := containerGIDs(s, userns)
			if err != nil {
				return err
			}
			if vals[i], err = hostPingGroupRange(vals[i], gids); err != nil {
				return err
			}
		}
	}
	if err := writeSysctlsIn(f, keys, vals); err != nil {
		return profiles.Refusef("sysctls of network namespace %q refused: runcage writes them on behalf of the container's user namespace: %v", netns, err)
	}
	for _, k := range keys {
		delete(s.Linux.Sysctl, k)
	}
	return nil
}

// ipcSysctls are the sysctls, beside fs.mqueue.*, that runc accepts only
// with a private IPC namespace (libcontainer/configs/validate).
var ipcSysctls = []string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}

// runcRefuses refuses the sysctls other than net.* that runc's validation
// refuses, the way it does: one not in a kernel namespace at all, an IPC
// one without an IPC namespace, a UTS one without a UTS namespace. runc
// checks every sysctl before it writes any; so PodSysctls, which writes
// before runc runs, checks them first, and a container refused on these
// grounds leaves the pod's network namespace as it was. A finer refusal
// runc alone makes (kernel.hostname, against the OCI hostname field) comes
// after the write, which is then one the pod asked for, into its own
// network namespace.
func runcRefuses(s *specs.Spec) error {
	has := func(t specs.LinuxNamespaceType) bool {
		return slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == t })
	}
	for k := range s.Linux.Sysctl {
		switch {
		case strings.HasPrefix(k, "net."):
		case slices.Contains(ipcSysctls, k) || strings.HasPrefix(k, "fs.mqueue."):
			if !has(specs.IPCNamespace) {
				return profiles.Refusef("sysctl %q refused: not allowed in the host's IPC namespace", k)
			}
		case k == "kernel.domainname" || k == "kernel.hostname":
			if !has(specs.UTSNamespace) {
				return profiles.Refusef("sysctl %q refused: not allowed in the host's UTS namespace", k)
			}
		default:
			return profiles.Refusef("sysctl %q refused: it is not in a separate kernel namespace", k)
		}
	}
	return nil
}

// hostWrites decides who writes the sysctls of the network namespace open
// as netns: false when it belongs to the user namespace at path userns
// (runc writes, with privilege over it), true when it belongs to runcage's
// own user namespace and is neither runcage's own network namespace nor
// that of pid 1. Anything
// else is an error: runcage cannot tell, or nobody may write.
func hostWrites(netns *os.File, userns string) (bool, error) {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(netns.Fd()), &sfs); err != nil {
		return false, err
	}
	if sfs.Type != unix.NSFS_MAGIC {
		return false, errors.New("not a namespace file")
	}
	if t, err := unix.IoctlRetInt(int(netns.Fd()), unix.NS_GET_NSTYPE); err != nil || t != unix.CLONE_NEWNET {
		return false, fmt.Errorf("not a network namespace (type %#x): %v", t, err)
	}
	// thread-self, not self: a locked thread of mountSysfsIn that the Go
	// runtime wedged rather than ended may be the main thread, whose
	// network namespace /proc/self shows. Every thread a goroutine can
	// still run on is in runcage's own. As the namespaces modifier does,
	// a reference that cannot be read (pid 1 in another pid namespace) is
	// passed over, but at least one must be.
	var firstErr error
	read := false
	for _, host := range []string{"/proc/thread-self/ns/net", "/proc/1/ns/net"} {
		same, err := sameFile(netns, host)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		read = true
		if same {
			return false, errors.New("not allowed in the host network namespace")
		}
	}
	if !read {
		return false, fmt.Errorf("cannot tell whether it is the host's: %w", firstErr)
	}
	ofd, err := unix.IoctlRetInt(int(netns.Fd()), unix.NS_GET_USERNS)
	if err != nil {
		return false, fmt.Errorf("owning user namespace: %w", os.NewSyscallError("ioctl NS_GET_USERNS", err))
	}
	owner := os.NewFile(uintptr(ofd), "owner")
	defer owner.Close()
	if userns != "" {
		if same, err := sameFile(owner, userns); err != nil || same {
			return false, err
		}
	}
	same, err := sameFile(owner, "/proc/self/ns/user")
	if err != nil {
		return false, err
	}
	if !same {
		return false, errors.New("owned by a user namespace that is neither the container's nor the host's")
	}
	return true, nil
}

// sameFile reports whether f and the file at path are the same inode of
// the same device.
func sameFile(f *os.File, path string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &a); err != nil {
		return false, err
	}
	if err := unix.Stat(path, &b); err != nil {
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

// plainSysctlName accepts a dotted name whose every part is a non-empty
// run of printable ASCII other than "/" and space: each part is one path
// element below /proc/sys, never "." or "..".
func plainSysctlName(k string) error {
	for _, p := range strings.Split(k, ".") {
		if p == "" {
			return errors.New("not a plain dotted name")
		}
		for _, c := range []byte(p) {
			if c <= ' ' || c >= 0x7f || c == '/' {
				return errors.New("not a plain dotted name")
			}
		}
	}
	return nil
}

// containerGIDs returns the gid mappings of the container's user namespace:
// the spec's, or those of the namespace it joins by /proc/<pid>/ns/user.
func containerGIDs(s *specs.Spec, userns string) ([]specs.LinuxIDMapping, error) {
	if len(s.Linux.GIDMappings) > 0 {
		return s.Linux.GIDMappings, nil
	}
	pid, ok := procUserNSPid(userns)
	if !ok {
		return nil, profiles.Refusef("sysctl %s refused: cannot read the gid mappings of user namespace %q", namespaces.PingGroupRange, userns)
	}
	gids, err := ReadIDMap("/proc/" + pid + "/gid_map")
	if err != nil {
		return nil, fmt.Errorf("read gid mappings of %s: %w", userns, err)
	}
	return gids, nil
}

// hostPingGroupRange translates a ping_group_range value of container group
// ids to the host group ids gids maps them to. The kernel keeps one range
// of host ids, so the result stops at the end of the mapping that holds the
// low bound: it only ever narrows. An empty range (low above high) stays
// as it is; a low bound gids does not map is refused (FitPingGroupRange
// already made it "1 0").
func hostPingGroupRange(v string, gids []specs.LinuxIDMapping) (string, error) {
	f := strings.Fields(v)
	var lo, hi uint64
	var err1, err2 error
	if len(f) == 2 {
		lo, err1 = strconv.ParseUint(f[0], 10, 32)
		hi, err2 = strconv.ParseUint(f[1], 10, 32)
	}
	if len(f) != 2 || err1 != nil || err2 != nil {
		return "", profiles.Refusef("sysctl %s=%q refused: want two group ids", namespaces.PingGroupRange, v)
	}
	if lo > hi {
		return v, nil
	}
	for _, m := range gids {
		start, size := uint64(m.ContainerID), uint64(m.Size)
		if size == 0 || lo < start || lo-start >= size {
			continue
		}
		end := min(hi, start+size-1)
		host := uint64(m.HostID) + lo - start
		return fmt.Sprintf("%d %d", host, host+end-lo), nil
	}
	return "", profiles.Refusef("sysctl %s=%q refused: group %d is not mapped", namespaces.PingGroupRange, v, lo)
}

// writeSysctlsIn writes vals[i] to the sysctl keys[i] of the network
// namespace open as netns, from a thread in it (inNetns). The kernel resolves /proc/sys/net for the opening thread's network
// namespace; the thread proves it is in netns (/proc/thread-self/ns/net)
// and that /proc/sys/net is procfs before it opens anything below it, and
// nothing is resolved through a symlink.
func writeSysctlsIn(netns *os.File, keys, vals []string) error {
	return inNetns(netns, func() error { return writeSysctlsHere(netns, keys, vals) })
}

// writeSysctlsHere is writeSysctlsIn on the thread inNetns switched.
func writeSysctlsHere(netns *os.File, keys, vals []string) error {
	if same, err := sameFile(netns, "/proc/thread-self/ns/net"); err != nil || !same {
		return errors.Join(errors.New("the writing thread is not in the network namespace"), err)
	}
	dir, err := unix.Openat2(unix.AT_FDCWD, "/proc/sys/net", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fmt.Errorf("open /proc/sys/net: %w", err)
	}
	defer unix.Close(dir)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(dir, &sfs); err != nil || sfs.Type != unix.PROC_SUPER_MAGIC {
		return errors.Join(errors.New("/proc/sys/net is not procfs"), err)
	}
	for i, k := range keys {
		rel := strings.ReplaceAll(strings.TrimPrefix(k, "net."), ".", "/")
		fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
			Flags:   unix.O_WRONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
		})
		if err != nil {
			return fmt.Errorf("open sysctl %s: %w", k, err)
		}
		_, err = unix.Write(fd, []byte(vals[i]))
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("write sysctl %s=%q: %w", k, vals[i], err)
		}
	}
	return nil
}

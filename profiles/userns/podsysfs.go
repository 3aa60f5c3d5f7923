package userns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
)

// podSysfs makes /sys work for a container that gets a new user namespace
// but joins a network namespace by path, as every container of a CRI pod
// does (containerd 1.x creates the pod's network namespace itself, owned
// by the initial user namespace). The kernel lets a process mount sysfs
// only with CAP_SYS_ADMIN over the owner of its network namespace, so runc
// fails with EPERM inside the new user namespace.
//
// podSysfs mounts sysfs for that network namespace itself, as host root,
// at <res.Dir>/sys, and replaces the bundle's sysfs mount at /sys with a
// read-only bind of it. The container sees exactly the sysfs it would see
// without a user namespace (the devices of its own network namespace, not
// the host's), read-only, with the same masked paths. The mount is added to
// res.Mounts, so Undo removes it on delete.
func (st *Setup) podSysfs(s *specs.Spec, res *Result) error {
	i := slices.IndexFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
	if i < 0 || s.Linux.Namespaces[i].Path == "" {
		return nil // the host's (refused elsewhere) or a new one the userns owns
	}
	netns := s.Linux.Namespaces[i].Path
	m := slices.IndexFunc(s.Mounts, func(m specs.Mount) bool {
		return m.Type == "sysfs" && filepath.Clean(m.Destination) == "/sys"
	})
	if m < 0 {
		return nil
	}
	dst := filepath.Join(res.Dir, "sys")
	if err := os.Mkdir(dst, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("pod sysfs: %w", err)
	}
	if err := mountSysfsIn(netns, dst); err != nil {
		_ = os.Remove(dst)
		return fmt.Errorf("pod sysfs for network namespace %s: %w", netns, err)
	}
	res.Mounts = append(res.Mounts, dst)
	s.Mounts[m] = specs.Mount{
		Destination: "/sys",
		Type:        "bind",
		Source:      dst,
		Options:     []string{"bind", "ro", "nosuid", "nodev", "noexec"},
	}
	return nil
}

// mountSysfsIn mounts a read-only sysfs instance of the network namespace
// at path netns on dst, from a thread in that namespace (inNetns).
func mountSysfsIn(netns, dst string) error {
	f, err := os.Open(netns)
	if err != nil {
		return err
	}
	defer f.Close()
	return inNetns(f, func() error {
		err := unix.Mount("sysfs", dst, "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		return os.NewSyscallError("mount sysfs", err)
	})
}

// inNetns runs fn on one locked OS thread switched into the network
// namespace open as netns, and returns its error. The thread is never
// unlocked, so the Go runtime discards it afterwards and no other
// goroutine ever runs in the pod's network namespace. Were that thread
// the main thread, the runtime could not discard it and would keep it
// in netns, and /proc/self/ns/net would then name netns: a long-lived
// caller (the containerd shim) keeps the main thread for its main
// goroutine, so this goroutine never gets it.
func inNetns(netns *os.File, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread exits with the goroutine
		if err := unix.Setns(int(netns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- os.NewSyscallError("setns", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// procNSPid returns the pid in a path of the form /proc/<pid>/ns/<name>.
// Hand-written, like procUserNSPid: no regexp compiled on every start.
func procNSPid(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/proc/")
	if !ok {
		return "", false
	}
	pid, name, ok := strings.Cut(rest, "/ns/")
	if !ok || pid == "" || len(pid) > 10 || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	for _, c := range pid {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return pid, true
}

// podUserns returns the user namespace a container must join, or "" when
// it gets one of its own. The CRI gives every app container of a pod the
// pause container's IPC and UTS namespaces by /proc/<pid>/ns path; when
// that process lives in a user namespace other than the host's (runcage
// gave the pause container one), the app container must join it: those
// namespaces belong to it, and a sibling user namespace has no privilege
// over them (runc's mqueue mount fails with EPERM). The namespace must map
// exactly the pod's range maps, or the container is refused.
func podUserns(s *specs.Spec, maps []specs.LinuxIDMapping) (string, error) {
	host, err := os.Readlink("/proc/self/ns/user")
	if err != nil {
		return "", fmt.Errorf("read own user namespace: %w", err)
	}
	for _, ns := range s.Linux.Namespaces {
		pid, ok := procNSPid(ns.Path)
		if !ok {
			continue
		}
		userPath := "/proc/" + pid + "/ns/user"
		u, err := os.Readlink(userPath)
		if err != nil {
			return "", fmt.Errorf("user namespace of %s: %w", ns.Path, err)
		}
		if u == host {
			continue
		}
		for _, f := range []string{"uid_map", "gid_map"} {
			got, err := ReadIDMap("/proc/" + pid + "/" + f)
			if err != nil {
				return "", fmt.Errorf("read %s of %s: %w", f, userPath, err)
			}
			if !slices.Equal(got, maps) {
				return "", profiles.Refusef("user namespace refused: the container joins %s, whose user namespace maps %v, not the pod's range %v", ns.Path, got, maps)
			}
		}
		return userPath, nil
	}
	return "", nil
}

package userns

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	_ "unsafe" // for go:linkname

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// NewUsernsFD returns an open /proc/<pid>/ns/user file for a new user
// namespace that has the given mappings, for use with IDMappedBind and
// MountIDMappedOverlay. Nothing runs in the namespace and no process is
// left behind: the namespace lives as long as the returned file (and any
// mount that uses it). The caller closes the file.
//
// How: a raw clone(CLONE_NEWUSER) of the calling process, the way
// containerd 1.7's sys.GetUsernsFD does it. The child only makes raw
// system calls: it sets PR_SET_PDEATHSIG, checks that its parent is still
// the caller, and sleeps with every signal blocked. The parent opens the
// child's ns/user, writes uid_map and gid_map, then kills and reaps the
// child. No program is executed, so nothing from a container rootfs (nor
// runcage's own binary) ever runs. Until it is killed, the child holds
// copies of the caller's file descriptors, like any fork.
//
// On amd64 the child shares the caller's memory (CLONE_VM, see
// clone_amd64.go) and costs a thread's creation, about 0.1 ms; elsewhere
// it is a fork of a copy of the caller, about 2-8 ms on a small VM. Either
// is less than starting /proc/self/exe stopped under ptrace (the way runc
// and containerd 2 do it). Create one per container and share it among
// its mounts.
//
// Both uid and gid must be non-empty; the kernel checks the rest (at most
// 340 lines, no overlaps) and its error is returned.
func NewUsernsFD(uid, gid []specs.LinuxIDMapping) (*os.File, error) {
	if len(uid) == 0 || len(gid) == 0 {
		return nil, errors.New("new user namespace: uid and gid mappings are both required")
	}
	uidMap, gidMap := formatIDMap(uid), formatIDMap(gid)

	pid, errno := cloneUserns(uintptr(os.Getpid()))
	if errno == unix.ENOSPC {
		return nil, fmt.Errorf("clone user namespace: %w (user.max_user_namespaces reached or 0)", errno)
	}
	if errno != 0 {
		return nil, fmt.Errorf("clone user namespace: %w", errno)
	}
	defer func() {
		_ = unix.Kill(int(pid), unix.SIGKILL)
		_ = ignoringEINTR(func() error {
			_, err := unix.Wait4(int(pid), nil, 0, nil)
			return err
		})
	}()

	// The child is ours and unreaped, so its pid cannot be reused until the
	// deferred Wait4.
	proc := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	ns, err := os.OpenFile(proc+"/ns/user", os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open user namespace: %w", err)
	}
	if err := writeIDMap(proc+"/uid_map", uidMap); err != nil {
		_ = ns.Close()
		return nil, err
	}
	if err := writeIDMap(proc+"/gid_map", gidMap); err != nil {
		_ = ns.Close()
		return nil, err
	}
	return ns, nil
}

func formatIDMap(maps []specs.LinuxIDMapping) []byte {
	var b strings.Builder
	for _, m := range maps {
		fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
	}
	return []byte(b.String())
}

// writeIDMap writes a whole map in one write(2), as the kernel requires.
func writeIDMap(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	n, err := f.Write(data)
	if err == nil && n != len(data) {
		err = fmt.Errorf("short write (%d of %d bytes)", n, len(data))
	}
	if err != nil {
		return fmt.Errorf("write %s %q: %w", path, data, err)
	}
	return nil
}

// The runtime's fork hooks, as package syscall uses them around its own
// fork. They block signals and stop the goroutine from being preempted or
// growing its stack until the child is gone from this address space. They
// are kept for exactly this use (go.dev/issue/67401).

//go:linkname beforeFork syscall.runtime_BeforeFork
func beforeFork()

//go:linkname afterFork syscall.runtime_AfterFork
func afterFork()

package recorder

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles/rootfs"
	"github.com/runcage/runcage/profiles/userns"
)

// seccompNotif is struct seccomp_notif (linux/seccomp.h).
type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

// seccompNotifResp is struct seccomp_notif_resp.
type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// notifyFD is one seccomp listener descriptor.
type notifyFD int

func ioctlPtr(fd notifyFD, req uintptr, p unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(p))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}

// setSyncWakeup asks the kernel to switch straight to the agent's thread on
// a notification and back on the answer (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
// Linux 6.6), which roughly halves the cost of a round trip. Older kernels
// refuse it; that only costs speed.
func (fd notifyFD) setSyncWakeup() error {
	flags := uint64(unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unsafe.Pointer(&flags))
}

// wait blocks until a notification is pending (true) or the filter has no
// users left (false).
func (fd notifyFD) wait() (bool, error) {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(pfd, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("poll notify fd: %w", err)
		}
		switch {
		case pfd[0].Revents&unix.POLLIN != 0:
			return true, nil
		case pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0:
			return false, nil
		}
	}
}

// recv receives one notification. ENOENT means the caller went away before
// it could be received; the caller should wait again.
func (fd notifyFD) recv(n *notification) error {
	var raw seccompNotif // the kernel refuses a buffer that is not zeroed
	if err := ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&raw)); err != nil {
		return err
	}
	*n = notification{ID: raw.id, Pid: raw.pid, Arch: raw.arch, Nr: raw.nr, Args: raw.args}
	return nil
}

// send answers notification id. ENOENT (the caller was interrupted or
// died) is not an error.
func (fd notifyFD) send(id uint64, r response) error {
	resp := seccompNotifResp{id: id}
	if r.Continue {
		resp.flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	} else {
		resp.error = -int32(r.Errno)
	}
	err := ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp))
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// valid reports whether notification id is still pending, that is, whether
// the process that made it is still blocked in the syscall (and so its pid
// and memory are still the ones it had when the notification came).
func (fd notifyFD) valid(id uint64) bool {
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

// procTarget reads from processes through process_vm_readv and /proc. The
// agent runs in the host's pid namespace, as root; it never follows a path
// inside the container, it only reads /proc's own links and files.
type procTarget struct{}

// newProcTarget returns the processReader the agent uses on Linux.
func newProcTarget() processReader { return procTarget{} }

const pageSize = 4096

func (procTarget) Read(pid uint32, addr uint64, buf []byte) (int, error) {
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(len(buf))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}
	n, err := unix.ProcessVMReadv(int(pid), local, remote, 0)
	if err != nil {
		return 0, fmt.Errorf("read memory of %d: %w", pid, err)
	}
	return n, nil
}

// ReadString reads page by page so that a string that ends just before an
// unmapped page is still read whole.
func (t procTarget) ReadString(pid uint32, addr uint64, max int) (string, error) {
	var out []byte
	buf := make([]byte, pageSize)
	for len(out) < max {
		chunk := min(pageSize-int(addr%pageSize), max-len(out))
		n, err := t.Read(pid, addr, buf[:chunk])
		if err != nil {
			return "", err
		}
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		if n < chunk {
			return "", fmt.Errorf("read memory of %d: string not terminated", pid)
		}
		out = append(out, buf[:n]...)
		addr += uint64(n)
	}
	return "", fmt.Errorf("read memory of %d: string longer than %d bytes", pid, max)
}

// Dir reads /proc/<pid>/cwd or /proc/<pid>/fd/<dirfd>. The kernel renders
// the link relative to the reader's root when it can; for a process in a
// container the path is then the host path of its directory, which is made
// container-relative by removing the host path of /proc/<pid>/root. A
// directory that path does not reach in the process's mount tree (one on a
// detached mount, such as runc's private procfs) is an error (inMountTree).
func (procTarget) Dir(pid uint32, dirfd int32) (string, error) {
	base := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	link := base + "/cwd"
	if dirfd != atFDCWD {
		if dirfd < 0 {
			return "", fmt.Errorf("bad dirfd %d", dirfd)
		}
		link = base + "/fd/" + strconv.Itoa(int(dirfd))
	}
	dir, err := os.Readlink(link)
	if err != nil {
		return "", fmt.Errorf("resolve directory: %w", err)
	}
	root, err := os.Readlink(base + "/root")
	if err != nil {
		return "", fmt.Errorf("resolve directory: %w", err)
	}
	if root != "/" {
		rel, ok := strings.CutPrefix(dir, root)
		if !ok || rel != "" && !strings.HasPrefix(rel, "/") {
			return "", fmt.Errorf("resolve directory: %q is not under the process's root %q", dir, root)
		}
		dir = rel
		if dir == "" {
			dir = "/"
		}
	}
	if strings.HasSuffix(dir, " (deleted)") || !strings.HasPrefix(dir, "/") {
		return "", fmt.Errorf("resolve directory: %q is not a path", dir)
	}
	if err := inMountTree(base, link, dir); err != nil {
		return "", err
	}
	return strings.TrimSuffix(dir, "/"), nil
}

// Exe reads the link /proc/<pid>/exe. For a process in a container it
// names the executable relative to the container's root, as Dir's paths
// are, with the root's host path removed when the kernel renders it.
func (procTarget) Exe(pid uint32) (string, error) {
	base := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	exe, err := os.Readlink(base + "/exe")
	if err != nil {
		return "", fmt.Errorf("read executable: %w", err)
	}
	if root, err := os.Readlink(base + "/root"); err == nil && root != "/" {
		if rel, ok := strings.CutPrefix(exe, root); ok && strings.HasPrefix(rel, "/") {
			exe = rel
		}
	}
	return exe, nil
}

// Creds reads /proc/<pid>/status and maps the ids through the process's
// uid_map and gid_map into its own user namespace.
// Resolve opens /proc/<pid>/root (O_PATH) and resolves p in it with
// rootfs.ResolveIn: no symlink is followed by the kernel, nothing is opened
// for reading.
func (procTarget) Resolve(pid uint32, p string) (string, error) {
	root, err := unix.Open("/proc/"+strconv.FormatUint(uint64(pid), 10)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", p, err)
	}
	defer unix.Close(root)
	return rootfs.ResolveIn(root, p)
}

func (procTarget) Creds(pid uint32) (procCreds, error) {
	base := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	status, err := os.ReadFile(base + "/status")
	if err != nil {
		return procCreds{}, fmt.Errorf("read credentials: %w", err)
	}
	uidMap, err := userns.ReadIDMap(base + "/uid_map")
	if err != nil {
		return procCreds{}, fmt.Errorf("read id map: %w", err)
	}
	gidMap, err := userns.ReadIDMap(base + "/gid_map")
	if err != nil {
		return procCreds{}, fmt.Errorf("read id map: %w", err)
	}
	return parseCreds(status, uidMap, gidMap)
}

// toInside maps an id as the agent sees it to the process's namespace; ids
// that do not map become the overflow id 65534.
func toInside(m []specs.LinuxIDMapping, id uint32) uint32 {
	for _, r := range m {
		if id >= r.HostID && uint64(id) < uint64(r.HostID)+uint64(r.Size) {
			return r.ContainerID + (id - r.HostID)
		}
	}
	return 65534
}

func parseCreds(status []byte, uidMap, gidMap []specs.LinuxIDMapping) (procCreds, error) {
	var c procCreds
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || key != "Uid" && key != "Gid" && key != "Groups" {
			continue
		}
		f := strings.Fields(val)
		ids := make([]uint32, 0, len(f))
		for _, s := range f {
			v, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return procCreds{}, fmt.Errorf("parse credentials: %w", err)
			}
			ids = append(ids, uint32(v))
		}
		switch key {
		case "Uid", "Gid":
			if len(ids) != 4 {
				return procCreds{}, fmt.Errorf("parse credentials: %s has %d ids", key, len(ids))
			}
			m, dst := uidMap, []*uint32{&c.Uid, &c.Euid, &c.Suid, &c.Fsuid}
			if key == "Gid" {
				m, dst = gidMap, []*uint32{&c.Gid, &c.Egid, &c.Sgid, &c.Fsgid}
			}
			for i, p := range dst {
				*p = toInside(m, ids[i])
			}
			found++
		case "Groups":
			for _, id := range ids {
				c.Groups = append(c.Groups, toInside(gidMap, id))
			}
		}
	}
	if found != 2 {
		return procCreds{}, errors.New("parse credentials: no Uid or Gid line")
	}
	return c, nil
}

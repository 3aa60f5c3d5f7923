package userns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/internal/mountinfo"
)

// ErrIDMapUnsupported is wrapped by every error that means "this kernel or
// this filesystem cannot do id-mapped mounts". The caller refuses the
// container with it; nothing here ever falls back to chown.
var ErrIDMapUnsupported = errors.New("id-mapped mounts unsupported")

// UnsupportedError says which filesystem refused an id-mapped mount, where,
// and with which errno. It satisfies errors.Is(err, ErrIDMapUnsupported) and
// unwraps to the errno.
type UnsupportedError struct {
	FSType string // e.g. "ext4", "overlay", "nfs4"; "unknown" if it cannot be told
	Path   string // the directory that was to be id-mapped
	Err    error  // the errno from open_tree or mount_setattr
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("id-mapped mounts unsupported on %s at %s: %v", e.FSType, e.Path, e.Err)
}

// Is reports whether target is ErrIDMapUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrIDMapUnsupported }

// Unwrap returns the errno.
func (e *UnsupportedError) Unwrap() error { return e.Err }

// unsupported reports whether errno from the new mount API means the
// kernel or the filesystem lacks id-mapped mounts: ENOSYS (no open_tree or
// mount_setattr), EINVAL (the filesystem does not set FS_ALLOW_IDMAP, or
// the kernel knows no MOUNT_ATTR_IDMAP), EPERM (the mount or namespace may
// not be id-mapped, e.g. it is already id-mapped), EOPNOTSUPP.
func unsupported(err error) bool {
	return errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) ||
		errors.Is(err, unix.EPERM) || errors.Is(err, unix.EOPNOTSUPP)
}

// IDMappedBind bind-mounts the directory src at dst, id-mapped through the
// user namespace usernsFD (from NewUsernsFD): a file that is owned by id k
// on disk is seen as owned by the host id that k maps to, and a file created
// through dst by host id h lands on disk owned by the id that maps to h. The
// files under src are not touched, so the cost does not depend on how many
// there are.
//
// It uses open_tree(OPEN_TREE_CLONE) for a detached copy of the mount at src,
// mount_setattr(MOUNT_ATTR_IDMAP) on it and move_mount to attach it at dst.
// dst must be an existing directory that runcage created (under its state
// directory); undo with Unmount.
//
// The new mount is private: it is not a peer of the mount at src, so mounts
// made later under either never propagate to the other.
//
// The bind is not recursive: mounts below src are not carried to dst (dst
// shows the directories they cover). A recursive id-map fails as a whole as
// soon as one submount is on a filesystem without id-map support (procfs,
// sysfs, most network filesystems), and a container rootfs is one mount.
//
// When the kernel or the filesystem of src refuses, the error wraps
// ErrIDMapUnsupported as an *UnsupportedError naming the filesystem type.
func IDMappedBind(src, dst string, usernsFD *os.File) error {
	return idMappedBind(src, dst, usernsFD, 0)
}

// idMappedBind is IDMappedBind that also sets the MOUNT_ATTR_* flags attr
// (such as MOUNT_ATTR_RDONLY) on the new mount.
func idMappedBind(src, dst string, usernsFD *os.File, attr uint64) error {
	if usernsFD == nil {
		return errors.New("id-mapped bind: no user namespace")
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		err = os.NewSyscallError("open_tree", err)
		if errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("id-mapped bind %s: %w", src, &UnsupportedError{FSType: fsType(src), Path: src, Err: err})
		}
		return fmt.Errorf("id-mapped bind %s: %w", src, err)
	}
	defer unix.Close(tree)
	// Private: the copy must not be a peer of src, so that mounts made
	// under one never show up under the other.
	ma := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP | attr, Userns_fd: uint64(usernsFD.Fd()), Propagation: unix.MS_PRIVATE}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &ma); err != nil {
		err = os.NewSyscallError("mount_setattr", err)
		if unsupported(err) {
			return fmt.Errorf("id-mapped bind %s: %w", src, &UnsupportedError{FSType: fsType(src), Path: src, Err: err})
		}
		return fmt.Errorf("id-mapped bind %s: %w", src, err)
	}
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("id-mapped bind %s: attach at %s: %w", src, dst, os.NewSyscallError("move_mount", err))
	}
	return nil
}

// Probe checks that an id-mapped mount works on the filesystem of dir, for
// `runcage check` and for refusing a container with a precise reason. It
// does one for real: it creates a temporary directory under dir holding a
// file owned by 0:0, id-maps it through a user namespace that maps 0 to
// another id, checks the file's owner as seen through the mount, and removes
// everything again. When dir is on a read-only filesystem (an erofs or
// squashfs image layer), it id-maps dir itself onto a temporary directory
// under os.TempDir and checks the owner of dir instead; nothing is written
// under dir.
//
// When the kernel or filesystem cannot, the error wraps ErrIDMapUnsupported
// and reads "id-mapped mounts unsupported on <fstype> at <dir>: <errno>".
// Other errors (dir missing, no user namespaces) are wrapped with "probe
// id-mapped mounts" and do not wrap ErrIDMapUnsupported.
func Probe(dir string) error {
	tmp, err := os.MkdirTemp(dir, ".runcage-idmap-probe-")
	if errors.Is(err, unix.EROFS) {
		return probeReadOnly(dir)
	}
	if err != nil {
		return fmt.Errorf("probe id-mapped mounts: %w", err)
	}
	src, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "dst")
	err = func() error {
		for _, d := range []string{src, dst} {
			if err := os.Mkdir(d, 0o700); err != nil {
				return err
			}
		}
		f, err := os.OpenFile(filepath.Join(src, "f"), os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		err = f.Chown(0, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return probe(dir, src, dst, "f")
	}()
	if uerr := Unmount([]string{tmp, dst}); err == nil && uerr != nil {
		err = fmt.Errorf("clean up: %w", uerr)
	}
	return probeError(err)
}

func probeReadOnly(dir string) error {
	dst, err := os.MkdirTemp("", ".runcage-idmap-probe-")
	if err != nil {
		return fmt.Errorf("probe id-mapped mounts: %w", err)
	}
	err = probe(dir, dir, dst, ".")
	if uerr := Unmount([]string{dst}); err == nil && uerr != nil {
		err = fmt.Errorf("clean up: %w", uerr)
	}
	return probeError(err)
}

func probeError(err error) error {
	if _, ok := err.(*UnsupportedError); ok || err == nil {
		return err
	}
	return fmt.Errorf("probe id-mapped mounts: %w", err)
}

// probe id-maps src onto dst through a namespace that maps ids 0-65535 to
// probeHost onwards and checks that name under dst shows the mapped owner
// of name under src. An *UnsupportedError it returns names dir.
func probe(dir, src, dst, name string) error {
	const probeHost = 1 << 30 // any range away from 0 will do
	var want unix.Stat_t
	if err := unix.Lstat(filepath.Join(src, name), &want); err != nil {
		return err
	}
	r := Range{HostID: probeHost, Size: 65536}
	ns, err := NewUsernsFD(r.Mappings(), r.Mappings())
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := IDMappedBind(src, dst, ns); err != nil {
		var ue *UnsupportedError
		if errors.As(err, &ue) {
			ue.Path = dir
			return ue
		}
		return err
	}
	var got unix.Stat_t
	if err := unix.Lstat(filepath.Join(dst, name), &got); err != nil {
		return err
	}
	if want.Uid < r.Size && want.Gid < r.Size && (got.Uid != probeHost+want.Uid || got.Gid != probeHost+want.Gid) {
		return &UnsupportedError{FSType: fsType(src), Path: dir,
			Err: fmt.Errorf("a file owned by %d:%d shows as %d:%d through the mount, not %d:%d",
				want.Uid, want.Gid, got.Uid, got.Gid, probeHost+want.Uid, probeHost+want.Gid)}
	}
	return nil
}

// fsType names the filesystem that path is on: the type that mountinfo
// shows for the mount holding it ("ext4", "overlay", "fuse.sshfs"), or
// failing that the statfs magic number's name.
func fsType(path string) string {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_MNT_ID, &stx); err == nil && stx.Mask&unix.STATX_MNT_ID != 0 {
		if mounts, err := mountinfo.Read(); err == nil {
			for _, m := range mounts {
				if uint64(m.ID) == stx.Mnt_id {
					return m.FSType
				}
			}
		}
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil {
		return "unknown"
	}
	if name, ok := fsMagic[int64(sfs.Type)]; ok {
		return name
	}
	return fmt.Sprintf("filesystem 0x%x", sfs.Type)
}

var fsMagic = map[int64]string{
	unix.EXT4_SUPER_MAGIC:      "ext4",
	unix.XFS_SUPER_MAGIC:       "xfs",
	unix.BTRFS_SUPER_MAGIC:     "btrfs",
	unix.TMPFS_MAGIC:           "tmpfs",
	unix.OVERLAYFS_SUPER_MAGIC: "overlay",
	unix.NFS_SUPER_MAGIC:       "nfs",
	unix.FUSE_SUPER_MAGIC:      "fuse",
	unix.SQUASHFS_MAGIC:        "squashfs",
	unix.F2FS_SUPER_MAGIC:      "f2fs",
	unix.PROC_SUPER_MAGIC:      "proc",
	unix.SYSFS_MAGIC:           "sysfs",
	0x2fc12fc1:                 "zfs",
}

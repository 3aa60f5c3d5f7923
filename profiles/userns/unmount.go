package userns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/internal/mountinfo"
)

// maxStacked bounds how many mounts stacked on one path Unmount detaches.
const maxStacked = 64

// Unmount undoes what IDMappedBind, MountIDMappedOverlay and Probe made. It
// walks paths in reverse order; for each path it detaches (MNT_DETACH)
// every mount stacked on it, then removes it with everything below it. It
// never removes a path that still has a mount at or below it (that would
// delete files through the mount), and reports that as an error instead.
//
// Paths must be absolute. Paths that are already gone or not mounted are
// fine, so Unmount may be repeated after a crash or a partial failure. It
// tries every path and returns all errors joined.
func Unmount(paths []string) error {
	var errs []error
	for i := len(paths) - 1; i >= 0; i-- {
		if err := unmountAndRemove(paths[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func unmountAndRemove(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("unmount %q: not an absolute path", p)
	}
	p = filepath.Clean(p)
	if p == "/" {
		return errors.New("unmount: refusing to remove /")
	}
	for range maxStacked {
		err := unix.Unmount(p, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		if err == nil {
			continue
		}
		if errors.Is(err, unix.ENOENT) {
			return nil // already gone
		}
		if errors.Is(err, unix.EINVAL) {
			break // not (or no longer) a mount point
		}
		return fmt.Errorf("unmount %s: %w", p, err)
	}
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", p, err)
	}
	if err := notMounted(p, real); err != nil {
		return fmt.Errorf("unmount %s: %w", p, err)
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("unmount %s: remove: %w", p, err)
	}
	return nil
}

// notMounted returns an error if anything is mounted at real (p with its
// symlinks resolved) or below it. It costs a statx per file below real
// (the few directories runcage made there) rather than a read of the whole
// mount table, which grows with every container on the host: any mount is
// a different mount id than the directory it is on. For a symlink p, and
// without STATX_MNT_ID (Linux before 5.8), it reads the mount table.
func notMounted(p, real string) error {
	var top unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &top); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	if top.Mode&unix.S_IFMT == unix.S_IFLNK || top.Mask&unix.STATX_MNT_ID == 0 || top.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return notMountedScan(real)
	}
	return filepath.WalkDir(real, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		var st unix.Statx_t
		if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
		if st.Mnt_id != top.Mnt_id || st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0 {
			return fmt.Errorf("not removing it: %s is still mounted", path)
		}
		return nil
	})
}

// notMountedScan is notMounted by the mount table.
func notMountedScan(real string) error {
	mounts, err := mountinfo.Read()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if m.MountPoint == real || strings.HasPrefix(m.MountPoint, real+"/") {
			return fmt.Errorf("not removing it: %s is still mounted", m.MountPoint)
		}
	}
	return nil
}

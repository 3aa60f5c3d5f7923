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
	mounts, err := mountinfo.Read()
	if err != nil {
		return fmt.Errorf("unmount %s: %w", p, err)
	}
	for _, m := range mounts {
		if m.MountPoint == real || strings.HasPrefix(m.MountPoint, real+"/") {
			return fmt.Errorf("unmount %s: not removing it: %s is still mounted", p, m.MountPoint)
		}
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("unmount %s: remove: %w", p, err)
	}
	return nil
}

// Package rootfs checks the container's root filesystem for the symlink
// tricks that redirect runc's own mounts: a rootfs whose /proc, /dev or /sys
// is a symlink makes runc mount procfs, devices or sysfs somewhere the image
// author chose (CVE-2019-16884, CVE-2019-19921 and their successors).
//
// The check looks at the rootfs without trusting it: it opens the rootfs
// directory once and inspects its entries with fstatat(AT_SYMLINK_NOFOLLOW).
// It never follows, reads or executes anything inside the rootfs.
package rootfs

import (
	"errors"
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
)

// Checked lists the top-level rootfs entries that must be directories or
// absent. runc creates the ones that are absent.
var Checked = []string{"proc", "dev", "sys"}

// New returns a Modifier that refuses a spec whose root is missing, whose
// rootfs is the host's root directory or a procfs or sysfs directory, or
// whose rootfs has /proc, /dev or /sys as anything other than a directory
// (most importantly, a symlink). A relative root.path is resolved against bundle,
// the bundle directory. The path up to and including the rootfs directory is
// the host's and is resolved normally; entries inside it are never followed.
// The modifier never changes the spec.
func New(bundle string) profiles.Modifier {
	return modifier{bundle: bundle}
}

type modifier struct{ bundle string }

// openRoot opens s's root filesystem (root.path, relative to bundle when
// relative) as an O_PATH directory descriptor, which the caller closes, and
// returns it with the path. A spec without root.path is refused.
func openRoot(s *specs.Spec, bundle string) (int, string, error) {
	if s.Root == nil || s.Root.Path == "" {
		return -1, "", profiles.Refusef("spec refused: no root filesystem (root.path is empty)")
	}
	root := s.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(bundle, root)
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", fmt.Errorf("open rootfs %q: %w", root, err)
	}
	return fd, root, nil
}

// Modify implements profiles.Modifier.
func (m modifier) Modify(s *specs.Spec) error {
	fd, root, err := openRoot(s, m.bundle)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := checkFS(fd, root); err != nil {
		return err
	}
	for _, name := range Checked {
		var st unix.Stat_t
		err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("stat rootfs entry %q in %q: %w", "/"+name, root, err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
		case unix.S_IFLNK:
			return profiles.Refusef("rootfs %q refused: /%s is a symlink, which would redirect runc's %s mount", root, name, name)
		default:
			return profiles.Refusef("rootfs %q refused: /%s is not a directory", root, name)
		}
	}
	return nil
}

// checkFS refuses a rootfs (open as fd) that is the host's own root
// directory, however it is reached (a relative path, a symlink, a bind mount
// of /), or a directory of procfs or sysfs.
func checkFS(fd int, root string) error {
	var st, host unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat rootfs %q: %w", root, err)
	}
	if err := unix.Stat("/", &host); err != nil {
		return fmt.Errorf("stat host root: %w", err)
	}
	if st.Dev == host.Dev && st.Ino == host.Ino {
		return profiles.Refusef("rootfs %q refused: it is the host's root directory", root)
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return fmt.Errorf("statfs rootfs %q: %w", root, err)
	}
	switch sfs.Type {
	case unix.PROC_SUPER_MAGIC:
		return profiles.Refusef("rootfs %q refused: it is on the host's procfs", root)
	case unix.SYSFS_MAGIC:
		return profiles.Refusef("rootfs %q refused: it is on the host's sysfs", root)
	}
	return nil
}

package recorder

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// inMountTree returns nil if dir, the path Dir rendered for link
// (/proc/<pid>/cwd or /proc/<pid>/fd/<n>, relative to the process's root),
// names that same directory in the process's mount tree: resolved below
// /proc/<pid>/root, without following any symlink, it is the same inode on
// the same mount. Otherwise the directory is not reachable by path in the
// container, and its path must not be recorded: runc 1.2+ opens a private
// procfs (fsopen or open_tree, never attached) and works below it, and the
// kernel renders a directory of such a detached mount relative to the
// mount's own root ("/", "/1/task/1/fd", "/self/fd"), which reads as an
// unrelated path of the container.
func inMountTree(base, link, dir string) error {
	const mask = unix.STATX_INO | unix.STATX_MNT_ID
	var want, got unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, link, 0, mask, &want); err != nil {
		return fmt.Errorf("resolve directory: %w", err)
	}
	root, err := unix.Open(base+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("resolve directory: %w", err)
	}
	defer unix.Close(root)
	rel := strings.TrimPrefix(dir, "/")
	if rel == "" {
		rel = "."
	}
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return fmt.Errorf("resolve directory: %q is not reachable in the process's mount tree: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, mask, &got); err != nil {
		return fmt.Errorf("resolve directory: %w", err)
	}
	same := got.Ino == want.Ino && got.Dev_major == want.Dev_major && got.Dev_minor == want.Dev_minor
	if want.Mask&got.Mask&unix.STATX_MNT_ID != 0 {
		same = same && got.Mnt_id == want.Mnt_id
	}
	if !same {
		return fmt.Errorf("resolve directory: %q is on a mount outside the process's mount tree", dir)
	}
	return nil
}

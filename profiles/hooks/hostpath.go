package hooks

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/internal/pathwalk"
)

// maxLinks bounds the symlinks followed while resolving one hook path.
const maxLinks = 40

// resolveFunc resolves a hook path on the host; see resolveHostExec.
type resolveFunc func(p string) (string, error)

// resolveHostExec resolves p, an absolute clean host path, to the path of
// the file runc would execute, and returns it when that file is safe to run
// as root on the host: a regular file owned by root and not writable by
// group or others, reached only through directories that are owned by root,
// not writable by group or others, and not on procfs (so no /proc path, in
// any spelling, and no procfs magic link). Symlinks are followed by reading
// them, one element at a time, so every directory a symlink sends the walk
// through is checked too. Because nothing on the way can be changed by a
// user other than root, the returned path names the same file when runc
// executes it. Failures are refusals whose phrase says why.
func resolveHostExec(p string) (string, error) {
	if err := checkDir("/"); err != nil {
		return "", err
	}
	var st unix.Stat_t // of the element Lookup saw last
	exe := false
	w := pathwalk.Walker{
		MaxLinks: maxLinks,
		Lookup: func(next string) (uint32, string, error) {
			if err := unix.Lstat(next, &st); err != nil {
				return 0, "", profiles.Refusef("%q: %v", next, err)
			}
			if st.Mode&unix.S_IFMT != unix.S_IFLNK {
				return st.Mode, "", nil
			}
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlink(next, buf)
			if err != nil || n == 0 {
				return unix.S_IFLNK, "", profiles.Refusef("read symlink %q: %v", next, err)
			}
			return unix.S_IFLNK, string(buf[:n]), nil
		},
		Visit: func(next string, mode uint32, last bool) error {
			switch mode & unix.S_IFMT {
			case unix.S_IFDIR:
				return checkDir(next)
			case unix.S_IFREG:
				if !last {
					return profiles.Refusef("%q is not a directory", next)
				}
				if st.Uid != 0 {
					return profiles.Refusef("%q is owned by uid %d, not root", next, st.Uid)
				}
				if st.Mode&0o022 != 0 {
					return profiles.Refusef("%q is writable by group or others", next)
				}
				if err := samePath(next, st); err != nil {
					return err
				}
				exe = true
				return nil
			}
			return profiles.Refusef("%q is not a regular file", next)
		},
	}
	res, err := w.Walk(p)
	switch {
	case errors.Is(err, pathwalk.ErrTooManyLinks):
		return "", profiles.Refusef("too many symlinks")
	case err != nil:
		return "", err
	case !exe:
		return "", profiles.Refusef("%q is a directory", res)
	}
	return res, nil
}

// checkDir refuses a directory that a user other than root could change,
// or that is on procfs.
func checkDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return profiles.Refusef("%q: %v", dir, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return profiles.Refusef("%q: %v", dir, err)
	}
	switch {
	case sfs.Type == unix.PROC_SUPER_MAGIC:
		return profiles.Refusef("it is on procfs (%q)", dir)
	case st.Uid != 0:
		return profiles.Refusef("directory %q is owned by uid %d, not root", dir, st.Uid)
	case st.Mode&0o022 != 0:
		return profiles.Refusef("directory %q is writable by group or others", dir)
	}
	return nil
}

// samePath opens p with openat2 following no symlink and no magic link and
// checks that it is the file st describes.
func samePath(p string, st unix.Stat_t) error {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(unix.AT_FDCWD, p, &how)
	for errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		fd, err = unix.Openat2(unix.AT_FDCWD, p, &how)
	}
	if err != nil {
		return profiles.Refusef("open %q: %v", p, err)
	}
	defer unix.Close(fd)
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil {
		return fmt.Errorf("stat %q: %w", p, err)
	}
	if got.Dev != st.Dev || got.Ino != st.Ino {
		return profiles.Refusef("%q changed while it was checked", p)
	}
	return nil
}

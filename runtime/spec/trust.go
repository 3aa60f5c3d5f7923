package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
)

// CheckTrusted refuses a path that a host user other than root can
// change between runcage's rewrite and runc's read: path and every
// directory above it must be owned by root and not writable by group or
// others, except that a sticky directory (such as /tmp) may be world
// writable, since only its entries' owners can rename or remove them. what
// names the path in the message; a relative path is taken from the working
// directory. It stats without following a symlink in any component it
// checks.
func CheckTrusted(what, path string) error {
	return CheckTrustedOwned(what, path, nil)
}

// CheckTrustedOwned is CheckTrusted, except that path itself (not the
// directories above it) may also be owned by a uid for which leafOwner
// returns true: a rootfs chowned to the host id a container's root maps to
// is changed only by that container's root, which cannot reach it by its
// host path.
func CheckTrustedOwned(what, path string, leafOwner func(uid uint32) bool) error {
	// The walk ends at "/": a relative path would end at "." for ever.
	path, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", what, err)
	}
	for p := path; ; {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if errors.Is(err, unix.ENOENT) && p == path {
				// The caller reports the missing file itself; its
				// directories must still be trusted.
				p = filepath.Dir(p)
				continue
			}
			return fmt.Errorf("check %s: %w", what, &fs.PathError{Op: "lstat", Path: p, Err: err})
		}
		mode := st.Mode
		switch {
		case st.Uid != 0 && !(p == path && leafOwner != nil && leafOwner(st.Uid)):
			return profiles.Refusef("%s %q refused: %q is owned by uid %d, not root, who could replace it after runcage checked it", what, path, p, st.Uid)
		case mode&unix.S_IFMT == unix.S_IFLNK:
			// A root-owned symlink (such as /var/run -> /run) is as
			// trusted as its target: check that too.
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				return fmt.Errorf("check %s: %w", what, err)
			}
			if err := CheckTrustedOwned(what, target, nil); err != nil {
				return err
			}
		case mode&0o022 != 0 && !(mode&unix.S_IFMT == unix.S_IFDIR && mode&unix.S_ISVTX != 0):
			return profiles.Refusef("%s %q refused: %q is writable by %s (mode %04o), who could replace it after runcage checked it", what, path, p, writers(mode), mode&0o7777)
		}
		if p == "/" {
			return nil
		}
		p = filepath.Dir(p)
	}
}

func writers(mode uint32) string {
	var w []string
	if mode&0o020 != 0 {
		w = append(w, "its group")
	}
	if mode&0o002 != 0 {
		w = append(w, "every user")
	}
	return strings.Join(w, " and ")
}

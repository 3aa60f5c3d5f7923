package runtime

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
)

// canonicalRoot returns the runc state root that root names, in one
// spelling: runc's default when root is empty, absolute, and with the
// symlinks of its longest existing prefix resolved. Two spellings of one
// directory (a symlink to it, "..", a doubled slash) give the same result,
// so that runcage's records follow the container, not the text of --root.
// The delegate still gets --root exactly as the caller wrote it.
func canonicalRoot(root string) string {
	if root == "" {
		root = runcDefaultRoot
	}
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	// Resolve the longest prefix that exists; the rest (runc creates the
	// root on first use) has no symlinks to resolve yet.
	rest := ""
	for p := root; ; p = filepath.Dir(p) {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(real, rest)
		}
		if p == "/" || p == "." {
			return root
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

// lockWait bounds how long a verb waits for another runcage invocation on
// the same container id to finish.
const lockWait = 60 * time.Second

// lockContainer serializes runcage's verbs on container id: it takes an
// exclusive open-file-description lock on one byte of
// <stateDir>/containers.lock, at an offset hashed from id, and returns the
// function that releases it. One file serves every id, so the state
// directory does not grow with the containers it has seen; two ids whose
// hashes meet only wait for each other. The lock is per id, whatever the
// runc root, so that two roots can never set up state for one id at the
// same time. The file is opened O_CLOEXEC, so the delegate never inherits
// it, and the lock is held only as long as runcage itself holds the file
// open. Ids runc would refuse take no lock.
func lockContainer(stateDir, id string) (func(), error) {
	if !validID(id) || id == "." || id == ".." {
		return func() {}, nil
	}
	if err := os.MkdirAll(stateDir, 0o711); err != nil {
		return nil, fmt.Errorf("lock container: %w", err)
	}
	fd, err := unix.Open(filepath.Join(stateDir, "containers.lock"), unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock container: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: int64(h.Sum64() % (1 << 30)), Len: 1}
	deadline := time.Now().Add(lockWait)
	for {
		err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
		if err == nil {
			return func() { unix.Close(fd) }, nil
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EINTR) {
			unix.Close(fd)
			return nil, fmt.Errorf("lock container: %w", err)
		}
		if time.Now().After(deadline) {
			unix.Close(fd)
			return nil, fmt.Errorf("container %q is busy: another runcage invocation on it did not finish within %v", id, lockWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// otherRootRecord reports the record file of container id that runcage
// keeps under a runc root other than root (canonical), if any. runcage's
// user-namespace mounts and id allocations are per id, so an id live under
// one root must not be created under another.
func otherRootRecord(stateDir, root, id string) (string, bool) {
	mine, ok := recordPath(stateDir, root, id)
	if !ok {
		return "", false
	}
	matches, _ := filepath.Glob(filepath.Join(stateDir, "containers", "*", id+".json"))
	for _, m := range matches {
		if m != mine {
			return m, true
		}
	}
	return "", false
}

// checkTrusted refuses a bundle path that a host user other than root can
// change between runcage's rewrite and runc's read: path and every
// directory above it must be owned by root and not writable by group or
// others, except that a sticky directory (such as /tmp) may be world
// writable, since only its entries' owners can rename or remove them. what
// names the path in the message. It stats without following a symlink in
// any component it checks.
func checkTrusted(what, path string) error {
	return checkTrustedOwned(what, path, nil)
}

// checkTrustedOwned is checkTrusted, except that path itself (not the
// directories above it) may also be owned by a uid for which leafOwner
// returns true: a rootfs chowned to the host id a container's root maps to
// is changed only by that container's root, which cannot reach it by its
// host path.
func checkTrustedOwned(what, path string, leafOwner func(uid uint32) bool) error {
	path = filepath.Clean(path)
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
			if err := checkTrustedOwned(what, target, nil); err != nil {
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

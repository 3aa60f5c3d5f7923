package runtime

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
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
	return lockContainerFrom(stateDir, id, -1)
}

// lockByte is the byte of containers.lock that lockContainer locks for id.
// cmd/runcage/fastpath.c computes it too.
func lockByte(id string) unix.Flock_t {
	h := fnv.New64a()
	h.Write([]byte(id))
	return unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: int64(h.Sum64() % (1 << 30)), Len: 1}
}

// lockContainerFrom is lockContainer that first adopts fd, an open file
// description the C fast path opened and locked (see Ahead), if fd is
// <stateDir>/containers.lock: it then takes id's byte on fd, which holds
// it already. It closes fd in any case it does not adopt it, and falls
// back to lockContainer's own open and wait.
func lockContainerFrom(stateDir, id string, fd int) (func(), error) {
	if fd >= 0 {
		if adoptLock(stateDir, id, fd) {
			return func() { unix.Close(fd) }, nil
		}
		unix.Close(fd)
	}
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
	lk := lockByte(id)
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

// adoptLock reports whether fd is the open lock file of stateDir and now
// holds id's byte of it: re-locking a byte the same open file description
// holds succeeds at once, so this takes the right byte even if the caller
// locked another.
func adoptLock(stateDir, id string, fd int) bool {
	if !validID(id) || id == "." || id == ".." {
		return false
	}
	var got, want unix.Stat_t
	if unix.Fstat(fd, &got) != nil || unix.Lstat(filepath.Join(stateDir, "containers.lock"), &want) != nil ||
		got.Dev != want.Dev || got.Ino != want.Ino {
		return false
	}
	lk := lockByte(id)
	return unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk) == nil
}

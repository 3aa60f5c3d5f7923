package rootfs

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles/internal/pathwalk"
)

// ResolveIn returns the clean absolute path p resolves to in the tree whose
// root is the directory rootfd (a container's root, opened through
// /proc/PID/root), resolving symlinks one element at a time the way the
// kernel would inside that root: each element is looked up with
// openat2(RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS, RESOLVE_NO_MAGICLINKS) and
// a symlink's target is read, never followed by the kernel, and resolved
// in the same root. The first element that does not exist ends the lookup;
// the rest is taken as written. Nothing is opened except with O_PATH.
func ResolveIn(rootfd int, p string) (string, error) {
	w := pathwalk.Walker{
		Lookup: func(q string) (uint32, string, error) {
			return lookupIn(rootfd, q[1:], unix.RESOLVE_IN_ROOT)
		},
		MaxLinks: maxLinks,
	}
	res, err := w.Walk(p)
	if errors.Is(err, unix.ENOENT) {
		return res, nil
	}
	return res, err
}

package rootfs

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/internal/pathwalk"
)

// maxLinks bounds the symlinks followed while resolving one destination,
// as the kernel's own limit does (MAXSYMLINKS).
const maxLinks = 40

// emptyTypes are the filesystem types whose content at mount time is empty
// or made by the kernel, so a later destination below one of them cannot be
// redirected by anything the bundle or a running container controls.
var emptyTypes = []string{"tmpfs", "proc", "sysfs", "cgroup", "cgroup2", "mqueue", "devpts"}

// NewDestinations returns a Modifier that decides every mount destination
// on what it resolves to when runc mounts it, and rewrites
// mounts[i].destination to that resolved path, so that runc (which resolves
// again, inside the rootfs) acts on the path that was decided.
//
// A destination is resolved one element at a time, in the view runc has
// when it mounts it: the rootfs (a relative root.path is taken against
// bundle) with the mounts listed before it already in place.
//   - In the rootfs, an element is looked up with openat2(RESOLVE_IN_ROOT,
//     RESOLVE_NO_SYMLINKS, RESOLVE_NO_MAGICLINKS) from the rootfs directory;
//     a symlink there is read (never followed by the kernel) and its target
//     resolved in the same view, an absolute target from the container's
//     root and ".." never above it.
//   - Below an earlier bind mount, the element is looked up in the bind's
//     host source with RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS; a symlink
//     there is refused, since its target is whatever the host directory
//     holds when runc mounts.
//   - Below an earlier tmpfs, proc, sysfs, cgroup, cgroup2, mqueue or devpts
//     mount nothing exists yet, and the rest is taken as written.
//   - Below an earlier mount of any other type (overlay, a block device)
//     the destination is refused: its content cannot be judged here.
//
// The first element that does not exist ends the lookup; the rest is taken
// as written (runc creates it). The resolved destination is refused when it
// is "/", at or under /dev/console, at or under /proc or /sys for a bind
// mount, or elsewhere than /proc for procfs and /sys for sysfs; so is a
// destination that is relative or has a ".." element as written, or that
// cannot be resolved. Nothing in the rootfs is opened except through
// openat2 with RESOLVE_IN_ROOT, and nothing there is executed.
//
// What is decided holds when runc mounts unless an element is created or
// replaced between this check and runc's mount (a running container that
// writes into the host source of an earlier bind, or the rootfs changing
// under runcage); runc's own securejoin then still keeps the mount inside
// the rootfs.
func NewDestinations(bundle string) profiles.Modifier {
	return dests{bundle: bundle}
}

type dests struct{ bundle string }

// layer is one earlier mount as runc will have made it: its resolved
// destination, and where its content comes from.
type layer struct {
	dest string
	// bind is the mount's host source for a bind mount, "" otherwise.
	bind string
	// empty: the content is empty or kernel-made at mount time.
	empty bool
	typ   string
}

// Modify implements profiles.Modifier.
func (d dests) Modify(s *specs.Spec) error {
	if len(s.Mounts) == 0 {
		return nil
	}
	fd, _, err := openRoot(s, d.bundle)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	r := resolver{rootfd: fd}
	for i := range s.Mounts {
		mnt := &s.Mounts[i]
		bind := isBind(mnt)
		kind := fmt.Sprintf("mount of type %q at", mnt.Type)
		if bind {
			kind = fmt.Sprintf("bind mount %q ->", mnt.Source)
		}
		dst := mnt.Destination
		if !strings.HasPrefix(dst, "/") {
			return profiles.Refusef("%s %q refused: destination is not an absolute path", kind, dst)
		}
		if slices.Contains(strings.Split(dst, "/"), "..") {
			return profiles.Refusef("%s %q refused: destination contains a \"..\" element", kind, dst)
		}
		res, err := r.resolve(dst)
		if err != nil {
			if errors.Is(err, profiles.ErrRefused) {
				return profiles.Refusef("%s %q refused: %v", kind, dst, err)
			}
			return profiles.Refusef("%s %q refused: cannot resolve the destination in the rootfs: %v", kind, dst, err)
		}
		if why := destRule(res, mnt.Type, bind); why != "" {
			if res != path.Clean(dst) {
				return profiles.Refusef("%s %q refused: it resolves to %q, which %s", kind, dst, res, why)
			}
			return profiles.Refusef("%s %q refused: it %s", kind, dst, why)
		}
		mnt.Destination = res
		l := layer{dest: res, typ: mnt.Type, empty: !bind && slices.Contains(emptyTypes, mnt.Type)}
		if bind {
			l.bind = mnt.Source
			if !filepath.IsAbs(l.bind) {
				l.bind = filepath.Join(d.bundle, l.bind)
			}
		}
		r.layers = append(r.layers, l)
	}
	return nil
}

// destRule returns why the resolved destination res of a mount of type typ
// (bind: a bind mount) is refused, or "".
func destRule(res, typ string, bind bool) string {
	switch {
	case res == "/":
		return "is the container's root"
	case under(res, "/dev/console"):
		return "is at or under /dev/console"
	case bind && under(res, "/proc"):
		return "is at or under /proc"
	case bind && under(res, "/sys"):
		return "is at or under /sys"
	case !bind && typ == "proc" && res != "/proc":
		return "is not /proc, the only place procfs is mounted"
	case !bind && typ == "sysfs" && res != "/sys":
		return "is not /sys, the only place sysfs is mounted"
	}
	return ""
}

// resolver resolves destinations in the view runc has at mount time.
type resolver struct {
	rootfd int
	layers []layer
}

// covering returns the last earlier mount whose destination is p or an
// ancestor of p, or nil when p is in the rootfs itself.
func (r *resolver) covering(p string) *layer {
	for i := len(r.layers) - 1; i >= 0; i-- {
		if under(p, r.layers[i].dest) {
			return &r.layers[i]
		}
	}
	return nil
}

// resolve returns the clean absolute path dst resolves to. Errors that are
// refusals say why in a phrase; others are lookup failures.
func (r *resolver) resolve(dst string) (string, error) {
	w := pathwalk.Walker{Lookup: r.lookup, MaxLinks: maxLinks}
	res, err := w.Walk(dst)
	switch {
	case errors.Is(err, unix.ENOENT):
		// Nothing there: runc creates the rest as written.
		return res, nil
	case errors.Is(err, pathwalk.ErrTooManyLinks):
		return "", profiles.Refusef("too many symlinks")
	}
	return res, err
}

// lookup returns the file type of p (a clean absolute path whose parent has
// no symlinks in the view) and, for a symlink, its target.
func (r *resolver) lookup(p string) (uint32, string, error) {
	l := r.covering(p)
	switch {
	case l == nil:
		return lookupIn(r.rootfd, strings.TrimPrefix(p, "/"), unix.RESOLVE_IN_ROOT)
	case l.empty:
		if p == l.dest {
			return unix.S_IFDIR, "", nil
		}
		return 0, "", unix.ENOENT
	case l.bind != "":
		if p == l.dest {
			// The mount's root is the source itself, whatever is below
			// it in the rootfs.
			return unix.S_IFDIR, "", nil
		}
		src, err := unix.Open(l.bind, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, "", fmt.Errorf("open bind source of the earlier mount at %q: %w", l.dest, err)
		}
		defer unix.Close(src)
		rel := strings.TrimPrefix(p, l.dest+"/")
		if l.dest == "/" {
			rel = strings.TrimPrefix(p, "/")
		}
		st, _, err := lookupIn(src, rel, unix.RESOLVE_BENEATH)
		if err == nil && st&unix.S_IFMT == unix.S_IFLNK {
			return 0, "", profiles.Refusef("it passes through %q, a symlink in the host source %q of the earlier bind mount at %q", p, l.bind, l.dest)
		}
		return st, "", err
	default:
		return 0, "", profiles.Refusef("it is below the earlier %q mount at %q, whose content cannot be checked", l.typ, l.dest)
	}
}

// lookupIn opens rel below dirfd with openat2 (scope: RESOLVE_IN_ROOT or
// RESOLVE_BENEATH), following no symlink and no magic link, and returns its
// file type and, for a symlink, its target.
func lookupIn(dirfd int, rel string, scope uint64) (uint32, string, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: scope | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	var fd int
	var err error
	for {
		fd, err = unix.Openat2(dirfd, rel, &how)
		if err != unix.EINTR && err != unix.EAGAIN {
			break
		}
	}
	if err != nil {
		return 0, "", err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return st.Mode & unix.S_IFMT, "", nil
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return 0, "", err
	}
	if n == 0 {
		return 0, "", unix.ENOENT
	}
	return unix.S_IFLNK, string(buf[:n]), nil
}

// under reports whether the clean absolute path p is dir or inside it.
func under(p, dir string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

func isBind(m *specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

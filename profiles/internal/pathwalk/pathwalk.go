// Package pathwalk resolves a path one element at a time, the way the
// kernel does, but with every lookup made by the caller: the caller says
// what an element is (and, for a symlink, where it points) and may refuse
// each element the walk resolves. It is the one home of that loop for the
// profiles that decide on what a path resolves to rather than on its text
// (a hook's binary on the host, a mount destination in the rootfs, a bind
// source on the host).
//
// pathwalk itself touches no file system: it neither opens, stats nor
// reads anything, so it follows no symlink except by the targets Lookup
// returns.
package pathwalk

import (
	"errors"
	"io/fs"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrTooManyLinks is returned by Walk when resolving a path needs more
// symlinks than Walker.MaxLinks. Callers turn it into their own error.
var ErrTooManyLinks = errors.New("too many symlinks")

// Walker resolves paths with the caller's Lookup and Visit. A Walker holds
// no state between calls of Walk; its functions may share state with each
// other (Visit is always called right after the Lookup of the same path).
type Walker struct {
	// Lookup returns the stat(2) mode of p, an absolute clean path whose
	// parent has been resolved (no symlink in it), and, when p is a
	// symlink (mode&S_IFMT == S_IFLNK), the link's target. Lookup must
	// not follow p itself.
	//
	// A Lookup that finds a symlink but cannot read it returns S_IFLNK
	// with its error: Walk counts the link first (so ErrTooManyLinks
	// wins) and then returns that error as it is, never as a missing
	// element. For any other error, the mode is ignored.
	Lookup func(p string) (mode uint32, target string, err error)

	// Visit, when set, is called for each element the walk resolves to
	// something other than a symlink, with its path and the mode Lookup
	// returned; last reports that no element follows it (so the walk will
	// end there unless Visit fails). An error from Visit ends the walk
	// and is returned as it is.
	Visit func(p string, mode uint32, last bool) error

	// MaxLinks is how many symlinks one Walk may follow; one more fails
	// with ErrTooManyLinks.
	MaxLinks int
}

// Walk resolves p from the root ("/"), whether or not p starts with "/",
// and returns the absolute clean path it resolves to.
//
// Empty and "." elements are skipped. ".." goes to the parent of the path
// resolved so far, never above "/", and is not looked up. Every other
// element is looked up with Lookup. A symlink's target replaces the link:
// an absolute target is resolved from "/", a relative one from the
// directory holding the link, and the elements after the link follow the
// target's.
//
// When Lookup fails with an error satisfying errors.Is(err,
// fs.ErrNotExist) (ENOENT), Walk stops there and returns the missing
// path with the rest of the elements appended as written (cleaned, not
// looked up), together with that error: the caller decides whether a
// missing element is a failure. Every other error, including
// ErrTooManyLinks and Visit's, is returned with "".
func (w Walker) Walk(p string) (string, error) {
	rest := split(p)
	cur := "/"
	links := 0
	for len(rest) > 0 {
		e := rest[0]
		rest = rest[1:]
		if e == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, e)
		mode, target, err := w.Lookup(next)
		if mode&unix.S_IFMT == unix.S_IFLNK {
			if links++; links > w.MaxLinks {
				return "", ErrTooManyLinks
			}
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(target, "/") {
				cur = "/"
			}
			rest = append(split(target), rest...)
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			return path.Join(append([]string{next}, rest...)...), err
		}
		if err != nil {
			return "", err
		}
		if w.Visit != nil {
			if err := w.Visit(next, mode, len(rest) == 0); err != nil {
				return "", err
			}
		}
		cur = next
	}
	return cur, nil
}

// split returns the non-empty, non-"." elements of p.
func split(p string) []string {
	var out []string
	for _, e := range strings.Split(p, "/") {
		if e != "" && e != "." {
			out = append(out, e)
		}
	}
	return out
}

package pathwalk

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// node is one entry of a fake file system: a directory, a regular file,
// a symlink (target) or a failing lookup (err). With linkErr, the entry
// is a symlink that cannot be read.
type node struct {
	mode    uint32
	target  string
	err     error
	linkErr bool
}

func dir() node              { return node{mode: unix.S_IFDIR | 0o755} }
func file() node             { return node{mode: unix.S_IFREG | 0o644} }
func link(t string) node     { return node{mode: unix.S_IFLNK, target: t} }
func failing(err error) node { return node{err: err} }

// fakeFS is a table of absolute paths; a path not in it does not exist.
var fakeFS = map[string]node{
	"/a":          dir(),
	"/a/b":        dir(),
	"/a/b/f":      file(),
	"/a/rel":      link("b/f"),
	"/a/up":       link("../x"),
	"/a/abs":      link("/x/y"),
	"/a/dot":      link("./b/../b"),
	"/a/chain1":   link("chain2"),
	"/a/chain2":   link("chain3"),
	"/a/chain3":   link("/a/b"),
	"/a/loop":     link("/a/loop"),
	"/a/gone":     link("nope/deeper"),
	"/a/empty":    link(""),
	"/a/denied":   failing(unix.EACCES),
	"/a/unread":   {mode: unix.S_IFLNK, err: unix.ENOENT, linkErr: true},
	"/a/tounread": link("unread"),
	"/x":          dir(),
	"/x/y":        dir(),
	"/x/y/z":      file(),
	"/rootlink":   link("/"),
	"/above":      link("../../../a"),
	"/a/b/f/tail": failing(unix.ENOTDIR),
}

type visit struct {
	path string
	last bool
}

// recorder wraps fakeFS and records every Lookup and Visit.
type recorder struct {
	lookups []string
	visits  []visit
	// refuse makes Visit fail at this path.
	refuse string
}

func (r *recorder) walker(max int) Walker {
	return Walker{
		MaxLinks: max,
		Lookup: func(p string) (uint32, string, error) {
			r.lookups = append(r.lookups, p)
			n, ok := fakeFS[p]
			switch {
			case !ok:
				return 0, "", unix.ENOENT
			case n.linkErr:
				return unix.S_IFLNK, "", n.err
			case n.err != nil:
				return 0, "", n.err
			}
			return n.mode, n.target, nil
		},
		Visit: func(p string, mode uint32, last bool) error {
			if mode&unix.S_IFMT == unix.S_IFLNK {
				return errors.New("visited a symlink")
			}
			r.visits = append(r.visits, visit{p, last})
			if p == r.refuse {
				return errRefused
			}
			return nil
		},
	}
}

var errRefused = errors.New("refused by visit")

func TestWalk(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		max      int    // MaxLinks; 40 when 0
		refuse   string // Visit fails here
		want     string
		wantErr  error
		lookups  []string // when set, the exact lookups made
		visits   []visit  // when set, the exact visits made
		noVisits bool     // no Visit at all
	}{
		{name: "root", path: "/", want: "/", lookups: []string{}, noVisits: true},
		{name: "empty path", path: "", want: "/", lookups: []string{}},
		{name: "plain", path: "/a/b/f", want: "/a/b/f",
			lookups: []string{"/a", "/a/b", "/a/b/f"},
			visits:  []visit{{"/a", false}, {"/a/b", false}, {"/a/b/f", true}}},
		{name: "relative input is from the root", path: "a/b", want: "/a/b"},
		{name: "empty and dot elements", path: "//a/./b//.", want: "/a/b", lookups: []string{"/a", "/a/b"}},
		{name: "dotdot is not looked up", path: "/a/b/../b/f", want: "/a/b/f",
			lookups: []string{"/a", "/a/b", "/a/b", "/a/b/f"}},
		{name: "dotdot above root", path: "/../../a/../../x", want: "/x", lookups: []string{"/a", "/x"}},
		{name: "dotdot to root", path: "/a/..", want: "/", visits: []visit{{"/a", false}}},
		{name: "relative target", path: "/a/rel", want: "/a/b/f",
			lookups: []string{"/a", "/a/rel", "/a/b", "/a/b/f"},
			visits:  []visit{{"/a", false}, {"/a/b", false}, {"/a/b/f", true}}},
		{name: "relative target with dotdot", path: "/a/up/y/z", want: "/x/y/z"},
		{name: "dot in target", path: "/a/dot/f", want: "/a/b/f"},
		{name: "absolute target restarts at root", path: "/a/abs/z", want: "/x/y/z",
			lookups: []string{"/a", "/a/abs", "/x", "/x/y", "/x/y/z"}},
		{name: "link to root", path: "/rootlink/a/b", want: "/a/b"},
		{name: "target climbs above root", path: "/above/b", want: "/a/b"},
		{name: "empty target stays in the link's directory", path: "/a/empty/b", want: "/a/b"},
		{name: "link as last element is followed", path: "/a/chain1", want: "/a/b",
			visits: []visit{{"/a", false}, {"/a", false}, {"/a/b", true}}},
		{name: "three links within a limit of three", path: "/a/chain1/f", max: 3, want: "/a/b/f"},
		{name: "three links over a limit of two", path: "/a/chain1/f", max: 2, wantErr: ErrTooManyLinks},
		{name: "link loop hits the limit", path: "/a/loop", wantErr: ErrTooManyLinks},
		{name: "link loop, limit one", path: "/a/loop/x", max: 1, wantErr: ErrTooManyLinks,
			lookups: []string{"/a", "/a/loop", "/a", "/a/loop"}},
		{name: "missing element: rest as written", path: "/a/missing/c/../d/./e", want: "/a/missing/d/e", wantErr: unix.ENOENT,
			lookups: []string{"/a", "/a/missing"}},
		{name: "missing last element", path: "/a/b/new", want: "/a/b/new", wantErr: unix.ENOENT},
		{name: "missing element: rest cleaned, never above root", path: "/a/missing/../../../q", want: "/q", wantErr: unix.ENOENT},
		{name: "missing under a link target", path: "/a/gone/rest", want: "/a/nope/deeper/rest", wantErr: unix.ENOENT,
			lookups: []string{"/a", "/a/gone", "/a/nope"}},
		{name: "missing at the top", path: "/none/x", want: "/none/x", wantErr: unix.ENOENT, noVisits: true},
		{name: "other lookup error stops the walk", path: "/a/denied/b", wantErr: unix.EACCES,
			lookups: []string{"/a", "/a/denied"}},
		{name: "lookup error past a file", path: "/a/b/f/tail", wantErr: unix.ENOTDIR},
		{name: "unreadable link is not missing", path: "/a/unread/x", wantErr: unix.ENOENT, want: ""},
		{name: "limit wins over an unreadable link", path: "/a/tounread", max: 1, wantErr: ErrTooManyLinks},
		{name: "visit error stops the walk", path: "/a/b/f", refuse: "/a/b", wantErr: errRefused,
			lookups: []string{"/a", "/a/b"}, visits: []visit{{"/a", false}, {"/a/b", false}}},
		{name: "visit error on the last element", path: "/a/rel", refuse: "/a/b/f", wantErr: errRefused},
		{name: "visit error through an absolute link", path: "/a/abs", refuse: "/x", wantErr: errRefused,
			lookups: []string{"/a", "/a/abs", "/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{refuse: tt.refuse}
			max := tt.max
			if max == 0 {
				max = 40
			}
			got, err := r.walker(max).Walk(tt.path)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Walk(%q) = %q, %v; want error %v", tt.path, got, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Walk(%q) = %q, want %q", tt.path, got, tt.want)
			}
			if tt.lookups != nil && !slices.Equal(r.lookups, tt.lookups) {
				t.Errorf("lookups = %q, want %q", r.lookups, tt.lookups)
			}
			if tt.visits != nil && !slices.Equal(r.visits, tt.visits) {
				t.Errorf("visits = %v, want %v", r.visits, tt.visits)
			}
			if tt.noVisits && len(r.visits) != 0 {
				t.Errorf("visits = %v, want none", r.visits)
			}
			// Every resolved element is visited exactly once per lookup
			// that was not a symlink.
			for _, v := range r.visits {
				if n, ok := fakeFS[v.path]; !ok || n.mode&unix.S_IFMT == unix.S_IFLNK {
					t.Errorf("visited %q, which is not a resolved element", v.path)
				}
			}
		})
	}
}

// TestWalkNoVisit checks that Visit is optional.
func TestWalkNoVisit(t *testing.T) {
	w := (&recorder{}).walker(40)
	w.Visit = nil
	got, err := w.Walk("/a/abs/z")
	if err != nil || got != "/x/y/z" {
		t.Fatalf("Walk = %q, %v; want /x/y/z", got, err)
	}
}

// TestWalkLinkCount checks that the limit counts every link followed in
// one walk, not per link chain, and that MaxLinks links are allowed.
func TestWalkLinkCount(t *testing.T) {
	p := strings.Repeat("/a/rel/../../..", 5) + "/a/b"
	for _, tt := range []struct {
		max     int
		wantErr error
	}{{5, nil}, {4, ErrTooManyLinks}} {
		got, err := (&recorder{}).walker(tt.max).Walk(p)
		if !errors.Is(err, tt.wantErr) || err == nil && got != "/a/b" {
			t.Errorf("MaxLinks %d: Walk(%q) = %q, %v; want /a/b, %v", tt.max, p, got, err, tt.wantErr)
		}
	}
}

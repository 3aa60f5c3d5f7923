package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// entry describes one thing to create inside a test rootfs: a directory, a
// symlink (target set), a regular file (file set) or a fifo.
type entry struct {
	name   string
	dir    bool
	target string
	file   bool
	fifo   bool
}

func makeRootfs(t *testing.T, root string, entries []entry) {
	t.Helper()
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := filepath.Join(root, e.name)
		var err error
		switch {
		case e.dir:
			err = os.MkdirAll(p, 0o755)
		case e.target != "":
			err = os.Symlink(e.target, p)
		case e.file:
			err = os.WriteFile(p, nil, 0o644)
		case e.fifo:
			err = syscall.Mkfifo(p, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestModify(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		root    string // root.path; "rootfs" (relative) unless set
		refused string
		errSub  string // non-refusal error
	}{
		{name: "all directories", entries: []entry{{name: "proc", dir: true}, {name: "dev", dir: true}, {name: "sys", dir: true}, {name: "etc", dir: true}}},
		{name: "empty rootfs: runc creates them", entries: nil},
		{name: "symlinks elsewhere are fine", entries: []entry{{name: "bin", target: "usr/bin"}, {name: "lib", target: "/usr/lib"}, {name: "proc", dir: true}}},
		{name: "absolute root path", root: "ABS"},
		{
			name:    "proc to /etc",
			entries: []entry{{name: "proc", target: "/etc"}},
			refused: "/proc is a symlink",
		},
		{
			name:    "dev escaping the bundle",
			entries: []entry{{name: "proc", dir: true}, {name: "dev", target: "../../"}},
			refused: "/dev is a symlink",
		},
		{
			name:    "sys to host sys",
			entries: []entry{{name: "sys", target: "/sys"}},
			refused: "/sys is a symlink",
		},
		{
			name:    "dangling symlink",
			entries: []entry{{name: "proc", target: "/nonexistent/x"}},
			refused: "/proc is a symlink",
		},
		{
			name:    "symlink to a directory inside the rootfs",
			entries: []entry{{name: "realproc", dir: true}, {name: "proc", target: "realproc"}},
			refused: "/proc is a symlink",
		},
		{
			name:    "proc is a file",
			entries: []entry{{name: "proc", file: true}},
			refused: "/proc is not a directory",
		},
		{
			name:    "dev is a fifo (never opened)",
			entries: []entry{{name: "dev", fifo: true}},
			refused: "/dev is not a directory",
		},
		{
			name:   "missing rootfs",
			root:   "nope",
			errSub: "open rootfs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle := t.TempDir()
			rootAbs := filepath.Join(bundle, "rootfs")
			makeRootfs(t, rootAbs, tt.entries)
			root := "rootfs"
			switch tt.root {
			case "":
			case "ABS":
				root = rootAbs
			default:
				root = tt.root
			}
			s := &specs.Spec{Root: &specs.Root{Path: root, Readonly: true}}
			err := New(bundle).Modify(s)
			switch {
			case tt.refused != "":
				if err == nil || !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), tt.refused) {
					t.Fatalf("err = %v, want refusal containing %q", err, tt.refused)
				}
				if !strings.Contains(err.Error(), rootAbs) {
					t.Errorf("error %q does not name the rootfs %q", err, rootAbs)
				}
			case tt.errSub != "":
				if err == nil || errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("err = %v, want non-refusal error containing %q", err, tt.errSub)
				}
			default:
				if err != nil {
					t.Fatalf("Modify: %v", err)
				}
			}
			if s.Root.Path != root || !s.Root.Readonly {
				t.Errorf("root changed to %+v", s.Root)
			}
		})
	}
}

func TestNoRoot(t *testing.T) {
	for _, s := range []*specs.Spec{{}, {Root: &specs.Root{}}} {
		err := New(t.TempDir()).Modify(s)
		if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), "no root filesystem") {
			t.Errorf("Modify(%+v) = %v, want refusal", s, err)
		}
	}
}

// TestRootfsItselfSymlink checks that the host side of the path (here the
// rootfs directory itself) is resolved normally while its entries are not.
func TestRootfsItselfSymlink(t *testing.T) {
	bundle := t.TempDir()
	realDir := filepath.Join(bundle, "realDir")
	makeRootfs(t, realDir, []entry{{name: "proc", dir: true}})
	if err := os.Symlink("realDir", filepath.Join(bundle, "rootfs")); err != nil {
		t.Fatal(err)
	}
	if err := New(bundle).Modify(&specs.Spec{Root: &specs.Root{Path: "rootfs"}}); err != nil {
		t.Fatalf("Modify: %v", err)
	}
}

func TestHostileRootPathEscaped(t *testing.T) {
	bundle := t.TempDir()
	name := "root\x1b[31m\nfs"
	makeRootfs(t, filepath.Join(bundle, name), []entry{{name: "proc", target: "/"}})
	err := New(bundle).Modify(&specs.Spec{Root: &specs.Root{Path: name}})
	if !errors.Is(err, profiles.ErrRefused) {
		t.Fatalf("err = %v, want refusal", err)
	}
	if strings.ContainsAny(err.Error(), "\n\x1b") || !strings.Contains(err.Error(), `\x1b[31m\nfs`) {
		t.Errorf("error %q is not escaped", err)
	}
}

func TestHostRoot(t *testing.T) {
	bundle := t.TempDir()
	if err := os.Symlink("/", filepath.Join(bundle, "rootfs")); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(bundle, "/")
	if err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"/", "//", "rootfs", rel, "/proc/..", "/proc", "/proc/self", "/sys", "/sys/kernel"} {
		err := New(bundle).Modify(&specs.Spec{Root: &specs.Root{Path: root}})
		if !errors.Is(err, profiles.ErrRefused) {
			t.Errorf("root %q: err = %v, want refusal", root, err)
			continue
		}
		if !strings.Contains(err.Error(), "it is the host's root directory") && !strings.Contains(err.Error(), "it is on the host's") {
			t.Errorf("root %q: err = %v", root, err)
		}
	}
}

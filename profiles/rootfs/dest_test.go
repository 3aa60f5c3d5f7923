package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

func TestDestinations(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	makeRootfs(t, root, []entry{
		{name: "proc", dir: true}, {name: "sys", dir: true}, {name: "dev", dir: true},
		{name: "etc", dir: true}, {name: "usr/etc", dir: true}, {name: "data", dir: true},
		{name: "s", target: "/sys"},
		{name: "rs", target: "../../../sys"},
		{name: "con", target: "dev/console"},
		{name: "dev/cons", target: "/dev/console"},
		{name: "etc2", target: "usr/etc"},
		{name: "loop", target: "loop"},
		{name: "up", target: "/../../.."},
		{name: "file", file: true},
	})
	// The host source of a bind mounted at /data, holding a symlink.
	src := filepath.Join(dir, "src")
	makeRootfs(t, src, []entry{{name: "sub", dir: true}, {name: "k", target: "/sys/kernel"}})

	bind := func(src, dst string) specs.Mount {
		return specs.Mount{Source: src, Destination: dst, Type: "bind", Options: []string{"rbind"}}
	}
	for _, c := range []struct {
		name    string
		mounts  []specs.Mount
		want    []string // resolved destinations
		refused string
	}{
		{name: "plain", mounts: []specs.Mount{{Type: "proc", Destination: "/proc"}, bind(src, "/etc/hosts")}, want: []string{"/proc", "/etc/hosts"}},
		{name: "symlink inside the rootfs is rewritten", mounts: []specs.Mount{bind(src, "/etc2/x")}, want: []string{"/usr/etc/x"}},
		{name: "trailing slash and dots", mounts: []specs.Mount{bind(src, "/etc//./x/")}, want: []string{"/etc/x"}},
		{name: "/s/kernel lands on /sys/kernel", mounts: []specs.Mount{bind(src, "/s/kernel")}, refused: `bind mount "` + src + `" -> "/s/kernel" refused: it resolves to "/sys/kernel", which is at or under /sys`},
		{name: "relative symlink cannot leave the root", mounts: []specs.Mount{bind(src, "/rs/x")}, refused: `resolves to "/sys/x", which is at or under /sys`},
		{name: "console through a symlink", mounts: []specs.Mount{{Type: "tmpfs", Source: "tmpfs", Destination: "/con"}}, refused: `resolves to "/dev/console", which is at or under /dev/console`},
		{name: "console through a symlink in dev", mounts: []specs.Mount{bind(src, "/dev/cons")}, refused: `resolves to "/dev/console"`},
		{name: "sysfs elsewhere via symlink", mounts: []specs.Mount{{Type: "sysfs", Destination: "/etc2"}}, refused: `resolves to "/usr/etc", which is not /sys`},
		{name: "root via dot-dot symlink", mounts: []specs.Mount{bind(src, "/up")}, refused: `resolves to "/", which is the container's root`},
		{name: "symlink loop", mounts: []specs.Mount{bind(src, "/loop/x")}, refused: "too many symlinks"},
		{name: "below a file", mounts: []specs.Mount{bind(src, "/file/x")}, refused: "cannot resolve the destination"},
		{name: "relative", mounts: []specs.Mount{bind(src, "etc/x")}, refused: "not an absolute path"},
		{name: "dot-dot", mounts: []specs.Mount{bind(src, "/etc/../sys/x")}, refused: `contains a ".." element`},
		{name: "below an earlier bind: a directory of its source", mounts: []specs.Mount{bind(src, "/data"), bind(src, "/data/sub/y")}, want: []string{"/data", "/data/sub/y"}},
		{name: "below an earlier bind: a symlink of its source", mounts: []specs.Mount{bind(src, "/data"), bind(src, "/data/k/x")}, refused: `it passes through "/data/k", a symlink in the host source`},
		{name: "earlier bind hides the rootfs symlink", mounts: []specs.Mount{bind(src, "/etc2"), bind(src, "/etc2/sub")}, want: []string{"/usr/etc", "/usr/etc/sub"}},
		{name: "below an earlier tmpfs nothing exists", mounts: []specs.Mount{{Type: "tmpfs", Destination: "/s"}, bind(src, "/s/kernel")}, refused: `resolves to "/sys/kernel"`},
		{name: "tmpfs over a directory hides its symlinks", mounts: []specs.Mount{{Type: "tmpfs", Destination: "/etc"}, bind(src, "/etc/hosts")}, want: []string{"/etc", "/etc/hosts"}},
		{name: "below an overlay", mounts: []specs.Mount{{Type: "overlay", Destination: "/data"}, bind(src, "/data/x")}, refused: `below the earlier "overlay" mount at "/data"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &specs.Spec{Root: &specs.Root{Path: "rootfs"}, Mounts: c.mounts}
			err := NewDestinations(dir).Modify(s)
			if c.refused != "" {
				if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), c.refused) {
					t.Fatalf("err = %v, want refusal containing %q", err, c.refused)
				}
				return
			}
			if err != nil {
				t.Fatalf("Modify: %v", err)
			}
			for i, w := range c.want {
				if got := s.Mounts[i].Destination; got != w {
					t.Errorf("mount %d destination = %q, want %q", i, got, w)
				}
			}
			// Idempotent: the rewritten spec resolves to itself.
			again := append([]specs.Mount(nil), s.Mounts...)
			if err := NewDestinations(dir).Modify(s); err != nil {
				t.Fatalf("second Modify: %v", err)
			}
			for i := range again {
				if again[i].Destination != s.Mounts[i].Destination {
					t.Errorf("second Modify changed mount %d to %q", i, s.Mounts[i].Destination)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(root, "sys", "x")); err == nil {
		t.Errorf("the check created a file in the rootfs")
	}
}

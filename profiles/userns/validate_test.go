package userns

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

func m(c, h, s uint32) specs.LinuxIDMapping {
	return specs.LinuxIDMapping{ContainerID: c, HostID: h, Size: s}
}

func ms(maps ...specs.LinuxIDMapping) []specs.LinuxIDMapping { return maps }

func TestValidate(t *testing.T) {
	a := newAlloc(t)
	other := mustAcquire(t, a, "other-pod", "c-other") // 100000-165535
	mine := mustAcquire(t, a, "my-pod", "c-mine")      // 165536-231071
	free := uint32(1 << 30)
	evil := mustAcquire(t, a, "evil\n\x1b[31m", "c-evil") // 231072-296607

	tests := []struct {
		name     string
		uid, gid []specs.LinuxIDMapping
		key      string
		min      uint32
		noAlloc  bool
		want     string // "" for accepted; else a substring of the refusal
	}{
		{name: "free range", uid: ms(m(0, free, 65536)), gid: ms(m(0, free, 65536)), key: "k"},
		{name: "own allocated range", uid: ms(m(0, mine.HostID, 65536)), gid: ms(m(0, mine.HostID, 65536)), key: "my-pod"},
		{name: "pieces add up", uid: ms(m(0, free, 1000), m(1000, free+1000, 64536)), gid: ms(m(0, free, 65536)), key: "k"},
		{name: "smaller allowed by policy", uid: ms(m(0, free, 1000)), gid: ms(m(0, free, 1000)), key: "k", min: 1000},
		{name: "no allocator", uid: ms(m(0, other.HostID, 65536)), gid: ms(m(0, other.HostID, 65536)), key: "k", noAlloc: true},

		{name: "no uid maps", gid: ms(m(0, free, 65536)), key: "k", want: "both uids and gids"},
		{name: "no gid maps", uid: ms(m(0, free, 65536)), key: "k", want: "both uids and gids"},
		{name: "host root uid", uid: ms(m(0, 0, 65536)), gid: ms(m(0, free, 65536)), key: "k", want: "host id 0"},
		{name: "host root gid", uid: ms(m(0, free, 65536)), gid: ms(m(0, free, 65535), m(65535, 0, 1)), key: "k", want: "host id 0"},
		{name: "size 0", uid: ms(m(0, free, 0), m(0, free, 65536)), gid: ms(m(0, free, 65536)), key: "k", want: "size is 0"},
		{name: "past the id space", uid: ms(m(0, 4294967295-100, 65536)), gid: ms(m(0, free, 65536)), key: "k", want: "largest id"},
		{name: "container ids past the id space", uid: ms(m(4294967295-100, free, 65536)), gid: ms(m(0, free, 65536)), key: "k", want: "largest id"},
		{name: "too small", uid: ms(m(0, free, 65535)), gid: ms(m(0, free, 65536)), key: "k", want: "fewer than the 65536"},
		{name: "too small gid", uid: ms(m(0, free, 65536)), gid: ms(m(0, free, 10)), key: "k", min: 11, want: "gid mappings refused"},
		{name: "another pod's range", uid: ms(m(0, other.HostID, 65536)), gid: ms(m(0, free, 65536)), key: "k", want: `of pod "other-pod"`},
		{name: "another pod's range, gid", uid: ms(m(0, free, 65536)), gid: ms(m(0, other.HostID+100, 1000), m(1000, free, 64536)), key: "k", want: `of pod "other-pod"`},
		{name: "host accounts' ids", uid: ms(m(0, 1, 65536)), gid: ms(m(0, free, 65536)), key: "k", want: "outside runcage's id pool"},
		{name: "past the pool's end", uid: ms(m(0, free, 65536)), gid: ms(m(0, 1<<31-100, 65536)), key: "k", want: "outside runcage's id pool"},
		{name: "hostile key is quoted", uid: ms(m(0, evil.HostID, 65536)), gid: ms(m(0, free, 65536)), key: "k", want: `of pod "evil\n\x1b[31m"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alloc := a
			if tt.noAlloc {
				alloc = nil
			}
			err := Validate(tt.uid, tt.gid, alloc, tt.key, tt.min)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, profiles.ErrRefused) {
				t.Fatalf("err = %v, want a refusal", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to mention %q", err, tt.want)
			}
			if strings.ContainsAny(err.Error(), "\n\x1b") {
				t.Fatalf("refusal carries raw control bytes: %q", err)
			}
		})
	}
}

func TestValidateUnreadableStateFailsClosed(t *testing.T) {
	a := newAlloc(t)
	mustAcquire(t, a, "p", "c")
	if err := os.WriteFile(filepath.Join(a.Dir, stateName), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	maps := ms(m(0, 1<<30, 65536))
	err := Validate(maps, maps, a, "k", 0)
	if err == nil || errors.Is(err, profiles.ErrRefused) {
		t.Fatalf("err = %v, want a (non-refusal) error", err)
	}
}

func TestRangesOf(t *testing.T) {
	got := RangesOf(ms(m(0, 1000, 10), m(10, 2000, 5)), ms(m(0, 1000, 10)))
	want := []Range{{1000, 10}, {2000, 5}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("RangesOf = %v, want %v", got, want)
	}
}

func TestKeyNeedsEvidence(t *testing.T) {
	withNS := func(path string) *specs.Spec {
		s := &specs.Spec{Annotations: map[string]string{SandboxAnnotation: "pod1"}, Linux: &specs.Linux{}}
		if path != "" {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.IPCNamespace, Path: path}}
		}
		return s
	}
	for _, tc := range []struct {
		name string
		s    *specs.Spec
		id   string
		want string
	}{
		{"no annotation", &specs.Spec{}, "c1", "c1"},
		{"the sandbox itself", withNS(""), "pod1", "pod1"},
		{"annotation alone", withNS(""), "c1", "c1"},
		{"joins a pinned netns only", withNS("/var/run/netns/cni-1"), "c1", "c1"},
		{"joins a process's namespace", withNS("/proc/42/ns/ipc"), "c1", "pod1"},
	} {
		if got := Key(tc.s, tc.id); got != tc.want {
			t.Errorf("%s: Key = %q, want %q", tc.name, got, tc.want)
		}
	}
}

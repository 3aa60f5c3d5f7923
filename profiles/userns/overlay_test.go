package userns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOverlayInfoParse(t *testing.T) {
	const prefix = "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n" +
		"27 26 0:24 / /mnt/with\\040space ro,nosuid shared:5 master:1 - tmpfs tmp ro\n"
	tests := []struct {
		name       string
		line       string
		mountpoint string
		lower      []string
		upper      string
		work       string
		overlay    bool
		err        string
	}{
		{
			name:       "containerd, absolute paths",
			line:       "50 26 0:50 / /run/c/rootfs rw,relatime shared:7 - overlay overlay rw,lowerdir=/s/2/fs:/s/1/fs,upperdir=/s/3/fs,workdir=/s/3/work,uuid=on",
			mountpoint: "/run/c/rootfs",
			lower:      []string{"/s/2/fs", "/s/1/fs"}, upper: "/s/3/fs", work: "/s/3/work", overlay: true,
		},
		{
			name: "escaped space, comma, colon and backslash",
			line: `50 26 0:50 / /m\040p rw - overlay overlay rw,lowerdir=/l\0401:/l\134\0542:/l\134:3:/l\134\1344,` +
				`upperdir=/u\134\054x,workdir=/w\040y`,
			mountpoint: "/m p",
			lower:      []string{"/l 1", "/l,2", "/l:3", `/l\4`}, upper: "/u,x", work: "/w y", overlay: true,
		},
		{
			name:       "lowerdir+ form, taken literally",
			line:       `50 26 0:50 / /m rw - overlay overlay rw,lowerdir+=/a\0401,lowerdir+=/b:c,lowerdir+=/d\134e,upperdir=/u,workdir=/w`,
			mountpoint: "/m",
			lower:      []string{"/a 1", "/b:c", `/d\e`}, upper: "/u", work: "/w", overlay: true,
		},
		{
			name:       "read-only overlay",
			line:       "50 26 0:50 / /m ro - overlay overlay ro,lowerdir=/a:/b",
			mountpoint: "/m",
			lower:      []string{"/a", "/b"}, overlay: true,
		},
		{
			name:       "the topmost mount wins",
			line:       "50 26 0:50 / /m rw - overlay overlay rw,lowerdir=/a,upperdir=/u,workdir=/w\n51 50 0:51 / /m rw - tmpfs tmpfs rw",
			mountpoint: "/m",
		},
		{name: "not a mount point", line: "", mountpoint: "/nowhere"},
		{name: "another filesystem", line: "", mountpoint: "/mnt/with space"},
		{name: "fuse-overlayfs is not overlay", line: "50 26 0:50 / /m rw - fuse.fuse-overlayfs fuse-overlayfs rw", mountpoint: "/m"},
		{
			name: "data-only layers", line: "50 26 0:50 / /m rw - overlay overlay rw,lowerdir=/a::/d,upperdir=/u,workdir=/w",
			mountpoint: "/m", overlay: true, err: "data-only",
		},
		{
			name: "datadir+", line: "50 26 0:50 / /m rw - overlay overlay rw,lowerdir+=/a,datadir+=/d",
			mountpoint: "/m", overlay: true, err: "data-only",
		},
		{
			name: "relative layers (docker's long-option form)", line: "50 26 0:50 / /m rw - overlay overlay rw,lowerdir=l/ABC:l/DEF,upperdir=x/diff,workdir=x/work",
			mountpoint: "/m", overlay: true, err: "relative",
		},
		{
			name: "bind of a subdirectory of an overlay", line: "50 26 0:50 /sub /m rw - overlay overlay rw,lowerdir=/a,upperdir=/u,workdir=/w",
			mountpoint: "/m", overlay: true, err: "not its root",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lower, upper, work, isOverlay, err := overlayInfo(strings.NewReader(prefix+tt.line+"\n"), tt.mountpoint)
			if isOverlay != tt.overlay {
				t.Errorf("isOverlay = %v, want %v", isOverlay, tt.overlay)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(lower, tt.lower) || upper != tt.upper || work != tt.work {
				t.Fatalf("got lower %q upper %q work %q\nwant lower %q upper %q work %q", lower, upper, work, tt.lower, tt.upper, tt.work)
			}
		})
	}
}

func TestParseMountInfoMalformed(t *testing.T) {
	for _, bad := range []string{"1 2 3", "x 1 0:1 / /m rw - ext4 /dev/x rw", "1 1 0:1 / /m rw no-separator ext4"} {
		if _, err := parseMountInfo(strings.NewReader(bad + "\n")); err == nil {
			t.Errorf("parseMountInfo(%q) succeeded", bad)
		}
	}
}

// TestOverlayInfoReal mounts overlays with awkward paths both ways the
// kernel accepts layers and reads them back.
func TestOverlayInfoReal(t *testing.T) {
	requireRoot(t)
	dir := tempDir(t)
	l1, l2, l3 := filepath.Join(dir, "l 1"), filepath.Join(dir, "l,2"), filepath.Join(dir, "l:3")
	uw := filepath.Join(dir, "u,w x")
	u, w, merged := filepath.Join(uw, "u"), filepath.Join(uw, "w"), filepath.Join(dir, "merged")
	mkdirs(t, l1, l2, l3, u, w, merged)

	data := "lowerdir=" + escapeOverlayPath(l1) + ":" + escapeOverlayPath(l2) + ":" + escapeOverlayPath(l3) +
		",upperdir=" + escapeOverlayPath(u) + ",workdir=" + escapeOverlayPath(w)
	if err := unix.Mount("overlay", merged, "overlay", 0, data); err != nil {
		t.Fatal(err)
	}
	lower, upper, work, ok, err := OverlayInfo(merged)
	_ = unix.Unmount(merged, unix.MNT_DETACH)
	if err != nil || !ok {
		t.Fatalf("OverlayInfo = %v, %v", ok, err)
	}
	if !slices.Equal(lower, []string{l1, l2, l3}) || upper != u || work != w {
		t.Fatalf("mount(2) form: got %q %q %q", lower, upper, work)
	}

	if err := mountOverlayFsconfig([]string{l1, l2, l3}, u, w, merged); err != nil {
		t.Fatal(err)
	}
	lower, upper, work, ok, err = OverlayInfo(merged)
	_ = unix.Unmount(merged, unix.MNT_DETACH)
	if err != nil || !ok {
		t.Fatalf("OverlayInfo = %v, %v", ok, err)
	}
	if !slices.Equal(lower, []string{l1, l2, l3}) || upper != u || work != w {
		t.Fatalf("fsconfig lowerdir+ form: got %q %q %q", lower, upper, work)
	}

	if _, _, _, ok, err := OverlayInfo(dir); ok || err != nil {
		t.Fatalf("OverlayInfo on a plain dir = %v, %v", ok, err)
	}
	if _, _, _, _, err := OverlayInfo(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("OverlayInfo on a missing path succeeded")
	}
}

// engineOverlay builds what Docker or containerd leave for runcage: an
// overlay of two image layers and a non-empty upper, mounted at merged.
func engineOverlay(t *testing.T, dir string) (merged, l1, l2, u string) {
	t.Helper()
	l1, l2, u = filepath.Join(dir, "layer-top"), filepath.Join(dir, "layer-base"), filepath.Join(dir, "engine-upper")
	w, merged := filepath.Join(dir, "engine-work"), filepath.Join(dir, "merged")
	mkdirs(t, filepath.Join(l2, "etc"), filepath.Join(l2, "home", "user"), l1, u, w, merged)
	createOwned(t, filepath.Join(l2, "etc", "passwd"), 0)
	createOwned(t, filepath.Join(l2, "gone"), 0)
	createOwned(t, filepath.Join(l2, "home", "user", "data"), 1000)
	if err := os.Lchown(filepath.Join(l2, "home", "user"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	createOwned(t, filepath.Join(l1, "top-file"), 0)
	createOwned(t, filepath.Join(u, "engine-file"), 0)
	// A whiteout in the engine's upper hides l2's "gone".
	if err := unix.Mknod(filepath.Join(u, "gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	data := fmt.Sprintf("lowerdir=%s:%s,upperdir=%s,workdir=%s", l1, l2, u, w)
	if err := unix.Mount("overlay", merged, "overlay", 0, data); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(merged, unix.MNT_DETACH) })
	return merged, l1, l2, u
}

func TestMountIDMappedOverlay(t *testing.T) {
	requireRoot(t)
	r := testRange
	dir := tempDir(t)
	merged, l1, l2, engineUpper := engineOverlay(t, dir)
	before := mountsUnder(t, dir)

	lower, upper, _, ok, err := OverlayInfo(merged)
	if err != nil || !ok || !slices.Equal(lower, []string{l1, l2}) || upper != engineUpper {
		t.Fatalf("OverlayInfo = %q, %q, %v, %v", lower, upper, ok, err)
	}
	layers, err := Layers(lower, upper)
	if err != nil || !slices.Equal(layers, []string{engineUpper, l1, l2}) {
		t.Fatalf("Layers = %q, %v", layers, err)
	}

	state, rootfs := filepath.Join(dir, "state", "c1"), filepath.Join(dir, "rootfs")
	mkdirs(t, rootfs)
	cleanup, err := MountIDMappedOverlay(layers, rootfs, state, r, newNS(t, r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Unmount(cleanup) })
	wantCleanup := []string{state, state + "/lower-0", state + "/lower-1", state + "/lower-2", state + "/upper", state + "/work", rootfs}
	if !slices.Equal(cleanup, wantCleanup) {
		t.Fatalf("cleanup = %q\nwant %q", cleanup, wantCleanup)
	}

	// What the engine shows, the container sees, with owners mapped.
	wantOwner(t, rootfs, r.HostID)
	wantOwner(t, filepath.Join(rootfs, "etc", "passwd"), r.HostID)
	wantOwner(t, filepath.Join(rootfs, "home", "user", "data"), r.HostID+1000)
	wantOwner(t, filepath.Join(rootfs, "top-file"), r.HostID)
	wantOwner(t, filepath.Join(rootfs, "engine-file"), r.HostID)
	if _, err := os.Lstat(filepath.Join(rootfs, "gone")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the engine's whiteout is not honoured: %v", err)
	}
	if lo, _, _, ok, err := OverlayInfo(rootfs); err != nil || !ok || len(lo) != 3 || lo[0] != state+"/lower-0" {
		t.Fatalf("the new overlay's layers: %q, %v, %v", lo, ok, err)
	}

	// Container root (host r.HostID) and container uid 1000 write.
	script := fmt.Sprintf("echo new > %[1]s/new-file && echo more >> %[1]s/etc/passwd && mkdir %[1]s/newdir && rm %[1]s/top-file", rootfs)
	if err := runAs(t, r.HostID, script); err != nil {
		t.Fatal(err)
	}
	if err := runAs(t, r.HostID+1000, fmt.Sprintf("echo x > %s/home/user/mine", rootfs)); err != nil {
		t.Fatal(err)
	}
	// The writes land in the new upper, owned by the host range (the upper
	// is not id-mapped); no layer and nothing of the engine's changes.
	wantOwner(t, filepath.Join(state, "upper", "new-file"), r.HostID)
	wantOwner(t, filepath.Join(state, "upper", "etc", "passwd"), r.HostID)
	wantOwner(t, filepath.Join(state, "upper", "home", "user", "mine"), r.HostID+1000)
	wantOwner(t, filepath.Join(state, "upper", "home", "user"), r.HostID+1000) // copied up
	if data, _ := os.ReadFile(filepath.Join(l2, "etc", "passwd")); strings.Contains(string(data), "more") {
		t.Fatal("a write reached the image layer")
	}
	if _, err := os.Stat(filepath.Join(l1, "top-file")); err != nil {
		t.Fatalf("a delete reached the image layer: %v", err)
	}
	if entries, _ := os.ReadDir(engineUpper); len(entries) != 2 {
		t.Fatalf("the engine's upper changed: %v", entries)
	}

	if err := Unmount(cleanup); err != nil {
		t.Fatal(err)
	}
	if after := mountsUnder(t, dir); !slices.Equal(after, before) {
		t.Fatalf("mounts before %q, after %q", before, after)
	}
	for _, p := range []string{state, rootfs} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left behind: %v", p, err)
		}
	}
	// The engine's overlay is still intact.
	if _, err := os.Stat(filepath.Join(merged, "engine-file")); err != nil {
		t.Fatal(err)
	}
}

func TestMountIDMappedOverlayKeepsUpper(t *testing.T) {
	requireRoot(t)
	r := testRange
	dir := tempDir(t)
	_, l1, l2, _ := engineOverlay(t, dir)
	state, rootfs := filepath.Join(dir, "state"), filepath.Join(dir, "rootfs")
	ns := newNS(t, r)
	for run := range 2 {
		mkdirs(t, rootfs)
		cleanup, err := MountIDMappedOverlay([]string{l1, l2}, rootfs, state, r, ns)
		if err != nil {
			t.Fatal(err)
		}
		if run == 1 {
			if _, err := os.Stat(filepath.Join(rootfs, "written-in-run-0")); err != nil {
				t.Fatalf("the kept upper's contents are gone: %v", err)
			}
		}
		if err := runAs(t, r.HostID, fmt.Sprintf("echo x > %s/written-in-run-%d", rootfs, run)); err != nil {
			t.Fatal(err)
		}
		// Keep the upper (and the state dir holding it): a stop and start.
		keep := slices.DeleteFunc(slices.Clone(cleanup), func(p string) bool { return p == state || p == state+"/upper" })
		if err := Unmount(keep); err != nil {
			t.Fatal(err)
		}
	}
	if left := mountsUnder(t, state); len(left) > 0 {
		t.Fatalf("mounts left: %v", left)
	}
}

func TestMountIDMappedOverlayFailsClean(t *testing.T) {
	requireRoot(t)
	r := testRange
	dir := tempDir(t)
	_, l1, _, _ := engineOverlay(t, dir)
	before := mountsUnder(t, dir)
	state, rootfs := filepath.Join(dir, "state"), filepath.Join(dir, "rootfs")
	mkdirs(t, rootfs)
	// The second layer is a procfs, which cannot be id-mapped.
	cleanup, err := MountIDMappedOverlay([]string{l1, "/proc"}, rootfs, state, r, newNS(t, r))
	if !errors.Is(err, ErrIDMapUnsupported) || cleanup != nil {
		t.Fatalf("MountIDMappedOverlay = %q, %v; want ErrIDMapUnsupported", cleanup, err)
	}
	t.Logf("refusal: %v", err)
	if after := mountsUnder(t, dir); !slices.Equal(after, before) {
		t.Fatalf("mounts before %q, after %q", before, after)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state dir left behind: %v", err)
	}
	if _, err := os.Stat(rootfs); err != nil {
		t.Fatalf("the caller's dst was removed: %v", err)
	}
}

// TestMountIDMappedOverlayManyLayers needs the fsconfig path: the options
// of 120 layers do not fit in one page.
func TestMountIDMappedOverlayManyLayers(t *testing.T) {
	requireRoot(t)
	r := testRange
	dir := tempDir(t)
	var layers []string
	for i := range 120 {
		l := filepath.Join(dir, "layers", fmt.Sprintf("layer-with-a-rather-long-name-%03d", i))
		mkdirs(t, l)
		createOwned(t, filepath.Join(l, fmt.Sprintf("f%03d", i)), i)
		layers = append(layers, l)
	}
	state, rootfs := filepath.Join(dir, "state-with-a-long-name-too", "container-0123456789abcdef"), filepath.Join(dir, "rootfs")
	mkdirs(t, rootfs)
	if n := 120 * len(state+"/lower-000:"); n < os.Getpagesize() {
		t.Fatalf("the options would take %d bytes, which fit in a page", n)
	}
	cleanup, err := MountIDMappedOverlay(layers, rootfs, state, r, newNS(t, r))
	if err != nil {
		t.Fatal(err)
	}
	defer Unmount(cleanup)
	for i := range 120 {
		wantOwner(t, filepath.Join(rootfs, fmt.Sprintf("f%03d", i)), r.HostID+uint32(i))
	}
	if err := Unmount(cleanup); err != nil {
		t.Fatal(err)
	}
	if left := mountsUnder(t, dir); len(left) > 0 {
		t.Fatalf("mounts left: %v", left)
	}
}

package userns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
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
			name: "userxattr (an overlay mounted in a user namespace)", line: "50 26 0:50 / /m rw - overlay overlay rw,lowerdir=/a,upperdir=/u,workdir=/w,userxattr",
			mountpoint: "/m", overlay: true, err: `"userxattr" is not supported`,
		},
		{
			name: "upper without work", line: "50 26 0:50 / /m rw - overlay overlay rw,lowerdir=/a,upperdir=/u",
			mountpoint: "/m", overlay: true, err: "without a work directory",
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

// TestReadOverlayOptions: the options that decide the upper's on-disk
// format are kept, in order, for the overlay that shares the upper; the
// rest are not.
func TestReadOverlayOptions(t *testing.T) {
	line := "50 26 0:50 / /m rw - overlay overlay rw,lowerdir=/a,upperdir=/u,workdir=/w,index=off,redirect_dir=on,uuid=on,metacopy=off,xino=auto,nfs_export=off,default_permissions,verity=off\n"
	o, ok, err := readOverlay(strings.NewReader(line), "/m")
	if err != nil || !ok {
		t.Fatalf("readOverlay = %v, %v", ok, err)
	}
	want := []string{"index=off", "redirect_dir=on", "uuid=on", "metacopy=off", "xino=auto", "nfs_export=off"}
	if !slices.Equal(o.Options, want) || o.Mountpoint != "/m" {
		t.Fatalf("options %q at %q, want %q at /m", o.Options, o.Mountpoint, want)
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

	if err := mountOverlayFsconfig([]string{l1, l2, l3}, u, w, nil, merged); err != nil {
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

// engine is what Docker or containerd leave for runcage: an overlay of two
// image layers and a non-empty upper, mounted at merged, with the upper and
// work directories in one snapshot directory.
type engine struct {
	merged, l1, l2, snap, upper, work string
}

// engineOverlay builds an engine overlay under dir, mounted with the extra
// options opts (may be empty), and unmounts it when the test ends. The base
// layer holds a file owned by testRange.Size on disk, mode 0666; the
// engine's upper holds a whiteout and a set-user-ID copy of the host's
// id(1) owned by testRange.Size, as an engine-side copy-up would leave it.
func engineOverlay(t *testing.T, dir, opts string) engine {
	t.Helper()
	e := engine{l1: filepath.Join(dir, "layer-top"), l2: filepath.Join(dir, "layer-base"), snap: filepath.Join(dir, "snapshots", "3"), merged: filepath.Join(dir, "merged")}
	e.upper, e.work = filepath.Join(e.snap, "fs"), filepath.Join(e.snap, "work")
	mkdirs(t, filepath.Join(e.l2, "etc"), filepath.Join(e.l2, "home", "user"), e.l1, e.upper, e.work, e.merged)
	createOwned(t, filepath.Join(e.l2, "etc", "passwd"), 0)
	createOwned(t, filepath.Join(e.l2, "gone"), 0)
	createOwned(t, filepath.Join(e.l2, "home", "user", "data"), 1000)
	if err := os.Lchown(filepath.Join(e.l2, "home", "user"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	extra := int(testRange.Size)
	createOwned(t, filepath.Join(e.l2, "extra-owned"), extra)
	if err := os.Chmod(filepath.Join(e.l2, "extra-owned"), 0o666); err != nil {
		t.Fatal(err)
	}
	createOwned(t, filepath.Join(e.l1, "top-file"), 0)
	createOwned(t, filepath.Join(e.l1, "engine-copied"), 0)
	createOwned(t, filepath.Join(e.upper, "engine-file"), 0)
	// A whiteout in the engine's upper hides the base layer's "gone".
	if err := unix.Mknod(filepath.Join(e.upper, "gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	id, err := os.ReadFile("/usr/bin/id")
	if err != nil {
		t.Fatal(err)
	}
	suid := filepath.Join(e.upper, "suid-id")
	if err := os.WriteFile(suid, id, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(suid, extra, extra); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(suid, 0o6755); err != nil {
		t.Fatal(err)
	}
	data := fmt.Sprintf("lowerdir=%s:%s,upperdir=%s,workdir=%s", e.l1, e.l2, e.upper, e.work)
	if opts != "" {
		data += "," + opts
	}
	if err := unix.Mount("overlay", e.merged, "overlay", 0, data); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(e.merged, unix.MNT_DETACH) })
	return e
}

// wantMode fails the test unless path has exactly mode.
func wantMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != mode {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode(), mode)
	}
}

// TestMountIDMappedOverlay: container root sees the engine's overlay with
// its owners mapped, and what it writes lands in the engine's upper with
// the image's ids; overlayfs's own files there are owned by the extra id;
// the engine's overlay keeps working (its work directory is not touched);
// Unmount leaves the engine's upper with the container's writes and nothing
// of runcage's.
func TestMountIDMappedOverlay(t *testing.T) {
	requireRoot(t)
	r := testRange
	dir := tempDir(t)
	e := engineOverlay(t, dir, "")
	before := mountsUnder(t, dir)

	o, ok, err := ReadOverlay(e.merged)
	if err != nil || !ok || !slices.Equal(o.Lower, []string{e.l1, e.l2}) || o.Upper != e.upper || o.Work != e.work || o.Mountpoint != e.merged {
		t.Fatalf("ReadOverlay = %+v, %v, %v", o, ok, err)
	}
	state, rootfs := filepath.Join(dir, "state", "c1"), filepath.Join(dir, "rootfs")
	mkdirs(t, rootfs)
	cleanup, err := MountIDMappedOverlay(o, rootfs, state, r, newNS(t, r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Unmount(cleanup) })
	parent := state + "/private/upper-parent"
	wantCleanup := []string{state, state + "/lower-0", state + "/lower-1", state + "/private", parent, parent + "/runcage-work", rootfs}
	if !slices.Equal(cleanup, wantCleanup) {
		t.Fatalf("cleanup = %q\nwant %q", cleanup, wantCleanup)
	}
	if lo, up, _, ok, err := OverlayInfo(rootfs); err != nil || !ok || !slices.Equal(lo, []string{state + "/lower-0", state + "/lower-1"}) || up != parent+"/fs" {
		t.Fatalf("the new overlay's layers: %q, %q, %v, %v", lo, up, ok, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(rootfs, &sfs); err != nil || sfs.Flags&unix.ST_NOSUID == 0 {
		t.Fatalf("the overlay is not nosuid: %v %#x", err, sfs.Flags)
	}
	for _, l := range []string{"lower-0", "lower-1"} {
		if err := unix.Statfs(filepath.Join(state, l), &sfs); err != nil || sfs.Flags&(unix.ST_RDONLY|unix.ST_NOSUID|unix.ST_NODEV) != unix.ST_RDONLY|unix.ST_NOSUID|unix.ST_NODEV {
			t.Fatalf("%s is not read-only, nosuid, nodev: %v %#x", l, err, sfs.Flags)
		}
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
	// The layer's file owned by the extra id is not mapped through the
	// lowers (overflow id), and cannot be copied up even though its mode
	// lets anyone write.
	wantOwner(t, filepath.Join(rootfs, "extra-owned"), 65534)
	if err := runAs(t, r.HostID, "echo x >> "+rootfs+"/extra-owned"); err == nil {
		t.Error("a lower file owned by the extra id was written through the overlay")
	} else {
		t.Logf("write to a lower file owned by the extra id: %v", err)
	}
	// The upper's file owned by the extra id shows as host root's, through
	// this mount only, and its set-user-ID bit is ignored (nosuid).
	wantOwner(t, filepath.Join(rootfs, "suid-id"), 0)
	wantMode(t, filepath.Join(rootfs, "suid-id"), 0o755|os.ModeSetuid|os.ModeSetgid)
	out, err := exec.Command("setpriv", fmt.Sprintf("--reuid=%d", r.HostID), fmt.Sprintf("--regid=%d", r.HostID), "--clear-groups", filepath.Join(rootfs, "suid-id"), "-u").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(r.HostID) {
		t.Fatalf("running the set-user-ID file as %d: %q, %v; want euid %d", r.HostID, out, err, r.HostID)
	}

	// Container root (host r.HostID) and container uid 1000 write.
	script := fmt.Sprintf("echo new > %[1]s/new-file && echo more >> %[1]s/etc/passwd && mkdir %[1]s/newdir && rm %[1]s/top-file", rootfs)
	if err := runAs(t, r.HostID, script); err != nil {
		t.Fatal(err)
	}
	if err := runAs(t, r.HostID+1000, fmt.Sprintf("echo x > %s/home/user/mine", rootfs)); err != nil {
		t.Fatal(err)
	}
	// The writes land in the engine's upper with the image's ids; the
	// whiteout overlayfs made for the delete is owned by the extra id.
	wantOwner(t, filepath.Join(e.upper, "new-file"), 0)
	wantOwner(t, filepath.Join(e.upper, "newdir"), 0)
	wantOwner(t, filepath.Join(e.upper, "etc", "passwd"), 0)
	wantOwner(t, filepath.Join(e.upper, "home", "user", "mine"), 1000)
	wantOwner(t, filepath.Join(e.upper, "home", "user"), 1000) // copied up
	wantMode(t, filepath.Join(e.upper, "top-file"), os.ModeDevice|os.ModeCharDevice)
	wantOwner(t, filepath.Join(e.upper, "top-file"), r.Size)
	if _, err := os.Lstat(filepath.Join(e.upper, "extra-owned")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lower file owned by the extra id was copied up: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(e.l2, "etc", "passwd")); strings.Contains(string(data), "more") {
		t.Fatal("a write reached the image layer")
	}
	if _, err := os.Stat(filepath.Join(e.l1, "top-file")); err != nil {
		t.Fatalf("a delete reached the image layer: %v", err)
	}
	// The engine's work directory is untouched and its overlay can still
	// copy up, whiteout and create.
	wantOwner(t, filepath.Join(e.work, "work"), 0)
	if err := os.WriteFile(filepath.Join(e.merged, "engine-copied"), []byte("by the engine"), 0o644); err != nil {
		t.Fatalf("the engine's overlay cannot copy up while runcage's is mounted: %v", err)
	}
	if err := os.Remove(filepath.Join(e.merged, "etc", "passwd")); err != nil {
		t.Fatalf("the engine's overlay cannot delete while runcage's is mounted: %v", err)
	}
	wantOwner(t, filepath.Join(e.upper, "engine-copied"), 0)

	if err := Unmount(cleanup); err != nil {
		t.Fatal(err)
	}
	if after := mountsUnder(t, dir); !slices.Equal(after, before) {
		t.Fatalf("mounts before %q, after %q", before, after)
	}
	for _, p := range []string{state, rootfs, filepath.Join(e.snap, "runcage-work")} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left behind: %v", p, err)
		}
	}
	entries, err := os.ReadDir(e.snap)
	if err != nil || len(entries) != 2 {
		t.Fatalf("the snapshot directory holds %v, %v; want fs and work", entries, err)
	}
	// The engine's overlay shows the container's writes (after a remount,
	// as the engine's next start does) and unmounts without EBUSY.
	if err := unix.Unmount(e.merged, 0); err != nil {
		t.Fatalf("unmount the engine's overlay: %v", err)
	}
	data := fmt.Sprintf("lowerdir=%s:%s,upperdir=%s,workdir=%s", e.l1, e.l2, e.upper, e.work)
	if err := unix.Mount("overlay", e.merged, "overlay", 0, data); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"new-file", "newdir", "home/user/mine"} {
		if _, err := os.Lstat(filepath.Join(e.merged, p)); err != nil {
			t.Errorf("the engine does not see the container's %s: %v", p, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(e.merged, "top-file")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the engine still sees the file the container deleted: %v", err)
	}
}

// TestMountIDMappedOverlayRestart: a second mount on the same engine
// overlay (a stop and start) sees what the first one wrote, and reuses a
// work directory that an earlier run left behind.
func TestMountIDMappedOverlayRestart(t *testing.T) {
	requireRoot(t)
	r := testRange
	dir := tempDir(t)
	e := engineOverlay(t, dir, "")
	o, _, err := ReadOverlay(e.merged)
	if err != nil {
		t.Fatal(err)
	}
	state, rootfs := filepath.Join(dir, "state"), filepath.Join(dir, "rootfs")
	ns := newNS(t, r)
	for run := range 3 {
		mkdirs(t, rootfs)
		cleanup, err := MountIDMappedOverlay(o, rootfs, state, r, ns)
		if err != nil {
			t.Fatal(err)
		}
		for prev := range run {
			if _, err := os.Stat(filepath.Join(rootfs, fmt.Sprintf("written-in-run-%d", prev))); err != nil {
				t.Fatalf("run %d does not see run %d's write: %v", run, prev, err)
			}
		}
		if err := runAs(t, r.HostID, fmt.Sprintf("echo x > %s/written-in-run-%d", rootfs, run)); err != nil {
			t.Fatal(err)
		}
		if run == 1 {
			// A crash: the work directory stays; the next mount reuses it.
			cleanup = slices.DeleteFunc(cleanup, func(p string) bool { return strings.HasSuffix(p, "/runcage-work") })
		}
		if err := Unmount(cleanup); err != nil {
			t.Fatal(err)
		}
		_, err = os.Lstat(filepath.Join(e.snap, "runcage-work"))
		if left := !errors.Is(err, os.ErrNotExist); left != (run == 1) {
			t.Fatalf("run %d: work directory left behind: %v", run, left)
		}
	}
	if left := mountsUnder(t, dir); !slices.Equal(left, []string{e.merged}) {
		t.Fatalf("mounts left: %v", left)
	}
}

// TestMountIDMappedOverlayRefusals: each case fails cleanly (nothing
// mounted, nothing left in the state or snapshot directory, dst kept).
func TestMountIDMappedOverlayRefusals(t *testing.T) {
	requireRoot(t)
	r := testRange
	for _, tt := range []struct {
		name string
		opts string // the engine's mount options
		edit func(e engine, o *Overlay)
		err  string
	}{
		{name: "a layer that cannot be id-mapped", edit: func(e engine, o *Overlay) { o.Lower = []string{e.l1, "/proc"} }, err: "id-mapped mounts unsupported"},
		{name: "upper and work in different directories", edit: func(e engine, o *Overlay) { o.Work = filepath.Join(filepath.Dir(e.snap), "elsewhere") }, err: "not in the same directory"},
		{name: "index=on", opts: "index=on", err: "index=on"},
		{name: "bad range", edit: func(e engine, o *Overlay) {}, err: "bad range"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := tempDir(t)
			e := engineOverlay(t, dir, tt.opts)
			o, _, err := ReadOverlay(e.merged)
			if err != nil {
				t.Fatal(err)
			}
			rr := r
			if tt.name == "bad range" {
				rr.Size = 1<<32 - 1
			}
			if tt.edit != nil {
				tt.edit(e, &o)
			}
			before := mountsUnder(t, dir)
			state, rootfs := filepath.Join(dir, "state"), filepath.Join(dir, "rootfs")
			mkdirs(t, rootfs)
			cleanup, err := MountIDMappedOverlay(o, rootfs, state, rr, newNS(t, r))
			if err == nil || !strings.Contains(err.Error(), tt.err) || cleanup != nil {
				Unmount(cleanup)
				t.Fatalf("MountIDMappedOverlay = %q, %v; want an error mentioning %q", cleanup, err, tt.err)
			}
			t.Logf("refusal: %v", err)
			if after := mountsUnder(t, dir); !slices.Equal(after, before) {
				t.Fatalf("mounts before %q, after %q", before, after)
			}
			if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("state dir left behind: %v", err)
			}
			if _, err := os.Stat(filepath.Join(e.snap, "runcage-work")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("work dir left behind: %v", err)
			}
			if _, err := os.Stat(rootfs); err != nil {
				t.Fatalf("the caller's dst was removed: %v", err)
			}
		})
	}
}

// TestMountIDMappedOverlayInUse: a second runcage overlay on an upper that
// the first one uses is refused.
func TestMountIDMappedOverlayInUse(t *testing.T) {
	requireRoot(t)
	r := testRange
	dir := tempDir(t)
	e := engineOverlay(t, dir, "")
	o, _, err := ReadOverlay(e.merged)
	if err != nil {
		t.Fatal(err)
	}
	ns := newNS(t, r)
	mkdirs(t, filepath.Join(dir, "rootfs1"), filepath.Join(dir, "rootfs2"))
	cleanup, err := MountIDMappedOverlay(o, filepath.Join(dir, "rootfs1"), filepath.Join(dir, "state1"), r, ns)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmount(cleanup)
	c2, err := MountIDMappedOverlay(o, filepath.Join(dir, "rootfs2"), filepath.Join(dir, "state2"), r, ns)
	if err == nil || !strings.Contains(err.Error(), "already the upper directory of the overlay at "+filepath.Join(dir, "rootfs1")) {
		Unmount(c2)
		t.Fatalf("second mount: %v", err)
	}
	if err := Unmount(cleanup); err != nil {
		t.Fatal(err)
	}
}

// TestMountIDMappedOverlayReadOnly: an engine overlay without an upper
// gives a read-only overlay of the id-mapped layers.
func TestMountIDMappedOverlayReadOnly(t *testing.T) {
	requireRoot(t)
	r := testRange
	dir := tempDir(t)
	e := engineOverlay(t, dir, "")
	state, rootfs := filepath.Join(dir, "state"), filepath.Join(dir, "rootfs")
	mkdirs(t, rootfs)
	cleanup, err := MountIDMappedOverlay(Overlay{Lower: []string{e.l1, e.l2}}, rootfs, state, r, newNS(t, r))
	if err != nil {
		t.Fatal(err)
	}
	defer Unmount(cleanup)
	if !slices.Equal(cleanup, []string{state, state + "/lower-0", state + "/lower-1", rootfs}) {
		t.Fatalf("cleanup = %q", cleanup)
	}
	wantOwner(t, filepath.Join(rootfs, "top-file"), r.HostID)
	wantOwner(t, filepath.Join(rootfs, "home", "user", "data"), r.HostID+1000)
	if err := runAs(t, r.HostID, "echo x > "+rootfs+"/new"); err == nil || !strings.Contains(err.Error(), "Read-only") {
		t.Fatalf("write to a read-only overlay: %v", err)
	}
	if err := Unmount(cleanup); err != nil {
		t.Fatal(err)
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
	snap := filepath.Join(dir, "snap")
	mkdirs(t, snap+"/fs", snap+"/work")
	state, rootfs := filepath.Join(dir, "state-with-a-long-name-too", "container-0123456789abcdef"), filepath.Join(dir, "rootfs")
	mkdirs(t, rootfs)
	if n := 120 * len(state+"/lower-000:"); n < os.Getpagesize() {
		t.Fatalf("the options would take %d bytes, which fit in a page", n)
	}
	o := Overlay{Lower: layers, Upper: snap + "/fs", Work: snap + "/work", Options: []string{"index=off"}}
	cleanup, err := MountIDMappedOverlay(o, rootfs, state, r, newNS(t, r))
	if err != nil {
		t.Fatal(err)
	}
	defer Unmount(cleanup)
	for i := range 120 {
		wantOwner(t, filepath.Join(rootfs, fmt.Sprintf("f%03d", i)), r.HostID+uint32(i))
	}
	if err := runAs(t, r.HostID+7, "echo x > "+rootfs+"/new"); err == nil {
		t.Fatal("container uid 7 wrote into the root directory owned by container root")
	}
	if err := runAs(t, r.HostID, "echo x > "+rootfs+"/new && rm "+rootfs+"/f005"); err != nil {
		t.Fatal(err)
	}
	wantOwner(t, snap+"/fs/new", 0)
	wantOwner(t, snap+"/fs/f005", r.Size)
	if err := Unmount(cleanup); err != nil {
		t.Fatal(err)
	}
	if left := mountsUnder(t, dir); len(left) > 0 {
		t.Fatalf("mounts left: %v", left)
	}
}

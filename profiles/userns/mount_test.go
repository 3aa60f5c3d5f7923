package userns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/internal/mountinfo"
)

// testRange is the host range the mount tests map container ids into.
var testRange = Range{HostID: 1_500_000_000, Size: 65536}

// requireRoot skips tests that need real root: user namespaces with
// arbitrary mappings and the mount API both need CAP_SYS_ADMIN (and
// CAP_SETUID/CAP_SETGID) in the initial user namespace.
func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("skipped: needs root (CAP_SYS_ADMIN in the initial user namespace) for user namespaces and mounts")
	}
}

// tempDir is t.TempDir made traversable, so that processes running as the
// range's ids can reach it.
func tempDir(tb testing.TB) string {
	tb.Helper()
	d := tb.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}

func newNS(tb testing.TB, r Range) *os.File {
	tb.Helper()
	ns, err := NewUsernsFD(r.Mappings(), r.Mappings())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ns.Close() })
	return ns
}

func mkdirs(tb testing.TB, paths ...string) {
	tb.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
}

// createOwned creates a file owned by uid:uid on disk.
func createOwned(tb testing.TB, path string, uid int) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(path), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Lchown(path, uid, uid); err != nil {
		tb.Fatal(err)
	}
}

func owner(tb testing.TB, path string) (uid, gid uint32) {
	tb.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		tb.Fatal(err)
	}
	return st.Uid, st.Gid
}

func wantOwner(tb testing.TB, path string, id uint32) {
	tb.Helper()
	if uid, gid := owner(tb, path); uid != id || gid != id {
		tb.Errorf("%s is owned by %d:%d, want %d:%d", path, uid, gid, id, id)
	}
}

// runAs runs a shell script as host uid:gid id, with no supplementary
// groups. The shell is the host's /bin/sh, never anything from a mount
// under test.
func runAs(tb testing.TB, id uint32, script string) error {
	tb.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: id, Gid: id, NoSetGroups: true}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", script, err, out)
	}
	return nil
}

// mountsUnder lists the mount points at or below dir.
func mountsUnder(tb testing.TB, dir string) []string {
	tb.Helper()
	mounts, err := mountinfo.Read()
	if err != nil {
		tb.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		real = dir
	}
	var out []string
	for _, m := range mounts {
		if m.MountPoint == real || strings.HasPrefix(m.MountPoint, real+"/") {
			out = append(out, m.MountPoint)
		}
	}
	return out
}

func noChildren(tb testing.TB) {
	tb.Helper()
	var ws unix.WaitStatus
	pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
	if !errors.Is(err, unix.ECHILD) {
		tb.Fatalf("a child process was left behind: wait4 = %d, %v", pid, err)
	}
}

func TestNewUsernsFD(t *testing.T) {
	requireRoot(t)
	ns, err := NewUsernsFD(testRange.Mappings(), testRange.Mappings())
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	noChildren(t)
	typ, err := unix.IoctlRetInt(int(ns.Fd()), unix.NS_GET_NSTYPE)
	if err != nil || typ != unix.CLONE_NEWUSER {
		t.Fatalf("NS_GET_NSTYPE = %#x, %v; want CLONE_NEWUSER", typ, err)
	}
	var self, got unix.Stat_t
	if err := unix.Stat("/proc/self/ns/user", &self); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(int(ns.Fd()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Ino == self.Ino {
		t.Fatal("got our own user namespace")
	}
	if flags, err := unix.FcntlInt(ns.Fd(), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("user namespace fd is not close-on-exec: %#x, %v", flags, err)
	}
}

// TestNewUsernsFDConcurrent forks from several goroutines at once, while
// the runtime is busy, and checks that every namespace works.
func TestNewUsernsFDConcurrent(t *testing.T) {
	requireRoot(t)
	dir := tempDir(t)
	src := filepath.Join(dir, "src")
	mkdirs(t, src)
	createOwned(t, filepath.Join(src, "f"), 7)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // keep the garbage collector busy meanwhile
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			r := Range{HostID: uint32(200000 + i*65536), Size: 65536}
			ns, err := NewUsernsFD(r.Mappings(), r.Mappings())
			if err != nil {
				errs <- err
				return
			}
			defer ns.Close()
			dst := filepath.Join(dir, fmt.Sprintf("dst-%d", i))
			if err := os.Mkdir(dst, 0o755); err != nil {
				errs <- err
				return
			}
			if err := IDMappedBind(src, dst, ns); err != nil {
				errs <- err
				return
			}
			var st unix.Stat_t
			statErr := unix.Lstat(filepath.Join(dst, "f"), &st)
			if err := errors.Join(statErr, Unmount([]string{dst})); err != nil {
				errs <- err
				return
			}
			if st.Uid != r.HostID+7 {
				errs <- fmt.Errorf("namespace %d maps 7 to %d, want %d", i, st.Uid, r.HostID+7)
				return
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	noChildren(t)
}

func TestNewUsernsFDErrors(t *testing.T) {
	requireRoot(t)
	good := testRange.Mappings()
	for _, tt := range []struct {
		name     string
		uid, gid []specs.LinuxIDMapping
	}{
		{"no uid maps", nil, good},
		{"no gid maps", good, nil},
		{"overlapping lines", ms(m(0, 200000, 100), m(50, 300000, 100)), good},
		{"past the id space", ms(m(0, 4294967290, 100)), good},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ns, err := NewUsernsFD(tt.uid, tt.gid)
			if err == nil {
				ns.Close()
				t.Fatal("NewUsernsFD succeeded")
			}
			noChildren(t)
		})
	}
}

func TestIDMappedBind(t *testing.T) {
	requireRoot(t)
	r := testRange
	dir := tempDir(t)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	mkdirs(t, filepath.Join(src, "sub"), dst)
	createOwned(t, filepath.Join(src, "root-file"), 0)
	createOwned(t, filepath.Join(src, "user-file"), 1000)
	createOwned(t, filepath.Join(src, "sub", "nested"), 1000)
	if err := os.Chmod(filepath.Join(src, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}

	ns := newNS(t, r)
	if err := IDMappedBind(src, dst, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Unmount([]string{dst}) })

	// From the host, through the mount: on-disk 0 is r.HostID, 1000 is
	// r.HostID+1000.
	wantOwner(t, dst, r.HostID)
	wantOwner(t, filepath.Join(dst, "root-file"), r.HostID)
	wantOwner(t, filepath.Join(dst, "user-file"), r.HostID+1000)
	wantOwner(t, filepath.Join(dst, "sub", "nested"), r.HostID+1000)
	// The files themselves are unchanged.
	wantOwner(t, filepath.Join(src, "root-file"), 0)
	wantOwner(t, filepath.Join(src, "user-file"), 1000)

	// Host uid r.HostID is the files' owner through the mount: it can write
	// the "root" file, enter the 0700 directory, and create files and
	// directories, which land on disk owned by 0.
	script := fmt.Sprintf("echo changed > %[1]s/root-file && echo new > %[1]s/new-file && mkdir %[1]s/new-dir && ls %[1]s/sub >/dev/null", dst)
	if err := runAs(t, r.HostID, script); err != nil {
		t.Fatal(err)
	}
	wantOwner(t, filepath.Join(src, "new-file"), 0)
	wantOwner(t, filepath.Join(src, "new-dir"), 0)
	wantOwner(t, filepath.Join(src, "root-file"), 0)
	if data, _ := os.ReadFile(filepath.Join(src, "root-file")); string(data) != "changed\n" {
		t.Fatalf("root-file holds %q", data)
	}
	// A chown through the mount to host id r.HostID+1000 stores 1000; one to
	// a host id the mount does not map fails with EOVERFLOW.
	if err := os.Lchown(filepath.Join(dst, "new-file"), int(r.HostID+1000), int(r.HostID+1000)); err != nil {
		t.Fatal(err)
	}
	wantOwner(t, filepath.Join(src, "new-file"), 1000)
	if err := os.Lchown(filepath.Join(dst, "new-file"), 1000, 1000); !errors.Is(err, unix.EOVERFLOW) {
		t.Fatalf("chown to an unmapped id through the mount: %v, want EOVERFLOW", err)
	}
	// In a world-writable directory, a host id inside the range creates
	// files that land on disk as its container id; a host id the mount
	// does not map cannot create files at all (EOVERFLOW), so nothing
	// outside the range can end up owned by it.
	open := filepath.Join(src, "open")
	mkdirs(t, open)
	if err := os.Chmod(open, 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := runAs(t, r.HostID+5, fmt.Sprintf("echo x > %s/open/by-5", dst)); err != nil {
		t.Fatal(err)
	}
	wantOwner(t, filepath.Join(open, "by-5"), 5)
	for _, id := range []uint32{1000, r.HostID + r.Size} {
		if err := runAs(t, id, fmt.Sprintf("echo x > %s/open/by-%d", dst, id)); err == nil {
			t.Fatalf("host id %d, which the mount does not map, created a file", id)
		} else if !strings.Contains(err.Error(), "too large") {
			t.Fatalf("host id %d: want EOVERFLOW, got %v", id, err)
		}
	}

	if err := Unmount([]string{dst}); err != nil {
		t.Fatal(err)
	}
	if left := mountsUnder(t, dir); len(left) > 0 {
		t.Fatalf("mounts left: %v", left)
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dst not removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(src, "root-file")); err != nil {
		t.Fatalf("Unmount touched the source: %v", err)
	}
}

func TestIDMappedBindIsNotRecursive(t *testing.T) {
	requireRoot(t)
	dir := tempDir(t)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	mkdirs(t, filepath.Join(src, "proc"), dst)
	if err := unix.Mount("proc", filepath.Join(src, "proc"), "proc", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(filepath.Join(src, "proc"), unix.MNT_DETACH) })
	// A procfs below src, which cannot be id-mapped, does not get in the way.
	if err := IDMappedBind(src, dst, newNS(t, testRange)); err != nil {
		t.Fatal(err)
	}
	defer Unmount([]string{dst})
	if _, err := os.Stat(filepath.Join(dst, "proc", "self")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("submount carried over: %v", err)
	}
}

func TestIDMappedBindUnsupported(t *testing.T) {
	requireRoot(t)
	dir := tempDir(t)
	dst := filepath.Join(dir, "dst")
	mkdirs(t, dst)
	ns := newNS(t, testRange)

	err := IDMappedBind("/proc", dst, ns)
	var ue *UnsupportedError
	if !errors.Is(err, ErrIDMapUnsupported) || !errors.As(err, &ue) || ue.FSType != "proc" || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("id-mapping /proc: err = %v (%+v), want ErrIDMapUnsupported on proc with EINVAL", err, ue)
	}
	if !strings.Contains(err.Error(), "id-mapped mounts unsupported on proc at /proc: mount_setattr: invalid argument") {
		t.Fatalf("message %q does not say what and where", err)
	}
	if left := mountsUnder(t, dir); len(left) > 0 {
		t.Fatalf("mounts left: %v", left)
	}

	// An overlay cannot be id-mapped as a whole.
	merged := mountTestOverlay(t, dir)
	err = IDMappedBind(merged, dst, ns)
	if !errors.As(err, &ue) || ue.FSType != "overlay" {
		t.Fatalf("id-mapping an overlay: err = %v, want ErrIDMapUnsupported on overlay", err)
	}
	t.Logf("refusal: %v", err)

	// Errors that are not about id-mapping are not classified as such.
	err = IDMappedBind(filepath.Join(dir, "missing"), dst, ns)
	if err == nil || errors.Is(err, ErrIDMapUnsupported) {
		t.Fatalf("missing source: err = %v", err)
	}
}

func TestProbe(t *testing.T) {
	requireRoot(t)
	dir := tempDir(t)
	if err := Probe(dir); err != nil {
		t.Fatalf("Probe on %s: %v", fsType(dir), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("Probe left %v behind (%v)", entries, err)
	}
	if left := mountsUnder(t, dir); len(left) > 0 {
		t.Fatalf("mounts left: %v", left)
	}

	merged := mountTestOverlay(t, dir)
	err = Probe(merged)
	want := "id-mapped mounts unsupported on overlay at " + merged + ": mount_setattr: invalid argument"
	if !errors.Is(err, ErrIDMapUnsupported) || err.Error() != want {
		t.Fatalf("Probe on an overlay: %v\nwant: %s", err, want)
	}
	if left := mountsUnder(t, dir); !slices.Equal(left, []string{merged}) {
		t.Fatalf("mounts left: %v", left)
	}
	if entries, _ := os.ReadDir(merged); len(entries) != 1 { // the test overlay's own file
		t.Fatalf("Probe left %v behind", entries)
	}

	if err := Probe(filepath.Join(dir, "missing")); err == nil || errors.Is(err, ErrIDMapUnsupported) {
		t.Fatalf("Probe on a missing dir: %v", err)
	}
}

func TestProbeReadOnly(t *testing.T) {
	requireRoot(t)
	dir := tempDir(t)
	ro := filepath.Join(dir, "ro")
	mkdirs(t, ro)
	if err := unix.Mount(ro, ro, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(ro, unix.MNT_DETACH) })
	if err := unix.Mount("", ro, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	before := mountsUnder(t, "/")
	probes := filepath.Join(os.TempDir(), ".runcage-idmap-probe-*")
	tmpBefore, _ := filepath.Glob(probes)
	if err := Probe(ro); err != nil {
		t.Fatalf("Probe on a read-only ext4 dir: %v", err)
	}
	if after := mountsUnder(t, "/"); !slices.Equal(after, before) {
		t.Fatalf("mounts before %q, after %q", before, after)
	}
	if tmpAfter, _ := filepath.Glob(probes); len(tmpAfter) != len(tmpBefore) {
		t.Fatalf("probe directories left: %q", tmpAfter)
	}
}

func TestIDMappedBindIsPrivate(t *testing.T) {
	requireRoot(t)
	dir := tempDir(t)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	mkdirs(t, filepath.Join(src, "sub"), dst)
	// Make src a shared mount, as /var/lib often is on systemd hosts.
	if err := unix.Mount(src, src, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(src, unix.MNT_DETACH) })
	if err := unix.Mount("", src, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	if err := IDMappedBind(src, dst, newNS(t, testRange)); err != nil {
		t.Fatal(err)
	}
	defer Unmount([]string{dst})
	if err := unix.Mount("tmpfs", filepath.Join(src, "sub"), "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(filepath.Join(src, "sub"), unix.MNT_DETACH)
	if left := mountsUnder(t, dst); !slices.Equal(left, []string{dst}) {
		t.Fatalf("a mount under the source propagated to the id-mapped view: %q", left)
	}
}

// mountTestOverlay mounts a one-file overlay under dir and returns where.
func mountTestOverlay(tb testing.TB, dir string) string {
	tb.Helper()
	base := filepath.Join(dir, "ovl")
	l, u, w, merged := filepath.Join(base, "l"), filepath.Join(base, "u"), filepath.Join(base, "w"), filepath.Join(base, "merged")
	mkdirs(tb, l, u, w, merged)
	createOwned(tb, filepath.Join(l, "f"), 0)
	if err := unix.Mount("overlay", merged, "overlay", 0, "lowerdir="+l+",upperdir="+u+",workdir="+w); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = unix.Unmount(merged, unix.MNT_DETACH) })
	return merged
}

func TestUnmount(t *testing.T) {
	requireRoot(t)
	dir := tempDir(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	mkdirs(t, a, filepath.Join(b, "inner"))
	if err := unix.Mount("tmpfs", a, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	// Stack a second mount on the same path.
	if err := unix.Mount("tmpfs", a, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", filepath.Join(b, "inner"), "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(filepath.Join(b, "inner"), unix.MNT_DETACH) })
	createOwned(t, filepath.Join(b, "inner", "precious"), 0)

	// b has a mount below it that is not on the list: it is not removed.
	err := Unmount([]string{b, a, filepath.Join(dir, "already-gone"), "relative/path"})
	if err == nil || !strings.Contains(err.Error(), "still mounted") || !strings.Contains(err.Error(), "not an absolute path") {
		t.Fatalf("Unmount = %v", err)
	}
	if _, err := os.Stat(filepath.Join(b, "inner", "precious")); err != nil {
		t.Fatalf("a file under a mount was removed: %v", err)
	}
	// a is fully unmounted and removed.
	if _, err := os.Stat(a); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a still exists: %v", err)
	}
	if err := Unmount([]string{b, filepath.Join(b, "inner")}); err != nil {
		t.Fatal(err)
	}
	if left := mountsUnder(t, dir); len(left) > 0 {
		t.Fatalf("mounts left: %v", left)
	}
	if err := Unmount([]string{a, b}); err != nil {
		t.Fatalf("repeated Unmount: %v", err)
	}
	if err := Unmount([]string{"/"}); err == nil {
		t.Fatal("Unmount(/) succeeded")
	}
}

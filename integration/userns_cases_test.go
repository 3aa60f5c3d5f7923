//go:build integration

package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// These tests prove issue 3 (user namespaces without chown) with real runc,
// through bin/runcage and asserted from inside the container. Each test has
// a policy of its own whose state_dir lies in the test's directory, so the
// allocation file and runcage's mounts can be inspected and counted without
// interference from other tests or engineers.

// usernsEnv is a testEnv whose runcage runs under a private policy: the
// real runc as delegate and state_dir under the test's directory.
type usernsEnv struct {
	*testEnv
	stateDir   string
	policyPath string
}

// newUsernsEnv returns a usernsEnv whose policy is the default plus extra
// TOML text. When the test ends, after every container is deleted, any
// mount still under the test's directory is detached (and reported), so a
// failing test never leaves a mount behind or lets RemoveAll reach through
// one.
func newUsernsEnv(t *testing.T, extra string) *usernsEnv {
	t.Helper()
	e := newEnv(t)
	u := &usernsEnv{testEnv: e, stateDir: filepath.Join(e.dir, "state")}
	u.policyPath = e.policy("runtime = " + strconv.Quote(e.bin.Runc) + "\nstate_dir = " + strconv.Quote(u.stateDir) + "\nvolume_roots = [" + strconv.Quote(e.dir) + "]\n" + extra)
	t.Cleanup(func() {
		left := mountsMentioning(t, e.dir)
		for i := len(left) - 1; i >= 0; i-- {
			_ = unix.Unmount(left[i], unix.MNT_DETACH)
		}
		if len(left) > 0 {
			t.Logf("cleanup detached mounts left under %s: %v", e.dir, left)
		}
	})
	return u
}

// rt returns runcage under the test's policy, with --runcage-profile profile
// unless profile is empty (the policy's default, "default").
func (u *usernsEnv) rt(profile string) Runtime {
	r := Runtime{
		Name: "runcage",
		Path: u.bin.Runcage,
		Env:  []string{"RUNCAGE_CONFIG=" + u.policyPath},
		Root: filepath.Join(u.dir, "root"),
		Log:  filepath.Join(u.dir, "runcage.log"),
	}
	if profile != "" {
		r.Name += "/" + profile
		r.Pre = []string{"--runcage-profile", profile}
	}
	return r
}

// mountsMentioning returns the mount points of the lines of
// /proc/self/mountinfo that mention dir anywhere (mount point, root, source
// or options such as an overlay's lowerdir), in mount order.
func mountsMentioning(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(unescapeMountinfo(l), dir) {
			continue
		}
		f := strings.Fields(l)
		if len(f) > 4 {
			out = append(out, unescapeMountinfo(f[4]))
		}
	}
	return out
}

var octalEscape = regexp.MustCompile(`\\[0-7]{3}`)

func unescapeMountinfo(s string) string {
	return octalEscape.ReplaceAllStringFunc(s, func(m string) string {
		n, _ := strconv.ParseUint(m[1:], 8, 8)
		return string([]byte{byte(n)})
	})
}

// treeEntries lists every path under dir (relative), sorted; a missing dir
// has none.
func treeEntries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return fs.SkipAll
		}
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// owner returns the uid and gid of path on the host, without following a
// final symlink.
func owner(t *testing.T, path string) (uint32, uint32) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

// allocState is runcage's allocation file (<state_dir>/userns/allocations.json)
// as the tests read it.
type allocState struct {
	Pods map[string]struct {
		Ranges     []idRange `json:"ranges"`
		Containers []string  `json:"containers"`
		Bundle     bool      `json:"bundle"`
	} `json:"pods"`
}

type idRange struct {
	HostID uint32 `json:"host_id"`
	Size   uint32 `json:"size"`
}

func (r idRange) overlaps(o idRange) bool {
	return uint64(r.HostID) < uint64(o.HostID)+uint64(o.Size) && uint64(o.HostID) < uint64(r.HostID)+uint64(r.Size)
}

// allocations reads the allocation file; a missing file is the empty state.
func (u *usernsEnv) allocations() allocState {
	u.t.Helper()
	var st allocState
	b, err := os.ReadFile(filepath.Join(u.stateDir, "userns", "allocations.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return st
	}
	if err != nil {
		u.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		u.t.Fatalf("allocations.json: %v\n%s", err, b)
	}
	return st
}

// podOf returns the pod key whose allocation lists container id.
func (st allocState) podOf(id string) (string, bool) {
	for k, p := range st.Pods {
		if slices.Contains(p.Containers, id) {
			return k, true
		}
	}
	return "", false
}

// helperSource is a static helper copied into rootfs as /bin/uprobe. busybox
// cannot serve: it connects to no unix socket, and, run set-uid, it drops
// the privileges itself (FEATURE_SUID), which would hide what the kernel
// granted.
const helperSource = `package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Println("usage: uprobe ids | connect PATH")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "ids":
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		for _, l := range strings.Split(string(b), "\n") {
			for _, p := range []string{"Uid:", "Gid:", "CapPrm:", "CapEff:", "NoNewPrivs:"} {
				if strings.HasPrefix(l, p) {
					fmt.Println(strings.Join(strings.Fields(l), " "))
				}
			}
		}
		fmt.Printf("euid %d egid %d\n", os.Geteuid(), os.Getegid())
	case "connect":
		c, err := net.Dial("unix", os.Args[2])
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Print(line)
	default:
		os.Exit(2)
	}
}
`

// uprobe is helperSource, built once per test binary (CGO_ENABLED=0, so it
// is static).
var uprobe = &BuildOnce{Name: "uprobe", Build: func(out string) error {
	dir := filepath.Dir(out)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(helperSource), 0o644); err != nil {
		return fmt.Errorf("build uprobe: %w", err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=on")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build uprobe: %w: %s", err, b)
	}
	return nil
}}

var checkRE = regexp.MustCompile(`(?m)^check ([a-z0-9_]+)=(ok|fail) ?(.*)$`)

// checks parses the "check NAME=ok|fail OUTPUT" lines of chkScript.
func checks(out string) map[string][2]string {
	m := map[string][2]string{}
	for _, sm := range checkRE.FindAllStringSubmatch(out, -1) {
		m[sm[1]] = [2]string{sm[2], strings.TrimSpace(sm[3])}
	}
	return m
}

// chkFunc defines chk NAME CMD...: it runs CMD and prints "check NAME=ok
// <output>" or "check NAME=fail <output>", output on one line.
const chkFunc = `
chk() {
	n=$1; shift
	if "$@" >/tmp/chk.out 2>&1; then r=ok; else r=fail; fi
	echo "check $n=$r $(tr '\n' ' ' </tmp/chk.out)"
}
`

// wantCheck fails the test unless check name has result want and its output
// contains every one of subs.
func wantCheck(t *testing.T, got map[string][2]string, name, want string, subs ...string) {
	t.Helper()
	c, ok := got[name]
	if !ok {
		t.Errorf("check %s: not reported", name)
		return
	}
	if c[0] != want {
		t.Errorf("check %s: got %s (%q), want %s", name, c[0], c[1], want)
		return
	}
	for _, s := range subs {
		if !strings.Contains(c[1], s) {
			t.Errorf("check %s: output %q lacks %q", name, c[1], s)
		}
	}
}

// volumeMount returns a bind mount of src at dst with the given options.
func volumeMount(src, dst string, opts ...string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)}
}

// mustMkdirOwned creates dir with mode and owner.
func mustMkdirOwned(t *testing.T, dir string, mode fs.FileMode, uid, gid int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

// mustWriteOwned writes a file with content, mode and owner.
func mustWriteOwned(t *testing.T, path, content string, mode fs.FileMode, uid, gid int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// checkMaps fails unless the uid_map and gid_map texts a container printed
// are not the identity, leave out host 0 and map container 0 into the
// policy's pool. It returns the uid map.
func checkMaps(t *testing.T, uidText, gidText string) []idmap {
	t.Helper()
	var uid []idmap
	for name, text := range map[string]string{"uid_map": uidText, "gid_map": gidText} {
		m, err := ParseIDMapText(text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if IsIdentityMap(m) {
			t.Errorf("%s is the host's identity map", name)
		}
		if overlaps(m, []idmap{{HostID: 0, Size: 1}}) {
			t.Errorf("%s maps host id 0: %v", name, m)
		}
		if len(m) != 1 || m[0].ContainerID != 0 || m[0].HostID < 100000 || m[0].Size != 65536 {
			t.Errorf("%s = %v, want one mapping 0 → a pool id (≥ 100000), 65536 ids", name, m)
		}
		if name == "uid_map" {
			uid = m
		}
	}
	return uid
}

// TestUsernsRootfsAndVolumeOwnership proves item 1: from inside, the maps
// are not the identity and leave out host 0; container root creates and
// removes files in its rootfs and in a read-write volume, and the files land
// on the host disk owned by the image's ids (0 on disk for container root),
// not by the host range. The default profile keeps no capability, so chown to
// another id fails there with EPERM; a profile that keeps CAP_CHOWN can chown
// to 1000:1000, which lands on disk as 1000:1000.
func TestUsernsRootfsAndVolumeOwnership(t *testing.T) {
	u := newUsernsEnv(t, "[profiles.chowner]\ncapabilities = [\"CAP_CHOWN\"]\n")

	const script = `
set -e
cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --
echo "whoami $(id -u):$(id -g)"
echo "image-owner $(stat -c %u:%g /etc/passwd) $(stat -c %u:%g /vol)"
for d in "" /vol; do
	echo root >$d/created
	mkdir $d/newdir
	echo f >$d/newdir/f
	rm $d/removeme
	echo c >$d/chowned
done
` + chkFunc + `
chk chown_rootfs chown 1000:1000 /chowned
chk chown_vol chown 1000:1000 /vol/chowned
echo done
`
	type result struct {
		profile string
		bundle  string
		vol     string
		out     string
	}
	var results []result
	for _, profile := range []string{"", "chowner"} {
		name := "own-" + profile
		spec := BaseSpec(DockerDefaultCaps, "sh", "-c", script)
		vol := filepath.Join(u.dir, name+"-vol")
		mustMkdirOwned(t, vol, 0o755, 0, 0)
		mustWriteOwned(t, filepath.Join(vol, "removeme"), "x", 0o644, 0, 0)
		spec.Mounts = append(spec.Mounts, volumeMount(vol, "/vol", "rw"))
		b, _ := u.bundle(name, spec, RootfsOptions{})
		mustWriteOwned(t, filepath.Join(b, "rootfs", "removeme"), "x", 0o644, 0, 0)
		res := u.mustRun(u.rt(profile), b, 0)
		results = append(results, result{profile, b, vol, res.Stdout})
	}

	for _, r := range results {
		t.Run("profile="+map[string]string{"": "default"}[r.profile]+r.profile, func(t *testing.T) {
			parts := strings.SplitN(r.out, "--\n", 3)
			if len(parts) != 3 || !strings.Contains(r.out, "\ndone\n") {
				t.Fatalf("unexpected output:\n%s", r.out)
			}
			checkMaps(t, parts[0], parts[1])
			if !strings.Contains(r.out, "whoami 0:0\n") {
				t.Errorf("container process is not container root: %s", r.out)
			}
			if !strings.Contains(r.out, "image-owner 0:0 0:0\n") {
				t.Errorf("container root does not see the image's and the volume's files as its own: %s", r.out)
			}
			for _, dir := range []string{filepath.Join(r.bundle, "rootfs"), r.vol} {
				for _, p := range []string{"created", "newdir", "newdir/f", "chowned"} {
					uid, gid := owner(t, filepath.Join(dir, p))
					want := uint32(0)
					if p == "chowned" && r.profile == "chowner" {
						want = 1000
					}
					if uid != want || gid != want {
						t.Errorf("host owner of %s is %d:%d, want %d:%d (the image's ids, not the host range)", filepath.Join(dir, p), uid, gid, want, want)
					}
				}
				if _, err := os.Lstat(filepath.Join(dir, "removeme")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s/removeme: container root could not remove it (lstat: %v)", dir, err)
				}
			}
			got := checks(r.out)
			if r.profile == "chowner" {
				wantCheck(t, got, "chown_rootfs", "ok")
				wantCheck(t, got, "chown_vol", "ok")
			} else {
				// The default profile keeps no capability, CAP_CHOWN included.
				wantCheck(t, got, "chown_rootfs", "fail", "Operation not permitted")
				wantCheck(t, got, "chown_vol", "fail", "Operation not permitted")
			}
		})
	}
}

// TestUsernsSetuidGainsNothing proves item 2: a set-uid-root binary owned by
// the image's root, run by container user 1000 from a bundle that does not
// ask for no_new_privileges (as Docker's do not), keeps effective uid 1000
// and no capability. The control run under the passthrough profile shows the
// same binary does gain euid 0 where nothing stops it, so the test can fail.
func TestUsernsSetuidGainsNothing(t *testing.T) {
	u := newUsernsEnv(t, "")
	spec := BaseSpec(DockerDefaultCaps, "/bin/su-test", "ids")
	spec.Process.NoNewPrivileges = false
	spec.Process.User = specs.User{UID: 1000, GID: 1000}
	b, _ := u.bundle("suid", spec, RootfsOptions{Extra: map[string]string{"/bin/su-test": uprobe.Path(t)}})
	bin := filepath.Join(b, "rootfs", "bin", "su-test")
	if err := os.Chown(bin, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755|fs.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&fs.ModeSetuid == 0 {
		t.Fatalf("%s is not set-uid: %v %v", bin, fi.Mode(), err)
	}

	control := u.mustRun(u.rt("passthrough"), b, 0)
	if !strings.Contains(control.Stdout, "euid 0 ") {
		t.Fatalf("control: the set-uid binary did not gain euid 0 without runcage, so this test proves nothing:\n%s", control.Stdout)
	}

	res := u.mustRun(u.rt(""), b, 0)
	t.Logf("inside runcage:\n%s", res.Stdout)
	for _, want := range []string{"Uid: 1000 1000 1000 1000\n", "euid 1000 ", "CapEff: 0000000000000000\n", "CapPrm: 0000000000000000\n", "NoNewPrivs: 1\n"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("the set-uid-root binary run by uid 1000: output lacks %q:\n%s", want, res.Stdout)
		}
	}
}

// TestUsernsVolumes proves item 3. A read-only volume whose files host root
// owns refuses writes with EROFS. In a read-write volume (id-mapped), files
// owned on disk by ids the mapping does not cover show as nobody (65534)
// and container root cannot write them; a single host-root-owned file bound
// read-write (files are not id-mapped) is likewise nobody's and not
// writable. A host unix socket, /dev/null, /dev/zero and a read-only
// resolv.conf keep working.
func TestUsernsVolumes(t *testing.T) {
	u := newUsernsEnv(t, "")

	ro := filepath.Join(u.dir, "vol-ro")
	mustMkdirOwned(t, ro, 0o755, 0, 0)
	mustWriteOwned(t, filepath.Join(ro, "f"), "ro-content\n", 0o644, 0, 0)

	rw := filepath.Join(u.dir, "vol-rw")
	mustMkdirOwned(t, rw, 0o755, 0, 0)
	mustMkdirOwned(t, filepath.Join(rw, "foreign"), 0o755, 200000, 200000)
	mustWriteOwned(t, filepath.Join(rw, "foreignfile"), "foreign\n", 0o644, 200000, 200000)

	hostFile := filepath.Join(u.dir, "hostfile")
	mustWriteOwned(t, hostFile, "host-owned\n", 0o644, 0, 0)
	resolv := filepath.Join(u.dir, "resolv.conf")
	mustWriteOwned(t, resolv, "nameserver 192.0.2.53\n", 0o644, 0, 0)

	sock := filepath.Join(u.dir, "host.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "pong-from-host")
			c.Close()
		}
	}()

	script := chkFunc + `
chk ro_read cat /ro/f
chk ro_write sh -c 'echo x >/ro/f'
chk ro_create sh -c 'echo x >/ro/new'
chk rw_write sh -c 'echo mine >/vol/mine'
chk foreign_owner stat -c %u:%g /vol/foreign /vol/foreignfile
chk foreign_create sh -c 'echo x >/vol/foreign/new'
chk foreign_append sh -c 'echo x >>/vol/foreignfile'
chk hostfile_owner stat -c %u:%g /hostfile
chk hostfile_read cat /hostfile
chk hostfile_write sh -c 'echo x >>/hostfile'
chk socket /bin/uprobe connect /run/host.sock
chk null sh -c 'echo x >/dev/null'
chk zero sh -c 'head -c 3 /dev/zero | wc -c'
chk resolv_read cat /etc/resolv.conf
chk resolv_write sh -c 'echo x >>/etc/resolv.conf'
echo done
`
	spec := BaseSpec(DockerDefaultCaps, "sh", "-c", script)
	spec.Mounts = append(spec.Mounts,
		volumeMount(ro, "/ro", "ro"),
		volumeMount(rw, "/vol", "rw"),
		specs.Mount{Destination: "/hostfile", Type: "bind", Source: hostFile, Options: []string{"bind", "rw"}},
		specs.Mount{Destination: "/run/host.sock", Type: "bind", Source: sock, Options: []string{"bind"}},
		specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: resolv, Options: []string{"bind", "ro"}},
	)
	b, _ := u.bundle("volumes", spec, RootfsOptions{Extra: map[string]string{"/bin/uprobe": uprobe.Path(t)}})
	res := u.mustRun(u.rt(""), b, 0)
	t.Logf("inside:\n%s", res.Stdout)
	got := checks(res.Stdout)

	wantCheck(t, got, "ro_read", "ok", "ro-content")
	wantCheck(t, got, "ro_write", "fail", "Read-only file system")
	wantCheck(t, got, "ro_create", "fail", "Read-only file system")
	wantCheck(t, got, "rw_write", "ok")
	wantCheck(t, got, "foreign_owner", "ok", "65534:65534 65534:65534")
	wantCheck(t, got, "foreign_create", "fail", "Permission denied")
	wantCheck(t, got, "foreign_append", "fail", "Permission denied")
	wantCheck(t, got, "hostfile_owner", "ok", "65534:65534")
	wantCheck(t, got, "hostfile_read", "ok", "host-owned")
	wantCheck(t, got, "hostfile_write", "fail", "Permission denied")
	wantCheck(t, got, "socket", "ok", "pong-from-host")
	wantCheck(t, got, "null", "ok")
	wantCheck(t, got, "zero", "ok", "3")
	wantCheck(t, got, "resolv_read", "ok", "nameserver 192.0.2.53")
	wantCheck(t, got, "resolv_write", "fail")

	// On the host: nothing the container could not write changed, and what
	// it wrote in the read-write volume is owned by the image's root (0).
	for path, want := range map[string]string{
		filepath.Join(ro, "f"):             "ro-content\n",
		filepath.Join(rw, "foreignfile"):   "foreign\n",
		hostFile:                           "host-owned\n",
		resolv:                             "nameserver 192.0.2.53\n",
		filepath.Join(rw, "mine"):          "mine\n",
		filepath.Join(ro, "new"):           "<missing>",
		filepath.Join(rw, "foreign/new"):   "<missing>",
		filepath.Join(u.dir, "vol-ro-new"): "<missing>",
	} {
		b, err := os.ReadFile(path)
		gotS := string(b)
		if errors.Is(err, fs.ErrNotExist) {
			gotS = "<missing>"
		} else if err != nil {
			t.Fatal(err)
		}
		if gotS != want {
			t.Errorf("host %s = %q, want %q", path, gotS, want)
		}
	}
	if uid, gid := owner(t, filepath.Join(rw, "mine")); uid != 0 || gid != 0 {
		t.Errorf("file container root wrote in the volume is owned by %d:%d on the host, want 0:0", uid, gid)
	}
}

// mountOverlay mounts an overlay of lower, upper and work at dst, as
// containerd's snapshotter does before it calls the runtime, and unmounts it
// when the test ends if the test has not.
func mountOverlay(t *testing.T, lower, upper, work, dst string) {
	t.Helper()
	data := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", dst, "overlay", 0, data); err != nil {
		t.Fatalf("mount overlay at %s: %v", dst, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dst, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			t.Errorf("clean up overlay %s: %v", dst, err)
		}
	})
}

// TestUsernsOverlayRootfs proves item 4 with an overlay rootfs mounted the
// way containerd mounts one at <bundle>/rootfs before `create` (upper and
// work in one snapshot directory). Container root owns / and writes to it,
// and what it writes lands in the engine's own upper directory with the
// image's ids (0 on disk for container root, 1000 after a chown by a profile
// that keeps CAP_CHOWN), as without a user namespace; a deleted lower file
// leaves a whiteout there. A second create and start on the same engine
// overlay (docker stop, then start) sees the first run's writes. After each
// delete nothing of runcage's is mounted or left in the snapshot directory,
// and at the end the test unmounts the engine's overlay without MNT_DETACH
// (so EBUSY would fail it).
func TestUsernsOverlayRootfs(t *testing.T) {
	u := newUsernsEnv(t, "[profiles.chowner]\ncapabilities = [\"CAP_CHOWN\"]\n")
	before := mountsMentioning(t, u.dir)

	lower := filepath.Join(u.dir, "layer")
	if err := BuildRootfs(lower, RootfsOptions{Extra: map[string]string{"/bin/probe": probe.Path(t)}}); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(u.dir, "snapshots", "7")
	upper, work := filepath.Join(snap, "fs"), filepath.Join(snap, "work")
	mustMkdirOwned(t, snap, 0o700, 0, 0)
	for _, d := range []string{upper, work} {
		mustMkdirOwned(t, d, 0o755, 0, 0)
	}
	// What the engine put in its upper before the first start.
	mustWriteOwned(t, filepath.Join(upper, "previous-run"), "kept\n", 0o644, 0, 0)
	lowerBefore := treeEntries(t, lower)

	run1 := `
exec >/report-1 2>&1
set -e
echo "root-owner $(stat -c %u:%g /) $(stat -c %u:%g /etc/passwd)"
echo "previous $(cat /previous-run)"
echo written >/written-by-root
mkdir /newdir
rm /bin/probe
echo mine >/home-file
chown 1000:1000 /home-file
echo more >>/etc/passwd
echo "written-owner $(stat -c %u:%g /written-by-root) $(stat -c %u:%g /home-file)"
echo done
`
	run2 := `
exec >/report-2 2>&1
set -e
echo "run1 $(cat /written-by-root) $(stat -c %u:%g /home-file) $(tail -n 1 /etc/passwd)"
test ! -e /bin/probe && echo "probe-gone"
echo second >/written-by-run-2
echo done
`
	b, _ := u.bundle("ovl", BaseSpec(DockerDefaultCaps, "sh", "-c", run1), RootfsOptions{})
	rootfs := filepath.Join(b, "rootfs")
	if err := os.RemoveAll(rootfs); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	mountOverlay(t, lower, upper, work, rootfs)

	rt := u.rt("chowner")
	var rng uint32
	for i, script := range []string{run1, run2} {
		if i == 1 {
			// docker start: the same bundle and engine overlay, a new create.
			spec := BaseSpec(DockerDefaultCaps, "sh", "-c", script)
			data, err := MarshalSpec(spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteConfig(b, data); err != nil {
				t.Fatal(err)
			}
		}
		id := newID()
		u.deleteLater(rt, id)
		u.mustCreate(rt, b, id)
		// runcage's view: the layer id-mapped read-only, the snapshot
		// directory id-mapped, and an overlay with the engine's upper.
		mine := filepath.Join(u.stateDir, "mnt", id)
		parent := filepath.Join(mine, "private", "upper-parent")
		want := map[string]bool{filepath.Join(mine, "lower-0"): true, parent: true, filepath.Join(mine, "rootfs"): true}
		info, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(unescapeMountinfo(string(info)), "\n") {
			f := strings.Fields(l)
			if len(f) < 6 {
				continue
			}
			var ok bool
			switch f[4] {
			case filepath.Join(mine, "lower-0"):
				ok = strings.Contains(f[5], "idmapped") && strings.HasPrefix(f[5], "ro,") && f[3] == lower
			case parent:
				ok = strings.Contains(f[5], "idmapped") && strings.HasPrefix(f[5], "rw,") && f[3] == snap
			case filepath.Join(mine, "rootfs"):
				ok = strings.Contains(l, " - overlay ") && strings.Contains(f[5], "nosuid") &&
					strings.Contains(l, "lowerdir="+filepath.Join(mine, "lower-0")+",") &&
					strings.Contains(l, "upperdir="+filepath.Join(parent, "fs")+",") &&
					strings.Contains(l, "workdir="+filepath.Join(parent, "runcage-work"))
			}
			if ok {
				delete(want, f[4])
			}
		}
		if len(want) > 0 {
			t.Errorf("run %d: missing mounts: %v; mountinfo lines mentioning the test's directory:\n%s", i+1, want, strings.Join(mountsMentioning(t, u.dir), "\n"))
		}
		if res := rt.Exec(invokeTimeout, "start", id); res.Exit != 0 {
			t.Fatalf("start: %s", res)
		}
		waitStopped(t, rt, id)
		if rng == 0 {
			al := u.allocations()
			pod, ok := al.podOf(id)
			if !ok {
				t.Fatalf("container %s has no allocation: %+v", id, al)
			}
			rng = al.Pods[pod].Ranges[0].Size
		}
		if res := rt.Exec(invokeTimeout, "delete", id); res.Exit != 0 {
			t.Fatalf("delete: %s", res)
		}
		if _, err := os.Lstat(mine); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("runcage's mount dir for %s survives delete: %v", id, err)
		}
		if left := mountsMentioning(t, u.stateDir); len(left) != 0 {
			t.Errorf("runcage mounts left after delete: %v", left)
		}
		if entries, err := os.ReadDir(snap); err != nil || len(entries) != 2 {
			t.Errorf("after delete the snapshot directory holds %v (%v), want fs and work", entries, err)
		}
	}

	// Both runs wrote their reports into their rootfs: the engine's upper.
	report1, report2 := FileText(filepath.Join(upper, "report-1")), FileText(filepath.Join(upper, "report-2"))
	t.Logf("run 1:\n%s\nrun 2:\n%s", report1, report2)
	for _, want := range []string{"root-owner 0:0 0:0\n", "previous kept\n", "written-owner 0:0 1000:1000\n", "done\n"} {
		if !strings.Contains(report1, want) {
			t.Errorf("run 1's report lacks %q", want)
		}
	}
	for _, want := range []string{"run1 written 1000:1000 more\n", "probe-gone\n", "done\n"} {
		if !strings.Contains(report2, want) {
			t.Errorf("run 2's report lacks %q", want)
		}
	}
	// On disk: the image's ids, as without a user namespace.
	for p, id := range map[string]uint32{"written-by-root": 0, "newdir": 0, "etc/passwd": 0, "home-file": 1000, "written-by-run-2": 0, "report-1": 0} {
		if uid, gid := owner(t, filepath.Join(upper, p)); uid != id || gid != id {
			t.Errorf("engine's upper %s: owner %d:%d, want %d:%d", p, uid, gid, id, id)
		}
	}
	// The whiteout of /bin/probe, made by overlayfs as the mounter, is
	// owned by the extra id (the range size) on disk.
	if fi, err := os.Lstat(filepath.Join(upper, "bin", "probe")); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Errorf("the engine's upper lacks the whiteout of /bin/probe: %v %v", fi, err)
	} else if uid, gid := owner(t, filepath.Join(upper, "bin", "probe")); uid != rng || gid != rng {
		t.Errorf("whiteout owned by %d:%d, want the extra id %d", uid, gid, rng)
	}
	if got := treeEntries(t, lower); !slices.Equal(got, lowerBefore) {
		t.Errorf("the lower layer changed")
	}
	// The engine sees the container's writes and unmounts its overlay
	// without EBUSY.
	for _, p := range []string{"written-by-root", "written-by-run-2", "newdir"} {
		if _, err := os.Lstat(filepath.Join(rootfs, p)); err != nil {
			t.Errorf("the engine's overlay does not show %s: %v", p, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "bin", "probe")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the engine's overlay still shows /bin/probe: %v", err)
	}
	if err := unix.Unmount(rootfs, 0); err != nil {
		t.Fatalf("unmount the engine's overlay after delete: %v", err)
	}
	if left := mountsMentioning(t, u.dir); !slices.Equal(left, before) {
		t.Errorf("mounts mentioning %s: before %v, after %v", u.dir, before, left)
	}
	if got := u.allocations(); len(got.Pods) != 0 {
		t.Errorf("allocations left after delete: %+v", got)
	}
}

// podSpec returns a spec running `sleep 600` whose container belongs to the
// CRI pod sandbox (no annotation if sandbox is empty).
func podSpec(sandbox string) *specs.Spec {
	s := BaseSpec(DockerDefaultCaps, "sleep", "600")
	if sandbox != "" {
		s.Annotations = map[string]string{"io.kubernetes.cri.sandbox-id": sandbox}
	}
	return s
}

// TestUsernsPodRanges proves item 5: two pods get disjoint ranges, two
// containers with the same io.kubernetes.cri.sandbox-id share one, and the
// pod's range is released only when its last container is deleted, as the
// allocation file under the policy's state_dir shows.
//
// As under the CRI, a pod's first container is its sandbox, whose
// annotation names itself, and the others name it and join its IPC and UTS
// namespaces by /proc path: the annotation alone is no evidence (a
// container that only names a pod gets a range of its own, see
// integration/adversarial).
func TestUsernsPodRanges(t *testing.T) {
	u := newUsernsEnv(t, "")
	rt := u.rt("")
	sandboxes := map[string]string{} // pod name -> its sandbox container's id
	create := func(name, pod string) (string, []idmap) {
		id := newID()
		s := podSpec(id)
		if sb, ok := sandboxes[pod]; ok {
			s = podSpec(sb)
			pid := u.initPid(rt, sb)
			for i, ns := range s.Linux.Namespaces {
				if ns.Type == specs.IPCNamespace || ns.Type == specs.UTSNamespace {
					s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/%s", pid, map[specs.LinuxNamespaceType]string{specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts"}[ns.Type])
				}
			}
		} else {
			sandboxes[pod] = id
		}
		b, _ := u.bundle(name, s, RootfsOptions{})
		u.deleteLater(rt, id)
		u.mustCreate(rt, b, id)
		return id, u.hostUIDMap(rt, id)
	}
	a1, mapA1 := create("a1", "pod-a")
	a2, mapA2 := create("a2", "pod-a")
	b1, mapB1 := create("b1", "pod-b")
	for _, m := range [][]idmap{mapA1, mapA2, mapB1} {
		if IsIdentityMap(m) || overlaps(m, []idmap{{HostID: 0, Size: 1}}) {
			t.Fatalf("bad map %v", m)
		}
	}
	if !slices.Equal(mapA1, mapA2) {
		t.Errorf("containers of one pod have different maps: %v, %v", mapA1, mapA2)
	}
	if overlaps(mapA1, mapB1) {
		t.Errorf("pods a and b share host ids: %v, %v", mapA1, mapB1)
	}
	st := u.allocations()
	if len(st.Pods) != 2 {
		t.Fatalf("want 2 pods allocated, got %+v", st)
	}
	if got := st.Pods[sandboxes["pod-a"]].Containers; !slices.Equal(got, []string{a1, a2}) {
		t.Errorf("pod-a's containers = %v, want %v", got, []string{a1, a2})
	}
	if got := st.Pods[sandboxes["pod-a"]].Ranges; len(got) != 1 || got[0].HostID != mapA1[0].HostID {
		t.Errorf("pod-a's ranges = %v, want the one at %d", got, mapA1[0].HostID)
	}
	if got := st.Pods[sandboxes["pod-b"]].Containers; !slices.Equal(got, []string{b1}) {
		t.Errorf("pod-b's containers = %v", got)
	}

	if res := rt.Exec(invokeTimeout, "delete", a1); res.Exit != 0 {
		t.Fatalf("delete: %s", res)
	}
	st = u.allocations()
	if got := st.Pods[sandboxes["pod-a"]].Containers; !slices.Equal(got, []string{a2}) {
		t.Fatalf("after deleting %s, pod-a's containers = %v, want [%s]", a1, got, a2)
	}
	// A new pod must not get pod-a's range while a2 still uses it.
	_, mapC := create("c1", "pod-c")
	if overlaps(mapC, mapA2) {
		t.Errorf("new pod c got %v, overlapping pod a's live %v", mapC, mapA2)
	}
	if got := u.hostUIDMap(rt, a2); !slices.Equal(got, mapA2) {
		t.Errorf("%s's map changed to %v", a2, got)
	}
	if res := rt.Exec(invokeTimeout, "delete", "--force", a2); res.Exit != 0 {
		t.Fatalf("delete: %s", res)
	}
	st = u.allocations()
	if _, ok := st.Pods[sandboxes["pod-a"]]; ok {
		t.Errorf("pod-a is still allocated after its last container was deleted: %+v", st.Pods[sandboxes["pod-a"]])
	}
	if _, ok := st.Pods[sandboxes["pod-b"]]; !ok {
		t.Errorf("pod-b lost its allocation: %+v", st)
	}
	// The freed range is handed out again.
	_, mapD := create("d1", "pod-d")
	if mapD[0].HostID != mapA1[0].HostID {
		t.Logf("pod d got %v rather than pod a's freed %v", mapD, mapA1)
	}
	if overlaps(mapD, mapB1) || overlaps(mapD, mapC) {
		t.Errorf("pod d's %v overlaps a live pod (b %v, c %v)", mapD, mapB1, mapC)
	}
}

// TestUsernsParallelCreate proves item 6: 50 containers created at once,
// each with its own id and bundle, under one state_dir, all succeed with
// pairwise disjoint host ranges (read from each container's init process),
// are all deleted, and leave no allocation, no mount and no mount directory.
func TestUsernsParallelCreate(t *testing.T) {
	const n = 50
	u := newUsernsEnv(t, "")
	rt := u.rt("")
	rt.Log = "" // 50 writers; errors are in each result's stderr
	ids := make([]string, n)
	bundles := make([]string, n)
	for i := range n {
		ids[i] = newID()
		bundles[i], _ = u.bundle(fmt.Sprintf("par-%d", i), podSpec(""), RootfsOptions{})
		u.deleteLater(rt, ids[i])
	}
	mountsBefore := mountsMentioning(t, u.dir)

	parallel := func(verb ...string) []Result {
		res := make([]Result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var argv []string
				if verb[0] == "create" {
					argv = []string{"create", "--bundle", bundles[i], ids[i]}
				} else {
					argv = append(slices.Clone(verb), ids[i])
				}
				res[i] = rt.Exec(2*invokeTimeout, argv...)
			}()
		}
		wg.Wait()
		return res
	}
	start := time.Now()
	for i, res := range parallel("create") {
		if res.Exit != 0 || res.Err != nil {
			t.Errorf("create #%d: %s", i, res)
		}
	}
	t.Logf("%d parallel creates took %v", n, time.Since(start))
	if t.Failed() {
		t.FailNow()
	}
	maps := make([][]idmap, n)
	for i := range n {
		maps[i] = u.hostUIDMap(rt, ids[i])
		if IsIdentityMap(maps[i]) || overlaps(maps[i], []idmap{{HostID: 0, Size: 1}}) {
			t.Errorf("%s: bad map %v", ids[i], maps[i])
		}
	}
	for i := range n {
		for j := i + 1; j < n; j++ {
			if overlaps(maps[i], maps[j]) {
				t.Errorf("containers %s %v and %s %v share host ids", ids[i], maps[i], ids[j], maps[j])
			}
		}
	}
	st := u.allocations()
	if len(st.Pods) != n {
		t.Errorf("allocation file holds %d pods, want %d", len(st.Pods), n)
	}
	for i, id := range ids {
		pod, ok := st.Pods[id]
		if !ok || len(pod.Ranges) != 1 || pod.Ranges[0].HostID != maps[i][0].HostID {
			t.Errorf("allocation of %s = %+v, want its live range %v", id, pod, maps[i])
		}
	}

	for i, res := range parallel("delete", "--force") {
		if res.Exit != 0 || res.Err != nil {
			t.Errorf("delete #%d: %s", i, res)
		}
	}
	if st := u.allocations(); len(st.Pods) != 0 {
		t.Errorf("allocations left after deleting all: %+v", st)
	}
	if left := treeEntries(t, filepath.Join(u.stateDir, "mnt")); len(left) != 0 {
		t.Errorf("mount directories left: %v", left)
	}
	if left := mountsMentioning(t, u.dir); !slices.Equal(left, mountsBefore) {
		t.Errorf("mounts before %v, after %v", mountsBefore, left)
	}
}

// TestUsernsCreateDeleteCycles proves item 7: 100 create/delete cycles
// under one state_dir, run by 4 workers at once (each with its own bundle),
// alternating `delete` of a created container and `delete --force` of a
// started (running) one, leave the same /proc/self/mountinfo entries
// mentioning the test's directory and the same files under the state
// directory as before, and no allocation.
func TestUsernsCreateDeleteCycles(t *testing.T) {
	const cycles, workers = 100, 4
	u := newUsernsEnv(t, "")
	rt := u.rt("")
	rt.Log = ""
	bundles := make([]string, workers)
	for w := range workers {
		bundles[w], _ = u.bundle(fmt.Sprintf("cycle-%d", w), podSpec(""), RootfsOptions{})
	}
	// cycle runs one create/delete cycle and returns what went wrong. A
	// container it could not delete is left to the test's cleanup.
	cycle := func(w, i int) error {
		id := fmt.Sprintf("cycle-%d-%d-%d", os.Getpid(), w, i)
		if res := rt.Exec(invokeTimeout, "create", "--bundle", bundles[w], id); res.Exit != 0 || res.Err != nil {
			return fmt.Errorf("cycle %d/%d: create: %s", w, i, res)
		}
		del := []string{"delete", id}
		if i%2 == 1 {
			if res := rt.Exec(invokeTimeout, "start", id); res.Exit != 0 || res.Err != nil {
				u.deleteLater(rt, id)
				return fmt.Errorf("cycle %d/%d: start: %s", w, i, res)
			}
			del = []string{"delete", "--force", id}
		}
		if res := rt.Exec(invokeTimeout, del...); res.Exit != 0 || res.Err != nil {
			u.deleteLater(rt, id)
			return fmt.Errorf("cycle %d/%d: %s: %s", w, i, del[:len(del)-1], res)
		}
		return nil
	}
	// The first cycle creates the state directory's skeleton (lock file,
	// directories, the seccomp cache); count after it.
	if err := cycle(0, -1); err != nil {
		t.Fatal(err)
	}
	mountsBefore := mountsMentioning(t, u.dir)
	filesBefore := treeEntries(t, u.stateDir)
	allMounts := func() int {
		b, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "\n")
	}
	totalBefore := allMounts()
	start := time.Now()
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < cycles; i += workers {
				if err := cycle(w, i); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d cycles (%d workers) took %v; all mountinfo lines before %d, after %d (other tests on the host may change this)",
		cycles, workers, time.Since(start), totalBefore, allMounts())
	if got := mountsMentioning(t, u.dir); !slices.Equal(got, mountsBefore) {
		t.Errorf("mountinfo entries mentioning %s: before %d %v, after %d %v", u.dir, len(mountsBefore), mountsBefore, len(got), got)
	}
	if got := treeEntries(t, u.stateDir); !slices.Equal(got, filesBefore) {
		t.Errorf("state dir entries: before %d %v, after %d %v", len(filesBefore), filesBefore, len(got), got)
	}
	t.Logf("state dir entries before and after: %v", filesBefore)
	if st := u.allocations(); len(st.Pods) != 0 {
		t.Errorf("allocations left: %+v", st)
	}
}

// refused runs create on bundle and checks that runcage refused it: exit 1
// and a last --log line at level error whose msg starts with "runcage: " and
// contains every one of subs. It returns the msg.
func (u *usernsEnv) refused(rt Runtime, bundle string, subs ...string) string {
	u.t.Helper()
	rt.Log = filepath.Join(u.dir, fmt.Sprintf("refusal-%d.log", idCounter.Add(1)))
	id := newID()
	u.deleteLater(rt, id)
	res := rt.Exec(invokeTimeout, "create", "--bundle", bundle, id)
	if res.Exit != 1 || res.Err != nil {
		u.t.Errorf("create was not refused (want exit 1):\n%s", res)
	}
	raw, lines, err := ReadLogLines(rt.Log)
	if err != nil || len(lines) == 0 {
		u.t.Fatalf("log %s: %v, %d lines; stderr %q", rt.Log, err, len(lines), res.Stderr)
	}
	last := lines[len(lines)-1]
	if last.Level != "error" || !strings.HasPrefix(last.Msg, "runcage: ") {
		u.t.Errorf("last log line is not a runcage error: %s", raw[len(raw)-1])
	}
	for _, s := range subs {
		if !strings.Contains(last.Msg, s) {
			u.t.Errorf("refusal %q lacks %q", last.Msg, s)
		}
	}
	u.t.Logf("refusal: %s", last.Msg)
	return last.Msg
}

// TestUsernsBundleMappings proves item 8: a bundle that brings its own user
// namespace (Kubernetes hostUsers: false) is validated. Good mappings are
// accepted and used unchanged; mappings that include host 0, overlap a live
// pod's range or map fewer than 65536 ids are refused with the reason in
// the --log JSON line, and leave nothing allocated.
func TestUsernsBundleMappings(t *testing.T) {
	u := newUsernsEnv(t, "")
	rt := u.rt("")
	withMaps := func(name string, uid, gid []idmap, args ...string) string {
		s := BaseSpec(DockerDefaultCaps, args...)
		withMappings(uid, gid)(u.testEnv, s)
		b, _ := u.bundle(name, s, RootfsOptions{})
		return b
	}
	const good = 1500000000
	goodMaps := []idmap{{ContainerID: 0, HostID: good, Size: 65536}}
	goodGIDs := []idmap{{ContainerID: 0, HostID: good + 65536, Size: 65536}}

	t.Run("accepted-unchanged", func(t *testing.T) {
		b := withMaps("good", goodMaps, goodGIDs, "sh", "-c", "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map")
		res := u.mustRun(rt, b, 0)
		uidText, gidText, _ := strings.Cut(res.Stdout, "--\n")
		gotUID, err1 := ParseIDMapText(uidText)
		gotGID, err2 := ParseIDMapText(gidText)
		if err1 != nil || err2 != nil || !slices.Equal(gotUID, goodMaps) || !slices.Equal(gotGID, goodGIDs) {
			t.Errorf("inside: uid_map %v gid_map %v (%v %v), want %v and %v", gotUID, gotGID, err1, err2, goodMaps, goodGIDs)
		}
	})

	// A live pod with a bundle mapping and a live pod with an injected range.
	bLive := withMaps("live-bundle", goodMaps, goodMaps, "sleep", "600")
	liveB := newID()
	u.deleteLater(rt, liveB)
	u.mustCreate(rt, bLive, liveB)
	bInj, _ := u.bundle("live-injected", podSpec(""), RootfsOptions{})
	liveI := newID()
	u.deleteLater(rt, liveI)
	u.mustCreate(rt, bInj, liveI)
	injMap := u.hostUIDMap(rt, liveI)
	if got := u.hostUIDMap(rt, liveB); !slices.Equal(got, goodMaps) {
		t.Fatalf("container with its own mapping runs with %v, want %v", got, goodMaps)
	}
	before := u.allocations()

	for _, c := range []struct {
		name     string
		uid, gid []idmap
		want     []string
	}{
		{"uid-host-0", []idmap{{ContainerID: 0, HostID: 0, Size: 65536}}, goodGIDs, []string{"uid", "host id 0"}},
		{"gid-host-0", []idmap{{ContainerID: 0, HostID: 1600000000, Size: 65536}}, []idmap{{ContainerID: 0, HostID: 0, Size: 65536}}, []string{"gid", "host id 0"}},
		{"host-0-in-second-line", []idmap{{ContainerID: 0, HostID: 1600000000, Size: 1000}, {ContainerID: 1000, HostID: 0, Size: 64536}}, goodGIDs, []string{"uid", "host id 0"}},
		{"overlaps-injected-pod", []idmap{{ContainerID: 0, HostID: injMap[0].HostID + 100, Size: 65536}}, []idmap{{ContainerID: 0, HostID: 1600000000, Size: 65536}}, []string{"uid", "overlap", liveI}},
		{"overlaps-bundle-pod", []idmap{{ContainerID: 0, HostID: 1600000000, Size: 65536}}, []idmap{{ContainerID: 0, HostID: good + 65535, Size: 65536}}, []string{"gid", "overlap", liveB}},
		{"too-small", []idmap{{ContainerID: 0, HostID: 1600000000, Size: 1000}}, []idmap{{ContainerID: 0, HostID: 1600000000, Size: 1000}}, []string{"uid", "1000", "65536"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := withMaps(c.name, c.uid, c.gid, "true")
			u.refused(rt, b, c.want...)
		})
	}
	after := u.allocations()
	if len(after.Pods) != len(before.Pods) {
		t.Errorf("refusals changed the allocations: before %+v, after %+v", before, after)
	}
	for _, id := range []string{liveB, liveI} {
		if res := rt.Exec(invokeTimeout, "delete", "--force", id); res.Exit != 0 {
			t.Errorf("delete: %s", res)
		}
	}
	if st := u.allocations(); len(st.Pods) != 0 {
		t.Errorf("allocations left: %+v", st)
	}
}

// TestUsernsDelegateWithoutIDMap proves item 9: when the delegate's
// `features` does not announce the idmap mount option, a bundle with a
// volume is refused with a message naming the delegate (never run without
// the id-mapping, never chowned), a bundle without one still runs (runcage
// id-maps the rootfs itself), and `runcage check` reports the delegate's
// lack.
func TestUsernsDelegateWithoutIDMap(t *testing.T) {
	e := newEnv(t)
	wrapper := filepath.Join(e.dir, "runc-no-idmap")
	script := "#!/bin/sh\n" +
		"# A runc that predates id-mapped mounts: features says so; everything else goes to the real runc.\n" +
		"if [ \"$1\" = features ]; then\n" +
		"\techo '{\"ociVersionMin\":\"1.0.0\",\"ociVersionMax\":\"1.1.0\",\"linux\":{\"mountExtensions\":{\"idmap\":{\"enabled\":false}}}}'\n" +
		"\texit 0\n" +
		"fi\n" +
		"exec " + e.bin.Runc + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(e.dir, "state")
	u := &usernsEnv{testEnv: e, stateDir: stateDir,
		policyPath: e.policy("runtime = " + strconv.Quote(wrapper) + "\nstate_dir = " + strconv.Quote(stateDir) + "\nvolume_roots = [" + strconv.Quote(e.dir) + "]\n")}
	rt := u.rt("")

	vol := filepath.Join(e.dir, "vol")
	mustMkdirOwned(t, vol, 0o755, 0, 0)
	s := BaseSpec(DockerDefaultCaps, "true")
	s.Mounts = append(s.Mounts, volumeMount(vol, "/vol", "rw"))
	b, _ := u.bundle("with-volume", s, RootfsOptions{})
	u.refused(rt, b, `"/vol"`, wrapper, "idmap")
	if st := u.allocations(); len(st.Pods) != 0 {
		t.Errorf("a refused create left allocations: %+v", st)
	}
	if left := treeEntries(t, filepath.Join(stateDir, "mnt")); len(left) != 0 {
		t.Errorf("a refused create left mount directories: %v", left)
	}

	plain, _ := u.bundle("no-volume", BaseSpec(DockerDefaultCaps, "cat", "/proc/self/uid_map"), RootfsOptions{})
	res := u.mustRun(rt, plain, 0)
	if m, err := ParseIDMapText(res.Stdout); err != nil || IsIdentityMap(m) {
		t.Errorf("container without volume under the idmap-less delegate: uid_map %q (%v)", res.Stdout, err)
	}

	chk := Runtime{Path: e.bin.Runcage, Env: rt.Env}.Exec(invokeTimeout, "check")
	t.Logf("runcage check:\n%s", chk.Stdout)
	if chk.Exit != 0 {
		t.Fatalf("check: %s", chk)
	}
	for _, want := range []string{
		"delegate:        " + wrapper,
		"idmap mount option: no (the delegate runtime " + wrapper + " does not support the idmap mount option",
		"user namespaces: ",
		"id-mapped mounts on " + stateDir + ": yes",
	} {
		if !strings.Contains(chk.Stdout, want) {
			t.Errorf("runcage check output lacks %q", want)
		}
	}
}

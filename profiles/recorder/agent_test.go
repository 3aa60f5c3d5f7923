package recorder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles/record"
)

// fakeNames resolves x86_64 numbers from a small table.
type fakeNames map[int32]string

func (f fakeNames) Name(arch uint32, nr int32) (string, string, bool) {
	n, ok := f[nr]
	return string(ociArch(arch, nr)), n, ok
}

// fakeTarget serves memory from a map of address → bytes.
type fakeTarget struct {
	mem   map[uint64][]byte
	cwd   string
	creds procCreds
	links map[string]string
}

func (f *fakeTarget) Read(pid uint32, addr uint64, buf []byte) (int, error) {
	b, ok := f.mem[addr]
	if !ok {
		return 0, errors.New("EFAULT")
	}
	return copy(buf, b), nil
}

func (f *fakeTarget) ReadString(pid uint32, addr uint64, max int) (string, error) {
	b, ok := f.mem[addr]
	if !ok {
		return "", errors.New("EFAULT")
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b), nil
}

func (f *fakeTarget) Dir(pid uint32, dirfd int32) (string, error) { return f.cwd, nil }
func (f *fakeTarget) Creds(pid uint32) (procCreds, error)         { return f.creds, nil }
func (f *fakeTarget) Exe(pid uint32) (string, error)              { return "/usr/bin/fake", nil }

// Resolve resolves the paths in f.links (path → resolved), others to
// themselves.
func (f *fakeTarget) Resolve(pid uint32, p string) (string, error) {
	if r, ok := f.links[p]; ok {
		return r, nil
	}
	return p, nil
}

const (
	nrRead    = 0
	nrOpen    = 2
	nrSocket  = 41
	nrBind    = 49
	nrClone   = 56
	nrChown   = 92
	nrSetuid  = 105
	nrMount   = 165
	nrUnshare = 272
	nrOpenat  = 257
)

var names = fakeNames{nrRead: "read", nrOpen: "open", nrSocket: "socket", nrBind: "bind", nrClone: "clone",
	nrChown: "chown", nrSetuid: "setuid", nrMount: "mount", nrUnshare: "unshare", nrOpenat: "openat"}

func u(v uint) *uint { return &v }

// testFilter allows read, open, openat, socket, bind, chown, setuid,
// clone without namespace flags; unshare fails with ENOSYS; the rest EPERM.
func testFilter() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "open", "openat", "socket", "bind", "chown", "setuid", "write"}, Action: specs.ActAllow},
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7E020000, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
			{Names: []string{"unshare"}, Action: specs.ActErrno, ErrnoRet: u(38)},
		},
	}
}

func notif(nr int32, args ...uint64) notification {
	n := notification{ID: 7, Pid: 42, Arch: 0xc000003e /* AUDIT_ARCH_X86_64 */, Nr: nr}
	copy(n.Args[:], args)
	return n
}

func cstr(s string) []byte { return append([]byte(s), 0) }

func TestFilterEval(t *testing.T) {
	ev, err := newFilterEval(testFilter())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args [6]uint64
		want verdict
	}{
		{"read", [6]uint64{}, verdict{allow: true}},
		{"mount", [6]uint64{}, verdict{errno: 1}},
		{"unshare", [6]uint64{}, verdict{errno: 38}},
		{"clone", [6]uint64{0x11}, verdict{allow: true}},
		{"clone", [6]uint64{0x10000000}, verdict{errno: 1}}, // CLONE_NEWUSER
	} {
		if got := ev.eval(c.name, c.args, false); got != c.want {
			t.Errorf("eval(%s, %#x) = %+v, want %+v", c.name, c.args[0], got, c.want)
		}
	}
	if !ev.conditional("clone") || ev.conditional("read") || ev.conditional("mount") {
		t.Errorf("conditional: clone %v read %v mount %v", ev.conditional("clone"), ev.conditional("read"), ev.conditional("mount"))
	}
	// Two conditions on one argument are two rules (runc's rule): either may match.
	or, _ := newFilterEval(&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{
		Names: []string{"personality"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}, {Index: 0, Value: 8, Op: specs.OpEqualTo}},
	}}})
	if !or.eval("personality", [6]uint64{8}, false).allow || or.eval("personality", [6]uint64{9}, false).allow {
		t.Errorf("conditions on one argument must be alternatives")
	}
	// 32-bit ABIs compare the low 32 bits only.
	if !ev.eval("clone", [6]uint64{0xffffffff00000011}, true).allow {
		t.Errorf("32-bit argument compared on 64 bits")
	}
}

func TestNotifyFilter(t *testing.T) {
	known := []string{"bind", "chown", "clone", "mount", "open", "openat", "read", "setuid", "socket", "unshare", "write", "ptrace"}
	rec, err := NotifyFilter(testFilter(), known, ModeRecord, "/run/x.sock")
	if err != nil {
		t.Fatal(err)
	}
	if rec.ListenerPath != "/run/x.sock" || rec.DefaultAction != specs.ActErrno {
		t.Errorf("listener %q default %q", rec.ListenerPath, rec.DefaultAction)
	}
	byAction := map[specs.LinuxSeccompAction][]string{}
	for _, sc := range rec.Syscalls {
		byAction[sc.Action] = append(byAction[sc.Action], sc.Names...)
	}
	notified := byAction[specs.ActNotify]
	for _, n := range []string{"read", "open", "clone", "mount", "ptrace", "setuid"} {
		if !slices.Contains(notified, n) {
			t.Errorf("record: %s not notified: %v", n, notified)
		}
	}
	for _, n := range []string{"write", "unshare"} {
		if slices.Contains(notified, n) {
			t.Errorf("record: %s notified (write never may; unshare is refused in the kernel)", n)
		}
	}
	if !slices.Contains(byAction[specs.ActAllow], "write") || !slices.Contains(byAction[specs.ActErrno], "unshare") {
		t.Errorf("record: write or unshare lost its rule: %+v", rec.Syscalls)
	}

	cmp, err := NotifyFilter(testFilter(), known, ModeComplain, "/run/x.sock")
	if err != nil {
		t.Fatal(err)
	}
	byAction = map[specs.LinuxSeccompAction][]string{}
	for _, sc := range cmp.Syscalls {
		byAction[sc.Action] = append(byAction[sc.Action], sc.Names...)
	}
	slices.Sort(byAction[specs.ActNotify])
	if want := []string{"clone", "mount", "ptrace"}; !slices.Equal(byAction[specs.ActNotify], want) {
		t.Errorf("complain notifies %v, want %v (the unknown ones and the argument-dependent clone)", byAction[specs.ActNotify], want)
	}
	if !slices.Contains(byAction[specs.ActAllow], "read") {
		t.Errorf("complain: read is not allowed in the kernel")
	}

	f := testFilter()
	f.ListenerPath = "/other.sock"
	if _, err := NotifyFilter(f, known, ModeRecord, "/run/x.sock"); !errors.Is(err, errHasListener) {
		t.Errorf("a bundle with its own listener: err = %v", err)
	}
}

func newTestHandler(t *testing.T, mode string, tgt *fakeTarget, audit *bytes.Buffer, now func() time.Time) *handler {
	t.Helper()
	var w interface{ Write([]byte) (int, error) }
	if audit != nil {
		w = audit
	}
	h, err := newHandler(AgentConfig{Mode: mode, Name: "web", Container: "c1", Profile: "p", Filter: testFilter()}, names, tgt, w, now)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHandlerRecord(t *testing.T) {
	var sa [16]byte
	binary.NativeEndian.PutUint16(sa[:], afInet)
	binary.BigEndian.PutUint16(sa[2:], 80)
	tgt := &fakeTarget{
		mem: map[uint64][]byte{
			0x1000: cstr("/etc/passwd"),
			0x2000: cstr("data/x.db"),
			0x3000: sa[:],
			0x4000: cstr("/srv/f"),
		},
		cwd:   "/var/lib",
		creds: procCreds{Uid: 1000, Euid: 1000, Suid: 1000, Fsuid: 1000, Gid: 1000, Egid: 1000},
	}
	h := newTestHandler(t, ModeRecord, tgt, nil, nil)
	valid := func() bool { return true }
	cases := []struct {
		n    notification
		want response
	}{
		{notif(nrRead), response{Continue: true}},
		{notif(nrRead), response{Continue: true}},
		{notif(nrOpen, 0x1000, 0), response{Continue: true}},
		{notif(nrOpenat, uint64(0xffffff9c), 0x2000, 0o101), response{Continue: true}}, // AT_FDCWD, O_WRONLY|O_CREAT
		{notif(nrSocket, afInet, 3, 1), response{Continue: true}},                      // SOCK_RAW
		{notif(nrBind, 3, 0x3000, 16), response{Continue: true}},
		{notif(nrChown, 0x4000, 0, 0xffffffff), response{Continue: true}},
		{notif(nrSetuid, 1000), response{Continue: true}},
		{notif(nrMount), response{Errno: 1}},
		{notif(nrClone, 0x10000000), response{Errno: 1}},
		{notif(999), response{Errno: 1}},
	}
	for _, c := range cases {
		if got := h.Handle(c.n, valid); got != c.want {
			t.Errorf("Handle(nr %d) = %+v, want %+v", c.n.Nr, got, c.want)
		}
	}
	tr := h.Trace(true)
	if tr.Syscalls["read"] != 2 || tr.Syscalls["mount"] != 0 || tr.Denied["mount"] != 1 || tr.Denied["clone"] != 1 {
		t.Errorf("counts: syscalls %v denied %v", tr.Syscalls, tr.Denied)
	}
	if !tr.Complete || tr.Name != "web" || !slices.Equal(tr.Containers, []string{"c1"}) || tr.Arch != "SCMP_ARCH_X86_64" {
		t.Errorf("trace header: %+v", tr)
	}
	wantFiles := []record.FileAccess{{Path: "/etc/passwd", Access: "r"}, {Path: "/srv/f", Access: "w"}, {Path: "/var/lib/data/x.db", Access: "cw"}}
	if !slices.Equal(tr.Files, wantFiles) {
		t.Errorf("files = %v, want %v", tr.Files, wantFiles)
	}
	if len(tr.Sockets) != 1 || tr.Sockets[0] != (record.Socket{Family: "AF_INET", Type: "SOCK_RAW", Protocol: 1}) {
		t.Errorf("sockets = %v", tr.Sockets)
	}
	for _, c := range []string{"CAP_NET_RAW", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"} {
		if len(tr.Capabilities[c]) == 0 {
			t.Errorf("no evidence for %s: %v", c, tr.Capabilities)
		}
	}
	if len(tr.Capabilities["CAP_SETUID"]) != 0 {
		t.Errorf("setuid to one's own uid is not evidence of CAP_SETUID: %v", tr.Capabilities)
	}
}

// A notification that is no longer valid after the read (the process died
// and its pid may be reused) must not add what was read.
func TestHandlerDiscardsStaleReads(t *testing.T) {
	tgt := &fakeTarget{mem: map[uint64][]byte{0x1000: cstr("/secret")}, cwd: "/"}
	h := newTestHandler(t, ModeRecord, tgt, nil, nil)
	h.Handle(notif(nrOpen, 0x1000, 0), func() bool { return false })
	tr := h.Trace(false)
	if len(tr.Files) != 0 || tr.Syscalls["open"] != 1 {
		t.Errorf("stale read kept: files %v syscalls %v", tr.Files, tr.Syscalls)
	}
}

func TestHandlerComplainAndEnforce(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	var buf bytes.Buffer
	h := newTestHandler(t, ModeComplain, &fakeTarget{}, &buf, now)
	for range 3 {
		if r := h.Handle(notif(nrMount), nil); !r.Continue {
			t.Fatalf("complain refused mount: %+v", r)
		}
	}
	if r := h.Handle(notif(nrClone, 0x11), nil); !r.Continue {
		t.Fatalf("complain refused an allowed clone")
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("want one line at first sight, got %d:\n%s", n, buf.String())
	}
	h.Flush(false) // within the throttle: nothing
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("count update not throttled:\n%s", buf.String())
	}
	clock = clock.Add(auditThrottle)
	h.Flush(false)
	tr, skipped, err := record.ParseAuditLog(&buf, "web")
	if err != nil || skipped != 0 {
		t.Fatal(err, skipped)
	}
	if tr.Syscalls["mount"] != 3 || len(tr.Syscalls) != 1 {
		t.Errorf("audit log gives %v, want mount=3 only", tr.Syscalls)
	}

	buf.Reset()
	h = newTestHandler(t, ModeEnforce, &fakeTarget{}, &buf, now)
	if r := h.Handle(notif(nrMount), nil); r.Continue || r.Errno != 1 {
		t.Errorf("enforce answered mount with %+v", r)
	}
	if r := h.Handle(notif(nrClone, 0x11), nil); !r.Continue {
		t.Errorf("enforce refused an allowed clone")
	}
	if !strings.Contains(buf.String(), `"action":"denied"`) || !strings.Contains(buf.String(), `"errno":1`) {
		t.Errorf("denial not logged: %s", buf.String())
	}
}

// Concurrent handlers (one goroutine per notify fd) must not race.
func TestHandlerConcurrent(t *testing.T) {
	h := newTestHandler(t, ModeRecord, &fakeTarget{mem: map[uint64][]byte{1: cstr("/a")}, cwd: "/"}, nil, nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				h.Handle(notif(nrOpen, 1, 0), func() bool { return true })
				h.Trace(false)
			}
		}()
	}
	wg.Wait()
	if got := h.Trace(true).Syscalls["open"]; got != 2000 {
		t.Errorf("open counted %d times, want 2000", got)
	}
}

func TestCleanPathAndAccess(t *testing.T) {
	for in, want := range map[string]string{"/a/b": "/a/b", "/a//b/": "/a/b", "/a/./b/../c": "/a/c", "/..": "/", "/": "/"} {
		if got := cleanPath(in); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
	for flags, want := range map[uint64]string{0: "r", 1: "w", 2: "rw", 0o1101: "wc", oPath: "s", 0o1000: "rw"} {
		if got := notifOpenAccess(flags); got != want {
			t.Errorf("access(%#o) = %q, want %q", flags, got, want)
		}
	}
	if ValidRecordingName("../x") == nil || ValidRecordingName("a/b") == nil || ValidRecordingName("redis-1.main") != nil {
		t.Errorf("ValidRecordingName accepts a path or refuses a name")
	}
}

func TestParseCreds(t *testing.T) {
	status := []byte("Name:\tx\nUid:\t100000\t100000\t100000\t100000\nGid:\t100033\t100033\t100033\t100033\nGroups:\t100033 100004\n")
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	c, err := parseCreds(status, m, m)
	if err != nil {
		t.Fatal(err)
	}
	if c.Euid != 0 || c.Egid != 33 || !slices.Equal(c.Groups, []uint32{33, 4}) {
		t.Errorf("creds = %+v", c)
	}
	if toInside(m, 5) != 65534 {
		t.Errorf("unmapped id not the overflow id")
	}
}

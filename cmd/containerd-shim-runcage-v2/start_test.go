package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/namespaces"
	runtimeoptions "github.com/containerd/containerd/pkg/runtimeoptions/v1"
	"github.com/containerd/containerd/runtime/v2/shim"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// TestSHA256 compares shimc.c's SHA-256 with Go's at every length across
// the padding boundaries, and on a large input.
func TestSHA256(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 1<<20+7)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for n := 0; n <= 300; n++ {
		if got, want := cSHA256(data[:n]), sha256.Sum256(data[:n]); got != want {
			t.Fatalf("length %d: %x, want %x", n, got, want)
		}
	}
	if got, want := cSHA256(data), sha256.Sum256(data); got != want {
		t.Fatalf("length %d: %x, want %x", len(data), got, want)
	}
}

// TestRuncOptionsURL checks that start.c leaves runc's options, whose
// ShimCgroup manager.Start honours, to Go by the type URL typeurl gives
// them.
func TestRuncOptionsURL(t *testing.T) {
	url, err := typeurl.TypeURL(&runcoptions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cRuncOptionsURL(); got != url {
		t.Errorf("start.c takes %q for runc's options, typeurl %q", got, url)
	}
}

// FuzzGrouping checks start.c's config.json scan against encoding/json,
// as manager.Start decodes the bundle's config.json: whatever the scan
// reads, Go must decode without error to the same grouping label.
func FuzzGrouping(f *testing.F) {
	for _, s := range []string{
		annotations("io.kubernetes.cri.sandbox-id", "sb1", "x", "y\u00e9"),
		annotations("io.containerd.runcage.v2.group", "g", "io.kubernetes.cri.sandbox-id", "s"),
		`{"ociVersion":"1.0","process":{"args":["a"],"n":-1.5e+3,"t":true,"f":false,"z":null},"linux":{"x":[[{}],[]]},"annotations":{}}`,
		`{"Annotations":{"io.kubernetes.cri.sandbox-id":"a"}}`, `{}`, `[]`, `{"annotations":null}`,
	} {
		f.Add([]byte(s))
	}
	labels := []string{"io.containerd.runcage.v2.group", "io.kubernetes.cri.sandbox-id"}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, found, ok := cGrouping(data)
		if !ok {
			return
		}
		var s struct {
			Annotations map[string]string `json:"annotations"`
		}
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&s); err != nil {
			t.Fatalf("start.c read %q, encoding/json fails: %v", data, err)
		}
		want, wantFound := "", false
		for _, l := range labels {
			if v, ok := s.Annotations[l]; ok {
				want, wantFound = v, true
				break
			}
		}
		if g != want || found != wantFound {
			t.Fatalf("start.c's grouping of %q is %q (found %v), encoding/json's %q (found %v)", data, g, found, want, wantFound)
		}
	})
}

const startAnswered = "runcage shim: start answered before Go started"

// startCase is one `start` run in a fresh bundle, with a fresh containerd
// address (so a socket of its own under /run/containerd/s).
type startCase struct {
	name   string
	config string   // config.json's text ("" writes none)
	flags  []string // more flags before "start"
	stdin  []byte
	setup  func(t *testing.T, b *startBundle)
	// answered is what start.c answers ("" leaves the call to Go).
	answered string
	// grouping is the grouping the address is derived from ("" is the id).
	grouping string
}

type startBundle struct {
	dir, address, id string
}

// socketPath is where shim.SocketAddress puts the socket for grouping.
func (b *startBundle) socketPath(t *testing.T, grouping string) string {
	t.Helper()
	a, err := shim.SocketAddress(namespaces.WithNamespace(context.Background(), "default"), b.address, grouping)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(a, "unix://")
}

func annotations(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(map[string]any{"ociVersion": "1.2.0", "process": map[string]any{"args": []string{"/bin/true"}, "env": []string{"A=1"}}, "annotations": m})
	return string(b)
}

func anyBytes(t *testing.T, m proto.Message) []byte {
	t.Helper()
	a, err := typeurl.MarshalAny(m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(&anypb.Any{TypeUrl: a.GetTypeUrl(), Value: a.GetValue()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStartBeforeGo runs the shim's `start` as containerd does (flags,
// the bundle as working directory, runtime options on standard input)
// and checks that start.c answers exactly the cases it is certain of,
// with what Go's manager.Start does: the printed address, the address
// file, the socket, and the server it starts (argv, environment, working
// directory, process group, OOM score, file descriptors); and that it
// leaves every other case to Go, handing Go the standard input it read.
func TestStartBeforeGo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: shim sockets live in /run/containerd/s")
	}
	bin := buildShim(t)
	if err := os.MkdirAll("/run/containerd/s", 0o600); err != nil {
		t.Fatal(err)
	}
	sandbox := annotations("io.kubernetes.cri.sandbox-id", "sb-0123abcd", "io.kubernetes.cri.container-type", "sandbox")
	opts := anyBytes(t, &runtimeoptions.Options{TypeUrl: "runcage", ConfigPath: "/etc/runcage/shim.toml"})
	for _, tc := range []startCase{
		{name: "pod sandbox", config: sandbox, answered: "new server", grouping: "sb-0123abcd"},
		{name: "runtime options", config: sandbox, stdin: opts, answered: "new server", grouping: "sb-0123abcd"},
		{name: "runc options without cgroup type", config: sandbox, stdin: anyBytes(t, &runtimeoptions.Options{ConfigPath: strings.Repeat("x", 5000)}), answered: "new server", grouping: "sb-0123abcd"},
		{name: "no group label", config: annotations("a", "b"), answered: "new server"},
		{name: "runcage group first", config: annotations("io.kubernetes.cri.sandbox-id", "sb1", "io.containerd.runcage.v2.group", "g1"), answered: "new server", grouping: "g1"},
		{name: "flags with =", config: sandbox, flags: []string{"--publish-binary=/x"}, answered: "new server", grouping: "sb-0123abcd"},
		{name: "group's server", config: sandbox, stdin: opts, answered: "group's server", grouping: "sb-0123abcd",
			setup: func(t *testing.T, b *startBundle) { listenUnix(t, b.socketPath(t, "sb-0123abcd"), true) }},
		{name: "dead socket", config: sandbox, answered: "new server", grouping: "sb-0123abcd",
			setup: func(t *testing.T, b *startBundle) { listenUnix(t, b.socketPath(t, "sb-0123abcd"), false) }},

		// Left to Go.
		{name: "debug", config: sandbox, flags: []string{"-debug"}, grouping: "sb-0123abcd"},
		{name: "unknown flag", config: sandbox, flags: []string{"-socket-dir", "/x"}},
		{name: "runc options", config: sandbox, stdin: anyBytes(t, &runcoptions.Options{BinaryName: "runc"}), grouping: "sb-0123abcd"},
		{name: "runc options' shim cgroup", config: sandbox, stdin: anyBytes(t, &runcoptions.Options{ShimCgroup: "/runcage-no-such-cgroup"})},
		{name: "bootstrap socket_dir", config: sandbox, stdin: nil /* set below */},
		{name: "config.json symlink", setup: func(t *testing.T, b *startBundle) {
			target := filepath.Join(t.TempDir(), "config.json")
			writeFile(t, target, sandbox)
			if err := os.Symlink(target, filepath.Join(b.dir, "config.json")); err != nil {
				t.Fatal(err)
			}
		}, grouping: "sb-0123abcd"},
		{name: "no config.json"},
		{name: "annotations in another case", config: `{"Annotations":{"io.kubernetes.cri.sandbox-id":"sb2"}}`, grouping: "sb2"},
		{name: "annotations twice", config: `{"annotations":{"io.kubernetes.cri.sandbox-id":"sb2"},"annotations":{"x":"y"}}`, grouping: "sb2"},
		{name: "escaped label", config: `{"annotations":{"io.kubernetes.cri.sandbox\u002did":"sb3"}}`, grouping: "sb3"},
		{name: "escaped value", config: `{"annotations":{"io.kubernetes.cri.sandbox-id":"sb\u0033"}}`, grouping: "sb3"},
		{name: "label not a plain name", config: annotations("io.kubernetes.cri.sandbox-id", "a/../b"), grouping: "a/../b"},
		{name: "annotation not a string", config: `{"annotations":{"io.kubernetes.cri.sandbox-id":"sb4","n":1}}`},
		{name: "annotations null", config: `{"annotations":null}`},
		{name: "trailing data", config: sandbox + `{}`, grouping: "sb-0123abcd"},
		{name: "deep nesting", config: `{"x":` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `,"annotations":{"io.kubernetes.cri.sandbox-id":"sb5"}}`, grouping: "sb5"},
		{name: "invalid JSON", config: `{"annotations":{"io.kubernetes.cri.sandbox-id":"sb6"},}`},
		{name: "not clean address", config: sandbox, grouping: "sb-0123abcd"},
		{name: "turned off", config: sandbox, flags: nil, grouping: "sb-0123abcd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &startBundle{dir: filepath.Join(t.TempDir(), "task-1"), address: filepath.Join(t.TempDir(), "containerd.sock"), id: "task-1"}
			if tc.name == "not clean address" {
				// filepath.Join cleans it; start.c leaves it to Go.
				b.address = strings.Replace(b.address, "/", "//", 2)
			}
			if err := os.Mkdir(b.dir, 0o711); err != nil {
				t.Fatal(err)
			}
			// The server's log: a FIFO nobody reads keeps it waiting.
			if err := syscall.Mkfifo(filepath.Join(b.dir, "log"), 0o700); err != nil {
				t.Fatal(err)
			}
			if tc.config != "" {
				writeFile(t, filepath.Join(b.dir, "config.json"), tc.config)
			}
			if tc.setup != nil {
				tc.setup(t, b)
			}
			stdin := tc.stdin
			socketDir := ""
			if tc.name == "bootstrap socket_dir" {
				// A short directory: a socket path has at most 107 bytes.
				var err error
				if socketDir, err = os.MkdirTemp("/tmp", "rs"); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.RemoveAll(socketDir) })
				stdin = bootstrapParams(socketDir, opts)
			}
			t.Cleanup(func() { killServers(t, bin, b.address) })
			argv := append([]string{"-namespace", "default", "-address", b.address, "-publish-binary", "/usr/bin/containerd", "-id", b.id}, tc.flags...)
			argv = append(argv, "start")
			fastEnv := "RUNCAGE_SHIM_NO_FASTPATH=0"
			if tc.name == "turned off" {
				fastEnv = "RUNCAGE_SHIM_NO_FASTPATH=1"
			}
			fast := runStart(t, bin, b, argv, stdin, fastEnv)
			got := ""
			if i := strings.Index(fast.stderr, startAnswered+": "); i >= 0 {
				got = strings.TrimSpace(fast.stderr[i+len(startAnswered)+2:])
			}
			if got != tc.answered {
				t.Fatalf("start.c answered %q, want %q; exit %d, stdout %q, stderr:\n%s", got, tc.answered, fast.exit, fast.stdout, fast.stderr)
			}
			if tc.answered == "" {
				checkGoStart(t, tc, b, fast, socketDir)
				return
			}
			if tc.answered == "new server" {
				// Go's run gets the same state: the fast server gone and
				// its socket dead, which both paths replace.
				killServers(t, bin, b.address)
			}
			slow := runStart(t, bin, b, argv, stdin, "RUNCAGE_SHIM_NO_FASTPATH=1")
			if strings.Contains(slow.stderr, startAnswered) || slow.exit != 0 {
				t.Fatalf("start in Go: exit %d, stderr:\n%s", slow.exit, slow.stderr)
			}
			grouping := tc.grouping
			if grouping == "" {
				grouping = b.id
			}
			if want := "unix://" + b.socketPath(t, grouping); fast.stdout != want || slow.stdout != want {
				t.Errorf("printed %q, Go %q, want %q", fast.stdout, slow.stdout, want)
			}
			if fast.addressFile != slow.addressFile {
				t.Errorf("address file %s, Go's %s", fast.addressFile, slow.addressFile)
			}
			if testing.Verbose() {
				t.Logf("server:\n%s", fast.server)
			}
			if tc.answered == "new server" {
				if diff := diffLines(fast.server, slow.server); diff != "" {
					t.Errorf("the server start.c started differs from Go's (-C +Go):\n%s", diff)
				}
			}
			if tc.answered == "group's server" && (fast.server != "" || slow.server != "") {
				t.Errorf("a server was started for a live group socket")
			}
		})
	}
}

// checkGoStart checks a start left to Go: it did what Go does on its own,
// which shows that Go got the standard input start.c read.
func checkGoStart(t *testing.T, tc startCase, b *startBundle, r startRun, socketDir string) {
	t.Helper()
	switch {
	case tc.name == "unknown flag":
		if r.exit == 0 {
			t.Errorf("start with an unknown flag succeeded: %q", r.stdout)
		}
	case strings.Contains(tc.name, "shim cgroup"):
		if r.exit == 0 || !strings.Contains(r.stderr, "runcage-no-such-cgroup") {
			t.Errorf("start with a shim cgroup that does not exist: exit %d, stderr %q; want Go's refusal naming it", r.exit, r.stderr)
		}
	case socketDir != "":
		if want := "unix://" + filepath.Join(socketDir, filepath.Base(b.socketPath(t, "sb-0123abcd"))); r.exit != 0 || r.stdout != want {
			t.Errorf("start with socket_dir: exit %d, printed %q, want %q; stderr:\n%s", r.exit, r.stdout, want, r.stderr)
		}
	default:
		grouping := tc.grouping
		if grouping == "" {
			grouping = b.id
		}
		if want := "unix://" + b.socketPath(t, grouping); r.exit != 0 || r.stdout != want {
			t.Errorf("start: exit %d, printed %q, want %q; stderr:\n%s", r.exit, r.stdout, want, r.stderr)
		}
	}
}

// bootstrapParams is containerd 2.3's BootstrapParams with socket_dir
// and the runtime options as an extension.
func bootstrapParams(socketDir string, opts []byte) []byte {
	var b []byte
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendString(b, "2.3.0")
	b = protowire.AppendTag(b, 5, protowire.BytesType)
	b = protowire.AppendString(b, "/run/containerd/containerd.sock")
	b = protowire.AppendTag(b, 6, protowire.BytesType)
	b = protowire.AppendString(b, "/run/containerd/containerd.sock.ttrpc")
	var ext []byte
	ext = protowire.AppendTag(ext, 1, protowire.BytesType)
	ext = protowire.AppendBytes(ext, opts)
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendBytes(b, ext)
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	return protowire.AppendString(b, socketDir)
}

// startRun is what one `start` did.
type startRun struct {
	exit           int
	stdout, stderr string
	// addressFile is the address file's mode and text.
	addressFile string
	// server describes the server started, one fact a line ("" if none).
	server string
}

func runStart(t *testing.T, bin string, b *startBundle, argv []string, stdin []byte, env string) startRun {
	t.Helper()
	os.Remove(filepath.Join(b.dir, "address"))
	cmd := exec.Command(bin, argv...)
	cmd.Dir = b.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "RUNCAGE_SHIM_FASTPATH_TRACE=1", env, "GOMAXPROCS=7", "Z=1"}
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := startRun{stdout: stdout.String(), stderr: stderr.String()}
	if sock, ok := strings.CutPrefix(r.stdout, "unix://"); ok && filepath.Dir(sock) != "." {
		// The server is killed at the end (killServers); its socket stays.
		t.Cleanup(func() { os.Remove(sock) })
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			r.exit = ee.ExitCode()
		} else {
			t.Fatal(err)
		}
	}
	if st, err := os.Lstat(filepath.Join(b.dir, "address")); err == nil {
		data, _ := os.ReadFile(filepath.Join(b.dir, "address"))
		r.addressFile = st.Mode().String() + " " + string(data)
	}
	if entries, _ := os.ReadDir(b.dir); len(entries) > 0 {
		for _, e := range entries {
			if n := e.Name(); n != "address" && n != "config.json" && n != "log" {
				t.Errorf("start left %s in the bundle", n)
			}
		}
	}
	pids := servers(bin, b.address)
	// A server just started may not show its command line yet on a
	// loaded machine.
	for i := 0; len(pids) == 0 && i < 50; i++ {
		time.Sleep(20 * time.Millisecond)
		pids = servers(bin, b.address)
	}
	if len(pids) > 1 {
		t.Errorf("%d servers running", len(pids))
	} else if len(pids) == 1 {
		r.server = describeServer(t, pids[0], strings.TrimPrefix(r.stdout, "unix://"))
	}
	return r
}

// servers returns the pids of the shim servers running bin for address.
func servers(bin, address string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(string(data), "\x00")
		if err == nil && args[0] == bin && slices.Contains(args, address) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killServers kills the servers started for address and removes their
// socket.
func killServers(t *testing.T, bin, address string) {
	for _, pid := range servers(bin, address) {
		syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 100; i++ {
			// Gone, or a zombie of whoever adopted it.
			stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
			if err != nil || bytes.Contains(stat, []byte(") Z ")) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// describeServer describes server pid, once its set of open files has
// stopped changing: argv, environment, working directory, whether it
// leads its own process group, OOM score, each open fd's kind and flags,
// and whether fd 3 is the socket at sock, listening.
func describeServer(t *testing.T, pid int, sock string) string {
	t.Helper()
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	fds := func() string {
		entries, _ := os.ReadDir(filepath.Join(proc, "fd"))
		var lines []string
		for _, e := range entries {
			target, _ := os.Readlink(filepath.Join(proc, "fd", e.Name()))
			if i := strings.Index(target, ":["); i > 0 && (strings.HasPrefix(target, "socket") || strings.HasPrefix(target, "pipe")) {
				target = target[:i]
			}
			info, _ := os.ReadFile(filepath.Join(proc, "fdinfo", e.Name()))
			flags := ""
			for _, l := range strings.Split(string(info), "\n") {
				if strings.HasPrefix(l, "flags:") {
					flags = strings.TrimSpace(strings.TrimPrefix(l, "flags:"))
				}
			}
			lines = append(lines, "fd "+e.Name()+" "+target+" flags "+flags)
		}
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	prev := fds()
	for i := 0; i < 40; i++ {
		time.Sleep(50 * time.Millisecond)
		cur := fds()
		if cur == prev && strings.Contains(cur, "/log ") {
			break
		}
		prev = cur
	}
	cmdline, _ := os.ReadFile(filepath.Join(proc, "cmdline"))
	environ, _ := os.ReadFile(filepath.Join(proc, "environ"))
	cwd, _ := os.Readlink(filepath.Join(proc, "cwd"))
	stat, _ := os.ReadFile(filepath.Join(proc, "stat"))
	oom, _ := os.ReadFile(filepath.Join(proc, "oom_score_adj"))
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	env := strings.ReplaceAll(strings.ReplaceAll(string(environ), "RUNCAGE_SHIM_NO_FASTPATH=0", "RUNCAGE_SHIM_NO_FASTPATH=?"), "RUNCAGE_SHIM_NO_FASTPATH=1", "RUNCAGE_SHIM_NO_FASTPATH=?")
	var st syscall.Stat_t
	fd3 := "fd 3 is not the socket"
	if err := syscall.Stat(filepath.Join(proc, "fd", "3"), &st); err == nil {
		var sst syscall.Stat_t
		if syscall.Lstat(sock, &sst) == nil && listening(sock, st.Ino) {
			fd3 = "fd 3 is the socket, listening, mode " + strconv.FormatUint(uint64(sst.Mode), 8)
		}
	}
	return strings.Join([]string{
		"argv " + strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " "),
		"env " + strings.ReplaceAll(strings.TrimRight(env, "\x00"), "\x00", " "),
		"cwd " + cwd,
		"own process group " + strconv.FormatBool(len(f) > 2 && f[2] == strconv.Itoa(pid)),
		"oom_score_adj " + strings.TrimSpace(string(oom)),
		fd3,
		fds(),
	}, "\n")
}

// listening reports whether the unix socket inode ino is bound to path
// and listening (/proc/net/unix).
func listening(path string, ino uint64) bool {
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		// Num RefCount Protocol Flags Type St Inode Path; flags 00010000 is __SO_ACCEPTCON.
		if len(f) == 8 && f[7] == path && f[6] == strconv.FormatUint(ino, 10) && f[3] == "00010000" {
			return true
		}
	}
	return false
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range al {
		if !slices.Contains(bl, l) {
			out = append(out, "-"+l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			out = append(out, "+"+l)
		}
	}
	return strings.Join(out, "\n")
}

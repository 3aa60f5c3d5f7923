package runtime

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startWarmServer runs a warm front for a new state directory in this
// process (the test binary is its own build, so it accepts itself as a
// caller) and stops it when the test ends.
func startWarmServer(t *testing.T) (sock string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the warm front serves root only: run the unit tests as root")
	}
	state := t.TempDir()
	sock, err := warmSocket(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(sock) >= len(unix.RawSockaddrUnix{}.Path) {
		t.Skipf("temporary directory too deep for a socket path: %s", sock)
	}
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { done <- runWarm(sock) }()
	t.Cleanup(func() {
		os.Remove(sock)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the warm front did not stop when its socket was removed")
		}
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		if i > 500 {
			t.Fatal("the warm front did not listen")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// warmExchange sends msg with fds to sock and returns the answer's fields.
func warmExchange(t *testing.T, sock string, msg []byte, fds []int) []string {
	t.Helper()
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := c.WriteMsgUnix(msg, oob, nil); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	f, err := readWarm(c, nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	return f
}

func warmMsg(fields ...string) []byte {
	return []byte(warmMagic + "\x00" + strings.Join(fields, "\x00") + "\x00")
}

// TestWarmRefusesMalformed: anything but a well-formed request with its two
// descriptors is answered "go", having done nothing.
func TestWarmRefusesMalformed(t *testing.T) {
	sock := startWarmServer(t)
	cwd, err := os.Open(".")
	if err != nil {
		t.Fatal(err)
	}
	defer cwd.Close()
	fds := []int{2, int(cwd.Fd())}
	good := func(argv ...string) []string {
		return append([]string{"", "/bin/true", strconv.Itoa(len(argv))}, argv...)
	}
	for _, c := range []struct {
		name string
		msg  []byte
		fds  []int
	}{
		{"no descriptors", warmMsg(good("runcage", "create", "x")...), nil},
		{"one descriptor", warmMsg(good("runcage", "create", "x")...), fds[:1]},
		{"wrong magic", []byte("RCW0\x00\x00/bin/true\x001\x00runcage\x00"), fds},
		{"no final NUL", warmMsg(good("runcage", "create", "x")...)[:20], fds},
		{"argc too large", warmMsg("", "/bin/true", "9", "runcage", "create"), fds},
		{"argc not a number", warmMsg("", "/bin/true", "x", "runcage"), fds},
		{"a verb it does not serve", warmMsg(good("runcage", "state", "x")...), fds},
		{"help", warmMsg(good("runcage", "create", "--help")...), fds},
		{"an agent's argv", warmMsg(good(agentArgv0, agentFlag, "/x")...), fds},
	} {
		if f := warmExchange(t, sock, c.msg, c.fds); len(f) != 1 || f[0] != "go" {
			t.Errorf("%s: answer %q, want go", c.name, f)
		}
	}
}

// TestWarmReportsToCaller: a refusal reaches the caller's stderr (the
// descriptor it passed) and exit status.
func TestWarmReportsToCaller(t *testing.T) {
	sock := startWarmServer(t)
	cwd, err := os.Open(".")
	if err != nil {
		t.Fatal(err)
	}
	defer cwd.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	missing := filepath.Join(t.TempDir(), "missing.toml")
	f := warmExchange(t, sock, warmMsg(missing, "/bin/true", "3", "runcage", "create", "x"), []int{int(w.Fd()), int(cwd.Fd())})
	w.Close()
	if len(f) != 2 || f[0] != "exit" || f[1] != "1" {
		t.Errorf("answer %q, want exit 1", f)
	}
	msg, _ := io.ReadAll(r)
	if !strings.Contains(string(msg), "load policy") || !strings.Contains(string(msg), missing) {
		t.Errorf("caller's stderr got %q", msg)
	}
}

func TestInCwd(t *testing.T) {
	for _, c := range []struct {
		p     string
		empty bool
		want  string
	}{
		{"", true, "/w"}, {"", false, ""}, {"b", true, "/w/b"}, {"../b", false, "/b"}, {"/abs", true, "/abs"},
	} {
		if got := inCwd("/w", c.p, c.empty); got != c.want {
			t.Errorf("inCwd(/w, %q, %v) = %q, want %q", c.p, c.empty, got, c.want)
		}
	}
}

// warmClientEnv makes the test binary (see TestMain) a client of the warm
// front at its value: it sends a well-formed create request and prints
// the answer's fields, or the error.
const warmClientEnv = "RUNCAGE_TEST_WARM_CLIENT"

func warmClientMain(sock string) int {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		fmt.Println("dial:", err)
		return 0
	}
	defer c.Close()
	cwd, err := os.Open("/")
	if err != nil {
		fmt.Println("open:", err)
		return 0
	}
	// A policy for the server's state directory, and an id runc refuses:
	// served, the request is refused.
	msg := warmMsg(os.Getenv(warmClientEnv+"_POLICY"), "/bin/true", "3", "runcage", "create", "x/y")
	if _, _, err := c.WriteMsgUnix(msg, unix.UnixRights(2, int(cwd.Fd())), nil); err != nil {
		fmt.Println("write:", err)
		return 0
	}
	f, err := readWarm(c, nil)
	if err != nil {
		fmt.Println("read:", err)
		return 0
	}
	fmt.Println(strings.Join(f, " "))
	return 0
}

// TestWarmServesRootOnly: a process that is not root cannot reach the
// socket (its directory is root's, 0700), and where it could (the
// directory opened up here on purpose) the server answers it "go" and
// does nothing. Root's request, the control, is served.
func TestWarmServesRootOnly(t *testing.T) {
	sock := startWarmServer(t)
	state := filepath.Dir(filepath.Dir(sock))
	policy := filepath.Join(state, "policy.toml")
	if err := os.WriteFile(policy, []byte("runtime = \"/bin/true\"\nstate_dir = \""+state+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	client := func(cred *syscall.Credential) string {
		cmd := exec.Command("/proc/self/exe", "-test.run=^$")
		cmd.Env = []string{warmClientEnv + "=" + sock, warmClientEnv + "_POLICY=" + policy}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("client: %v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	if got := client(nobody); !strings.Contains(got, "permission denied") {
		t.Errorf("nobody reached the warm socket: %q", got)
	}
	// The refusal goes to the client's stderr, then the answer.
	if got := client(nil); !strings.HasSuffix(got, "\nexit 1") || !strings.Contains(got, "not a valid runc container id") {
		t.Errorf("root's request was not served: %q, want its refusal and exit 1", got)
	}
	// Opened up: only the peer check stands.
	for _, p := range []string{filepath.Dir(state), state, filepath.Dir(sock), sock} {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if got := client(nobody); got != "go" {
		t.Errorf("nobody's request, with the socket open to it, answered %q, want go", got)
	}
}

package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The warm front.
//
// runcage's create and delete do their work in a fresh Go process: about
// 10 ms to start the Go runtime, and create's transaction costs about
// 20 ms in a cold process against 4 ms in a warm one (page faults, first
// use of every table). The warm front is one long-lived runcage process per
// build and state directory that does that work for the C constructor of
// cmd/runcage (fastpath.c, warm.c), which then runs the delegate itself:
//
//  1. The constructor connects to <state_dir>/warm/<build>.sock (a
//     SOCK_SEQPACKET socket; <build> hashes the identity of the executable
//     file, so a new build never talks to an old server) and sends argv,
//     RUNCAGE_CONFIG, the delegate it found, and, as SCM_RIGHTS, its
//     stderr and an O_PATH descriptor of its working directory.
//  2. The server checks the peer (uid 0, the same build, the same mount
//     and user namespaces and root directory), scans argv, loads the
//     policy and runs exactly what the Go front runs before the delegate
//     (harden), writing errors to the caller's --log file and stderr.
//  3. It answers "go" (nothing was done: the constructor leaves the
//     invocation to the Go front), "exit CODE" (refused), "exec PATH ARGV"
//     (nothing to do afterwards) or "spawn MODE PATH ARGV": the constructor
//     starts the delegate as its own child, forwards signals to it as
//     superviseDelegate does, and sends back its exit status; the server
//     then does the work after it (release the container id's lock, undo a
//     failed create, clean up after delete) and answers "exit CODE".
//
// The delegate is always the caller's child, in the caller's cgroup, with
// the caller's environment, descriptors and working directory, as on the
// Go front. If the caller goes away before it reports the delegate's
// status, the server releases the lock and undoes nothing, as when the Go
// front is killed; delete cleans up later.
//
// Nobody configures the server: the Go front starts it, detached, after a
// create, run or delete for which the constructor found no socket, and it
// exits after warmIdle without a request, or as soon as its socket is
// removed or replaced. RUNCAGE_NO_FASTPATH=1 turns the constructor off and
// with it the warm front.
const (
	warmArgv0    = "runcage[warm]"
	warmDir      = "warm"
	warmMagic    = "RCW1"
	warmMaxMsg   = 128 << 10
	warmIdle     = 5 * time.Minute
	warmReadWait = 10 * time.Second
	// warmMaxConns bounds the connections served at once; a foreground
	// run holds one for its container's life. Beyond it a caller is told
	// "go" and runs the Go front.
	warmMaxConns = 512
)

// warmSocket returns the warm front's socket for the running executable
// under stateDir: <stateDir>/warm/<16 hex digits>.sock, the FNV-1a 64 hash
// of "dev:ino:size:mtime:ctime" of /proc/self/exe. warm.c computes the
// same name; keep the two in step.
func warmSocket(stateDir string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return "", fmt.Errorf("identify executable: %w", err)
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d:%d:%d:%d.%d:%d.%d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
	return filepath.Join(stateDir, warmDir, fmt.Sprintf("%016x.sock", h.Sum64())), nil
}

// warmMissing is set by cmd/runcage when its constructor tried the warm
// front for this invocation and found no server listening.
var warmMissing bool

// NoteWarmMissing tells the front that the constructor found no warm
// front for this invocation, so that it starts one (see startWarm).
func NoteWarmMissing() { warmMissing = true }

// maybeStartWarm starts the warm front for stateDir when the constructor
// found none for this create, run or delete. It never fails the
// invocation: the front is only faster, never needed.
func maybeStartWarm(inv *Invocation, stateDir string) {
	if !warmMissing {
		return
	}
	warmMissing = false
	switch inv.Verb {
	case "create", "run", "delete":
		startWarm(stateDir)
	}
}

// startWarm starts a warm front for stateDir, detached (a new session,
// stdio /dev/null, working directory "/", only PATH from the environment,
// which findDelegate reads), and does not wait for it. A second one started
// at the same time exits at once (warmLock).
func startWarm(stateDir string) {
	sock, err := warmSocket(stateDir)
	if err != nil || len(sock) >= len(unix.RawSockaddrUnix{}.Path) {
		return
	}
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		return
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer devnull.Close()
	env := []string{}
	if p, ok := os.LookupEnv("PATH"); ok {
		env = append(env, "PATH="+p)
	}
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{warmArgv0, agentFlag, sock},
		Env:         env,
		Dir:         "/",
		Stdin:       devnull,
		Stdout:      devnull,
		Stderr:      devnull,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if cmd.Start() == nil {
		_ = cmd.Process.Release()
	}
}

// fileID is what identifies a file: its device and inode.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileID{}, err
	}
	return fileID{st.Dev, st.Ino}, nil
}

// exeIdentity is the identity warmSocket hashes, compared whole.
type exeIdentity struct {
	fileID
	size, mtime, ctime int64
}

func exeOf(path string) (exeIdentity, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return exeIdentity{}, err
	}
	return exeIdentity{fileID{st.Dev, st.Ino}, st.Size, st.Mtim.Nano(), st.Ctim.Nano()}, nil
}

// warmServer is the warm front's process.
type warmServer struct {
	stateDir string
	self     exeIdentity
	// The peer must be in the server's namespaces (warmNamespaces) and
	// have its root directory: what Create reads of "its own" process
	// (/proc/self/ns, mountinfo, the host's user namespace) is then the
	// caller's too. Its cgroups are read from the peer (policy.Env.Caller).
	ns   []fileID
	root fileID

	mu     sync.Mutex
	conns  int
	lastAt time.Time
}

// runWarm is the warm front's process: it serves sock until it has been
// idle for warmIdle or sock is no longer its socket. It exits 0 at once if
// another server holds sock's lock.
func runWarm(sock string) int {
	closeInherited(2) // it outlives the caller that started it
	debug.SetMemoryLimit(4 * memoryLimit)
	reapDetached = true // the agents Create starts are its children
	stateDir := filepath.Dir(filepath.Dir(sock))
	if want, err := warmSocket(stateDir); err != nil || want != sock {
		fmt.Fprintf(os.Stderr, "runcage-warm: %s is not this build's socket\n", sock)
		return 1
	}
	lockf, err := os.OpenFile(sock+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 1
	}
	defer lockf.Close()
	if unix.Flock(int(lockf.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return 0 // another one serves
	}
	w := &warmServer{stateDir: stateDir, lastAt: time.Now()}
	if w.self, err = exeOf("/proc/self/exe"); err != nil {
		return 1
	}
	if w.ns, w.root, err = namespacesOf("/proc/self"); err != nil {
		return 1
	}
	_ = os.Remove(sock)
	old := unix.Umask(0o077)
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	unix.Umask(old)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runcage-warm: %v\n", err)
		return 1
	}
	l.SetUnlinkOnClose(false)
	mine, err := statID(sock)
	if err != nil {
		return 1
	}
	go w.watch(l, sock, mine)
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return 0 // closed by watch
		}
		if !w.begin() {
			_ = writeWarm(c, "go")
			c.Close()
			continue
		}
		go func() {
			defer w.end()
			w.serve(c)
		}()
	}
}

// watch closes l, and removes sock if it is still the server's, once the
// server has been idle for warmIdle; it closes l at once when sock is gone
// or replaced (its state directory was removed, or a new server took it).
func (w *warmServer) watch(l *net.UnixListener, sock string, mine fileID) {
	for range time.Tick(2 * time.Second) {
		if id, err := statID(sock); err != nil || id != mine {
			l.Close()
			return
		}
		w.mu.Lock()
		idle := w.conns == 0 && time.Since(w.lastAt) > warmIdle
		w.mu.Unlock()
		if idle {
			_ = os.Remove(sock)
			l.Close()
			return
		}
	}
}

func (w *warmServer) begin() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conns >= warmMaxConns {
		return false
	}
	w.conns++
	w.lastAt = time.Now()
	return true
}

func (w *warmServer) end() {
	w.mu.Lock()
	w.conns--
	w.lastAt = time.Now()
	w.mu.Unlock()
}

// warmRequest is what the constructor sends.
type warmRequest struct {
	pid       int    // the caller, which starts the delegate
	envConfig string // RUNCAGE_CONFIG, "" if unset
	delegate  string // the delegate the constructor found
	argv      []string
	stderr    *os.File
	cwd       string // the caller's working directory, checked
}

// serve answers one caller. Every path answers it exactly once per
// message it sends; a panic becomes a refusal that releases what the
// invocation held.
func (w *warmServer) serve(c *net.UnixConn) {
	defer c.Close()
	var (
		after afterFunc
		lg    *logger
		inv   *Invocation
	)
	defer func() {
		if r := recover(); r != nil {
			if lg != nil {
				lg.errorf("internal error: %v", r)
			}
			if after != nil {
				_ = after(-1)
			}
			_ = writeWarm(c, "exit", "1")
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(warmReadWait))
	req, err := w.readRequest(c)
	if err != nil {
		_ = writeWarm(c, "go")
		return
	}
	defer req.stderr.Close()
	var reply []string
	inv, lg, reply, after = w.prepare(req)
	if lg != nil {
		defer lg.close()
	}
	if err := writeWarm(c, reply...); err != nil || after == nil {
		if after != nil {
			_ = after(-1)
		}
		return
	}
	// The delegate runs now, as the caller's child; a foreground run's
	// container lives as long as it does.
	_ = c.SetReadDeadline(time.Time{})
	code := -1
	if f, err := readWarm(c, nil); err == nil && len(f) == 2 && f[0] == "code" {
		if n, err := strconv.Atoi(f[1]); err == nil && n >= 0 && n <= 255 {
			code = n
		}
	}
	a := after
	after = nil // run once, even if it panics
	if err := a(code); err != nil {
		lg.errorf("%s", describe(inv, err))
	}
	if code >= 0 {
		_ = writeWarm(c, "exit", strconv.Itoa(code))
	}
}

// prepare is what run does before the delegate, for req. It answers "go"
// whenever it would not do exactly what the Go front does for the same
// invocation, and does that before it has changed anything.
func (w *warmServer) prepare(req *warmRequest) (*Invocation, *logger, []string, afterFunc) {
	goFront := []string{"go"}
	inv, err := Scan(req.argv)
	if err != nil || isAgent(req.argv) {
		return nil, nil, goFront, nil
	}
	switch inv.Verb {
	case "create", "run", "delete":
	default:
		return nil, nil, goFront, nil
	}
	if usage(inv) || inv.Version || inv.Help {
		return nil, nil, goFront, nil
	}
	// Paths the caller gave relative to its working directory.
	inv.Bundle = inCwd(req.cwd, inv.Bundle, true)
	inv.Global.Log = inCwd(req.cwd, inv.Global.Log, false)
	if inv.Global.Root != "" {
		inv.Global.Root = inCwd(req.cwd, inv.Global.Root, false)
	}
	path := req.envConfig
	if inv.Global.RuncageConfig != "" {
		path = inCwd(req.cwd, inv.Global.RuncageConfig, false)
	}
	lg := newLoggerTo(inv.Global, req.stderr)
	pol, err := LoadPolicyFile(path)
	if err != nil {
		lg.errorf("%v", err)
		return inv, lg, []string{"exit", "1"}, nil
	}
	if filepath.Clean(pol.StateDir) != w.stateDir {
		return inv, lg, goFront, nil
	}
	delegate, err := findDelegate(pol.Runtime)
	if err != nil || delegate != req.delegate {
		// The caller's PATH found another one, or none: the Go front
		// decides with the caller's environment.
		return inv, lg, goFront, nil
	}
	after, err := harden(inv, pol, lg, delegate, req.pid)
	if err != nil {
		lg.errorf("%s", describe(inv, err))
		return inv, lg, []string{"exit", "1"}, nil
	}
	argv := append([]string{delegate}, inv.Args...)
	if after == nil {
		return inv, lg, append([]string{"exec", delegate, strconv.Itoa(len(argv))}, argv...), nil
	}
	mode := "fatal"
	if forwardsEverySignal(inv) {
		mode = "all"
	}
	return inv, lg, append([]string{"spawn", mode, delegate, strconv.Itoa(len(argv))}, argv...), after
}

// inCwd makes p, as the caller gave it, absolute against its working
// directory cwd. An empty p stays empty, unless emptyIsCwd (runc's bundle
// default).
func inCwd(cwd, p string, emptyIsCwd bool) string {
	switch {
	case p == "" && emptyIsCwd:
		return cwd
	case p == "" || filepath.IsAbs(p):
		return p
	}
	return filepath.Join(cwd, p)
}

// readRequest reads and checks the caller's request.
func (w *warmServer) readRequest(c *net.UnixConn) (*warmRequest, error) {
	buf := make([]byte, warmMaxMsg)
	oob := make([]byte, unix.CmsgSpace(2*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	fds, ferr := parseRights(oob[:oobn])
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), "warm-fd")
	}
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	if ferr != nil || len(files) != 2 || flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		closeAll()
		return nil, errors.New("malformed request")
	}
	// Checked once the request is read, so that the caller reads the
	// answer rather than a reset connection.
	pid, err := w.checkPeer(c)
	if err != nil {
		closeAll()
		return nil, err
	}
	f, err := splitWarm(buf[:n])
	if err != nil || len(f) < 4 {
		closeAll()
		return nil, errors.New("malformed request")
	}
	argc, err := strconv.Atoi(f[2])
	if err != nil || argc < 1 || len(f) != 3+argc {
		closeAll()
		return nil, errors.New("malformed request")
	}
	cwd, err := dirOf(files[1])
	files[1].Close()
	if err != nil {
		files[0].Close()
		return nil, err
	}
	return &warmRequest{pid: pid, envConfig: f[0], delegate: f[1], argv: f[3:], stderr: files[0], cwd: cwd}, nil
}

// warmNamespaces are the namespaces a caller must share with the warm
// front.
var warmNamespaces = []string{"mnt", "user", "pid", "net", "ipc", "uts", "cgroup"}

// namespacesOf returns the identities of proc's warmNamespaces and root
// directory.
func namespacesOf(proc string) ([]fileID, fileID, error) {
	ids := make([]fileID, len(warmNamespaces))
	for i, n := range warmNamespaces {
		id, err := statID(proc + "/ns/" + n)
		if err != nil {
			return nil, fileID{}, err
		}
		ids[i] = id
	}
	root, err := statID(proc + "/root")
	return ids, root, err
}

// checkPeer returns the caller's pid. It refuses a caller that is not
// root, not this build, or not in the server's namespaces and root
// directory.
func (w *warmServer) checkPeer(c *net.UnixConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, cerr
	}
	if cred.Uid != 0 || cred.Pid <= 0 {
		return 0, errors.New("peer is not root")
	}
	proc := "/proc/" + strconv.Itoa(int(cred.Pid))
	if exe, err := exeOf(proc + "/exe"); err != nil || exe != w.self {
		return 0, errors.New("peer is another build")
	}
	ns, root, err := namespacesOf(proc)
	if err != nil || root != w.root || !slices.Equal(ns, w.ns) {
		return 0, errors.New("peer is in other namespaces")
	}
	return int(cred.Pid), nil
}

// dirOf returns the path of the directory d is open on, checked to name
// that same directory now.
func dirOf(d *os.File) (string, error) {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(d.Fd())))
	if err != nil || !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return "", errors.New("working directory has no path")
	}
	var a, b unix.Stat_t
	if unix.Fstat(int(d.Fd()), &a) != nil || unix.Stat(p, &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino || a.Mode&unix.S_IFMT != unix.S_IFDIR {
		return "", errors.New("working directory moved")
	}
	return p, nil
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		r, err := unix.ParseUnixRights(&m)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, err
		}
		fds = append(fds, r...)
	}
	return fds, nil
}

// A warm message is "RCW1" and its fields, each followed by a NUL.

func writeWarm(c *net.UnixConn, fields ...string) error {
	var b bytes.Buffer
	b.WriteString(warmMagic)
	b.WriteByte(0)
	for _, f := range fields {
		b.WriteString(f)
		b.WriteByte(0)
	}
	if b.Len() > warmMaxMsg {
		return errors.New("message too long")
	}
	_, err := c.Write(b.Bytes())
	return err
}

func readWarm(c *net.UnixConn, buf []byte) ([]string, error) {
	if buf == nil {
		buf = make([]byte, 4096)
	}
	n, _, flags, _, err := c.ReadMsgUnix(buf, nil)
	if err != nil {
		return nil, err
	}
	if flags&unix.MSG_TRUNC != 0 {
		return nil, errors.New("message too long")
	}
	return splitWarm(buf[:n])
}

func splitWarm(b []byte) ([]string, error) {
	if len(b) == 0 || b[len(b)-1] != 0 {
		return nil, errors.New("malformed message")
	}
	f := bytes.Split(b[:len(b)-1], []byte{0})
	if string(f[0]) != warmMagic {
		return nil, errors.New("malformed message")
	}
	out := make([]string, len(f)-1)
	for i, x := range f[1:] {
		out[i] = string(x)
	}
	return out, nil
}

package recorder

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles/record"
	"github.com/runcage/runcage/runtime/spec"
)

// RunAgent is the recorder agent's main loop. It listens on cfg.Socket,
// tells the runcage that started it that it is ready by writing "ok\n" to
// ready (or an error line, and returns), and then serves every seccomp
// notify fd runc hands it for the container: one goroutine per fd, answering
// each notification with h's verdict.
//
// It returns when the container is gone: every fd it received reports that
// its filter has no users left (POLLHUP), or no fd ever came and cfg.Parent
// (runcage, which became or ran runc) has exited. In ModeRecord it writes the
// trace at start, every cfg.Interval and, marked complete, at the end; in
// the other modes it flushes the audit counts on the same schedule.
//
// Before it serves an fd it hands cfg.Guard's watchdog a pidfd of the
// process and a copy of the fd (see Watch): if the agent dies, the watchdog
// kills the container (see docs/recording.md); the trace on disk then stays
// incomplete.
func RunAgent(cfg AgentConfig, ready io.WriteCloser, logw io.Writer) (err error) {
	lg := log.New(logw, "runcage-agent: ", log.LstdFlags|log.Lmicroseconds)
	if cfg.Interval <= 0 {
		cfg.Interval = defaultInterval
	}
	var auditOut io.Writer
	if cfg.Mode != ModeRecord {
		f, err := openAuditLog(cfg.AuditLog)
		if err != nil {
			return notReady(ready, err)
		}
		defer f.Close()
		auditOut = f
	}
	h, err := newHandler(cfg, newNameResolver(), newProcTarget(), auditOut, nil)
	if err != nil {
		return notReady(ready, err)
	}
	var rw *recordingWriter
	if cfg.Mode == ModeRecord {
		if rw, err = newRecordingWriter(cfg.RecordingsDir, cfg.Name, cfg.Container, time.Now()); err != nil {
			return notReady(ready, err)
		}
		if err := rw.write(h.Trace(false)); err != nil {
			return notReady(ready, err)
		}
	}
	pidfd, err := unix.PidfdOpen(cfg.Parent, 0)
	if err != nil {
		return notReady(ready, fmt.Errorf("watch runcage (pid %d): %w", cfg.Parent, err))
	}
	defer unix.Close(pidfd)
	ln, err := listenReady(cfg.Socket, ready)
	if err != nil {
		return err
	}
	defer ln.Close()

	s := &server{h: h, lg: lg, done: make(chan struct{}, 64), guard: cfg.Guard}
	fds := make(chan int, 16)
	go s.accept(ln, fds)
	parentGone := make(chan struct{})
	go func() {
		pfd := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(pfd, -1); err == nil || !errors.Is(err, unix.EINTR) {
				close(parentGone)
				return
			}
		}
	}()
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	flush := func(final bool) {
		if rw != nil {
			if err := rw.write(h.Trace(final)); err != nil {
				lg.Printf("write recording: %v", err)
			}
			if d := h.DroppedPaths(); d > 0 && final {
				lg.Printf("recording %s: %d path observations dropped (more than %d paths)", cfg.Name, d, maxPaths)
			}
		}
		if err := h.Flush(final); err != nil {
			lg.Printf("%v", err)
		}
	}
	received, active := 0, 0
	pc := parentGone
	for {
		select {
		case fd := <-fds:
			received++
			active++
			go s.serve(notifyFD(fd))
		case <-s.done:
			active--
		case <-pc:
			pc = nil // runc has exited; an fd it sent is already queued
		case <-tick.C:
			flush(false)
		}
		if active > 0 {
			continue
		}
		if received > 0 || pc == nil && !s.pending(ln, fds) {
			flush(true)
			if received == 0 {
				lg.Printf("no container connected before runcage (pid %d) exited", cfg.Parent)
			}
			return nil
		}
	}
}

// listenReady listens on the unix socket sock (0600, replacing a stale one,
// removed again when the listener closes) and reports it to ready: "ok\n"
// once it listens, or "error: ...". It closes ready.
func listenReady(sock string, ready io.WriteCloser) (*net.UnixListener, error) {
	_ = os.Remove(sock)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err == nil {
		ln.SetUnlinkOnClose(true)
		if err = os.Chmod(sock, 0o600); err != nil {
			ln.Close()
		}
	}
	if err != nil {
		return nil, notReady(ready, fmt.Errorf("listen: %w", err))
	}
	if _, err := io.WriteString(ready, "ok\n"); err != nil {
		ln.Close()
		return nil, fmt.Errorf("report ready: %w", err)
	}
	ready.Close()
	return ln, nil
}

// notReady reports err to ready ("error: ...", the line the starting
// runcage waits for instead of "ok"), closes ready and returns err.
func notReady(ready io.WriteCloser, err error) error {
	fmt.Fprintf(ready, "error: %v\n", err)
	ready.Close()
	return err
}

// server holds what the goroutines of one agent share.
type server struct {
	h    *handler
	lg   *log.Logger
	done chan struct{}
	// guard is the link to the watchdog (nil: none).
	guard *os.File
}

// accept receives connections from runc, each carrying one notify fd and a
// specs.ContainerProcessState naming it.
func (s *server) accept(ln *net.UnixListener, fds chan<- int) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.lg.Printf("accept: %v", err)
			}
			return
		}
		fd, st, err := recvNotifyFD(c)
		c.Close()
		pid := st.Pid
		if err != nil {
			s.lg.Printf("receive notify fd: %v", err)
			continue
		}
		if s.guard != nil {
			if err := sendGuard(s.guard, pid, fd); err != nil {
				// Fail closed: a process the watchdog cannot kill if this
				// agent dies is not served. Closing the fd makes its
				// notified syscalls fail with ENOSYS; kill it as well.
				s.lg.Printf("%v: killing process %d", err, pid)
				if pid > 0 {
					if pidfd, perr := unix.PidfdOpen(pid, 0); perr == nil {
						_ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
						unix.Close(pidfd)
					}
				}
				unix.Close(fd)
				continue
			}
		}
		fds <- fd
	}
}

// pending reports whether a connection is queued once runcage has exited:
// runc sends the fd before it exits, so an fd it sent is either already
// received or still in the listen queue. It waits briefly for accept to
// take it.
func (s *server) pending(ln *net.UnixListener, fds chan int) bool {
	raw, err := ln.SyscallConn()
	if err != nil {
		return false
	}
	queued := false
	_ = raw.Control(func(fd uintptr) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(pfd, 0)
		queued = n > 0
	})
	if !queued {
		return len(fds) > 0
	}
	select {
	case fd := <-fds:
		// Put it back for the main loop.
		fds <- fd
		return true
	case <-time.After(2 * time.Second):
		return false
	}
}

// recvNotifyFD reads runc's message: the JSON container process state and,
// as SCM_RIGHTS, the fds it names (runc sends exactly one, the seccomp fd).
// It returns the seccomp fd and the state (st.Pid is the process it
// filters, st.Metadata the filter's listenerMetadata).
func recvNotifyFD(c *net.UnixConn) (int, specs.ContainerProcessState, error) {
	var st specs.ContainerProcessState
	buf := make([]byte, 64*1024)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return -1, st, err
	}
	scms, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return -1, st, err
	}
	var fds []int
	for i := range scms {
		got, err := unix.ParseUnixRights(&scms[i])
		if err != nil {
			continue
		}
		fds = append(fds, got...)
	}
	closeAll := func(except int) {
		for _, fd := range fds {
			if fd != except {
				unix.Close(fd)
			}
		}
	}
	if err := json.Unmarshal(buf[:n], &st); err != nil {
		closeAll(-1)
		return -1, st, fmt.Errorf("parse container process state: %w", err)
	}
	idx := -1
	for i, name := range st.Fds {
		if name == specs.SeccompFdName {
			if idx >= 0 {
				closeAll(-1)
				return -1, st, errors.New("container process state names two seccomp fds")
			}
			idx = i
		}
	}
	if idx < 0 || idx >= len(fds) {
		closeAll(-1)
		return -1, st, fmt.Errorf("container process state names no seccomp fd among %d fds", len(fds))
	}
	closeAll(fds[idx])
	unix.CloseOnExec(fds[idx])
	return fds[idx], st, nil
}

// serve answers the notifications of one fd until its filter has no users.
func (s *server) serve(fd notifyFD) {
	defer func() { s.done <- struct{}{} }()
	serveFD(fd, s.h, s.lg)
}

// serveFD answers the notifications of fd with h's verdicts until its
// filter has no users, and closes fd.
func serveFD(fd notifyFD, h *handler, lg *log.Logger) {
	defer unix.Close(int(fd))
	_ = fd.setSyncWakeup()
	var n notification
	for {
		ok, err := fd.wait()
		if err != nil {
			lg.Printf("%v", err)
			return
		}
		if !ok {
			return
		}
		if err := fd.recv(&n); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINTR) {
				continue
			}
			lg.Printf("receive notification: %v", err)
			return
		}
		id := n.ID
		r := h.Handle(n, func() bool { return fd.valid(id) })
		if err := fd.send(id, r); err != nil {
			lg.Printf("answer notification: %v", err)
		}
	}
}

// recordingWriter writes one agent's trace so that several containers
// recording under one name add up: each agent keeps its own part in
// <dir>/<name>.parts/<container>-<start>.json, and after each write the union
// of all parts is written to <dir>/<name>.json under a lock. The merged
// trace is complete only when every part is.
type recordingWriter struct {
	dir, name, part string
}

func newRecordingWriter(dir, name, container string, start time.Time) (*recordingWriter, error) {
	if err := ValidRecordingName(name); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, name+".parts"), 0o755); err != nil {
		return nil, fmt.Errorf("create recordings directory: %w", err)
	}
	part := filepath.Join(dir, name+".parts", container+"-"+strconv.FormatInt(start.UnixNano(), 10)+".json")
	return &recordingWriter{dir: dir, name: name, part: part}, nil
}

func (w *recordingWriter) write(t *record.Trace) error {
	b, err := t.Marshal()
	if err != nil {
		return err
	}
	if err := spec.WriteFileAtomic(w.part, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", w.part, err)
	}
	lock, err := os.OpenFile(filepath.Join(w.dir, w.name+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("lock recording: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock recording: %w", err)
	}
	parts, err := filepath.Glob(filepath.Join(w.dir, w.name+".parts", "*.json"))
	if err != nil {
		return fmt.Errorf("merge recording: %w", err)
	}
	merged := record.New(w.name, record.SourceRuncage)
	merged.PortsAndListings = len(parts) > 0 // Merge keeps it if every part has it
	complete := true
	for _, p := range parts {
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("merge recording: %w", err)
		}
		pt, err := record.Parse(data)
		if err != nil {
			return fmt.Errorf("merge recording %s: %w", p, err)
		}
		complete = complete && pt.Complete
		merged.Merge(pt)
	}
	merged.Complete = complete
	mb, err := merged.Marshal()
	if err != nil {
		return err
	}
	path := filepath.Join(w.dir, w.name+".json")
	if err := spec.WriteFileAtomic(path, mb, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ValidRecordingName reports whether name can name a recording file: 1 to
// 128 letters, digits, '-', '_' or '.', not starting with '.' or '-'. The
// name may come from a bundle annotation, so it must not name a path.
func ValidRecordingName(name string) error {
	ok := len(name) >= 1 && len(name) <= 128 && name[0] != '.' && name[0] != '-'
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
	}
	if !ok || strings.Contains(name, "..") {
		return fmt.Errorf("recording name %q refused: use 1-128 letters, digits, '-', '_' or '.'", name)
	}
	return nil
}

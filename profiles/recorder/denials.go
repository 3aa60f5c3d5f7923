package recorder

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// DenialConfig configures the node's denial agent: one process that serves
// the notify fds of every enforced container on the host (ModeEnforce).
// runc sends each fd with the container's state: the agent reads the
// AgentConfig of the container it names from ContainerConfig(Dir,
// DenialKey(id)).
type DenialConfig struct {
	// Dir is the agents directory (<state_dir>/agents).
	Dir string `json:"dir"`
	// Socket is the unix socket runc hands the notify fds to.
	Socket string `json:"socket"`
	// Log is the denials log the agent appends record.AuditEvents to.
	Log string `json:"log"`
	// MaxLogBytes bounds the log: past it, the log is renamed to Log+".1"
	// (replacing the previous one) and started afresh (0: DefaultMaxDenialLog).
	MaxLogBytes int64 `json:"maxLogBytes,omitempty"`
	// Interval is how often counts are flushed (0: defaultInterval).
	Interval time.Duration `json:"interval,omitempty"`
}

// DefaultMaxDenialLog is the size at which the denials log is rotated.
const DefaultMaxDenialLog = 4 << 20

// ContainerConfig is the path of the configuration of the container whose
// DenialKey is key, in the agents directory dir.
func ContainerConfig(dir, key string) string {
	return filepath.Join(dir, key+".denials.json")
}

// DenialKey names the denial configuration of container id: a hash, so
// that any id makes a short, safe file name. Ids are unique on a host
// (runcage refuses an id it keeps under another runc root).
func DenialKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}

// RunDenialAgent is the node's denial agent. It listens on cfg.Socket,
// writes "ok\n" to ready (or an error line, and returns), then serves, for
// as long as it runs, every notify fd runc hands it: each fd in its own
// goroutine, answered by the handler of its container (one per key, shared
// by the container's init and its `runc exec` processes), which logs each
// denial and fails the syscall with the profile's errno. Counts are flushed
// every cfg.Interval and when a container's last fd reports that its filter
// has no users left.
//
// It runs until it is killed, or its socket is removed (with the state
// directory): then it flushes and exits.
//
// The filters it serves notify only syscalls the profile denies, so its
// death opens nothing: the kernel fails every notified syscall with ENOSYS
// once no listener holds the fd, and only the logging stops. That is why
// it needs no watchdog, unlike the recording agent.
//
// It also logs the Landlock denials of the containers it serves, as the
// kernel reports them on the audit multicast group while the host's audit
// is enabled (it never enables it): see landlockTracker for how a denial
// is attributed to a container, and docs/landlock.md, "Denials".
func RunDenialAgent(cfg DenialConfig, ready io.WriteCloser, logw io.Writer) error {
	lg := log.New(logw, "runcage-denials: ", log.LstdFlags|log.Lmicroseconds)
	if cfg.Interval <= 0 {
		cfg.Interval = defaultInterval
	}
	if cfg.MaxLogBytes <= 0 {
		cfg.MaxLogBytes = DefaultMaxDenialLog
	}
	out, err := openRotatingLog(cfg.Log, cfg.MaxLogBytes)
	if err != nil {
		return notReady(ready, err)
	}
	defer out.Close()
	ln, err := listenReady(cfg.Socket, ready)
	if err != nil {
		return err
	}
	defer ln.Close()

	d := &denialServer{cfg: cfg, lg: lg, out: out, names: newNameResolver(), target: newProcTarget(), byKey: map[string]*denialEntry{}}
	d.landlock = newLandlockTracker(out, d.names, hostProcs{}, time.Now, lg)
	// Landlock denials come from the kernel's audit records, which are
	// there only while the host's audit is enabled; subscribing costs
	// nothing while it is not, and finds them once it is.
	if fd, err := openAuditMulticast(pendingRetry); err != nil {
		lg.Printf("%v: Landlock denials are not logged", err)
	} else {
		go func() {
			g := &auditGrouper{emit: d.landlock.Event}
			if err := readAudit(fd, g, d.landlock.Retry, lg); err != nil {
				lg.Printf("%v: Landlock denials are no longer logged", err)
			}
			unix.Close(fd)
		}()
	}
	go func() {
		tick := time.NewTicker(cfg.Interval)
		defer tick.Stop()
		for range tick.C {
			d.flushAll()
			d.landlock.Sweep()
			if _, err := os.Lstat(cfg.Socket); errors.Is(err, fs.ErrNotExist) {
				// The state directory was removed: no container can
				// reach this agent any more.
				lg.Printf("%s removed: exiting", cfg.Socket)
				ln.Close()
				return
			}
		}
	}()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				d.flushAll()
				d.landlock.Flush(true)
				return nil
			}
			lg.Printf("accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		fd, st, err := recvNotifyFD(c)
		c.Close()
		if err != nil {
			lg.Printf("receive notify fd: %v", err)
			continue
		}
		key := DenialKey(st.State.ID)
		e, err := d.acquire(key)
		if err != nil {
			// The filter still denies: with the fd closed, the kernel
			// answers its notified syscalls with ENOSYS.
			lg.Printf("container %q (pid %d): %v: its denials are not logged", st.State.ID, st.Pid, err)
			unix.Close(fd)
			continue
		}
		pid := st.Pid
		d.landlock.Started(key, e.h.cfg, pid)
		go func() {
			serveFD(notifyFD(fd), e.h, lg)
			d.landlock.Exited(pid)
			d.release(key)
		}()
	}
}

// denialServer holds the handlers of the containers the agent serves.
type denialServer struct {
	cfg    DenialConfig
	lg     *log.Logger
	out    io.Writer
	names  nameResolver
	target processReader
	// landlock logs the Landlock denials of the containers served.
	landlock *landlockTracker

	mu    sync.Mutex
	byKey map[string]*denialEntry
}

type denialEntry struct {
	h    *handler
	refs int
}

// acquire returns the entry of the container whose key is key, loading its
// configuration on the first fd, and counts one more fd for it.
func (d *denialServer) acquire(key string) (*denialEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.byKey[key]; e != nil {
		e.refs++
		return e, nil
	}
	cfg, err := readConfigFile(ContainerConfig(d.cfg.Dir, key))
	if err != nil {
		return nil, err
	}
	if cfg.Mode != ModeEnforce {
		return nil, fmt.Errorf("container configuration has mode %q, want %q", cfg.Mode, ModeEnforce)
	}
	h, err := newHandler(*cfg, d.names, d.target, d.out, nil)
	if err != nil {
		return nil, err
	}
	e := &denialEntry{h: h, refs: 1}
	d.byKey[key] = e
	return e, nil
}

// release counts one fd of key's container less; after the last, its
// counts are flushed and its handler dropped.
func (d *denialServer) release(key string) {
	d.mu.Lock()
	e := d.byKey[key]
	e.refs--
	last := e.refs == 0
	if last {
		delete(d.byKey, key)
	}
	d.mu.Unlock()
	if last {
		if err := e.h.Flush(true); err != nil {
			d.lg.Printf("%v", err)
		}
	}
}

func (d *denialServer) flushAll() {
	d.mu.Lock()
	hs := make([]*handler, 0, len(d.byKey))
	for _, e := range d.byKey {
		hs = append(hs, e.h)
	}
	d.mu.Unlock()
	for _, h := range hs {
		if err := h.Flush(false); err != nil {
			d.lg.Printf("%v", err)
		}
	}
}

// rotatingLog appends to a file and, before a write would take it past
// max bytes, renames it to path+".1" and starts a new one: the denials log
// never holds more than about 2*max bytes. It is safe for concurrent use;
// each Write is one write call, so lines never interleave.
type rotatingLog struct {
	mu   sync.Mutex
	path string
	max  int64
	f    *os.File
	size int64
}

func openRotatingLog(path string, max int64) (*rotatingLog, error) {
	l := &rotatingLog{path: path, max: max}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *rotatingLog) open() error {
	f, err := openAuditLog(l.path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open denials log: %w", err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

func (l *rotatingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size > 0 && l.size+int64(len(p)) > l.max {
		l.f.Close()
		if err := os.Rename(l.path, l.path+".1"); err != nil {
			return 0, fmt.Errorf("rotate denials log: %w", err)
		}
		if err := l.open(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

func (l *rotatingLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// AgentsDir is the agents directory under the policy's state directory:
// the denial agent's socket and the configuration of every container it
// serves (ContainerConfig) are there.
func AgentsDir(stateDir string) string {
	return filepath.Join(stateDir, "agents")
}

// ServedContainers returns the configurations of the containers the
// denial agent of agents directory dir serves: those created and not yet
// deleted. A configuration that cannot be read is left out.
func ServedContainers(dir string) []AgentConfig {
	paths, _ := filepath.Glob(ContainerConfig(dir, "*"))
	var out []AgentConfig
	for _, p := range paths {
		if cfg, err := readConfigFile(p); err == nil {
			out = append(out, *cfg)
		}
	}
	return out
}

func readConfigFile(path string) (*AgentConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read container configuration: %w", err)
	}
	var cfg AgentConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("read container configuration: %w", err)
	}
	return &cfg, nil
}

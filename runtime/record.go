package runtime

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/profiles/recorder"
)

// The recorder agent is runcage itself, started by runcage through
// /proc/self/exe with argv {agentArgv0, agentFlag, CONFIG}. Main recognizes
// that exact shape before it scans anything, so the agent is never reached
// through runc's command line: argv[0] is not a path and not a runcage-NAME
// name (it holds brackets, which no profile name may), and agentFlag is a
// runcage-prefixed global flag that Scan refuses.
//
// The agent runs as the child of a watchdog, started the same way with
// argv {watchdogArgv0, agentFlag, CONFIG}, which kills the container if the
// agent dies (see recorder.Watch).
const (
	agentArgv0    = "runcage[agent]"
	watchdogArgv0 = "runcage[watchdog]"
	agentFlag     = "--runcage-agent"
)

// agentLockWait bounds how long create waits for the agent of a container
// of the same id (and runc root) to finish, before it refuses.
const agentLockWait = 3 * time.Second

// Annotations that name a recording, in order of preference.
const (
	AnnotationRecordingName = "runcage.dev/recording-name"
	annotationCRIName       = "io.kubernetes.cri.container-name"
)

// agentReadyTimeout bounds how long runcage waits for the agent to listen.
const agentReadyTimeout = 10 * time.Second

func isAgent(argv []string) bool {
	return len(argv) == 3 && (argv[0] == agentArgv0 || argv[0] == watchdogArgv0) && argv[1] == agentFlag
}

// runAgent is the agent process, or its watchdog (argv[0] says which). The
// agent reads its configuration (a file runcage wrote for it, removed once
// read) and serves until the container is gone. fd 3 is the readiness
// pipe, fd 4 the agent's end of the link to the watchdog; stdout and
// stderr are the log, whose open file holds the agent lock (agentAlive).
func runAgent(argv []string) int {
	if argv[0] == watchdogArgv0 {
		return runWatchdog(argv[2])
	}
	ready := os.NewFile(3, "ready")
	data, err := os.ReadFile(argv[2])
	os.Remove(argv[2])
	var cfg recorder.AgentConfig
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err == nil {
		// Only the watchdog starts an agent, and it always passes the link.
		if _, ferr := unix.FcntlInt(4, unix.F_GETFD, 0); ferr != nil {
			err = fmt.Errorf("no watchdog link (fd 4): %w", ferr)
		} else {
			unix.CloseOnExec(4)
			cfg.Guard = os.NewFile(4, "watchdog-link")
		}
	}
	if err != nil {
		fmt.Fprintf(ready, "error: read agent config: %v\n", err)
		return 1
	}
	if err := recorder.RunAgent(cfg, ready, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "runcage-agent: %v\n", err)
		return 1
	}
	// A clean exit leaves no log behind.
	if st, err := os.Stderr.Stat(); err == nil && st.Size() == 0 {
		os.Remove(cfg.Socket + ".log")
	}
	return 0
}

// runWatchdog is the watchdog: it starts the agent as its child with the
// same configuration file and the readiness pipe it was given (fd 3), and
// watches it (recorder.Watch): if the agent dies before the container is
// gone, the watchdog kills the container.
func runWatchdog(cfgPath string) int {
	ready := os.NewFile(3, "ready")
	data, err := os.ReadFile(cfgPath)
	var cfg recorder.AgentConfig
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err != nil {
		os.Remove(cfgPath)
		fmt.Fprintf(ready, "error: watchdog: read agent config: %v\n", err)
		return 1
	}
	wl, al, err := recorder.NewGuardLink()
	if err != nil {
		os.Remove(cfgPath)
		fmt.Fprintf(ready, "error: watchdog: %v\n", err)
		return 1
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{agentArgv0, agentFlag, cfgPath},
		Env:        []string{},
		Dir:        "/",
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{ready, al},
	}
	err = cmd.Start()
	al.Close()
	if err != nil {
		os.Remove(cfgPath)
		fmt.Fprintf(ready, "error: watchdog: start agent: %v\n", err)
		return 1
	}
	ready.Close()
	if err := recorder.Watch(wl, cmd.Wait, cfg.Socket, cfg.Container, os.Stderr); err != nil {
		os.Remove(cfgPath) // if the agent died before it read it
		return 1
	}
	return 0
}

// agentFiles returns the socket of the agent of container id under runc
// root root; its log is the socket's path + ".log", its configuration's
// + ".json".
func agentFiles(stateDir, root, id string) string {
	return filepath.Join(stateDir, "agents", agentKey(root, id)+".sock")
}

// agentAlive reports whether the agent whose log is logPath, or its
// watchdog, is still running: both hold the log open, and runcage took an
// exclusive flock on that open file before it started them. A log that
// cannot be opened has no agent.
func agentAlive(logPath string) bool {
	f, err := os.Open(logPath)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// sweepAgents removes, from the agents directory dir, the sockets and
// configuration files of agents that are no longer running (killed before
// their watchdog could clean up, or with it). Their logs stay until the
// container's delete (removeDeadAgent).
func sweepAgents(dir string) {
	socks, _ := filepath.Glob(filepath.Join(dir, "*.sock"))
	for _, sock := range socks {
		if !agentAlive(sock + ".log") {
			os.Remove(sock)
			os.Remove(sock + ".json")
		}
	}
}

// removeDeadAgent removes the files of the agent of container id (runc
// root root) if it is no longer running: delete calls it, so that the log
// of an agent that died is kept until then. A running agent removes its
// own socket, and its log if empty, when the container is gone.
func removeDeadAgent(stateDir, root, id string) {
	sock := agentFiles(stateDir, root, id)
	if agentAlive(sock + ".log") {
		return
	}
	for _, p := range []string{sock, sock + ".json", sock + ".log"} {
		os.Remove(p)
	}
}

// lockAgentLog opens path, the log of a new agent, takes the agent lock
// on it (see agentAlive) and truncates it. An agent still running for the
// same container id (the previous container of that id is being torn
// down) gets agentLockWait to finish.
func lockAgentLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(agentLockWait)
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil || !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err == nil {
		err = f.Truncate(0)
	} else if errors.Is(err, unix.EWOULDBLOCK) {
		err = errors.New("the recorder agent of a previous container with this id is still running")
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// agentMode returns the mode of the agent prof needs, or "" for none.
func agentMode(prof *profiles.Profile) string {
	switch {
	case prof.Passthrough:
		return ""
	case prof.Record:
		return recorder.ModeRecord
	case prof.Mode == profiles.ModeComplain:
		return recorder.ModeComplain
	case prof.LogDenied:
		return recorder.ModeEnforce
	}
	return ""
}

// agentKey names a container's agent files: a hash of the runc root and
// the container id, short enough for a unix socket path.
func agentKey(root, id string) string {
	if root == "" {
		root = runcDefaultRoot
	}
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	sum := sha256.Sum256([]byte(root + "\x00" + id))
	return hex.EncodeToString(sum[:8])
}

// recordingName is the runcage.dev/recording-name annotation, else the
// Kubernetes container name, else the container id.
func recordingName(id string, ann map[string]string) (string, error) {
	if n, ok := ann[AnnotationRecordingName]; ok {
		if err := recorder.ValidRecordingName(n); err != nil {
			return "", profiles.Refusef("annotation %s: %v", AnnotationRecordingName, err)
		}
		return n, nil
	}
	if n := ann[annotationCRIName]; recorder.ValidRecordingName(n) == nil {
		return n, nil
	}
	if err := recorder.ValidRecordingName(id); err != nil {
		return "", err
	}
	return id, nil
}

// prepareAgent gives s, whose seccomp filter is the one prof enforces, the
// filter that hands syscalls to a recorder agent (see
// recorder.NotifyFilter), and returns the agent's configuration. It returns
// nil when prof needs no agent.
func prepareAgent(c Container, pol *policy.Policy, prof *profiles.Profile, s *specs.Spec) (*recorder.AgentConfig, error) {
	mode := agentMode(prof)
	if mode == "" {
		return nil, nil
	}
	if s.Linux == nil || s.Linux.Seccomp == nil {
		return nil, errors.New("recorder: the profile left no seccomp filter to build on")
	}
	name, err := recordingName(c.ID, s.Annotations)
	if err != nil {
		return nil, err
	}
	sock := agentFiles(pol.StateDir, c.Root, c.ID)
	if len(sock) > 107 {
		return nil, fmt.Errorf("recorder: socket path %s is longer than a unix socket path may be (107 bytes): shorten state_dir", sock)
	}
	enforced := s.Linux.Seccomp
	known, err := recorder.KnownSyscalls(enforced.Architectures)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	f, err := recorder.NotifyFilter(enforced, known, mode, sock)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	s.Linux.Seccomp = f
	return &recorder.AgentConfig{
		Mode:          mode,
		Name:          name,
		Container:     c.ID,
		Profile:       prof.Name,
		Filter:        enforced,
		RecordingsDir: pol.RecordingsDir,
		AuditLog:      pol.AuditLog,
		Socket:        sock,
		Parent:        os.Getpid(),
	}, nil
}

// startAgent starts the agent for cfg, under its watchdog, detached (a new
// session, no container environment, stdin /dev/null, its log beside the
// socket, holding the agent lock) and returns once it listens on
// cfg.Socket, or its error. It first removes the files of agents that are
// no longer running.
func startAgent(cfg *recorder.AgentConfig) error {
	dir := filepath.Dir(cfg.Socket)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("start recorder agent: %w", err)
	}
	sweepAgents(dir)
	logf, err := lockAgentLog(cfg.Socket + ".log")
	if err != nil {
		return fmt.Errorf("start recorder agent: %w", err)
	}
	defer logf.Close()
	cfgPath := cfg.Socket + ".json"
	os.Remove(cfgPath)
	data, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("start recorder agent: %w", err)
	}
	cf, err := os.OpenFile(cfgPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("start recorder agent: %w", err)
	}
	_, err = cf.Write(data)
	if cerr := cf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(cfgPath)
		return fmt.Errorf("start recorder agent: %w", err)
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		os.Remove(cfgPath)
		return fmt.Errorf("start recorder agent: %w", err)
	}
	defer rd.Close()
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{watchdogArgv0, agentFlag, cfgPath},
		Env:         []string{},
		Dir:         "/",
		Stdout:      logf,
		Stderr:      logf,
		ExtraFiles:  []*os.File{wr},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	wr.Close()
	if err != nil {
		os.Remove(cfgPath)
		return fmt.Errorf("start recorder agent: %w", err)
	}
	_ = rd.SetReadDeadline(time.Now().Add(agentReadyTimeout))
	line, err := bufio.NewReader(rd).ReadString('\n')
	if err != nil || line != "ok\n" {
		// The watchdog leads its own process group, the agent is in it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_, _ = cmd.Process.Wait()
		os.Remove(cfgPath)
		os.Remove(cfg.Socket)
		msg := strings.TrimSpace(strings.TrimPrefix(line, "error: "))
		if msg == "" && err != nil {
			msg = err.Error()
		}
		return fmt.Errorf("start recorder agent: %s (log: %s)", msg, cfg.Socket+".log")
	}
	return cmd.Process.Release()
}

// ownListener reports whether s's seccomp filter hands syscalls to one of
// runcage's own agents, that is, whether s is a config runcage already
// rewrote for an agent.
func ownListener(s *specs.Spec, stateDir string) bool {
	if s.Linux == nil || s.Linux.Seccomp == nil || s.Linux.Seccomp.ListenerPath == "" {
		return false
	}
	rel, err := filepath.Rel(filepath.Join(stateDir, "agents"), s.Linux.Seccomp.ListenerPath)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

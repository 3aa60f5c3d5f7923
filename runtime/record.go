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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/profiles/recorder"
	"github.com/runcage/runcage/profiles/seccomp"
	"github.com/runcage/runcage/runtime/spec"
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
//
// The node's denial agent (recorder.RunDenialAgent) is started the same way
// with argv {denialArgv0, agentFlag, CONFIG}.
const (
	agentArgv0    = "runcage[agent]"
	watchdogArgv0 = "runcage[watchdog]"
	denialArgv0   = "runcage[denials]"
	agentFlag     = "--runcage-agent"
)

// withoutDenialAgent gives s, a bundle an earlier create of this container
// rewrote, back the filter it enforces without the node's denial agent, so
// that the profile is applied to that filter again (create again on the
// same bundle). Only runcage's own denial socket qualifies; the rules it
// removes could only deny.
func withoutDenialAgent(pol *policy.Policy, s *specs.Spec) {
	if s.Linux != nil && s.Linux.Seccomp != nil && s.Linux.Seccomp.ListenerPath == filepath.Join(recorder.AgentsDir(pol.StateDir), denialSocket) {
		s.Linux.Seccomp = recorder.WithoutNotify(s.Linux.Seccomp)
	}
}

// handoverSyscalls are what runc init calls, under the container's filter,
// to hand the notify fd over (see seccomp.RuncSyscalls).
var handoverSyscalls = []string{"close", "read", "recvfrom", "write"}

// denialSocket is the name of the denial agent's socket, log (+".log")
// and configuration (+".json") in the agents directory.
const denialSocket = "denials.sock"

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
	return len(argv) == 3 && (argv[0] == agentArgv0 || argv[0] == watchdogArgv0 || argv[0] == denialArgv0 || argv[0] == warmArgv0) && argv[1] == agentFlag
}

// runAgent is the agent process, or its watchdog (argv[0] says which). The
// agent reads its configuration (a file runcage wrote for it, removed once
// read) and serves until the container is gone. fd 3 is the readiness
// pipe, fd 4 the agent's end of the link to the watchdog; stdout and
// stderr are the log, whose open file holds the agent lock (agentAlive).
func runAgent(argv []string) int {
	switch argv[0] {
	case watchdogArgv0:
		return runWatchdog(argv[2])
	case denialArgv0:
		return runDenialAgent(argv[2])
	case warmArgv0:
		return runWarm(argv[2])
	}
	ready := os.NewFile(3, "ready")
	var cfg recorder.AgentConfig
	err := readAgentConfig(argv[2], &cfg)
	os.Remove(argv[2])
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

// readAgentConfig reads the configuration file runcage wrote for one of
// its agents (JSON) into cfg.
func readAgentConfig(path string, cfg any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, cfg)
}

// runWatchdog is the watchdog: it starts the agent as its child with the
// same configuration file and the readiness pipe it was given (fd 3), and
// watches it (recorder.Watch): if the agent dies before the container is
// gone, the watchdog kills the container.
func runWatchdog(cfgPath string) int {
	closeInherited(3) // the agent it starts inherits only what it passes
	ready := os.NewFile(3, "ready")
	var cfg recorder.AgentConfig
	err := readAgentConfig(cfgPath, &cfg)
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
	return filepath.Join(recorder.AgentsDir(stateDir), agentKey(root, id)+".sock")
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
	os.Remove(recorder.ContainerConfig(filepath.Dir(sock), recorder.DenialKey(id)))
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
// recorder.NotifyFilter), and returns the agent's configuration. An
// enforced profile has no agent of its own: unless the policy turns denial
// logging off, it returns instead the plan for the node's denial agent
// (planDenials), which Create carries out (startDenials). It changes only s.
func prepareAgent(c Container, pol *policy.Policy, prof *profiles.Profile, s *specs.Spec) (*recorder.AgentConfig, *denialPlan, error) {
	mode := agentMode(prof)
	if mode == "" && !prof.Passthrough && pol.LogsDenials() {
		mode = recorder.ModeEnforce
	}
	if mode == "" {
		return nil, nil, nil
	}
	if s.Linux == nil || s.Linux.Seccomp == nil {
		if mode == recorder.ModeEnforce && !prof.LogDenied {
			return nil, nil, nil // nothing is denied, nothing to log
		}
		return nil, nil, errors.New("recorder: the profile left no seccomp filter to build on")
	}
	name, err := recordingName(c.ID, s.Annotations)
	if err != nil {
		return nil, nil, err
	}
	cfg := recorder.AgentConfig{
		Mode:          mode,
		Name:          name,
		Container:     c.ID,
		Profile:       prof.Name,
		Filter:        s.Linux.Seccomp,
		RecordingsDir: pol.RecordingsDir,
		AuditLog:      pol.AuditLog,
		Socket:        agentFiles(pol.StateDir, c.Root, c.ID),
		Parent:        os.Getpid(),
	}
	if mode == recorder.ModeEnforce {
		plan, err := planDenials(pol, &cfg, s.Linux)
		if err != nil {
			if prof.LogDenied {
				return nil, nil, fmt.Errorf("log denied syscalls: %w", err)
			}
			// Fail closed: the filter is the enforced one, unchanged; only
			// the logging is missing, and the log says so.
			return nil, &denialPlan{skipped: err}, nil
		}
		plan.required = prof.LogDenied
		return nil, plan, nil
	}
	if len(cfg.Socket) > 107 {
		return nil, nil, fmt.Errorf("recorder: socket path %s is longer than a unix socket path may be (107 bytes): shorten state_dir", cfg.Socket)
	}
	f, err := notifyFilter(cfg.Filter, mode, cfg.Socket)
	if err != nil {
		return nil, nil, err
	}
	s.Linux.Seccomp = f
	return &cfg, nil, nil
}

// notifyFilter is recorder.NotifyFilter for the syscalls libseccomp knows
// on enforced's architectures.
func notifyFilter(enforced *specs.LinuxSeccomp, mode, sock string) (*specs.LinuxSeccomp, error) {
	known, err := recorder.KnownSyscalls(enforced.Architectures)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	f, err := recorder.NotifyFilter(enforced, known, mode, sock)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	return f, nil
}

// denialPlan is what Create's denials step (startDenials) carries out for
// an enforced container: the configuration the node's denial agent finds by
// the container's key, and the profile's own filter to fall back to.
type denialPlan struct {
	cfg   *recorder.AgentConfig
	dir   string
	plain *specs.LinuxSeccomp
	// required: the profile asked for log_denied, so a container whose
	// denials cannot be logged is refused rather than started.
	required bool
	// skipped, if not nil, is why denials are not logged at all (the plan
	// changed nothing); Create logs it as a warning.
	skipped error
}

// planDenials gives l the filter that hands the syscalls l's filter denies
// outright to the node's denial agent (ModeEnforce: every rule stays in the
// kernel) and returns the plan that makes the agent ready for it. The agent
// finds cfg by the container id runc sends with the fd: ids are unique on a
// host (openBundle). On error l holds the filter the profile enforces.
func planDenials(pol *policy.Policy, cfg *recorder.AgentConfig, l *specs.Linux) (*denialPlan, error) {
	dir := recorder.AgentsDir(pol.StateDir)
	sock := filepath.Join(dir, denialSocket)
	if len(sock) > 107 {
		return nil, fmt.Errorf("socket path %s is longer than a unix socket path may be (107 bytes): shorten state_dir", sock)
	}
	// runc init hands the notify fd over after it loads the filter; a
	// profile that denies what that needs would kill every start. Such a
	// profile is enforced as it is, without the agent: never widen it.
	if n, denied := handoverDenied(l.Seccomp); denied {
		return nil, fmt.Errorf("the profile's filter denies %s, which runc needs to hand the seccomp notify fd to the agent", n)
	}
	// The agent answers a notified call with an errno; a filter that
	// kills or traps where it denies would be weakened by it.
	if a := l.Seccomp.DefaultAction; a != specs.ActErrno {
		return nil, fmt.Errorf("the profile's filter answers denied syscalls with %s, which the denial agent cannot give (it answers with an errno)", a)
	}
	f, err := notifyFilter(l.Seccomp, recorder.ModeEnforce, sock)
	if err != nil {
		return nil, err
	}
	cfg.Socket = sock
	plan := &denialPlan{cfg: cfg, dir: dir, plain: l.Seccomp}
	l.Seccomp = f
	return plan, nil
}

// handoverDenied returns the first of handoverSyscalls that f denies
// whatever the arguments, as seccomp.AllowedSyscalls judges them. It asks
// AllowedSyscalls about f's rules for those syscalls only: what a filter
// does with a syscall depends on the syscall's own rules and the default
// action alone, and indexing the whole filter costs a millisecond on every
// create. (AllowedSyscalls also refuses an invalid filter; f is Tighten's
// output, which is valid.)
func handoverDenied(f *specs.LinuxSeccomp) (string, bool) {
	sub := *f
	sub.Syscalls = nil
	for _, sc := range f.Syscalls {
		var names []string
		for _, n := range sc.Names {
			if slices.Contains(handoverSyscalls, n) {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			sc.Names = names
			sub.Syscalls = append(sub.Syscalls, sc)
		}
	}
	allowed := seccomp.AllowedSyscalls(&sub)
	for _, n := range handoverSyscalls {
		if !slices.Contains(allowed, n) {
			return n, true
		}
	}
	return "", false
}

// startDenials is Create's denials step: it makes sure the node's denial
// agent runs and writes the container's configuration where the agent
// finds it, pushing its removal on cu. If that fails and the profile does
// not require the logging, it puts the profile's own filter back into s
// and returns the reason as a warning: the container runs as strictly,
// unlogged.
func startDenials(cu *cleanup, p *denialPlan, pol *policy.Policy, s *specs.Spec) (warning, err error) {
	if p.skipped != nil {
		return p.skipped, nil
	}
	path := recorder.ContainerConfig(p.dir, recorder.DenialKey(p.cfg.Container))
	err = ensureDenialAgent(pol, p.dir)
	if err == nil {
		var data []byte
		if data, err = json.Marshal(p.cfg); err == nil {
			err = spec.WriteFileAtomic(path, data, 0o600)
		}
	}
	if err == nil {
		cu.Add(func() error {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				return err
			}
			return nil
		})
		return nil, nil
	}
	if p.required {
		return nil, fmt.Errorf("log denied syscalls: %w", err)
	}
	s.Linux.Seccomp = p.plain
	return err, nil
}

// ensureDenialAgent starts the node's denial agent unless it runs: its
// liveness is the flock on its log, as for the recording agents
// (agentAlive). A create that finds another one starting it waits for its
// socket.
func ensureDenialAgent(pol *policy.Policy, dir string) error {
	sock := filepath.Join(dir, denialSocket)
	if agentAlive(sock + ".log") {
		if _, err := os.Stat(sock); err == nil {
			return nil
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("start denial agent: %w", err)
	}
	logf, err := os.OpenFile(sock+".log", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start denial agent: %w", err)
	}
	defer logf.Close()
	if err := unix.Flock(int(logf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		// Another runcage is starting it, or it runs and lost its socket.
		for deadline := time.Now().Add(agentReadyTimeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(sock); err == nil {
				return nil
			}
		}
		return fmt.Errorf("start denial agent: %s held by a process that does not listen (see %s)", sock+".log", sock+".log")
	}
	cfg := recorder.DenialConfig{Dir: dir, Socket: sock, Log: pol.DenialsLog()}
	data, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("start denial agent: %w", err)
	}
	if err := spec.WriteFileAtomic(sock+".json", data, 0o600); err != nil {
		return fmt.Errorf("start denial agent: %w", err)
	}
	return startDetached([]string{denialArgv0, agentFlag, sock + ".json"}, logf, sock)
}

// runDenialAgent is the node's denial agent process: it reads its
// configuration (kept: the next start writes it again) and serves until
// it is killed. fd 3 is the readiness pipe; stdout and stderr are its log,
// whose open file holds its lock.
func runDenialAgent(cfgPath string) int {
	closeInherited(3) // it lives on: keep none of its first caller's files
	ready := os.NewFile(3, "ready")
	var cfg recorder.DenialConfig
	err := readAgentConfig(cfgPath, &cfg)
	if err != nil {
		fmt.Fprintf(ready, "error: read denial agent config: %v\n", err)
		return 1
	}
	if err := recorder.RunDenialAgent(cfg, ready, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "runcage-denials: %v\n", err)
		return 1
	}
	return 0
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
	if err := startDetached([]string{watchdogArgv0, agentFlag, cfgPath}, logf, cfg.Socket); err != nil {
		os.Remove(cfgPath)
		return fmt.Errorf("start recorder agent: %w", err)
	}
	return nil
}

// startDetached starts runcage again through /proc/self/exe with argv, in
// a new session, with an empty environment, stdin /dev/null, logf as its
// stdout and stderr and the write end of a readiness pipe as fd 3, and
// returns once it wrote "ok\n" there. Otherwise it kills it (its process
// group), removes sock and returns the error line it wrote.
func startDetached(argv []string, logf *os.File, sock string) error {
	rd, wr, err := os.Pipe()
	if err != nil {
		return err
	}
	defer rd.Close()
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        argv,
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
		return err
	}
	_ = rd.SetReadDeadline(time.Now().Add(agentReadyTimeout))
	line, err := bufio.NewReader(rd).ReadString('\n')
	if err != nil || line != "ok\n" {
		// It leads its own process group; a watchdog's agent is in it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_, _ = cmd.Process.Wait()
		os.Remove(sock)
		msg := strings.TrimSpace(strings.TrimPrefix(line, "error: "))
		if msg == "" && err != nil {
			msg = err.Error()
		}
		return fmt.Errorf("%s (log: %s)", msg, logf.Name())
	}
	if reapDetached {
		// A long-lived process (the warm front) must reap what it
		// started; a runc front exits and leaves that to init.
		go func() { _ = cmd.Wait() }()
		return nil
	}
	return cmd.Process.Release()
}

// closeInherited closes every descriptor above keep that this process
// inherited from the one that started it. Those are exactly the ones
// without close-on-exec, since every descriptor Go opens has it and a
// descriptor that survived the exec cannot. A process that outlives its
// caller (the warm front, the denial agent) would otherwise hold the
// caller's pipes open, and whoever reads them would never see their end.
func closeInherited(keep int) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd <= keep {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}

// reapDetached makes startDetached wait for the processes it starts, so
// that none stays a zombie of a long-lived runcage process. Set once,
// before any is started.
var reapDetached bool

// ownListener reports whether s's seccomp filter hands syscalls to one of
// runcage's own agents, that is, whether s is a config runcage already
// rewrote for an agent.
func ownListener(s *specs.Spec, stateDir string) bool {
	if s.Linux == nil || s.Linux.Seccomp == nil || s.Linux.Seccomp.ListenerPath == "" {
		return false
	}
	rel, err := filepath.Rel(recorder.AgentsDir(stateDir), s.Linux.Seccomp.ListenerPath)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

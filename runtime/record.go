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

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/policy"
	recorder "github.com/runcage/runcage/profiles/record"
)

// The recorder agent is runcage itself, started by runcage through
// /proc/self/exe with argv {agentArgv0, agentFlag, CONFIG}. Main recognizes
// that exact shape before it scans anything, so the agent is never reached
// through runc's command line: argv[0] is not a path and not a runcage-NAME
// name (it holds brackets, which no profile name may), and agentFlag is a
// runcage-prefixed global flag that Scan refuses.
const (
	agentArgv0 = "runcage[agent]"
	agentFlag  = "--runcage-agent"
)

// Annotations that name a recording, in order of preference.
const (
	AnnotationRecordingName = "runcage.dev/recording-name"
	annotationCRIName       = "io.kubernetes.cri.container-name"
)

// agentReadyTimeout bounds how long runcage waits for the agent to listen.
const agentReadyTimeout = 10 * time.Second

func isAgent(argv []string) bool {
	return len(argv) == 3 && argv[0] == agentArgv0 && argv[1] == agentFlag
}

// runAgent is the agent process: it reads its configuration (a file
// runcage wrote for it, removed once read) and serves until the container
// is gone. fd 3 is the readiness pipe; stdout and stderr are its log.
func runAgent(argv []string) int {
	ready := os.NewFile(3, "ready")
	data, err := os.ReadFile(argv[2])
	os.Remove(argv[2])
	var cfg recorder.AgentConfig
	if err == nil {
		err = json.Unmarshal(data, &cfg)
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
func prepareAgent(inv *Invocation, pol *policy.Policy, prof *profiles.Profile, s *specs.Spec) (*recorder.AgentConfig, error) {
	mode := agentMode(prof)
	if mode == "" {
		return nil, nil
	}
	if s.Linux == nil || s.Linux.Seccomp == nil {
		return nil, errors.New("recorder: the profile left no seccomp filter to build on")
	}
	if !validID(inv.ContainerID) {
		return nil, profiles.Refusef("container id %q refused: not a valid runc container id", inv.ContainerID)
	}
	name, err := recordingName(inv.ContainerID, s.Annotations)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(pol.StateDir, "agents", agentKey(inv.Global.Root, inv.ContainerID)+".sock")
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
		Container:     inv.ContainerID,
		Profile:       prof.Name,
		Filter:        enforced,
		RecordingsDir: pol.RecordingsDir,
		AuditLog:      pol.AuditLog,
		Socket:        sock,
		Parent:        os.Getpid(),
	}, nil
}

// startAgent starts the agent for cfg detached (a new session, no
// container environment, stdin /dev/null, its log beside the socket) and
// returns once it listens on cfg.Socket, or its error.
func startAgent(cfg *recorder.AgentConfig) error {
	dir := filepath.Dir(cfg.Socket)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("start recorder agent: %w", err)
	}
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
	logf, err := os.OpenFile(cfg.Socket+".log", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		os.Remove(cfgPath)
		return fmt.Errorf("start recorder agent: %w", err)
	}
	defer logf.Close()
	rd, wr, err := os.Pipe()
	if err != nil {
		os.Remove(cfgPath)
		return fmt.Errorf("start recorder agent: %w", err)
	}
	defer rd.Close()
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{agentArgv0, agentFlag, cfgPath},
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
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		os.Remove(cfgPath)
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

package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/profiles/recorder"
)

func TestIsAgentNeedsExactArgv(t *testing.T) {
	if !isAgent([]string{agentArgv0, agentFlag, "/x.json"}) {
		t.Fatal("the agent's own argv is not recognized")
	}
	if !isAgent([]string{watchdogArgv0, agentFlag, "/x.json"}) {
		t.Fatal("the watchdog's own argv is not recognized")
	}
	for _, argv := range [][]string{
		{"runcage", agentFlag, "/x.json"},
		{"/usr/bin/runcage", agentFlag, "/x.json"},
		{agentArgv0, "create", "/x.json"},
		{agentArgv0, agentFlag},
		{agentArgv0, agentFlag, "/x.json", "extra"},
	} {
		if isAgent(argv) {
			t.Errorf("isAgent(%q) = true", argv)
		}
	}
	// A caller that spells the flag gets the scanner's refusal, not the agent.
	if _, err := Scan([]string{"runcage", agentFlag, "/x.json"}); !errors.Is(err, ErrUnknownFlag) {
		t.Errorf("Scan(%s) = %v, want ErrUnknownFlag", agentFlag, err)
	}
}

func TestRecordingName(t *testing.T) {
	for _, c := range []struct {
		ann  map[string]string
		want string
		bad  bool
	}{
		{nil, "c1", false},
		{map[string]string{annotationCRIName: "redis"}, "redis", false},
		{map[string]string{annotationCRIName: "redis", AnnotationRecordingName: "r2"}, "r2", false},
		{map[string]string{AnnotationRecordingName: "../../etc/x"}, "", true},
		{map[string]string{annotationCRIName: "../x"}, "c1", false},
	} {
		got, err := recordingName("c1", c.ann)
		if c.bad {
			if !errors.Is(err, profiles.ErrRefused) {
				t.Errorf("%v: err = %v, want a refusal", c.ann, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%v: %q, %v; want %q", c.ann, got, err, c.want)
		}
	}
}

func TestAgentModeAndOwnListener(t *testing.T) {
	for _, c := range []struct {
		p    profiles.Profile
		want string
	}{
		{profiles.Profile{}, ""},
		{profiles.Profile{Record: true}, "record"},
		{profiles.Profile{Mode: profiles.ModeComplain}, "complain"},
		{profiles.Profile{LogDenied: true}, "enforce"},
		{profiles.Profile{Passthrough: true, Record: true}, ""},
	} {
		if got := agentMode(&c.p); got != c.want {
			t.Errorf("agentMode(%+v) = %q, want %q", c.p, got, c.want)
		}
	}
	s := &specs.Spec{Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{ListenerPath: "/run/runcage/agents/ab.sock"}}}
	if !ownListener(s, "/run/runcage") || ownListener(s, "/run/other") {
		t.Errorf("ownListener misjudges %s", s.Linux.Seccomp.ListenerPath)
	}
	if len(agentKey("", "c1")) != 16 || agentKey("", "c1") == agentKey("/other", "c1") {
		t.Errorf("agentKey does not separate roots")
	}
}

// A profile whose filter denies what runc init needs to hand the notify fd
// over is enforced as it is, without the denial agent: planDenials
// refuses before anything starts, names the syscall, and leaves the
// filter alone (widening it would weaken the profile).
func TestPrepareDenialsNeverWidensForTheHandover(t *testing.T) {
	for _, missing := range handoverSyscalls {
		names := []string{"execve", "exit_group"}
		for _, n := range handoverSyscalls {
			if n != missing {
				names = append(names, n)
			}
		}
		errno := uint(1)
		f := &specs.LinuxSeccomp{
			DefaultAction:   specs.ActErrno,
			DefaultErrnoRet: &errno,
			Architectures:   []specs.Arch{specs.ArchX86_64},
			Syscalls:        []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}},
		}
		l := &specs.Linux{Seccomp: f}
		dir := t.TempDir()
		pol := &policy.Policy{StateDir: dir}
		cfg := &recorder.AgentConfig{Container: "c1"}
		_, err := planDenials(pol, cfg, l)
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("without %s: err %v, want one naming it", missing, err)
		}
		if l.Seccomp != f || l.Seccomp.ListenerPath != "" {
			t.Errorf("without %s: the filter was changed", missing)
		}
		if _, err := os.Stat(filepath.Join(dir, "agents")); !os.IsNotExist(err) {
			t.Errorf("without %s: an agent was started (agents dir: %v)", missing, err)
		}
	}
}

// A filter that kills (or traps) where it denies is enforced as it is,
// without the denial agent, which could only answer with an errno.
func TestPlanDenialsNeverTurnsKillIntoErrno(t *testing.T) {
	for _, a := range []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillProcess, specs.ActTrap} {
		f := &specs.LinuxSeccomp{
			DefaultAction: a,
			Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls:      []specs.LinuxSyscall{{Names: append([]string{"execve", "exit_group"}, handoverSyscalls...), Action: specs.ActAllow}},
		}
		l := &specs.Linux{Seccomp: f}
		dir := t.TempDir()
		_, err := planDenials(&policy.Policy{StateDir: dir}, &recorder.AgentConfig{Container: "c1"}, l)
		if err == nil || !strings.Contains(err.Error(), string(a)) {
			t.Errorf("default %s: err %v, want one naming it", a, err)
		}
		if l.Seccomp != f || f.ListenerPath != "" {
			t.Errorf("default %s: the filter was changed", a)
		}
	}
}

//go:build integration

package adversarial

import (
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestListenerAdversarial: a bundle that names runcage's own agent sockets
// as its seccomp listener. runc, as root, connects to the socket and hands
// it the container's notify fd with the container's state; the denial agent
// answers notified syscalls by the configuration it keeps for the id. Only
// runcage may set such a listener, on a config.json it wrote.
func TestListenerAdversarial(t *testing.T) {
	noControl := "the agent sockets exist only while runcage's agents run; the point is that runcage refuses a listener under its state directory that it did not set"
	listener := func(name string) func(e *Env, s *specs.Spec) {
		return func(e *Env, s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Architectures: []specs.Arch{specs.ArchX86_64},
				ListenerPath:  filepath.Join(e.StateDir, "agents", name),
				Syscalls:      []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}},
			}
		}
	}
	RunCases(t, []Case{
		{
			Name: "listener-is-the-denial-agent", Class: 4,
			Script: `echo ` + Pwned, Mutate: listener("denials.sock"), NoControl: noControl,
			Expect: Refused, Want: []string{"refused", "names runcage's own state", "linux.seccomp.listenerPath", "runcage did not write it"},
		},
		{
			Name: "listener-is-another-containers-recorder", Class: 4,
			Script: `echo ` + Pwned, Mutate: listener("0123456789abcdef.sock"), NoControl: noControl,
			Expect: Refused, Want: []string{"refused", "names runcage's own state", "runcage did not write it"},
		},
	})
}

// TestRecordCapabilitiesAdversarial: the record profile keeps the
// capabilities a bundle asks for (record_capabilities, on by default). A
// pod author must not reach it through the profile annotation from a
// profile that keeps none, even where the administrator lets the
// annotation select record. Control: plain runc grants what the bundle
// asks for.
func TestRecordCapabilitiesAdversarial(t *testing.T) {
	RunCases(t, []Case{{
		Name: "annotation-selects-record-for-capabilities", Class: 0,
		// CapEff is hex; anything but all zeros is a capability kept.
		Script: `grep -q '^CapEff:[[:space:]]*0*[1-9a-f]' /proc/self/status && echo ` + Pwned + `; true`,
		Mutate: func(_ *Env, s *specs.Spec) {
			c := []string{"CAP_NET_BIND_SERVICE"}
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: c, Effective: c, Permitted: c}
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			s.Annotations["runcage.dev/profile"] = "record"
		},
		Policy: func(*Env) string { return "[profiles.default]\nannotation_selectable = [\"record\"]\n" },
		Expect: Refused, Want: []string{"record", "capabilit"},
	}})
}

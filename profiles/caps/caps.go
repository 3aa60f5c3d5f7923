// Package caps is the capability concern of a runcage profile: it checks
// capability names and cuts all five capability sets down to the profile's
// allowlist.
package caps

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// Known lists every capability the Linux kernel defines, by the canonical
// name the OCI spec uses, in kernel order (CAP_CHOWN is 0).
var Known = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// EngineDefault is the set container engines grant when the user asked for
// nothing: Docker's and containerd's default list (Podman's and `runc spec`'s
// are subsets). runcage drops these silently when the profile does not keep
// them, because nobody asked for them. A capability outside this set was
// asked for on purpose (--cap-add, --privileged), so runcage refuses it
// rather than run the container without what its owner expects.
var EngineDefault = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// CheckName reports whether name is a capability the kernel defines, spelled
// exactly as the OCI spec requires. Lowercase or prefix-less spellings are
// refused rather than guessed at.
func CheckName(name string) error {
	if slices.Contains(Known, name) {
		return nil
	}
	if up := strings.ToUpper(name); slices.Contains(Known, up) || slices.Contains(Known, "CAP_"+up) {
		return profiles.Refusef("capability %q refused: not spelled as the OCI spec requires (did you mean %q?)", name, canonical(up))
	}
	return profiles.Refusef("capability %q refused: unknown capability", name)
}

func canonical(up string) string {
	if strings.HasPrefix(up, "CAP_") {
		return up
	}
	return "CAP_" + up
}

// CheckList checks every name of one capability set and refuses duplicates.
// set names the set in messages ("bounding").
func CheckList(set string, names []string) error {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if err := CheckName(n); err != nil {
			return fmt.Errorf("process.capabilities.%s: %w", set, err)
		}
		if seen[n] {
			return profiles.Refusef("process.capabilities.%s: capability %q refused: listed twice", set, n)
		}
		seen[n] = true
	}
	return nil
}

// Modifier cuts process.capabilities down to a profile's allowlist. It is
// the only modifier that touches capabilities.
type Modifier struct {
	Profile string
	Keep    []string
}

// New returns the capability modifier for p. Its Modify refuses unknown,
// misspelled and duplicated names, refuses capabilities that the bundle
// asked for beyond EngineDefault unless p keeps them, and leaves each of the
// five sets as its intersection with p.Capabilities (so all five are empty
// when the profile keeps none). A process without capabilities, which runc
// runs with every capability, gets p.Capabilities in all five sets. It
// never adds a capability the bundle did not ask for.
func New(p *profiles.Profile) (profiles.Modifier, error) {
	for _, c := range p.Capabilities {
		if err := CheckName(c); err != nil {
			return nil, fmt.Errorf("profile %q: %w", p.Name, err)
		}
	}
	return &Modifier{Profile: p.Name, Keep: p.Capabilities}, nil
}

// Modify implements profiles.Modifier.
func (m *Modifier) Modify(s *specs.Spec) error {
	if s.Process == nil {
		return nil
	}
	c := s.Process.Capabilities
	if c == nil {
		// runc keeps every capability when the member is absent: that is
		// the bundle asking for all of them, and it keeps the profile's.
		s.Process.Capabilities = m.all()
		return nil
	}
	sets := []struct {
		name string
		list *[]string
	}{
		{"bounding", &c.Bounding}, {"effective", &c.Effective},
		{"permitted", &c.Permitted}, {"inheritable", &c.Inheritable},
		{"ambient", &c.Ambient},
	}
	for _, set := range sets {
		if err := CheckList(set.name, *set.list); err != nil {
			return err
		}
	}
	for _, set := range sets {
		kept, err := m.Filter(set.name, *set.list)
		if err != nil {
			return err
		}
		*set.list = kept
	}
	return nil
}

// all returns the five capability sets a bundle without
// process.capabilities gets: each is the profile's keep list (the
// intersection of every capability with it), empty but present when the
// profile keeps none, so that runc drops every capability.
func (m *Modifier) all() *specs.LinuxCapabilities {
	set := func() []string { return slices.Clone(m.Keep) }
	return &specs.LinuxCapabilities{Bounding: set(), Effective: set(), Permitted: set(), Inheritable: set(), Ambient: set()}
}

// Filter returns the members of names that m keeps, in their order. It
// refuses a name the profile does not keep and that is not in EngineDefault.
func (m *Modifier) Filter(set string, names []string) ([]string, error) {
	var kept []string
	for _, n := range names {
		switch {
		case slices.Contains(m.Keep, n):
			kept = append(kept, n)
		case !slices.Contains(EngineDefault, n):
			return nil, profiles.Refusef("capability %q in process.capabilities.%s refused: profile %q does not keep it (it keeps %s)", n, set, m.Profile, describe(m.Keep))
		}
	}
	return kept, nil
}

func describe(keep []string) string {
	if len(keep) == 0 {
		return "none"
	}
	return strings.Join(keep, ", ")
}

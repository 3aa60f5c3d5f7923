package apparmor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// stackSep separates the profiles of a stacked AppArmor label:
// "A//&B" confines a process by A and by B at once.
const stackSep = "//&"

// NewModifier returns the Modifier that confines containers of profile p
// with the AppArmor profile ProfileName(p.Name).
//
// text is the profile's own AppArmor file, loaded as it is (its flags decide
// its mode, and it must define ProfileName(p.Name)); nil means the text
// Generate writes for p.Name, in complain mode if p.AppArmor.Mode is
// "complain". host is the machine; nil means SystemHost{}.
//
// NewModifier returns nil, which a profiles.List skips, when there is
// nothing to do: p is a passthrough profile, p.AppArmor.Require is Off, or
// the host has no AppArmor and Require is IfAvailable (or empty). When the
// host has no AppArmor and Require is Required, the modifier refuses every
// spec with an error that satisfies errors.Is(err, profiles.ErrRefused). An
// invalid profile (bad name, unknown mode or requirement) gives, on every
// host, a modifier that returns an error describing it.
//
// Otherwise the modifier, for a spec with a process:
//   - makes sure the profile is loaded: if host.Loaded says it is not, it
//     loads text once (per modifier) and checks that the profile is then
//     loaded. A profile that is already loaded is not replaced, even if
//     text has changed since.
//   - sets process.apparmorProfile. If the bundle asked for no profile or
//     for "unconfined", the value becomes "runcage-X". If it asked for a
//     profile P, the value becomes the stack "P//&runcage-X": the process
//     is then confined by both, so the bundle's own confinement is never
//     weakened. A stack that already includes runcage-X is kept as it is,
//     so applying the modifier twice gives the same value. A bundle value
//     with white space, control bytes, '&' outside "//&", or an empty stack
//     member is refused (profiles.ErrRefused).
//
// An engine's own default profile (EngineDefaults) is replaced, not
// stacked. Stacking has a known cost, not yet verified on a kernel with AppArmor:
// the kernel matches P's signal and ptrace peer rules against the whole
// stacked label, or else against every member of it, so a P whose peer
// rules name only itself (docker-default's do) may deny signals and ptrace
// reads between the container's own processes. The generated runcage-X
// writes its peer rules to match every stack that includes it (see
// Generate), so that it does not add such denials itself.
//
// A spec without a process has nothing to confine and is left unchanged.
func NewModifier(p *profiles.Profile, host Host, text []byte) profiles.Modifier {
	if p == nil {
		return failed(errors.New("apparmor: no profile"))
	}
	if p.Passthrough {
		return nil
	}
	switch p.AppArmor.Require {
	case profiles.Off:
		return nil
	case "", profiles.IfAvailable, profiles.Required:
	default:
		return failed(fmt.Errorf("apparmor for profile %q: unknown requirement %q (want %q, %q or %q)",
			p.Name, p.AppArmor.Require, profiles.Required, profiles.IfAvailable, profiles.Off))
	}
	if err := ValidName(p.Name); err != nil {
		return failed(fmt.Errorf("apparmor: %w", err))
	}
	name := ProfileName(p.Name)
	var complain bool
	switch profiles.Mode(p.AppArmor.Mode) {
	case "", profiles.ModeEnforce:
	case profiles.ModeComplain:
		complain = true
	default:
		return failed(fmt.Errorf("apparmor profile %q: unknown mode %q (want %q or %q)",
			name, p.AppArmor.Mode, profiles.ModeEnforce, profiles.ModeComplain))
	}

	if host == nil {
		host = SystemHost{}
	}
	if !host.Enabled() {
		if p.AppArmor.Require != profiles.Required {
			return nil
		}
		return profiles.ModifierFunc(func(*specs.Spec) error {
			return profiles.Refusef("apparmor profile %q refused: profile %q requires AppArmor and this host does not have it enabled", name, p.Name)
		})
	}

	if text == nil {
		var err error
		if text, err = Generate(Options{Name: p.Name, Complain: complain}); err != nil {
			return failed(err)
		}
	}
	return &modifier{name: name, host: host, text: text}
}

// failed returns a modifier whose Modify always returns err.
func failed(err error) profiles.Modifier {
	return profiles.ModifierFunc(func(*specs.Spec) error { return err })
}

// modifier confines a spec's process with the AppArmor profile name on a
// host that has AppArmor. It is safe for concurrent use.
type modifier struct {
	name string
	host Host
	text []byte

	mu     sync.Mutex
	loaded bool
}

// Modify implements profiles.Modifier; see NewModifier.
func (m *modifier) Modify(s *specs.Spec) error {
	if s == nil || s.Process == nil {
		return nil
	}
	label, err := stack(s.Process.ApparmorProfile, m.name)
	if err != nil {
		return err
	}
	if err := m.ensureLoaded(); err != nil {
		return err
	}
	s.Process.ApparmorProfile = label
	return nil
}

// ensureLoaded loads m.text unless the host already has m.name loaded. A
// successful load is remembered, so the text is loaded once per modifier.
func (m *modifier) ensureLoaded() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loaded {
		return nil
	}
	ok, err := m.host.Loaded(m.name)
	if err != nil {
		return fmt.Errorf("apparmor profile %q: %w", m.name, err)
	}
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), ParserTimeout)
		defer cancel()
		if err := m.host.Load(ctx, m.text); err != nil {
			return fmt.Errorf("apparmor profile %q: %w", m.name, err)
		}
		if ok, err = m.host.Loaded(m.name); err != nil {
			return fmt.Errorf("apparmor profile %q: %w", m.name, err)
		}
		if !ok {
			return fmt.Errorf("apparmor profile %q: loaded its text, but the kernel does not list the profile (does the text define it?)", m.name)
		}
	}
	m.loaded = true
	return nil
}

// EngineDefaults are the profiles container engines apply when the user
// asked for none. runcage-X denies everything they deny, so they are
// replaced rather than stacked: their peer rules name only themselves
// (peer=docker-default), and inside a stack they would deny signals
// between the container's own processes.
var EngineDefaults = map[string]bool{
	"docker-default":            true,
	"cri-containerd.apparmor.d": true,
	"containers-default-0.50.0": true,
}

// stack returns the AppArmor label that confines a process by current, the
// label the bundle asked for, and by ours. "" and "unconfined" give ours;
// a label that already includes ours is returned unchanged; any other label
// P gives "P//&ours", with "unconfined" and EngineDefaults members dropped. Labels that could
// be read in more than one way are refused.
func stack(current, ours string) (string, error) {
	if current == "" || current == "unconfined" {
		return ours, nil
	}
	for i := 0; i < len(current); i++ {
		if c := current[i]; c <= ' ' || c >= 0x7f {
			return "", profiles.Refusef("process.apparmorProfile %q refused: it contains white space, a control character or a non-ASCII byte", current)
		}
	}
	members := strings.Split(current, stackSep)
	for _, mb := range members {
		switch {
		case mb == "":
			return "", profiles.Refusef("process.apparmorProfile %q refused: the stack has an empty member", current)
		case strings.Contains(mb, "&"):
			return "", profiles.Refusef("process.apparmorProfile %q refused: %q outside the stack separator %q", current, "&", stackSep)
		case strings.HasSuffix(mb, "/"):
			return "", profiles.Refusef("process.apparmorProfile %q refused: stack member %q ends in %q", current, mb, "/")
		}
	}
	if slices.Contains(members, ours) {
		return current, nil
	}
	kept := slices.DeleteFunc(members, func(mb string) bool {
		return mb == "unconfined" || EngineDefaults[mb]
	})
	return strings.Join(append(kept, ours), stackSep), nil
}

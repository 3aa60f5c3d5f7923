// Package hooks enforces a profile's allowlist of OCI hooks. Hooks run on the
// host, as root, in the runtime's namespaces, so a hook the profile does not
// name is a host command the bundle chose; it is refused.
package hooks

import (
	"fmt"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// New returns a Modifier that refuses every hook, in every stage, whose path
// is not matched by one of p.Hooks. An entry of p.Hooks matches a hook when it
// equals the hook's path or, as a path.Match pattern, matches it. Entries must
// be absolute; a relative or malformed entry is a profile error (not a
// refusal). The one hook allowed without an entry is the libnetwork-setkey
// hook dockerd adds itself, in exactly the form dockerSetKey checks. Hook paths that are not absolute and clean are refused before any
// matching, so that "*" cannot match a ".." element. An empty p.Hooks (or a
// nil p) refuses any hook. The modifier never changes the spec.
func New(p *profiles.Profile) profiles.Modifier {
	m := modifier{exe: procExe}
	if p != nil {
		m.name = p.Name
		m.allow = p.Hooks
	}
	return m
}

type modifier struct {
	name  string
	allow []string
	// exe resolves /proc/<pid>/exe for the engine-hook check; tests
	// replace it.
	exe exeFunc
}

// Modify implements profiles.Modifier.
func (m modifier) Modify(s *specs.Spec) error {
	for _, pat := range m.allow {
		if !strings.HasPrefix(pat, "/") {
			return fmt.Errorf("profile %q: hook pattern %q is not absolute", m.name, pat)
		}
		if _, err := path.Match(pat, "/"); err != nil {
			return fmt.Errorf("profile %q: hook pattern %q: %w", m.name, pat, err)
		}
	}
	if s.Hooks == nil {
		return nil
	}
	stages := []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", s.Hooks.Prestart},
		{"createRuntime", s.Hooks.CreateRuntime},
		{"createContainer", s.Hooks.CreateContainer},
		{"startContainer", s.Hooks.StartContainer},
		{"poststart", s.Hooks.Poststart},
		{"poststop", s.Hooks.Poststop},
	}
	for _, st := range stages {
		for _, h := range st.hooks {
			if dockerSetKey(st.name, h, m.exe) {
				continue
			}
			if err := m.check(st.name, h.Path); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m modifier) check(stage, p string) error {
	if len(m.allow) == 0 {
		return profiles.Refusef("%s hook %q refused: profile %q allows no hooks", stage, p, m.name)
	}
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return profiles.Refusef("%s hook %q refused: path is not absolute and clean", stage, p)
	}
	for _, pat := range m.allow {
		if pat == p {
			return nil
		}
		if ok, _ := path.Match(pat, p); ok {
			return nil
		}
	}
	return profiles.Refusef("%s hook %q refused: not in profile %q hooks list", stage, p, m.name)
}

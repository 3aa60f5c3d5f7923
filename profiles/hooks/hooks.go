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
// refusal). Hook paths that are not absolute and clean, or that are at or
// under /proc as written, are refused before any matching, so that "*"
// cannot match a ".." element. An empty p.Hooks (or a nil p) refuses any
// hook.
//
// The hooks of the stages that run on the host (prestart, createRuntime,
// poststart, poststop) run as root in the host's mount namespace, so their
// path is decided on what it resolves to on the host (resolveHostExec),
// and it is the resolved path that must match the profile's list: a
// root-owned regular file, not writable by group or others, reached only
// through root-owned directories that no other user can write and that are
// not on procfs (no /proc spelling and no magic link gets through). The
// modifier rewrites such a hook's path to the resolved path, so that runc
// executes the file that was checked. The hooks of createContainer and
// startContainer run in the container's namespaces and their path names a
// file of the container; they are matched as written and left alone.
//
// The one hook allowed without an entry is the libnetwork-setkey hook
// dockerd adds itself, in exactly the form dockerSetKey checks, and only
// when <pid> is the host's dockerd (hostDockerd). Modify is idempotent.
func New(p *profiles.Profile) profiles.Modifier {
	m := modifier{engine: hostDockerd, resolve: resolveHostExec}
	if p != nil {
		m.name = p.Name
		m.allow = p.Hooks
	}
	return m
}

type modifier struct {
	name  string
	allow []string
	// engine and resolve are the seams tests replace: hostDockerd and
	// resolveHostExec.
	engine  engineFunc
	resolve resolveFunc
}

// hostStages are the stages whose hooks run on the host.
var hostStages = map[string]bool{"prestart": true, "createRuntime": true, "poststart": true, "poststop": true}

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
		for i := range st.hooks {
			h := &st.hooks[i]
			_, ok, err := dockerSetKey(st.name, *h, m.engine)
			if err != nil {
				return profiles.Refusef("%s hook %q refused: it is dockerd's libnetwork-setkey hook in form, but %v", st.name, h.Path, err)
			}
			if ok {
				continue
			}
			if err := m.check(st.name, h.Path); err != nil {
				return err
			}
			if !hostStages[st.name] {
				if err := m.match(st.name, h.Path); err != nil {
					return err
				}
				continue
			}
			resolved, err := m.resolve(h.Path)
			if err != nil {
				return profiles.Refusef("%s hook %q refused: it runs on the host as root, and %v", st.name, h.Path, err)
			}
			if err := m.match(st.name, resolved); err != nil {
				if resolved != h.Path {
					return profiles.Refusef("%s hook %q refused: it resolves to %q, which is not in profile %q hooks list", st.name, h.Path, resolved, m.name)
				}
				return err
			}
			h.Path = resolved
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
	if p == "/proc" || strings.HasPrefix(p, "/proc/") {
		return profiles.Refusef("%s hook %q refused: path is under /proc", stage, p)
	}
	return nil
}

// match refuses p unless a pattern of the profile matches it.
func (m modifier) match(stage, p string) error {
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

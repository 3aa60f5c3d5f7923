// Package namespaces refuses containers that share the host's namespaces
// beyond what their profile allows, and validates user-namespace id mappings.
package namespaces

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
)

// MaxID bounds mapped ids: containerID+size and hostID+size may not exceed
// it. Ids at and above 1<<31 are avoided because many tools treat ids as
// signed 32-bit numbers, and systemd reserves them.
const MaxID = 1 << 31

// guarded lists the namespaces that must not be the host's unless the
// profile's HostNamespaces names them, with the names profiles use.
var guarded = []struct {
	typ  specs.LinuxNamespaceType
	name string
}{
	{specs.PIDNamespace, "pid"},
	{specs.IPCNamespace, "ipc"},
	{specs.NetworkNamespace, "network"},
}

// procName maps a namespace type to its name under /proc/<pid>/ns.
var procName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.MountNamespace:   "mnt",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.UserNamespace:    "user",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

// nsID identifies a namespace: the device and inode of its nsfs file.
type nsID struct{ dev, ino uint64 }

// statFunc returns the identity of the namespace file at path, following
// symlinks (as /proc/<pid>/ns/* are).
type statFunc func(path string) (nsID, error)

func statNS(path string) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// New returns a Modifier that refuses a spec when:
//   - linux is absent (a container without namespaces shares all of the host's);
//   - the pid, ipc or network namespace is the host's and p.HostNamespaces
//     does not name it ("pid", "ipc", "network"). A namespace is the host's
//     when its linux.namespaces entry is absent, or when its path is the same
//     namespace (same nsfs device and inode) as /proc/1/ns/<type> or
//     /proc/self/ns/<type>, which is runcage's own and so the runtime's;
//   - a namespace path (of any type) names anything but the namespace of
//     the container's own pod sandbox or, for the network namespace only,
//     a namespace pinned by the engine under /run/netns (see checkJoins);
//   - the mount namespace is absent or the host's, whatever the profile says;
//   - a namespace type is listed twice;
//   - uid or gid mappings are present without a user namespace entry, or fail
//     ValidateMappings.
//
// An absent uts or cgroup namespace entry, which would share the host's, is
// added as a new namespace unless p.HostNamespaces names it ("uts",
// "cgroup"). The other change the modifier makes is FitPingGroupRange: with
// a user namespace (the bundle's own, or the one runcage injects when p
// requires one) the net.ipv4.ping_group_range sysctl is narrowed to the
// mapped groups.
func New(p *profiles.Profile, o Owner) profiles.Modifier {
	m := &modifier{stat: statNS, hostPaths: []string{"/proc/1/ns/", "/proc/self/ns/"},
		owner: o, sandbox: sandboxNS, pinned: func(p string) error { return pinnedNetns(p, o.PinnedNetnsDirs) }}
	if p != nil {
		m.name = p.Name
		m.allow = p.HostNamespaces
		m.injectUserns = p.UserNS == profiles.Required
	}
	return m
}

type modifier struct {
	name  string
	allow []string
	// injectUserns: the profile requires a user namespace, so runcage
	// injects one (container ids from 0) when the bundle has none.
	injectUserns bool
	// stat and hostPaths are the seam tests replace: a namespace is the
	// host's when stat(path) equals stat(hostPaths[i]+procName) for some i.
	stat      statFunc
	hostPaths []string
	// owner is where the container's pod sandbox is looked up; sandbox
	// and pinned are the seams tests replace: sandboxNS and pinnedNetns.
	owner   Owner
	sandbox sandboxFunc
	pinned  func(path string) error
}

// Modify implements profiles.Modifier.
func (m *modifier) Modify(s *specs.Spec) error {
	if s.Linux == nil {
		return profiles.Refusef("spec refused: no linux section, so the container would share every host namespace")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range s.Linux.Namespaces {
		if seen[ns.Type] {
			return profiles.Refusef("namespace %q refused: listed more than once", string(ns.Type))
		}
		seen[ns.Type] = true
	}

	if err := m.checkHost(s, specs.MountNamespace, "mount", false); err != nil {
		return err
	}
	for _, g := range guarded {
		if err := m.checkHost(s, g.typ, g.name, slices.Contains(m.allow, g.name)); err != nil {
			return err
		}
	}

	if err := m.checkJoins(s); err != nil {
		return err
	}
	m.inject(s, seen)

	if len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0 {
		if !seen[specs.UserNamespace] {
			return profiles.Refusef("uid/gid mappings refused: the spec has no user namespace to apply them to")
		}
	}
	if err := ValidateMappings("uid", s.Linux.UIDMappings); err != nil {
		return err
	}
	if err := ValidateMappings("gid", s.Linux.GIDMappings); err != nil {
		return err
	}
	gids := s.Linux.GIDMappings
	if !seen[specs.UserNamespace] && m.injectUserns {
		gids = injectedGIDs()
	}
	_, err := FitPingGroupRange(s, gids)
	return err
}

// checkHost refuses when the namespace of type typ is the host's and allowed
// is false. name is the profile's name for the namespace, used in messages.
func (m *modifier) checkHost(s *specs.Spec, typ specs.LinuxNamespaceType, name string, allowed bool) error {
	if allowed {
		return nil
	}
	i := slices.IndexFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == typ })
	if i < 0 {
		return m.refuseHost(name, "the spec has no "+string(typ)+" namespace entry")
	}
	path := s.Linux.Namespaces[i].Path
	if path == "" {
		return nil // a new namespace
	}
	host, err := m.isHost(typ, path)
	if err != nil {
		return profiles.Refusef("%s namespace path %q refused: cannot tell whether it is the host's: %v", name, path, err)
	}
	if host {
		return m.refuseHost(name, fmt.Sprintf("path %q is the host's namespace", path))
	}
	return nil
}

func (m *modifier) refuseHost(name, why string) error {
	if name == "mount" {
		return profiles.Refusef("host mount namespace refused: %s, and no profile may share it", why)
	}
	return profiles.Refusef("host %s namespace refused: %s, and profile %q does not list %q in host_namespaces", name, why, m.name, name)
}

// isHost reports whether path is the same namespace as one of the host
// references. It fails only when path cannot be inspected or no host
// reference can be.
func (m *modifier) isHost(typ specs.LinuxNamespaceType, path string) (bool, error) {
	id, err := m.stat(path)
	if err != nil {
		return false, fmt.Errorf("stat namespace: %w", profiles.PathCause(err))
	}
	var firstErr error
	ok := false
	for _, h := range m.hostPaths {
		hid, err := m.stat(h + procName[typ])
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		ok = true
		if hid == id {
			return true, nil
		}
	}
	if !ok {
		return false, fmt.Errorf("stat host namespace: %w", profiles.PathCause(firstErr))
	}
	return false, nil
}

// ValidateMappings returns a refusal (errors.Is(err, profiles.ErrRefused))
// when the id mappings m are unsafe: a mapping of size 0, a mapping whose
// host range includes id 0 (host root), a mapping whose container or host
// range ends beyond MaxID, or two mappings that overlap in container ids or
// in host ids. kind ("uid" or "gid") names the mappings in messages. An empty
// m is valid. All arithmetic is done in uint64, so no input overflows.
func ValidateMappings(kind string, m []specs.LinuxIDMapping) error {
	for i, a := range m {
		switch {
		case a.Size == 0:
			return profiles.Refusef("%s mapping %s refused: size is 0", kind, fmtMapping(a))
		case a.HostID == 0:
			return profiles.Refusef("%s mapping %s refused: maps host id 0 (root)", kind, fmtMapping(a))
		case uint64(a.ContainerID)+uint64(a.Size) > MaxID:
			return profiles.Refusef("%s mapping %s refused: container ids end beyond %d", kind, fmtMapping(a), uint64(MaxID))
		case uint64(a.HostID)+uint64(a.Size) > MaxID:
			return profiles.Refusef("%s mapping %s refused: host ids end beyond %d", kind, fmtMapping(a), uint64(MaxID))
		}
		for _, b := range m[:i] {
			if overlap(a.ContainerID, b.ContainerID, a.Size, b.Size) {
				return profiles.Refusef("%s mapping %s refused: container ids overlap mapping %s", kind, fmtMapping(a), fmtMapping(b))
			}
			if overlap(a.HostID, b.HostID, a.Size, b.Size) {
				return profiles.Refusef("%s mapping %s refused: host ids overlap mapping %s", kind, fmtMapping(a), fmtMapping(b))
			}
		}
	}
	return nil
}

// overlap reports whether [a, a+an) and [b, b+bn) intersect.
func overlap(a, b, an, bn uint32) bool {
	return uint64(a) < uint64(b)+uint64(bn) && uint64(b) < uint64(a)+uint64(an)
}

func fmtMapping(m specs.LinuxIDMapping) string {
	return fmt.Sprintf("{container %d, host %d, size %d}", m.ContainerID, m.HostID, m.Size)
}

// Package cgroups refuses a linux.cgroupsPath that would put a container
// inside, on top of, or in place of another container's cgroup.
package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/internal/mountinfo"
	"github.com/runcage/runcage/profiles"
)

// Hierarchy is one mounted cgroup hierarchy: where it is mounted on the
// host, and the cgroup (path within the hierarchy) of the runtime itself.
type Hierarchy struct {
	// Name names the hierarchy in messages ("memory", "name=systemd",
	// "unified").
	Name string
	// Mount is the host directory the hierarchy's root is mounted at.
	Mount string
	// Own is runcage's own cgroup in the hierarchy ("/" at the root). runc,
	// which runcage starts, makes a relative cgroupsPath relative to it.
	Own string
}

// Host is the seam to the host's cgroup filesystems; tests replace it.
type Host interface {
	// Hierarchies lists the mounted cgroup hierarchies.
	Hierarchies() ([]Hierarchy, error)
	// Procs reports whether the cgroup directory dir holds processes; ok
	// is false when dir does not exist.
	Procs(dir string) (procs, ok bool, err error)
	// Children reports whether the cgroup directory dir has child cgroups.
	Children(dir string) (bool, error)
}

// New returns a Modifier that refuses the spec's linux.cgroupsPath when,
// in any mounted cgroup hierarchy (each cgroup v1 hierarchy and the v2 one),
// the cgroup it names:
//   - has a ".." element as written;
//   - is the hierarchy's root;
//   - is a cgroup that holds processes, or is below one (strictly below
//     the hierarchy's root) — such a cgroup is another container's, unless
//     it is runcage's own cgroup or one of its ancestors, which hold the
//     engine and runtime themselves;
//   - already exists with child cgroups: the container would take over the
//     tree below it (an engine's /docker or /kubepods, or another
//     container's cgroup).
//
// The cgroup is resolved as runc resolves it: an absolute cgroupsPath from
// the hierarchy's root, a relative one (and the container id when the path
// is absent) from runcage's own cgroup in that hierarchy. A path of the
// systemd driver's form "slice:prefix:name" is judged both as that (the
// cgroup <expanded slice>/<prefix>-<name>.scope, or <name> when it is a
// slice) and as a relative path, since runcage does not know which driver
// runc was asked to use; a slice name systemd cannot expand is refused.
// The modifier never changes the spec. What it decides can change before
// runc creates the cgroup (a process moved into an ancestor in between);
// the engines never do that to their own cgroups.
func New(containerID string, h Host) profiles.Modifier {
	if h == nil {
		h = hostFS{}
	}
	return &modifier{id: containerID, host: h}
}

type modifier struct {
	id   string
	host Host
}

// Modify implements profiles.Modifier.
func (m *modifier) Modify(s *specs.Spec) error {
	raw := ""
	if s.Linux != nil {
		raw = s.Linux.CgroupsPath
	}
	if slices.Contains(strings.Split(raw, "/"), "..") {
		return profiles.Refusef("cgroupsPath %q refused: it contains a \"..\" element", raw)
	}
	type target struct{ p, how string }
	var targets []target
	switch {
	case raw == "":
		if m.id == "" {
			return nil
		}
		targets = append(targets, target{m.id, "the container id, relative to runcage's own cgroup"})
	default:
		targets = append(targets, target{raw, ""})
		if parts := strings.Split(raw, ":"); len(parts) == 3 && !strings.HasPrefix(raw, "/") {
			p, err := systemdPath(parts[0], parts[1], parts[2])
			if err != nil {
				return profiles.Refusef("cgroupsPath %q refused: %v", raw, err)
			}
			targets = append(targets, target{p, "the systemd driver's cgroup"})
		}
	}
	hs, err := m.host.Hierarchies()
	if err != nil {
		return fmt.Errorf("list cgroup hierarchies: %w", err)
	}
	for _, t := range targets {
		for _, h := range hs {
			cg := t.p
			if !strings.HasPrefix(cg, "/") {
				cg = path.Join(h.Own, cg)
			}
			cg = path.Clean("/" + cg)
			if why := m.check(h, cg); why != "" {
				what := fmt.Sprintf("cgroupsPath %q", raw)
				if t.how != "" {
					what += " (" + t.how + ")"
				}
				return profiles.Refusef("%s refused: in the %s hierarchy its cgroup %q %s", what, h.Name, cg, why)
			}
		}
	}
	return nil
}

// check returns why the cgroup cg of hierarchy h may not be the
// container's, or "".
func (m *modifier) check(h Hierarchy, cg string) string {
	if cg == "/" {
		return "is the hierarchy's root"
	}
	dir := func(p string) string { return path.Join(h.Mount, p) }
	// Ancestors strictly below the root, nearest last, then cg itself.
	var chain []string
	for p := path.Dir(cg); p != "/"; p = path.Dir(p) {
		chain = append(chain, p)
	}
	for _, a := range chain {
		if under(h.Own, a) {
			continue // the runtime's own cgroup or an ancestor of it
		}
		procs, _, err := m.host.Procs(dir(a))
		if err != nil {
			return fmt.Sprintf("cannot be checked: %v", profiles.PathCause(err))
		}
		if procs {
			return fmt.Sprintf("is inside %q, which holds processes (another container's cgroup)", a)
		}
	}
	procs, ok, err := m.host.Procs(dir(cg))
	switch {
	case err != nil:
		return fmt.Sprintf("cannot be checked: %v", profiles.PathCause(err))
	case !ok:
		return ""
	case procs:
		return "already holds processes (another container's cgroup)"
	}
	children, err := m.host.Children(dir(cg))
	if err != nil {
		return fmt.Sprintf("cannot be checked: %v", profiles.PathCause(err))
	}
	if children {
		return "already has child cgroups, whose tree the container would take over"
	}
	return ""
}

// under reports whether the clean absolute path p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// systemdPath returns the cgroup runc's systemd driver uses for
// cgroupsPath "slice:prefix:name" (runc's getUnitName and ExpandSlice).
func systemdPath(slice, prefix, name string) (string, error) {
	if slice == "" {
		slice = "system.slice"
	}
	dir, err := expandSlice(slice)
	if err != nil {
		return "", err
	}
	unit := name
	if !strings.HasSuffix(name, ".slice") {
		unit = prefix + "-" + name + ".scope"
	}
	if strings.Contains(unit, "/") || unit == ".." {
		return "", fmt.Errorf("unit name %q is not a file name", unit)
	}
	return path.Join(dir, unit), nil
}

// expandSlice turns a systemd slice name into its cgroup path:
// test-a-b.slice is /test.slice/test-a.slice/test-a-b.slice.
func expandSlice(slice string) (string, error) {
	const suffix = ".slice"
	if len(slice) <= len(suffix) || !strings.HasSuffix(slice, suffix) || strings.Contains(slice, "/") {
		return "", fmt.Errorf("invalid systemd slice name %q", slice)
	}
	name := strings.TrimSuffix(slice, suffix)
	if name == "-" {
		return "/", nil
	}
	p, prefix := "", ""
	for _, c := range strings.Split(name, "-") {
		if c == "" {
			return "", fmt.Errorf("invalid systemd slice name %q", slice)
		}
		p += "/" + prefix + c + suffix
		prefix += c + "-"
	}
	return p, nil
}

// hostFS is the real Host: /proc/self/mountinfo, the cgroups of runcage
// (/proc/self/cgroup) or of process pid, and the cgroup filesystems.
type hostFS struct{ pid int }

// HostOf returns the real Host seen from process pid rather than from
// runcage itself: relative cgroup paths are resolved from pid's cgroups,
// for a delegate that pid starts (runcage's warm front). pid must share
// runcage's mount and cgroup namespaces.
func HostOf(pid int) Host { return hostFS{pid: pid} }

// Hierarchies implements Host.
func (h hostFS) Hierarchies() ([]Hierarchy, error) {
	own, err := ownCgroups(h.pid)
	if err != nil {
		return nil, err
	}
	mounts, err := mountinfo.Read()
	if err != nil {
		return nil, err
	}
	var hs []Hierarchy
	seen := map[string]bool{}
	for _, m := range mounts {
		if m.Root != "/" {
			continue // a bind of a sub-cgroup, not a hierarchy's root
		}
		var h Hierarchy
		switch m.FSType {
		case "cgroup2":
			h = Hierarchy{Name: "unified", Mount: m.MountPoint, Own: own[""]}
		case "cgroup":
			opts := strings.Split(m.SuperOptions, ",")
			key := ""
			for k := range own {
				if k != "" && allIn(strings.Split(k, ","), opts) {
					key = k
				}
			}
			if key == "" {
				continue
			}
			h = Hierarchy{Name: key, Mount: m.MountPoint, Own: own[key]}
		default:
			continue
		}
		if h.Own == "" || seen[h.Name] {
			continue
		}
		seen[h.Name] = true
		hs = append(hs, h)
	}
	return hs, nil
}

func allIn(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// ownCgroups maps the controller list of each line of /proc/self/cgroup
// ("" for v2) to runcage's cgroup in it, or of /proc/<pid>/cgroup when pid
// is not 0.
func ownCgroups(pid int) (map[string]string, error) {
	file := "/proc/self/cgroup"
	if pid != 0 {
		file = "/proc/" + strconv.Itoa(pid) + "/cgroup"
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	own := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		own[f[1]] = path.Clean(f[2])
	}
	return own, nil
}

// Procs implements Host.
func (hostFS) Procs(dir string) (bool, bool, error) {
	data, err := os.ReadFile(path.Join(dir, "cgroup.procs"))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			return false, false, nil
		}
	}
	if err != nil {
		return false, false, err
	}
	return len(strings.TrimSpace(string(data))) > 0, true, nil
}

// Children implements Host.
func (hostFS) Children(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		if e.IsDir() {
			return true, nil
		}
	}
	return false, nil
}

// Package mounts enforces runcage's mount rules: no bind mounts of sensitive
// host paths (the root, procfs, sysfs, /dev, container-engine sockets and
// state), no bind mounts over the container's /proc, /sys or /dev/console,
// read-only sysfs and cgroupfs, the masked and read-only path lists, and the
// device allowlist.
package mounts

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// DefaultMaskedPaths are masked in every container, in addition to the
// bundle's and the profile's. They are Docker's list (moby oci/defaults.go)
// plus Podman's additions /sys/fs/selinux and /sys/dev/block.
var DefaultMaskedPaths = []string{
	"/proc/asound",
	"/proc/acpi",
	"/proc/interrupts",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
	"/sys/fs/selinux",
	"/sys/dev/block",
}

// DefaultReadonlyPaths are read-only in every container, in addition to the
// bundle's and the profile's. They are Docker's list.
var DefaultReadonlyPaths = []string{
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}

// New returns a Modifier that applies the mount rules of p (a nil p is the
// zero Profile, the strictest). Modify:
//
//   - refuses any mount whose destination is relative, has a ".." element, is
//     "/", or is at or under /dev/console;
//   - refuses a bind mount (type "bind", or option "bind" or "rbind") whose
//     destination is at or under /proc or /sys;
//   - refuses a procfs mount anywhere but /proc and a sysfs mount anywhere
//     but /sys: elsewhere the masked and read-only paths would not cover it;
//   - refuses a bind source, or an overlay lowerdir/upperdir/workdir, that is
//     relative, has a ".." element, or is sensitive (see SensitiveSource),
//     judged both as written and with host symlinks resolved;
//   - makes sysfs and cgroup mounts read-only, and sysfs, cgroup and proc
//     mounts nosuid, noexec and nodev, by replacing the opposite option or
//     appending the missing one;
//   - sets linux.maskedPaths and linux.readonlyPaths to the bundle's entries,
//     in order, followed by DefaultMaskedPaths/DefaultReadonlyPaths and then
//     p.MaskedPaths/p.ReadonlyPaths, without duplicates;
//   - refuses linux.devices entries that are neither one of runc's default
//     devices (/dev/null, zero, full, random, urandom, tty, with their
//     standard numbers) nor listed in p.Devices and equal, in type and
//     numbers, to the host's device at that path;
//   - refuses linux.resources.devices allow rules that grant read or write
//     access to every device, every device of a type (a wildcard major), or
//     the kernel memory devices (/dev/mem, /dev/kmem, /dev/port).
//
// Profile paths in MaskedPaths, ReadonlyPaths and Devices must be absolute
// and clean; otherwise Modify returns a profile error that is not a refusal.
// Modify is idempotent: applying it twice gives the same spec as once.
func New(p *profiles.Profile) profiles.Modifier {
	m := &modifier{resolve: filepath.EvalSymlinks, hostDevice: hostDevice}
	if p != nil {
		m.p = *p
	}
	return m
}

type modifier struct {
	p profiles.Profile
	// resolve and hostDevice are the seams tests replace. resolve is
	// filepath.EvalSymlinks; hostDevice stats a host device node.
	resolve    func(string) (string, error)
	hostDevice func(string) (device, error)
}

// Modify implements profiles.Modifier.
func (m *modifier) Modify(s *specs.Spec) error {
	for _, l := range []struct {
		what  string
		paths []string
	}{{"masked path", m.p.MaskedPaths}, {"readonly path", m.p.ReadonlyPaths}, {"device", m.p.Devices}} {
		for _, p := range l.paths {
			if !absClean(p) {
				return fmt.Errorf("profile %q: %s %q is not an absolute clean path", m.p.Name, l.what, p)
			}
		}
	}

	for i := range s.Mounts {
		if err := m.checkMount(&s.Mounts[i]); err != nil {
			return err
		}
		harden(&s.Mounts[i])
	}

	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.MaskedPaths = union(s.Linux.MaskedPaths, DefaultMaskedPaths, m.p.MaskedPaths)
	s.Linux.ReadonlyPaths = union(s.Linux.ReadonlyPaths, DefaultReadonlyPaths, m.p.ReadonlyPaths)

	for _, d := range s.Linux.Devices {
		if err := m.checkDevice(d); err != nil {
			return err
		}
	}
	if s.Linux.Resources != nil {
		for _, r := range s.Linux.Resources.Devices {
			if err := checkDeviceRule(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkMount applies the destination and source rules to one mount.
func (m *modifier) checkMount(mnt *specs.Mount) error {
	dst := mnt.Destination
	bind := isBind(mnt)
	kind := fmt.Sprintf("mount of type %q at", mnt.Type)
	if bind {
		kind = fmt.Sprintf("bind mount %q ->", mnt.Source)
	}
	switch {
	case !strings.HasPrefix(dst, "/"):
		return profiles.Refusef("%s %q refused: destination is not an absolute path", kind, dst)
	case hasDotDot(dst):
		return profiles.Refusef("%s %q refused: destination contains a \"..\" element", kind, dst)
	}
	d := path.Clean(dst)
	switch {
	case d == "/":
		return profiles.Refusef("%s %q refused: destination is the container's root", kind, dst)
	case under(d, "/dev/console"):
		return profiles.Refusef("%s %q refused: destination is at or under /dev/console", kind, dst)
	case bind && under(d, "/proc"):
		return profiles.Refusef("%s %q refused: destination is at or under /proc", kind, dst)
	case bind && under(d, "/sys"):
		return profiles.Refusef("%s %q refused: destination is at or under /sys", kind, dst)
	case !bind && mnt.Type == "proc" && d != "/proc":
		return profiles.Refusef("%s %q refused: procfs is only mounted at /proc, where its masked paths apply", kind, dst)
	case !bind && mnt.Type == "sysfs" && d != "/sys":
		return profiles.Refusef("%s %q refused: sysfs is only mounted at /sys, where its masked paths apply", kind, dst)
	}
	if bind {
		if why := m.checkSource(mnt.Source); why != "" {
			return profiles.Refusef("%s %q refused: %s", kind, dst, why)
		}
	}
	if mnt.Type == "overlay" {
		for _, src := range overlaySources(mnt.Options) {
			if why := m.checkSource(src); why != "" {
				return profiles.Refusef("overlay mount at %q refused: layer %q: %s", dst, src, why)
			}
		}
	}
	return nil
}

// checkSource returns why the host path src may not be bound into a
// container, or "" when it may. The reason is a phrase that formats bundle
// values with %q.
func (m *modifier) checkSource(src string) string {
	switch {
	case !strings.HasPrefix(src, "/"):
		return "source is not an absolute path"
	case hasDotDot(src):
		return "source contains a \"..\" element"
	}
	lit := path.Clean(src)
	if why := SensitiveSource(lit); why != "" {
		return "source " + why
	}
	res, err := m.resolve(lit)
	if errors.Is(err, fs.ErrNotExist) {
		// runc cannot bind a source that does not exist; the literal check
		// above is all there is to judge.
		return ""
	}
	if err != nil {
		return fmt.Sprintf("cannot resolve source on the host: %v", cause(err))
	}
	if res != lit {
		if why := SensitiveSource(res); why != "" {
			return fmt.Sprintf("source resolves to %q, which %s", res, why)
		}
	}
	return ""
}

// sensitive is one host path that must not be bound into a container.
type sensitive struct {
	path string
	what string
	// subtree refuses paths under path too, except those strictly under one
	// of except (each ends in "/").
	subtree bool
	except  []string
}

// sensitivePaths is checked in order; the first rule that applies names the
// reason. Every path is also refused when a source is an ancestor of it
// (binding /run exposes /run/docker.sock).
var sensitivePaths = withVarRun([]sensitive{
	{path: "/", what: "the host's root directory"},
	{path: "/proc", what: "the host's procfs", subtree: true},
	{path: "/sys", what: "the host's sysfs", subtree: true},
	{path: "/dev", what: "the host's /dev"},
	{path: "/run/docker.sock", what: "a container-engine socket", subtree: true},
	{path: "/run/containerd/containerd.sock", what: "a container-engine socket", subtree: true},
	{path: "/run/crio/crio.sock", what: "a container-engine socket", subtree: true},
	{path: "/run/podman/podman.sock", what: "a container-engine socket", subtree: true},
	{path: "/run/cri-dockerd.sock", what: "a container-engine socket", subtree: true},
	{path: "/run/dockershim.sock", what: "a container-engine socket", subtree: true},
	{path: "/run/docker/containerd/containerd.sock", what: "a container-engine socket", subtree: true},
	{path: "/run/k3s/containerd/containerd.sock", what: "a container-engine socket", subtree: true},
	// containerd's state: task bundles, shim sockets, its ttrpc socket.
	// The CRI keeps each pod's /dev/shm under sandboxes/, which it binds.
	{path: "/run/containerd", what: "a container-engine state directory", subtree: true,
		except: []string{"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/"}},
	{path: "/run/runc", what: "a container runtime state directory", subtree: true},
	{path: "/run/runcage", what: "runcage's state directory", subtree: true},
	// The engines' data roots. Paths under them stay allowed: Docker binds
	// each container's resolv.conf, hostname, hosts and shm from
	// containers/<id>/ and named volumes from volumes/, the containerd CRI
	// binds io.containerd.grpc.v1.cri/sandboxes/<id>/..., and log shippers
	// read containers/.
	{path: "/var/lib/docker", what: "a container-engine data directory"},
	{path: "/var/lib/containerd", what: "a container-engine data directory"},
})

// withVarRun adds a /var/run/... twin for every /run/... rule, for hosts
// where /var/run is a real directory rather than the usual symlink.
func withVarRun(rules []sensitive) []sensitive {
	out := slices.Clone(rules)
	for _, r := range rules {
		if rest, ok := strings.CutPrefix(r.path, "/run/"); ok {
			twin := r
			twin.path = "/var/run/" + rest
			twin.except = nil
			for _, e := range r.except {
				twin.except = append(twin.except, "/var"+e)
			}
			out = append(out, twin)
		}
	}
	return out
}

// SensitiveSource says why the absolute clean host path p must not be the
// source of a bind mount, or returns "" when it may be. p is sensitive when
// it is "/", /dev, a container-engine socket, an engine's state or data
// directory (/run/containerd, /run/runc, /run/runcage, /var/lib/docker,
// /var/lib/containerd, and their /var/run twins), at or under /proc or /sys,
// under one of the sockets or /run state directories (except the CRI's pod
// sandbox directories), or an ancestor of any of these. It looks only at the
// string; callers resolve symlinks themselves.
func SensitiveSource(p string) string {
	for _, r := range sensitivePaths {
		if p == r.path {
			return "is " + r.what
		}
	}
	for _, r := range sensitivePaths {
		if r.subtree && under(p, r.path) && !slices.ContainsFunc(r.except, func(e string) bool { return strings.HasPrefix(p, e) }) {
			return fmt.Sprintf("is under %s (%s)", r.what, r.path)
		}
	}
	for _, r := range sensitivePaths {
		if under(r.path, p) {
			return fmt.Sprintf("contains %s (%s)", r.what, r.path)
		}
	}
	return ""
}

// isBind reports whether runc will treat mnt as a bind mount.
func isBind(mnt *specs.Mount) bool {
	if mnt.Type == "bind" || mnt.Type == "rbind" {
		return true
	}
	return slices.Contains(mnt.Options, "bind") || slices.Contains(mnt.Options, "rbind")
}

// overlaySources returns the host directories an overlay mount's options
// name: every lowerdir layer (split on unescaped ':'), upperdir and workdir,
// and the lowerdir+ and datadir+ forms.
func overlaySources(opts []string) []string {
	var out []string
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			continue
		}
		switch k {
		case "lowerdir":
			out = append(out, splitLayers(v)...)
		case "upperdir", "workdir", "lowerdir+", "datadir+":
			out = append(out, v)
		}
	}
	return out
}

// splitLayers splits an overlay lowerdir value on ':' that is not escaped
// by a backslash, and removes the escapes.
func splitLayers(v string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && i+1 < len(v):
			i++
			cur.WriteByte(v[i])
		case c == ':':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

// harden tightens the options of kernel-interface mounts. It never drops an
// option without putting its stricter opposite in the same place.
func harden(mnt *specs.Mount) {
	switch mnt.Type {
	case "sysfs", "cgroup", "cgroup2":
		mnt.Options = force(mnt.Options, "ro", "rw")
		mnt.Options = force(mnt.Options, "rro", "rrw")
		if !slices.Contains(mnt.Options, "ro") && !slices.Contains(mnt.Options, "rro") {
			mnt.Options = append(mnt.Options, "ro")
		}
		fallthrough
	case "proc":
		mnt.Options = force(mnt.Options, "nosuid", "suid")
		mnt.Options = force(mnt.Options, "noexec", "exec")
		mnt.Options = force(mnt.Options, "nodev", "dev")
		for _, o := range []string{"nosuid", "noexec", "nodev"} {
			if !slices.Contains(mnt.Options, o) {
				mnt.Options = append(mnt.Options, o)
			}
		}
	}
}

// force replaces every weak option in opts with strong, and returns opts.
// The rrw→rro pair is only replaced, never appended.
func force(opts []string, strong, weak string) []string {
	for i, o := range opts {
		if o == weak {
			opts[i] = strong
		}
	}
	return opts
}

// union returns bundle's entries in order, then the entries of each of
// more that are not already present, without duplicates. Bundle entries are
// compared and kept as written; they are never rewritten.
func union(bundle []string, more ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		key := p
		if absClean(path.Clean(p)) {
			key = path.Clean(p)
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	for _, p := range bundle {
		add(p)
	}
	for _, l := range more {
		for _, p := range l {
			add(p)
		}
	}
	return out
}

// device is a device node's identity: type "c" or "b" and its numbers.
type device struct {
	typ          string
	major, minor int64
}

func (d device) String() string { return fmt.Sprintf("%s %d:%d", d.typ, d.major, d.minor) }

// defaultDevices are the devices runc creates in every container anyway.
var defaultDevices = map[string]device{
	"/dev/null":    {"c", 1, 3},
	"/dev/zero":    {"c", 1, 5},
	"/dev/full":    {"c", 1, 7},
	"/dev/random":  {"c", 1, 8},
	"/dev/urandom": {"c", 1, 9},
	"/dev/tty":     {"c", 5, 0},
}

func (m *modifier) checkDevice(d specs.LinuxDevice) error {
	typ := d.Type
	if typ == "u" {
		typ = "c" // unbuffered character device
	}
	got := device{typ, d.Major, d.Minor}
	if !absClean(d.Path) {
		return profiles.Refusef("device %q refused: path is not absolute and clean", d.Path)
	}
	if want, ok := defaultDevices[d.Path]; ok && want == got {
		return nil
	}
	if !slices.Contains(m.p.Devices, d.Path) {
		if want, ok := defaultDevices[d.Path]; ok {
			return profiles.Refusef("device %q refused: %q %d:%d is not %s (%s)", d.Path, d.Type, d.Major, d.Minor, d.Path, want)
		}
		if len(m.p.Devices) == 0 {
			return profiles.Refusef("device %q refused: profile %q allows no host devices", d.Path, m.p.Name)
		}
		return profiles.Refusef("device %q refused: not in profile %q devices list", d.Path, m.p.Name)
	}
	host, err := m.hostDevice(d.Path)
	if err != nil {
		return profiles.Refusef("device %q refused: cannot check the host device: %v", d.Path, cause(err))
	}
	if host != got {
		return profiles.Refusef("device %q refused: %q %d:%d is not the host's %s", d.Path, d.Type, d.Major, d.Minor, host)
	}
	return nil
}

// memDevices are the character devices (major 1) that expose kernel memory
// and I/O ports.
var memDevices = []int64{1, 2, 4} // mem, kmem, port

// checkDeviceRule refuses a device cgroup allow rule that grants read or
// write access too broadly. mknod-only rules ("c *:* m", "b *:* m", which
// Docker adds by default) pass: creating a node does not open it.
func checkDeviceRule(r specs.LinuxDeviceCgroup) error {
	if !r.Allow {
		return nil
	}
	if r.Access != "" && strings.Trim(r.Access, "m") == "" {
		return nil // mknod only; an empty access means rwm to runc
	}
	wild := func(n *int64) bool { return n == nil || *n < 0 }
	num := func(n *int64) string {
		if wild(n) {
			return "*"
		}
		return fmt.Sprint(*n)
	}
	typ := r.Type
	if typ == "" {
		typ = "a"
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	rule := fmt.Sprintf("%s %s:%s %s", typ, num(r.Major), num(r.Minor), access)
	switch {
	case typ == "a":
		return profiles.Refusef("device cgroup rule %q refused: it grants access to every device", rule)
	case wild(r.Major):
		return profiles.Refusef("device cgroup rule %q refused: it grants access to every device of its type", rule)
	case (typ == "c" || typ == "u") && *r.Major == 1 && (wild(r.Minor) || slices.Contains(memDevices, *r.Minor)):
		return profiles.Refusef("device cgroup rule %q refused: it grants access to kernel memory devices (/dev/mem, /dev/kmem, /dev/port)", rule)
	}
	return nil
}

// cause strips the path from a *fs.PathError, so that a refusal built from
// it carries no unescaped path bytes.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// absClean reports whether p is an absolute path in path.Clean form.
func absClean(p string) bool {
	return strings.HasPrefix(p, "/") && path.Clean(p) == p
}

// hasDotDot reports whether p has a ".." element.
func hasDotDot(p string) bool {
	return slices.Contains(strings.Split(p, "/"), "..")
}

// under reports whether the clean absolute path p is dir or inside it.
func under(p, dir string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

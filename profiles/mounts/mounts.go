// Package mounts enforces runcage's mount rules: no bind mounts of sensitive
// host paths (the root, procfs, sysfs, /dev, container-engine sockets and
// state), no bind mounts over the container's /proc, /sys or /dev/console,
// read-only sysfs and cgroupfs, the masked and read-only path lists, and the
// device allowlist.
package mounts

import (
	"fmt"
	"path"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/internal/lowerdir"
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
// zero Profile, the strictest), knowing the host paths and the container
// identity in o. Modify:
//
//   - refuses any mount whose destination is relative, has a ".." element, is
//     "/", or is at or under /dev/console;
//   - refuses a bind mount (type "bind", or option "bind" or "rbind") whose
//     destination is at or under /proc or /sys;
//   - refuses a procfs mount anywhere but /proc and a sysfs mount anywhere
//     but /sys: elsewhere the masked and read-only paths would not cover it;
//   - refuses a bind source, or an overlay lowerdir/upperdir/workdir, that is
//     relative or has a ".." element, or that is, by its text or by what it
//     resolves to on the host, sensitive: "/", under /proc or /sys, on a
//     kernel-interface file system (procfs, sysfs, cgroupfs, nsfs, ...),
//     reached through a procfs symlink, runcage's own files (Options.Own,
//     /etc/runcage, /run/runcage, /var/lib/runcage, /var/log/runcage, the
//     runcage binary), a container-engine socket, state, data or
//     configuration directory (the built-in list and Options.EngineDirs;
//     under them only this container's own engine files pass, see
//     engineFile), or an ancestor of any of these. Identity counts, not
//     spelling: a source that is the same directory or file (device and
//     inode) as a protected path or one of its ancestors, or lies under such
//     an alias, is judged as that path;
//   - refuses a bind source that is a host device node the profile's
//     Devices do not list (compared by type and numbers), or a directory or
//     other file of the host's /dev (any mount of its devtmpfs, any devpts);
//     sockets such as /dev/log pass;
//   - makes every mount nosuid and nodev, and rbind mounts rnosuid and
//     rnodev (their sub-mounts too), by replacing the opposite option or
//     appending the missing one; except that devpts mounts (the pty nodes
//     live there), binds of a device the profile lists, and the /dev tmpfs
//     of a profile with userns = "off" (runc creates device nodes on it
//     with mknod) keep device access;
//   - makes sysfs and cgroup mounts read-only, and sysfs, cgroup and proc
//     mounts noexec;
//   - refuses linux.maskedPaths and linux.readonlyPaths entries that are not
//     absolute and clean, have a ".." element, or pass through a procfs
//     per-process directory or symlink (/proc/self, /proc/thread-self,
//     /proc/<pid>, /proc/net, /proc/mounts), and sets the lists to the
//     bundle's entries, in order, followed by DefaultMaskedPaths/
//     DefaultReadonlyPaths and then p.MaskedPaths/p.ReadonlyPaths, without
//     duplicate strings;
//   - refuses linux.devices entries that are neither one of runc's default
//     devices (/dev/null, zero, full, random, urandom, tty, with their
//     standard numbers) nor listed in p.Devices and equal, in type and
//     numbers, to the host's device at that path;
//   - refuses linux.resources.devices allow rules that grant read or write
//     access to anything but runc's default devices (null, zero, full,
//     random, urandom, tty, console, ptmx, the pty slaves 136:*), Docker's
//     /dev/net/tun (10:200) and the host devices the profile lists; rules
//     that only allow mknod pass.
//
// Profile paths in MaskedPaths, ReadonlyPaths and Devices must be absolute
// and clean; otherwise Modify returns a profile error that is not a refusal.
// Modify is idempotent: applying it twice gives the same spec as once.
func New(p *profiles.Profile, o Options) profiles.Modifier {
	m := &modifier{o: o, resolve: resolveHost, stat: hostStat, hostDevice: hostDevice, self: selfExe}
	if p != nil {
		m.p = *p
	}
	return m
}

type modifier struct {
	p profiles.Profile
	o Options
	// resolve, stat, hostDevice and self are the seams tests replace.
	// resolve is resolveHost; stat is hostStat; hostDevice stats a host
	// device node; self names the running binary.
	resolve    func(string) (string, bool, error)
	stat       func(string) (fileInfo, error)
	hostDevice func(string) (device, error)
	self       func() string
	// hs caches the host's side of the rules for one Modify.
	hs *hostState
}

// Modify implements profiles.Modifier.
func (m *modifier) Modify(s *specs.Spec) error {
	m.hs = nil
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

	for _, d := range m.o.EngineDirs {
		if !absClean(d) || d == "/" {
			return fmt.Errorf("policy: engine_state_dirs: %q is not an absolute clean path below /", d)
		}
	}
	own := containerIDs(m.o.ContainerID, s.Annotations)
	for i := range s.Mounts {
		keepDev, err := m.checkMount(&s.Mounts[i], own)
		if err != nil {
			return err
		}
		harden(&s.Mounts[i], keepDev || m.mknodDev(&s.Mounts[i]))
	}

	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	for _, l := range []struct {
		what  string
		paths []string
	}{{"linux.maskedPaths", s.Linux.MaskedPaths}, {"linux.readonlyPaths", s.Linux.ReadonlyPaths}} {
		for _, p := range l.paths {
			if err := checkListedPath(l.what, p); err != nil {
				return err
			}
		}
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
			if err := m.checkDeviceRule(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// mknodDev reports whether mnt is the /dev tmpfs of a profile without a
// user namespace: runc then creates the container's device nodes on it
// with mknod, and nodev would make them unusable. (In a user namespace
// runc bind-mounts the host's nodes instead, and those mounts keep the
// host /dev's flags.)
func (m *modifier) mknodDev(mnt *specs.Mount) bool {
	return m.p.UserNS == profiles.Off && mnt.Type == "tmpfs" && path.Clean(mnt.Destination) == "/dev"
}

// checkMount applies the destination and source rules to one mount. It
// reports whether the mount keeps device access: a bind of a host device
// the profile lists.
func (m *modifier) checkMount(mnt *specs.Mount, own ids) (bool, error) {
	dst := mnt.Destination
	bind := isBind(mnt)
	kind := fmt.Sprintf("mount of type %q at", mnt.Type)
	if bind {
		kind = fmt.Sprintf("bind mount %q ->", mnt.Source)
	}
	for _, o := range mnt.Options {
		if o == "shared" || o == "rshared" {
			return false, profiles.Refusef("%s %q refused: option %q would propagate mounts made in the container to the host", kind, dst, o)
		}
	}
	switch {
	case !strings.HasPrefix(dst, "/"):
		return false, profiles.Refusef("%s %q refused: destination is not an absolute path", kind, dst)
	case hasDotDot(dst):
		return false, profiles.Refusef("%s %q refused: destination contains a \"..\" element", kind, dst)
	}
	d := path.Clean(dst)
	switch {
	case d == "/":
		return false, profiles.Refusef("%s %q refused: destination is the container's root", kind, dst)
	case under(d, "/dev/console"):
		return false, profiles.Refusef("%s %q refused: destination is at or under /dev/console", kind, dst)
	case bind && under(d, "/proc"):
		return false, profiles.Refusef("%s %q refused: destination is at or under /proc", kind, dst)
	case bind && under(d, "/sys"):
		return false, profiles.Refusef("%s %q refused: destination is at or under /sys", kind, dst)
	case !bind && mnt.Type == "proc" && d != "/proc":
		return false, profiles.Refusef("%s %q refused: procfs is only mounted at /proc, where its masked paths apply", kind, dst)
	case !bind && mnt.Type == "sysfs" && d != "/sys":
		return false, profiles.Refusef("%s %q refused: sysfs is only mounted at /sys, where its masked paths apply", kind, dst)
	}
	keepDev := false
	if bind {
		src := m.checkSource(mnt.Source, own)
		if src.why != "" {
			return false, profiles.Refusef("%s %q refused: %s", kind, dst, src.why)
		}
		keepDev = src.device
	}
	if mnt.Type == "overlay" {
		for _, l := range overlaySources(mnt.Options) {
			src := m.checkSource(l, own)
			if src.why == "" && src.device {
				src.why = "source is a device node"
			}
			if src.why != "" {
				return false, profiles.Refusef("overlay mount at %q refused: layer %q: %s", dst, l, src.why)
			}
		}
	}
	return keepDev, nil
}

// checkListedPath refuses a bundle's masked or read-only path that the
// kernel could resolve to another place than its text says, or that could
// stand for a default entry by another spelling.
func checkListedPath(what, p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return profiles.Refusef("%s entry %q refused: not an absolute path", what, p)
	case hasDotDot(p):
		return profiles.Refusef("%s entry %q refused: it contains a \"..\" element", what, p)
	case path.Clean(p) != p:
		return profiles.Refusef("%s entry %q refused: not a clean path (want %q)", what, p, path.Clean(p))
	}
	el := strings.Split(p, "/")
	if len(el) >= 3 && el[1] == "proc" {
		switch e := el[2]; {
		case e == "self" || e == "thread-self" || e == "net" || e == "mounts":
			return profiles.Refusef("%s entry %q refused: /proc/%s is a symlink the kernel resolves per process", what, p, e)
		case e != "" && strings.Trim(e, "0123456789") == "":
			return profiles.Refusef("%s entry %q refused: /proc/%s is a per-process directory with magic symlinks", what, p, e)
		}
	}
	return nil
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
			out = append(out, lowerdir.Split(v)...)
		case "upperdir", "workdir", "lowerdir+", "datadir+":
			out = append(out, v)
		}
	}
	return out
}

// harden tightens the options of one mount. It never drops an option
// without putting its stricter opposite in the same place. keepDev leaves
// device access alone (no nodev or rnodev); devpts always keeps it: the
// pty master (ptmx) and slaves are device nodes on it, which the
// container's terminal and runc's console setup open.
func harden(mnt *specs.Mount, keepDev bool) {
	keepDev = keepDev || mnt.Type == "devpts"
	var want []string
	switch mnt.Type {
	case "sysfs", "cgroup", "cgroup2":
		mnt.Options = force(mnt.Options, "ro", "rw")
		mnt.Options = force(mnt.Options, "rro", "rrw")
		if !slices.Contains(mnt.Options, "ro") && !slices.Contains(mnt.Options, "rro") {
			mnt.Options = append(mnt.Options, "ro")
		}
		fallthrough
	case "proc":
		mnt.Options = force(mnt.Options, "noexec", "exec")
		want = []string{"nosuid", "noexec", "nodev"}
	default:
		want = []string{"nosuid", "nodev"}
	}
	if isBind(mnt) && isRecursive(mnt) {
		want = append(want, "rnosuid", "rnodev")
	}
	for _, o := range want {
		if keepDev && (o == "nodev" || o == "rnodev") {
			continue
		}
		mnt.Options = force(mnt.Options, o, strings.Replace(o, "no", "", 1))
		if !slices.Contains(mnt.Options, o) {
			mnt.Options = append(mnt.Options, o)
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
// more that are not already present, without duplicates. Entries are
// compared as strings: the bundle's are absolute and clean (see
// checkListedPath), so no other spelling of a default can stand for it.
func union(bundle []string, more ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
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
		return profiles.Refusef("device %q refused: cannot check the host device: %v", d.Path, profiles.PathCause(err))
	}
	if host != got {
		return profiles.Refusef("device %q refused: %q %d:%d is not the host's %s", d.Path, d.Type, d.Major, d.Minor, host)
	}
	return nil
}

// memDevices are the character devices (major 1) that expose kernel memory
// and I/O ports.
var memDevices = []int64{1, 2, 4} // mem, kmem, port

// ruleDevices are the devices a device cgroup rule may grant read or write
// access to without the profile listing them: runc's defaults (its
// AllowedDevices: null, zero, full, random, urandom, tty, console, ptmx,
// the pty slaves of major 136) and /dev/net/tun, which Docker allows in
// every container. A minor of -1 matches every minor and the wildcard.
// tun is harmless in a user namespace: the rule grants nothing without a
// node, runc creates none unless linux.devices names it (which the profile
// must list), mknod of a real device needs CAP_MKNOD in the host's user
// namespace, and creating an interface on it needs CAP_NET_ADMIN, which is
// then confined to the container's own network namespace.
var ruleDevices = []device{
	{"c", 1, 3}, {"c", 1, 5}, {"c", 1, 7}, {"c", 1, 8}, {"c", 1, 9},
	{"c", 5, 0}, {"c", 5, 1}, {"c", 5, 2}, {"c", 136, -1},
	{"c", 10, 200},
}

// checkDeviceRule refuses a device cgroup allow rule that grants read or
// write access to a device outside ruleDevices and the profile's devices
// (by the host's numbers). mknod-only rules ("c *:* m", "b *:* m", which
// Docker adds by default) pass: creating a node does not open it.
func (m *modifier) checkDeviceRule(r specs.LinuxDeviceCgroup) error {
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
	case typ != "c" && typ != "b":
		return profiles.Refusef("device cgroup rule %q refused: type is not a, c or b", rule)
	case strings.Trim(access, "rwm") != "":
		return profiles.Refusef("device cgroup rule %q refused: access is not a combination of r, w and m", rule)
	case wild(r.Major):
		return profiles.Refusef("device cgroup rule %q refused: it grants access to every device of its type", rule)
	case typ == "c" && *r.Major == 1 && (wild(r.Minor) || slices.Contains(memDevices, *r.Minor)):
		return profiles.Refusef("device cgroup rule %q refused: it grants access to kernel memory devices (/dev/mem, /dev/kmem, /dev/port)", rule)
	}
	minor := int64(-1)
	if !wild(r.Minor) {
		minor = *r.Minor
	}
	got := device{typ, *r.Major, minor}
	if slices.Contains(ruleDevices, got) || slices.Contains(ruleDevices, device{typ, *r.Major, -1}) {
		return nil
	}
	if minor >= 0 {
		for _, p := range m.p.Devices {
			if d, err := m.hostDevice(p); err == nil && d == got {
				return nil
			}
		}
	}
	return profiles.Refusef("device cgroup rule %q refused: it grants read or write access to a device that is neither one of runc's default devices nor a host device profile %q lists", rule, m.p.Name)
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

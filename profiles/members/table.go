package members

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Table is runcage's decision, for the default profile, for every member of
// a runtime-spec v1.3.0 config.json (specs.Spec). The authority for what
// runc does with a member is runc v1.5.2's libcontainer/specconv. A test
// walks the specs-go types and fails when a member has no decision here
// (a member below a Refused or NotLinux one is decided by it), or when an
// entry names a member the types do not have. docs/threat-model.md is
// generated from it (go test ./profiles/members -run TestThreatModelDoc -update).
// It is built on first use: every runcage invocation links this package,
// and only create uses it.
var Table = sync.OnceValue(buildTable)

func allow(path, why string) Decision  { return Decision{Path: path, Kind: Allowed, Why: why} }
func tight(path, why string) Decision  { return Decision{Path: path, Kind: Tightened, Why: why} }
func refuse(path, why string) Decision { return Decision{Path: path, Kind: Refused, Why: why} }
func notLinux(path string) Decision {
	return Decision{Path: path, Kind: NotLinux, Why: "a non-Linux section: runc on Linux ignores it, so in a Linux bundle it is noise or a probe of another delegate"}
}

func (d Decision) absent(what string) Decision { d.Absent = what; return d }

func (d Decision) with(f func(c *checker, key string, v any) error) Decision {
	d.check = f
	return d
}

func buildTable() []Decision {
	t := []Decision{
		allow("ociVersion", "runc does not act on it"),

		// process
		tight("process", "checked member by member below").absent("runc refuses to create a container without one (\"process property must not be empty\")"),
		allow("process.terminal", "runc allocates a pty for the container; the console socket is the engine's"),
		allow("process.consoleSize", "size of the container's own pty"),
		allow("process.consoleSize.height", "size of the container's own pty"),
		allow("process.consoleSize.width", "size of the container's own pty"),
		allow("process.user", "ids inside the container; a user namespace (profiles/userns) maps them to an unprivileged host range"),
		allow("process.user.uid", "an id inside the container's user namespace (profiles/userns)"),
		allow("process.user.gid", "an id inside the container's user namespace (profiles/userns)"),
		allow("process.user.umask", "only changes the modes of files the container creates, which it could chmod itself"),
		allow("process.user.additionalGids", "ids inside the container's user namespace (profiles/userns)"),
		notLinux("process.user.username"),
		allow("process.args", "the container's own command"),
		notLinux("process.commandLine"),
		allow("process.env", "the container's own environment"),
		tight("process.cwd", "profiles/process refuses relative paths, \"..\" and /proc fd directories (CVE-2024-21626)"),
		tight("process.capabilities", "profiles/caps cuts all five sets to the profile's keep list and refuses capabilities beyond the engines' defaults").
			absent("runc keeps every capability; profiles/caps sets all five sets to the profile's keep list (none in default)"),
		tight("process.capabilities.bounding", "profiles/caps: intersection with the profile's keep list"),
		tight("process.capabilities.effective", "profiles/caps: intersection with the profile's keep list"),
		tight("process.capabilities.inheritable", "profiles/caps: intersection with the profile's keep list"),
		tight("process.capabilities.permitted", "profiles/caps: intersection with the profile's keep list"),
		tight("process.capabilities.ambient", "profiles/caps: intersection with the profile's keep list"),
		tight("process.rlimits", "runc sets them as root before the container starts; see the entries below").
			absent("the container inherits the engine's limits, which the bundle does not choose"),
		tight("process.rlimits[]", "refused: RLIMIT_RTPRIO above 0 (realtime scheduling without CAP_SYS_NICE) and RLIMIT_NICE above 20 (a nice value below 0)").with(checkRlimit),
		allow("process.rlimits[].type", "checked with its element"),
		allow("process.rlimits[].hard", "checked with its element"),
		allow("process.rlimits[].soft", "checked with its element"),
		tight("process.noNewPrivileges", "profiles/process sets it to true").absent("runc leaves it off; profiles/process sets it"),
		tight("process.apparmorProfile", "profiles/apparmor replaces it with runcage-<profile> (stacked on the bundle's) where the host has AppArmor").
			absent("unconfined; profiles/apparmor sets runcage-<profile> where the host has AppArmor"),
		tight("process.oomScoreAdj", "profiles/process raises a negative value to 0: runc writes it as root, and a negative value makes host processes die before the container's under memory pressure (-1000: never)").
			absent("the container inherits the caller's value (containerd's shim runs below 0); profiles/process sets 0"),
		tight("process.scheduler", "runc calls sched_setattr before dropping privileges; see below"),
		tight("process.scheduler.policy", "SCHED_FIFO, SCHED_RR and SCHED_DEADLINE refused: a realtime task can starve the host's CPUs").with(checkSchedPolicy),
		tight("process.scheduler.nice", "values below 0 refused: a priority above the host's normal tasks").with(checkNice),
		tight("process.scheduler.priority", "only meaningful for the realtime policies, which are refused; 0 required").with(checkZero),
		tight("process.scheduler.flags", "only SCHED_FLAG_RESET_ON_FORK accepted; the others keep realtime or utilisation-clamp settings").with(checkSchedFlags),
		tight("process.scheduler.runtime", "SCHED_DEADLINE only, which is refused; 0 required").with(checkZero),
		tight("process.scheduler.deadline", "SCHED_DEADLINE only, which is refused; 0 required").with(checkZero),
		tight("process.scheduler.period", "SCHED_DEADLINE only, which is refused; 0 required").with(checkZero),
		allow("process.selinuxLabel", "runc applies it only where SELinux is enabled; runcage does not manage SELinux and its other protections do not depend on it (see the notes)"),
		tight("process.ioPriority", "runc calls ioprio_set as root; see below"),
		tight("process.ioPriority.class", "IOPRIO_CLASS_RT refused: realtime I/O starves the host's disks").with(checkIOClass),
		allow("process.ioPriority.priority", "a level within the class, which is checked"),
		refuse("process.execCPUAffinity", "runc pins itself and exec'd processes to CPUs it names before they join the container's cpuset (isolated or reserved host CPUs); no engine sets it"),
		refuse("process.execCPUAffinity.initial", "see process.execCPUAffinity"),
		refuse("process.execCPUAffinity.final", "see process.execCPUAffinity"),

		// root, hostname
		tight("root", "profiles/rootfs refuses a missing root, the host's /, procfs or sysfs, and symlinked /proc, /dev, /sys"),
		tight("root.path", "profiles/rootfs; profiles/userns replaces it with its id-mapped mount"),
		allow("root.readonly", "only makes the rootfs read-only"),
		allow("hostname", "set in the container's own UTS namespace (runc refuses it without one)"),
		allow("domainname", "set in the container's own UTS namespace (runc refuses it without one)"),

		// mounts
		tight("mounts", "profiles/mounts checks every mount"),
		tight("mounts[]", "profiles/mounts"),
		tight("mounts[].destination", "profiles/mounts refuses /proc, /sys, /dev/console and what resolves to them"),
		tight("mounts[].type", "profiles/mounts"),
		tight("mounts[].source", "profiles/mounts refuses sensitive host sources (/, /proc, /sys, engine sockets and their parents)"),
		tight("mounts[].options", "profiles/mounts hardens options (nosuid, nodev); profiles/userns adds idmap to bind mounts of directories inside the policy's volume_roots; shared and rshared are refused"),
		tight("mounts[].uidMappings", "refused unless equal to linux.uidMappings (what runc's idmap option does, and containerd sets for hostUsers: false): a mapping the bundle chose can show host-root-owned files as owned by the container's root").with(sameMappings("uidMappings")),
		tight("mounts[].gidMappings", "refused unless equal to linux.gidMappings; see mounts[].uidMappings").with(sameMappings("gidMappings")),
		tight("mounts[].uidMappings[]", "see mounts[].uidMappings"),
		tight("mounts[].uidMappings[].containerID", "see mounts[].uidMappings"),
		tight("mounts[].uidMappings[].hostID", "see mounts[].uidMappings"),
		tight("mounts[].uidMappings[].size", "see mounts[].uidMappings"),
		tight("mounts[].gidMappings[]", "see mounts[].gidMappings"),
		tight("mounts[].gidMappings[].containerID", "see mounts[].gidMappings"),
		tight("mounts[].gidMappings[].hostID", "see mounts[].gidMappings"),
		tight("mounts[].gidMappings[].size", "see mounts[].gidMappings"),

		// hooks
		tight("hooks", "profiles/hooks refuses every hook the profile does not name: hooks run on the host as root"),

		// annotations
		tight("annotations", "data, except the keys below; runcage.dev/ keys are checked by profiles/annotations"),
		tight("annotations.*", "refused: org.systemd.property.* (runc sets them as systemd unit properties of the container's scope with the systemd cgroup driver: DeviceAllow, TasksMax, MemoryMax lift limits) except the stop and ordering properties Podman and CRI-O set (members.SystemdProperties), org.criu.* (org.criu.config names a host CRIU config, which can run action scripts as root on checkpoint/restore), run.oci.* (crun acts on them), keys with \"=\" or the key \"bundle\" (runc keeps annotations as key=value labels beside its own bundle= label)").with(checkAnnotation),

		// linux
		tight("linux", "checked member by member below").absent("no namespaces: all of the host's; profiles/namespaces refuses it"),
		tight("linux.uidMappings", "profiles/namespaces validates; profiles/userns injects or validates the user namespace (no host root, no overlap)"),
		tight("linux.gidMappings", "profiles/namespaces validates; profiles/userns injects or validates the user namespace (no host root, no overlap)"),
		tight("linux.uidMappings[]", "profiles/namespaces.ValidateMappings"),
		tight("linux.uidMappings[].containerID", "profiles/namespaces.ValidateMappings"),
		tight("linux.uidMappings[].hostID", "profiles/namespaces.ValidateMappings; profiles/userns refuses host id 0 and other pods' ranges"),
		tight("linux.uidMappings[].size", "profiles/namespaces.ValidateMappings; profiles/userns checks the size"),
		tight("linux.gidMappings[]", "profiles/namespaces.ValidateMappings"),
		tight("linux.gidMappings[].containerID", "profiles/namespaces.ValidateMappings"),
		tight("linux.gidMappings[].hostID", "profiles/namespaces.ValidateMappings; profiles/userns refuses host id 0 and other pods' ranges"),
		tight("linux.gidMappings[].size", "profiles/namespaces.ValidateMappings; profiles/userns checks the size"),
		tight("linux.sysctl", "runc accepts only namespaced sysctls (net.* with a private network namespace); profiles/namespaces (sysctl.go) narrows net.ipv4.ping_group_range; for a joined network namespace the host owns, profiles/userns (podsysctl.go) checks them as runc does and writes the net.* ones itself, since runc in the user namespace cannot"),
		tight("linux.sysctl.*", "see linux.sysctl"),
		allow("linux.resources", "limits of the container's own cgroup; see below"),
		tight("linux.resources.devices", "profiles/mounts refuses rules that allow more than the profile's devices").
			absent("runc denies every device but its default list (null, zero, full, random, urandom, tty, ptmx, pts) (opencontainers/cgroups devices emulator: allow-list)"),
		tight("linux.resources.devices[]", "profiles/mounts (checkDeviceRule)"),
		tight("linux.resources.devices[].allow", "profiles/mounts (checkDeviceRule)"),
		tight("linux.resources.devices[].type", "profiles/mounts (checkDeviceRule)"),
		tight("linux.resources.devices[].major", "profiles/mounts (checkDeviceRule)"),
		tight("linux.resources.devices[].minor", "profiles/mounts (checkDeviceRule)"),
		tight("linux.resources.devices[].access", "profiles/mounts (checkDeviceRule)"),
		tight("linux.resources.memory", "limits; see below").absent("no limit beyond the parent cgroup's; the default profile sets none"),
		allow("linux.resources.memory.limit", "a limit"),
		allow("linux.resources.memory.reservation", "a limit"),
		allow("linux.resources.memory.swap", "a limit"),
		allow("linux.resources.memory.kernel", "ignored by runc 1.5 (kernel memory accounting is gone)"),
		allow("linux.resources.memory.kernelTCP", "a limit"),
		allow("linux.resources.memory.swappiness", "the container's own cgroup"),
		allow("linux.resources.memory.disableOOMKiller", "the container's own processes wait instead of being killed; the host is not affected"),
		allow("linux.resources.memory.useHierarchy", "the container's own cgroup"),
		allow("linux.resources.memory.checkBeforeUpdate", "only used by update"),
		allow("linux.resources.cpu", "shares and quotas of the container's own cgroup, within its parent"),
		allow("linux.resources.cpu.shares", "a share"),
		allow("linux.resources.cpu.quota", "a limit"),
		allow("linux.resources.cpu.burst", "a limit"),
		allow("linux.resources.cpu.period", "a limit"),
		allow("linux.resources.cpu.realtimeRuntime", "a budget, not a grant: realtime policies and RLIMIT_RTPRIO are refused and CAP_SYS_NICE is not kept"),
		allow("linux.resources.cpu.realtimePeriod", "see realtimeRuntime"),
		allow("linux.resources.cpu.cpus", "within the parent cgroup's cpuset"),
		allow("linux.resources.cpu.mems", "within the parent cgroup's cpuset"),
		allow("linux.resources.cpu.idle", "only lowers the container's weight"),
		tight("linux.resources.pids", "profiles/policy caps limit at the profile's pids_limit").absent("no limit beyond the parent's; capped when the profile sets pids_limit (default: none)"),
		tight("linux.resources.pids.limit", "profiles/policy (pidsLimit) caps it at the profile's pids_limit"),
		allow("linux.resources.blockIO", "weights and throttles of the container's own I/O"),
		allow("linux.resources.blockIO.weight", "a weight"),
		allow("linux.resources.blockIO.leafWeight", "a weight"),
		allow("linux.resources.hugepageLimits", "limits"),
		allow("linux.resources.hugepageLimits[]", "a limit"),
		allow("linux.resources.hugepageLimits[].pageSize", "a limit"),
		allow("linux.resources.hugepageLimits[].limit", "a limit"),
		refuse("linux.resources.network", "net_cls classid and net_prio priorities: host firewall and tc rules that match on them would treat the container's traffic as the class it chose; no engine sets them"),
		refuse("linux.resources.network.classID", "see linux.resources.network"),
		refuse("linux.resources.network.priorities", "see linux.resources.network"),
		allow("linux.resources.rdma", "limits"),
		allow("linux.resources.rdma.*", "a limit per RDMA device"),
		allow("linux.resources.rdma.*.hcaHandles", "a limit"),
		allow("linux.resources.rdma.*.hcaObjects", "a limit"),
		tight("linux.resources.unified", "cgroup v2 files runc writes by name in the container's cgroup"),
		tight("linux.resources.unified.*", "only cpu.*, cpuset.*, io.*, memory.* and hugetlb.* files, with no \"/\" or \"..\"; pids.* refused (it would override the profile's pids_limit)").with(checkUnified),
		tight("linux.cgroupsPath", "profiles/cgroups refuses a path inside, on top of or in place of another container's cgroup (see \"Tenants and state\")"),
		tight("linux.namespaces", "profiles/namespaces refuses host pid, ipc, network and mount namespaces (absent or joined by path) unless the profile names them; profiles/userns adds a user namespace").
			absent("all of the host's namespaces; profiles/namespaces refuses a missing pid, ipc, network or mount namespace"),
		tight("linux.namespaces[]", "profiles/namespaces"),
		tight("linux.namespaces[].type", "profiles/namespaces"),
		tight("linux.namespaces[].path", "profiles/namespaces refuses the host's own namespaces"),
		tight("linux.devices", "profiles/mounts refuses device nodes the profile does not name"),
		tight("linux.devices[]", "profiles/mounts"),
		tight("linux.devices[].path", "profiles/mounts"),
		tight("linux.devices[].type", "profiles/mounts"),
		tight("linux.devices[].major", "profiles/mounts"),
		tight("linux.devices[].minor", "profiles/mounts"),
		tight("linux.devices[].fileMode", "profiles/mounts"),
		tight("linux.devices[].uid", "profiles/mounts"),
		tight("linux.devices[].gid", "profiles/mounts"),
		refuse("linux.netDevices", "runc would move a host network interface into the container"),
		tight("linux.seccomp", "profiles/seccomp intersects the bundle's filter with the profile's (the bundle can only tighten it)").
			absent("no filter; profiles/seccomp installs the profile's (runtime/default)"),
		tight("linux.seccomp.defaultAction", "profiles/seccomp"),
		tight("linux.seccomp.defaultErrnoRet", "profiles/seccomp"),
		tight("linux.seccomp.architectures", "profiles/seccomp"),
		tight("linux.seccomp.flags", "profiles/seccomp"),
		tight("linux.seccomp.listenerPath", "refused unless it is runcage's own recorder under <state_dir>/agents: runc connects to the host socket it names, as root, and hands it the container's notify fd").with(checkListener),
		refuse("linux.seccomp.listenerMetadata", "sent to a seccomp listener; runcage's own recorder takes none"),
		tight("linux.seccomp.syscalls", "profiles/seccomp"),
		tight("linux.seccomp.syscalls[]", "profiles/seccomp"),
		tight("linux.seccomp.syscalls[].names", "profiles/seccomp"),
		tight("linux.seccomp.syscalls[].action", "profiles/seccomp"),
		tight("linux.seccomp.syscalls[].errnoRet", "profiles/seccomp"),
		tight("linux.seccomp.syscalls[].args", "profiles/seccomp"),
		tight("linux.seccomp.syscalls[].args[]", "profiles/seccomp"),
		tight("linux.seccomp.syscalls[].args[].index", "profiles/seccomp"),
		tight("linux.seccomp.syscalls[].args[].value", "profiles/seccomp"),
		tight("linux.seccomp.syscalls[].args[].valueTwo", "profiles/seccomp"),
		tight("linux.seccomp.syscalls[].args[].op", "profiles/seccomp"),
		tight("linux.rootfsPropagation", "shared and rshared refused: mounts made in the container would propagate to the host's mount namespace").with(checkPropagation).
			absent("runc makes the rootfs rslave: host mounts propagate in, none out"),
		tight("linux.maskedPaths", "profiles/mounts adds runcage's list and the profile's to the bundle's").absent("profiles/mounts sets runcage's list"),
		tight("linux.readonlyPaths", "profiles/mounts adds runcage's list and the profile's to the bundle's").absent("profiles/mounts sets runcage's list"),
		allow("linux.mountLabel", "runc applies it only where SELinux is enabled; see process.selinuxLabel"),
		refuse("linux.intelRdt", "runc writes the host's resctrl filesystem: closID names a host resource group, schemata change cache and memory bandwidth allocation for every task in it"),
		tight("linux.memoryPolicy", "set_mempolicy for the container's own memory, within its cpuset's nodes; runc validates mode and flags"),
		allow("linux.memoryPolicy.mode", "see linux.memoryPolicy"),
		allow("linux.memoryPolicy.nodes", "see linux.memoryPolicy"),
		allow("linux.memoryPolicy.flags", "see linux.memoryPolicy"),
		tight("linux.personality", "see below"),
		tight("linux.personality.domain", "only LINUX: LINUX32 changes what the container's processes see of the machine (uname -m) and of the syscall ABI").with(checkPersonality),
		refuse("linux.personality.flags", "no flags are defined; runc ignores them, another delegate might not"),
		allow("linux.timeOffsets", "offsets of the container's own time namespace (runc requires one)"),
		allow("linux.timeOffsets.*", "see linux.timeOffsets"),
		allow("linux.timeOffsets.*.secs", "see linux.timeOffsets"),
		allow("linux.timeOffsets.*.nanosecs", "see linux.timeOffsets"),

		notLinux("solaris"),
		notLinux("windows"),
		notLinux("vm"),
		notLinux("zos"),
		notLinux("freebsd"),
	}
	for _, dev := range []string{"weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"} {
		p := "linux.resources.blockIO." + dev
		t = append(t,
			allow(p, "a weight or throttle of the container's own I/O on a host device"),
			allow(p+"[]", "see "+p),
			allow(p+"[].major", "see "+p),
			allow(p+"[].minor", "see "+p))
		if dev == "weightDevice" {
			t = append(t, allow(p+"[].weight", "a weight"), allow(p+"[].leafWeight", "a weight"))
		} else {
			t = append(t, allow(p+"[].rate", "a throttle"))
		}
	}
	for _, stage := range []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"} {
		p := "hooks." + stage
		t = append(t,
			tight(p, "profiles/hooks"),
			tight(p+"[]", "profiles/hooks"),
			tight(p+"[].path", "profiles/hooks: refused unless the profile names it"),
			tight(p+"[].args", "profiles/hooks: the hook is refused unless named"),
			tight(p+"[].env", "profiles/hooks: the hook is refused unless named"),
			tight(p+"[].timeout", "profiles/hooks: the hook is refused unless named"))
	}
	return t
}

// number returns v as an int64, or an error naming what it is.
func number(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	i, err := n.Int64()
	if err != nil {
		// Larger than int64: treat as huge.
		return 1 << 62, nil
	}
	return i, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func checkZero(_ *checker, _ string, v any) error {
	n, err := number(v)
	if err != nil {
		return err
	}
	if n != 0 {
		return fmt.Errorf("%d: only meaningful for realtime scheduling, which is refused", n)
	}
	return nil
}

func checkSchedPolicy(_ *checker, _ string, v any) error {
	switch p := str(v); p {
	case "SCHED_OTHER", "SCHED_BATCH", "SCHED_IDLE":
		return nil
	default:
		return fmt.Errorf("policy %q: only SCHED_OTHER, SCHED_BATCH and SCHED_IDLE are accepted; a realtime task can starve the host's CPUs", p)
	}
}

func checkNice(_ *checker, _ string, v any) error {
	n, err := number(v)
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("nice %d: a priority above the host's normal tasks", n)
	}
	return nil
}

func checkSchedFlags(_ *checker, _ string, v any) error {
	flags, _ := v.([]any)
	for _, f := range flags {
		if s := str(f); s != "SCHED_FLAG_RESET_ON_FORK" {
			return fmt.Errorf("flag %q: only SCHED_FLAG_RESET_ON_FORK is accepted", s)
		}
	}
	return nil
}

func checkIOClass(_ *checker, _ string, v any) error {
	switch c := str(v); c {
	case "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE":
		return nil
	default:
		return fmt.Errorf("class %q: only IOPRIO_CLASS_BE and IOPRIO_CLASS_IDLE are accepted; realtime I/O starves the host's disks", c)
	}
}

func checkPropagation(_ *checker, _ string, v any) error {
	switch p := str(v); p {
	case "", "private", "rprivate", "slave", "rslave", "unbindable", "runbindable":
		return nil
	default:
		return fmt.Errorf("%q: mounts made in the container would propagate to the host (accepted: private, rprivate, slave, rslave, unbindable, runbindable)", p)
	}
}

func checkPersonality(_ *checker, _ string, v any) error {
	if d := str(v); d != "LINUX" {
		return fmt.Errorf("domain %q: only LINUX is accepted; LINUX32 changes the machine and syscall ABI the container's processes see", d)
	}
	return nil
}

func checkRlimit(_ *checker, _ string, v any) error {
	o, ok := v.(object)
	if !ok {
		return nil
	}
	typ, _ := get(o, "type")
	var max int64
	for _, k := range []string{"soft", "hard"} {
		if x, ok := get(o, k); ok && x != nil {
			n, err := number(x)
			if err != nil {
				return err
			}
			if n < 0 {
				n = 1 << 62
			}
			max = maxInt(max, n)
		}
	}
	switch t := str(typ); t {
	case "RLIMIT_RTPRIO":
		if max > 0 {
			return fmt.Errorf("%s %d: lets the container's processes take realtime priority without CAP_SYS_NICE", t, max)
		}
	case "RLIMIT_NICE":
		if max > 20 {
			return fmt.Errorf("%s %d: lets the container's processes take a nice value below 0 without CAP_SYS_NICE", t, max)
		}
	}
	return nil
}

var unifiedKey = regexp.MustCompile(`^(cpu|cpuset|io|memory|hugetlb)\.[A-Za-z0-9_.]+$`)

func checkUnified(_ *checker, key string, _ any) error {
	if strings.Contains(key, "..") || !unifiedKey.MatchString(key) {
		return fmt.Errorf("cgroup file %q: only cpu.*, cpuset.*, io.*, memory.* and hugetlb.* files are accepted", key)
	}
	return nil
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

const systemdPrefix = "org.systemd.property."

// SystemdProperties are the systemd unit properties a bundle may set on its
// scope through org.systemd.property.<name> annotations: Podman sets
// KillSignal and TimeoutStopUSec on every container, CRI-O TimeoutStopUSec,
// CollectMode, DefaultDependencies and After. They only change how the
// scope is stopped, collected and ordered; none touches a device, a limit or
// a command.
var SystemdProperties = []string{"After", "CollectMode", "DefaultDependencies", "KillSignal", "TimeoutStopSec", "TimeoutStopUSec"}

func checkAnnotation(_ *checker, key string, _ any) error {
	switch {
	case strings.Contains(key, "="):
		return errors.New("runc keeps annotations as key=value labels, so a key with \"=\" reads as another label")
	case strings.EqualFold(key, "bundle"):
		return errors.New("the key names runc's own bundle label")
	case hasPrefixFold(key, systemdPrefix):
		if name, ok := strings.CutPrefix(key, systemdPrefix); ok && slices.Contains(SystemdProperties, name) {
			return nil
		}
		return fmt.Errorf("runc sets the systemd unit property it names on the container's scope (systemd cgroup driver), which can lift device and resource limits; accepted: %s", strings.Join(SystemdProperties, ", "))
	case hasPrefixFold(key, "org.criu."):
		return errors.New("runc passes org.criu.config to CRIU as a host config file, which can run action scripts as root")
	case hasPrefixFold(key, "run.oci."):
		return errors.New("crun acts on run.oci. annotations")
	}
	return nil
}

// idMappings returns the (containerID, hostID, size) triples of a decoded
// id-mapping array, or ok=false when it is not one.
func idMappings(v any) (out [][3]string, ok bool) {
	arr, isArr := v.([]any)
	if !isArr {
		return nil, false
	}
	for _, e := range arr {
		o, isObj := e.(object)
		if !isObj {
			return nil, false
		}
		var m [3]string
		for i, k := range []string{"containerID", "hostID", "size"} {
			x, _ := get(o, k)
			n, _ := x.(json.Number)
			m[i] = n.String()
		}
		out = append(out, m)
	}
	return out, true
}

// sameMappings returns the check for mounts[].uidMappings or gidMappings:
// the mount's mapping must be the container's own linux.<member>.
func sameMappings(member string) func(c *checker, key string, v any) error {
	return func(c *checker, _ string, v any) error {
		mine, ok := idMappings(v)
		if !ok || len(mine) == 0 {
			return nil
		}
		var theirs [][3]string
		if root, isObj := c.root.(object); isObj {
			if l, ok := get(root, "linux"); ok {
				if lo, isObj := l.(object); isObj {
					if x, ok := get(lo, member); ok {
						theirs, _ = idMappings(x)
					}
				}
			}
		}
		if slices.Equal(mine, theirs) {
			return nil
		}
		return fmt.Errorf("an id-mapped mount whose mapping differs from linux.%s can show host files as owned by the container's root", member)
	}
}

func checkListener(c *checker, _ string, v any) error {
	p := str(v)
	if p == "" {
		return nil
	}
	if c.opts.StateDir != "" && filepath.IsAbs(p) {
		rel, err := filepath.Rel(filepath.Join(c.opts.StateDir, "agents"), p)
		if err == nil && rel != "." && !strings.HasPrefix(rel, "..") && filepath.Clean(p) == p {
			return nil
		}
	}
	return errors.New("runc connects to the host socket it names, as root, and hands it the container's seccomp notify fd; only runcage's own recorder is accepted")
}

package profiles

// Mode says whether a profile's seccomp filter denies (enforce) or only
// reports (complain) the syscalls it does not list.
type Mode string

const (
	ModeEnforce  Mode = "enforce"
	ModeComplain Mode = "complain"
)

// Requirement says what to do when a protection cannot be applied on this host.
type Requirement string

const (
	// Required: refuse the container when the protection is unavailable.
	Required Requirement = "required"
	// IfAvailable: apply the protection where the host supports it and skip
	// it silently elsewhere. Only valid for AppArmor, which some kernels lack.
	IfAvailable Requirement = "if-available"
	// Off: do not apply the protection.
	Off Requirement = "off"
)

// SeccompRuntimeDefault names runcage's own built-in allowlist.
const SeccompRuntimeDefault = "runtime/default"

// AppArmor configures the AppArmor part of a profile.
type AppArmor struct {
	// Mode is "enforce" or "complain"; empty means enforce.
	Mode string `toml:"mode" json:"mode,omitempty"`
	// Require is Required, IfAvailable or Off; empty means IfAvailable.
	Require Requirement `toml:"require" json:"require,omitempty"`
}

// Profile is one named hardening profile. It is plain data: Modifiers turns
// it into the list of modifiers that enforce it. The zero value of every
// field is the strictest setting, so a profile file only lists what it keeps.
type Profile struct {
	// Name is the profile's name; it is set from the policy key or directory.
	Name string `toml:"-" json:"name"`
	// Description is shown by `runcage profile list`.
	Description string `toml:"description" json:"description,omitempty"`
	// Passthrough profiles change nothing at all. They exist for conformance
	// testing and staged roll-out.
	Passthrough bool `toml:"passthrough" json:"passthrough,omitempty"`
	// Mode is enforce (default) or complain.
	Mode Mode `toml:"mode" json:"mode,omitempty"`
	// Capabilities lists the capabilities a container may keep, by their
	// canonical names ("CAP_NET_BIND_SERVICE"). A container keeps the
	// intersection of this list and what its bundle asked for, in all five
	// sets. Empty means none.
	Capabilities []string `toml:"capabilities" json:"capabilities,omitempty"`
	// Seccomp is SeccompRuntimeDefault, or the path of an OCI seccomp JSON
	// file (relative paths are resolved against Dir). Empty means
	// SeccompRuntimeDefault.
	Seccomp string `toml:"seccomp" json:"seccomp,omitempty"`
	// SocketFamilies widens the socket rule of runtime/default (and only
	// of it): socket and socketpair are also allowed for these address
	// families ("AF_ALG") and netlink protocols ("NETLINK_GENERIC").
	// Empty means runtime/default's: unix, inet, inet6 and netlink route,
	// sock_diag and kobject_uevent.
	SocketFamilies []string `toml:"socket_families" json:"socket_families,omitempty"`
	// SetIDFiles lifts runtime/default's rule (and only its) that refuses
	// setting a set-user-ID or set-group-ID bit with chmod, open, creat or
	// mknod. It is off by default: in a volume the container's root owns
	// files as host root, so a set-ID file there is a host-root set-ID
	// file; inside the container no_new_privileges makes set-ID bits
	// useless anyway. Installing packages that ship set-ID files (dpkg
	// sets them) needs it.
	SetIDFiles bool `toml:"setid_files" json:"setid_files,omitempty"`
	// AppArmor configures the generated AppArmor profile runcage-<Name>.
	AppArmor AppArmor `toml:"apparmor" json:"apparmor"`
	// UserNS is Required (inject or validate a user namespace) or Off.
	// Empty means Required: root in a container is never root on the host
	// unless a profile says userns = "off".
	UserNS Requirement `toml:"userns" json:"userns,omitempty"`
	// HostNamespaces lists the host namespaces a container may share:
	// any of "pid", "ipc", "network", "uts", "cgroup". Empty means none.
	HostNamespaces []string `toml:"host_namespaces" json:"host_namespaces,omitempty"`
	// MaskedPaths and ReadonlyPaths are added to the bundle's own lists and
	// to runcage's built-in lists, which are at least as strict as Docker's.
	MaskedPaths   []string `toml:"masked_paths" json:"masked_paths,omitempty"`
	ReadonlyPaths []string `toml:"readonly_paths" json:"readonly_paths,omitempty"`
	// Hooks lists the OCI hook paths a bundle may carry (path.Match
	// patterns). Empty means a bundle with any hook is refused.
	Hooks []string `toml:"hooks" json:"hooks,omitempty"`
	// Devices lists the host device paths a bundle may add in linux.devices.
	Devices []string `toml:"devices" json:"devices,omitempty"`
	// AnnotationSelectable lists the profiles that the runcage.dev/profile
	// annotation may select when this profile was chosen first. Each must
	// also be at least as strict as this one.
	AnnotationSelectable []string `toml:"annotation_selectable" json:"annotation_selectable,omitempty"`
	// PidsLimit, when above zero, caps linux.resources.pids.limit: a bundle
	// asking for more (or for no limit) gets this value, and `update` cannot
	// raise it. Zero leaves the bundle's limit alone.
	PidsLimit int64 `toml:"pids_limit" json:"pids_limit,omitempty"`
	// Record makes runcage start the recorder for containers of this
	// profile: an agent that sees every syscall, answers it as the
	// profile's filter would, and writes a trace (see profiles/recorder; the trace model is profiles/record).
	Record bool `toml:"record" json:"record,omitempty"`
	// LogDenied makes an enforce profile log the syscalls its filter
	// denies even where the policy turns that off (log_denials = false);
	// by default every enforce profile does (see docs/recording.md).
	LogDenied bool `toml:"log_denied" json:"log_denied,omitempty"`
	// AllowedMembers names config.json members (paths such as
	// "linux.intelRdt", see profiles/members) that a bundle may carry as
	// they are, with everything below them, although runcage's member
	// table refuses them or does not know them. Empty means none. It lifts
	// only that check, and profiles/process's raising of a negative
	// process.oomScoreAdj; every other modifier still applies.
	AllowedMembers []string `toml:"allowed_members" json:"allowed_members,omitempty"`
	// SyscallReasons, in a generated profile, says why each syscall its
	// seccomp file allows is there: "recorded" (the recording saw it),
	// "static: OBJECT:FUNCTION" (profiles/analysis found it reachable from
	// code the workload mapped) or "runtime" (runc, program start-up or
	// the vDSO's fallbacks need it whatever the workload). It only
	// informs (`runcage profile show` prints it); the seccomp file decides.
	SyscallReasons map[string]string `toml:"syscall_reasons" json:"syscall_reasons,omitempty"`
	// Landlock, when set, confines the container's processes with
	// Landlock through runcage's helper (see profiles/landlock and
	// docs/landlock.md). Nil means no Landlock rules: no helper, no bind.
	Landlock *Landlock `toml:"landlock" json:"landlock,omitempty"`
	// Dir is the directory the profile was loaded from, if any.
	Dir string `toml:"-" json:"dir,omitempty"`
}

// Landlock is the [landlock] table of a profile: what the container's
// processes may do with files (paths inside the container) and TCP ports.
// What it does not grant is denied, for each kind of restriction it uses:
// files when FS has a rule, binding when Bind is present (even empty),
// connecting when Connect is present, and the scopes Scopes names.
type Landlock struct {
	// Require is Required (refuse the container when the kernel cannot
	// enforce every rule) or IfAvailable (enforce what the kernel can);
	// empty means IfAvailable.
	Require Requirement `toml:"require" json:"require,omitempty"`
	// FS lists the file-system rules.
	FS []LandlockPath `toml:"fs" json:"fs,omitempty"`
	// Bind and Connect list the TCP ports that may be bound and
	// connected to. Nil leaves that operation alone.
	Bind    []int `toml:"bind" json:"bind"`
	Connect []int `toml:"connect" json:"connect"`
	// Scopes lists what the container's processes may not reach outside
	// their own Landlock domain: "abstract-unix-socket", "signal".
	Scopes []string `toml:"scopes" json:"scopes,omitempty"`
}

// LandlockPath grants Access (names such as "read", "execute"; see
// profiles/landlock) on Path and, for a directory, on everything beneath.
type LandlockPath struct {
	Path   string   `toml:"path" json:"path"`
	Access []string `toml:"access" json:"access"`
}

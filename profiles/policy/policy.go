// Package policy loads runcage's policy file, resolves profiles by name,
// selects the profile for one invocation, and assembles a profile into the
// list of modifiers that enforce it.
package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/landlock"
	"github.com/runcage/runcage/profiles/members"
	"github.com/runcage/runcage/profiles/seccomp"
	"github.com/runcage/runcage/profiles/userns"
	"github.com/runcage/runcage/runtime/spec"
)

// Default locations. Each can be changed by the policy file.
const (
	DefaultPath        = "/etc/runcage/config.toml"
	DefaultStateDir    = "/run/runcage"
	DefaultProfilesDir = "/etc/runcage/profiles"
	DefaultProfile     = "default"
	// DefaultRecordingsDir is where record mode writes traces.
	DefaultRecordingsDir = "/var/lib/runcage/recordings"
	// DefaultAuditLog is where complain mode (and log_denied) appends.
	DefaultAuditLog = "/var/log/runcage/audit.log"
	// EnvConfig names the environment variable that points at the policy.
	EnvConfig = "RUNCAGE_CONFIG"
	// AnnotationProfile is the pod/container annotation that may select a
	// stricter profile, where the policy permits it.
	AnnotationProfile = "runcage.dev/profile"
)

// DefaultVolumeRoots are where Docker, Podman and the kubelet keep
// volumes: Docker's and Podman's named volumes, and every volume of a
// Kubernetes pod (emptyDir, configMap, secret, projected, CSI).
var DefaultVolumeRoots = []string{
	"/var/lib/docker/volumes",
	"/var/lib/containers/storage/volumes",
	"/var/lib/kubelet/pods",
}

// Policy is the administrator's policy file. The zero value is the built-in
// default policy.
type Policy struct {
	// Runtime is the delegate runtime: an absolute path, or a name looked up
	// in PATH. Empty means `runc` beside the runcage binary, then in PATH.
	Runtime string `toml:"runtime"`
	// DefaultProfile is used when nothing else selects a profile.
	DefaultProfile string `toml:"default_profile"`
	// StateDir holds state that outlives one invocation.
	StateDir string `toml:"state_dir"`
	// ProfilesDir holds one directory per installed profile.
	ProfilesDir string `toml:"profiles_dir"`
	// RecordingsDir is where record mode writes <name>.json traces.
	RecordingsDir string `toml:"recordings_dir"`
	// AuditLog is the JSON-lines file complain mode appends to (see
	// record.AuditEvent). The denials log, DenialsLog, is beside it.
	AuditLog string `toml:"audit_log"`
	// LogDenials says whether every enforced profile logs the syscalls its
	// filter denies through the node's denial agent (see docs/recording.md).
	// Absent means true; false leaves it to profiles with log_denied = true.
	LogDenials *bool `toml:"log_denials"`
	// UserNS configures the pool user-namespace ranges come from.
	UserNS UserNSPolicy `toml:"userns"`
	// RecordCapabilities says whether the built-in record profile keeps the
	// capabilities a bundle asks for, up to caps.EngineDefault (see
	// RecordsCapabilities). Absent means true; false makes record keep none, as
	// default does.
	RecordCapabilities *bool `toml:"record_capabilities"`
	// VolumeRoots are the host directories whose subdirectories are
	// container volumes. A bind source inside one is id-mapped, so the
	// container's root owns what it writes there as the image's root
	// would; any other bind source keeps its host ids, and the container's
	// root has no more power over it than an unprivileged host user.
	// Absent means DefaultVolumeRoots; an empty list means none.
	VolumeRoots []string `toml:"volume_roots"`
	// EngineStateDirs names container-engine state and data directories
	// beyond the built-in ones (/var/lib/docker, /run/containerd, ...):
	// a dockerd --data-root or --exec-root, a containerd root or state.
	// Bind mounts from them are refused except the engine's files for the
	// container being created (see profiles/mounts).
	EngineStateDirs []string `toml:"engine_state_dirs"`
	// Profiles defines profiles inline; they take precedence over
	// ProfilesDir and over the built-ins of the same name (except
	// passthrough, which cannot be redefined).
	Profiles map[string]*profiles.Profile `toml:"profiles"`

	// Path is where the policy was loaded from; empty for the built-in one.
	Path string `toml:"-"`
}

// UserNSPolicy is the [userns] table of the policy file.
type UserNSPolicy struct {
	// PoolStart and PoolEnd bound the host ids handed out (default
	// 100000 and 1<<31). Host id 0 is never handed out.
	PoolStart uint32 `toml:"pool_start"`
	PoolEnd   uint32 `toml:"pool_end"`
	// Size is the size of each pod's range (default 65536).
	Size uint32 `toml:"size"`
	// MinSize is the smallest mapping a bundle may bring (default 65536).
	MinSize uint32 `toml:"min_size"`
}

// Load reads the policy from path. When explicit is false and the file does
// not exist, it returns the built-in default policy; an explicitly named
// file must exist. Unknown keys are refused, so that a misspelt setting in a
// security policy is an error rather than silently ignored.
func Load(path string, explicit bool) (*Policy, error) {
	p := &Policy{}
	data, err := spec.ReadTrusted(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		p.fill()
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("read policy: %w", err)
	}
	md, err := toml.Decode(string(data), p)
	if err != nil {
		return nil, fmt.Errorf("parse policy %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("policy %s: unknown keys %s", path, strings.Join(keys, ", "))
	}
	// The decoder leaves a map alone when the file gives it a scalar, so
	// check the table keys' types explicitly.
	// (Implicit tables, made by [profiles.x] headers, have no type.)
	if t := md.Type("profiles"); t != "" && t != "Hash" {
		return nil, fmt.Errorf("policy %s: profiles must be a table, not %s", path, t)
	}
	for name := range p.Profiles {
		if t := md.Type("profiles", name); t != "" && t != "Hash" {
			return nil, fmt.Errorf("policy %s: profiles.%s must be a table, not %s", path, name, t)
		}
	}
	p.Path = path
	p.fill()
	for name, prof := range p.Profiles {
		if err := ValidName(name); err != nil {
			return nil, fmt.Errorf("policy %s: %w", path, err)
		}
		if name == "passthrough" {
			return nil, fmt.Errorf("policy %s: the built-in profile %q cannot be redefined", path, name)
		}
		if prof == nil {
			prof = &profiles.Profile{}
			p.Profiles[name] = prof
		}
		prof.Name = name
		if prof.Dir == "" {
			prof.Dir = filepath.Dir(path)
		}
		if err := check(prof); err != nil {
			return nil, fmt.Errorf("policy %s: %w", path, err)
		}
	}
	if err := ValidName(p.DefaultProfile); err != nil {
		return nil, fmt.Errorf("policy %s: default_profile: %w", path, err)
	}
	for key, dirs := range map[string][]string{"volume_roots": p.VolumeRoots, "engine_state_dirs": p.EngineStateDirs} {
		for _, r := range dirs {
			if !filepath.IsAbs(r) || filepath.Clean(r) != r || r == "/" {
				return nil, fmt.Errorf("policy %s: %s: %q is not an absolute clean path below /", path, key, r)
			}
		}
	}
	return p, nil
}

func (p *Policy) fill() {
	if p.DefaultProfile == "" {
		p.DefaultProfile = DefaultProfile
	}
	if p.StateDir == "" {
		p.StateDir = DefaultStateDir
	}
	if p.ProfilesDir == "" {
		p.ProfilesDir = DefaultProfilesDir
	}
	if p.RecordingsDir == "" {
		p.RecordingsDir = DefaultRecordingsDir
	}
	if p.AuditLog == "" {
		p.AuditLog = DefaultAuditLog
	}
	if p.VolumeRoots == nil {
		p.VolumeRoots = DefaultVolumeRoots
	}
}

// DenialsLog is the file the denial agent appends to: denials.log in the
// directory of AuditLog (its previous generation is DenialsLog()+".1").
func (p *Policy) DenialsLog() string {
	return filepath.Join(filepath.Dir(p.AuditLog), "denials.log")
}

// LogsDenials reports whether enforced profiles log their denials without
// log_denied (LogDenials, absent: true).
func (p *Policy) LogsDenials() bool { return p.LogDenials == nil || *p.LogDenials }

// InPool reports whether uid is a host id of the user-namespace pool, which
// runcage hands to containers and never to a host account.
func (p *Policy) InPool(uid uint32) bool {
	start, end := p.UserNS.PoolStart, p.UserNS.PoolEnd
	if start == 0 {
		start = userns.DefaultPoolStart
	}
	if end == 0 {
		end = userns.DefaultPoolEnd
	}
	return uid >= start && uid < end
}

// ResolvedVolumeRoots returns VolumeRoots with symlinks resolved; roots
// that do not exist are left out (nothing can be bound from them).
func (p *Policy) ResolvedVolumeRoots() []string {
	var out []string
	for _, r := range p.VolumeRoots {
		if real, err := filepath.EvalSymlinks(r); err == nil {
			out = append(out, real)
		}
	}
	return out
}

// ValidName reports whether name can name a profile: 1 to 64 letters,
// digits, '-', '_' or '.', not starting with a punctuation character.
// (Hand-written rather than a regexp: it runs on every invocation, and
// compiling a regexp at init costs more than the check.)
func ValidName(name string) error {
	ok := len(name) >= 1 && len(name) <= 64
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || i > 0 && (c == '_' || c == '.' || c == '-')
	}
	if !ok {
		return profiles.Refusef("profile name %q refused: use 1-64 letters, digits, '-', '_' or '.'", name)
	}
	return nil
}

// check validates the settings of one profile and fills in the defaults
// whose zero value is not the strictest spelling (userns: required).
func check(p *profiles.Profile) error {
	if p.UserNS == "" {
		p.UserNS = profiles.Required
	}
	switch p.Mode {
	case "", profiles.ModeEnforce, profiles.ModeComplain:
	default:
		return fmt.Errorf("profile %q: mode %q: want enforce or complain", p.Name, p.Mode)
	}
	switch p.UserNS {
	case "", profiles.Off, profiles.Required:
	default:
		return fmt.Errorf("profile %q: userns %q: want required or off", p.Name, p.UserNS)
	}
	switch p.AppArmor.Require {
	case "", profiles.Off, profiles.Required, profiles.IfAvailable:
	default:
		return fmt.Errorf("profile %q: apparmor.require %q: want required, if-available or off", p.Name, p.AppArmor.Require)
	}
	switch p.AppArmor.Mode {
	case "", "enforce", "complain":
	default:
		return fmt.Errorf("profile %q: apparmor.mode %q: want enforce or complain", p.Name, p.AppArmor.Mode)
	}
	for _, ns := range p.HostNamespaces {
		switch ns {
		case "pid", "ipc", "network", "uts", "cgroup":
		default:
			return fmt.Errorf("profile %q: host_namespaces: %q is not one of pid, ipc, network, uts, cgroup", p.Name, ns)
		}
	}
	for _, n := range p.AnnotationSelectable {
		if err := ValidName(n); err != nil {
			return fmt.Errorf("profile %q: annotation_selectable: %w", p.Name, err)
		}
	}
	if err := members.ValidateAllowed(p.AllowedMembers); err != nil {
		return fmt.Errorf("profile %q: %w", p.Name, err)
	}
	for _, f := range p.SocketFamilies {
		if err := seccomp.CheckSocketFamily(f); err != nil {
			return fmt.Errorf("profile %q: socket_families: %w", p.Name, err)
		}
	}
	if p.SetIDFiles && p.Seccomp != "" && p.Seccomp != profiles.SeccompRuntimeDefault {
		return fmt.Errorf("profile %q: setid_files lifts a rule of runtime/default only, and seccomp is %q: allow the modes in that file", p.Name, p.Seccomp)
	}
	if len(p.SocketFamilies) > 0 && p.Seccomp != "" && p.Seccomp != profiles.SeccompRuntimeDefault {
		return fmt.Errorf("profile %q: socket_families widens only runtime/default, and seccomp is %q: list the families in that file", p.Name, p.Seccomp)
	}
	if err := landlock.Check(p.Landlock); err != nil {
		return fmt.Errorf("profile %q: %w", p.Name, err)
	}
	if p.PidsLimit < 0 {
		return fmt.Errorf("profile %q: pids_limit must not be negative", p.Name)
	}
	if p.Record && p.Mode == profiles.ModeComplain {
		return fmt.Errorf("profile %q: record = true and mode = complain: a recording profile enforces; choose one", p.Name)
	}
	return nil
}

// Builtin returns the built-in profile called name, or nil.
func Builtin(name string) *profiles.Profile {
	switch name {
	case "default":
		return &profiles.Profile{
			Name:        "default",
			Description: "hardened: no capabilities, no_new_privs, runcage's seccomp allowlist, a user namespace, AppArmor where the host has it, host namespaces and sensitive mounts refused",
			Mode:        profiles.ModeEnforce,
			Seccomp:     profiles.SeccompRuntimeDefault,
			AppArmor:    profiles.AppArmor{Mode: "enforce", Require: profiles.IfAvailable},
			UserNS:      profiles.Required,
		}
	case "record":
		// default plus the recorder, so the two cannot drift apart.
		p := Builtin("default")
		p.Name = "record"
		p.Description = "default plus the recorder: every syscall goes to an agent that records it (and answers it as default would) into the recordings directory"
		p.Record = true
		return p
	case "passthrough":
		return &profiles.Profile{
			Name:        "passthrough",
			Description: "changes nothing: for conformance testing and staged roll-out",
			Passthrough: true,
		}
	}
	return nil
}

// BuiltinNames lists the built-in profiles.
var BuiltinNames = []string{"default", "passthrough", "record"}

// Profile resolves name: an inline profile of the policy first, then
// <ProfilesDir>/<name>/profile.toml, then the built-ins.
func (p *Policy) Profile(name string) (*profiles.Profile, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if prof, ok := p.Profiles[name]; ok && name != "passthrough" {
		cp := *prof
		return &cp, nil
	}
	dir := filepath.Join(p.ProfilesDir, name)
	data, err := spec.ReadTrusted(filepath.Join(dir, "profile.toml"))
	switch {
	case err == nil && name != "passthrough":
		prof := &profiles.Profile{}
		md, err := toml.Decode(string(data), prof)
		if err != nil {
			return nil, fmt.Errorf("parse profile %s: %w", dir, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return nil, fmt.Errorf("profile %s: unknown key %s", dir, und[0])
		}
		prof.Name, prof.Dir = name, dir
		if prof.Seccomp == "" {
			if _, err := os.Stat(filepath.Join(dir, "seccomp.json")); err == nil {
				prof.Seccomp = "seccomp.json"
			}
		}
		if err := check(prof); err != nil {
			return nil, err
		}
		return prof, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read profile %s: %w", dir, err)
	}
	if b := Builtin(name); b != nil {
		return p.withRecordCapabilities(b), nil
	}
	// A refusal: the container cannot run under a profile that does not
	// exist, and engines show a refusal as the precondition it is (the
	// shim's FailedPrecondition), not as an internal error.
	return nil, profiles.Refusef("profile %q not found: not in the policy, not in %s, not built in", name, p.ProfilesDir)
}

// Names lists every profile the policy can resolve, sorted.
func (p *Policy) Names() []string {
	set := map[string]bool{}
	for _, n := range BuiltinNames {
		set[n] = true
	}
	for n := range p.Profiles {
		set[n] = true
	}
	if ents, err := os.ReadDir(p.ProfilesDir); err == nil {
		for _, e := range ents {
			if e.IsDir() && ValidName(e.Name()) == nil {
				if _, err := os.Stat(filepath.Join(p.ProfilesDir, e.Name(), "profile.toml")); err == nil {
					set[e.Name()] = true
				}
			}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

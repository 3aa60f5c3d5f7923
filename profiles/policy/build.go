package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/annotations"
	"github.com/runcage/runcage/profiles/apparmor"
	"github.com/runcage/runcage/profiles/caps"
	"github.com/runcage/runcage/profiles/cgroups"
	"github.com/runcage/runcage/profiles/hooks"
	"github.com/runcage/runcage/profiles/landlock"
	"github.com/runcage/runcage/profiles/mounts"
	"github.com/runcage/runcage/profiles/namespaces"
	"github.com/runcage/runcage/profiles/process"
	"github.com/runcage/runcage/profiles/rootfs"
	"github.com/runcage/runcage/profiles/seccomp"
)

// Seccomp returns the seccomp filter profile p enforces: runcage's built-in
// allowlist, or the OCI seccomp file it names (relative to p.Dir).
func (p *Policy) Seccomp(prof *profiles.Profile) (*specs.LinuxSeccomp, error) {
	switch prof.Seccomp {
	case "", profiles.SeccompRuntimeDefault:
		return defaultAddsOf(prof).build()
	}
	path := prof.Seccomp
	if !filepath.IsAbs(path) {
		path = filepath.Join(prof.Dir, path)
	}
	f, err := seccomp.Load(path)
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	return f, nil
}

// defaultAdds is everything of a profile that the filter it enforces on
// top of runcage's built-in allowlist depends on. build reads nothing
// else, so the struct, encoded, is a complete key of its result (with
// seccomp.DefaultKey): a field that changes the filter must be added here.
type defaultAdds struct {
	Families []string `json:"families"`
	SetID    bool     `json:"setid"`
}

func defaultAddsOf(prof *profiles.Profile) defaultAdds {
	return defaultAdds{Families: slices.Clone(prof.SocketFamilies), SetID: prof.SetIDFiles}
}

// build returns the built-in allowlist with a's additions.
func (a defaultAdds) build() (*specs.LinuxSeccomp, error) {
	f := seccomp.Default()
	var err error
	if len(a.Families) > 0 {
		if f, err = seccomp.AllowSocketFamilies(f, a.Families); err != nil {
			return nil, err
		}
	}
	if a.SetID {
		if f, err = seccomp.AllowSetIDModes(f); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// seccompSource is Seccomp for the seccomp modifier: runcage's built-in
// allowlist is named by a key (default.json's checksum, the native
// architectures and defaultAdds), so that a create whose tightened filter
// is cached never parses default.json; a profile's own filter file is
// loaded as Seccomp loads it.
func (p *Policy) seccompSource(prof *profiles.Profile) (seccomp.Source, error) {
	switch prof.Seccomp {
	case "", profiles.SeccompRuntimeDefault:
		a := defaultAddsOf(prof)
		key, err := json.Marshal(a)
		if err != nil {
			return seccomp.Source{}, err
		}
		return seccomp.Source{Build: a.build, Key: seccomp.DefaultKey() + " " + string(key)}, nil
	}
	f, err := p.Seccomp(prof)
	return seccomp.Source{Filter: f}, err
}

func seccompCovers(wide, narrow *specs.LinuxSeccomp) error {
	return seccomp.Covers(wide, narrow)
}

// AppArmorText returns the profile's own AppArmor text (<Dir>/apparmor), or
// nil when it has none and the default is to be generated.
func AppArmorText(prof *profiles.Profile) ([]byte, error) {
	if prof.Dir == "" {
		return nil, nil
	}
	data, err := os.ReadFile(filepath.Join(prof.Dir, "apparmor"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read apparmor profile: %w", err)
	}
	return data, nil
}

// Env is what Modifiers needs from the outside world.
type Env struct {
	// Bundle is the bundle directory, for the rootfs checks.
	Bundle string
	// AppArmor is the host's AppArmor, or a fake in tests.
	AppArmor apparmor.Host
	// ContainerID is the runc container id being created ("" in tests
	// that do not need it).
	ContainerID string
	// RuncRoot is the delegate's state root (--root), made absolute with
	// symlinks resolved; "" means runc's default.
	RuncRoot string
	// Delegate is the absolute path of the delegate runtime binary.
	Delegate string
	// Caller is the process that will start the delegate, when that is
	// not runcage itself (runcage's warm front): relative cgroup paths are
	// runc's and so resolved from its cgroups. 0 means runcage.
	Caller int
	// Landlock locates the Landlock helper and reads the kernel's ABI;
	// the zero value means the helper beside the executable and this
	// kernel.
	Landlock landlock.Options
}

// Modifiers assembles the modifiers that enforce prof on a bundle, in the
// order they must run: input checks first, then the rewrites, seccomp and
// AppArmor last. A passthrough profile yields an empty list.
func (p *Policy) Modifiers(prof *profiles.Profile, env Env) (profiles.List, error) {
	if prof.Passthrough {
		return nil, nil
	}
	capm, err := caps.New(prof)
	if err != nil {
		return nil, err
	}
	filter, err := p.seccompSource(prof)
	if err != nil {
		return nil, err
	}
	aaText, err := AppArmorText(prof)
	if err != nil {
		return nil, err
	}
	return profiles.List{
		profiles.ModifierFunc(func(s *specs.Spec) error { return annotations.Check(s.Annotations) }),
		rootfs.New(env.Bundle),
		process.New(prof),
		capm,
		namespaces.New(prof, namespaces.Owner{ContainerID: env.ContainerID, RuncRoot: env.RuncRoot, PinnedNetnsDirs: p.pinnedNetnsDirs()}),
		cgroups.New(env.ContainerID, cgroupHost(env.Caller)),
		bundleRelativeSources(env.Bundle),
		rootfs.NewDestinations(env.Bundle),
		mounts.New(prof, mounts.Options{
			Own:         []string{p.Path, p.StateDir, p.ProfilesDir, p.RecordingsDir, p.AuditLog, env.Delegate, env.RuncRoot, landlockHelper(env)},
			EngineDirs:  p.EngineStateDirs,
			ContainerID: env.ContainerID,
		}),
		hooks.New(prof),
		pidsLimit(prof),
		seccomp.NewCachedModifier(filter, filepath.Join(p.StateDir, "seccomp-tightened")),
		landlock.New(prof, env.Landlock),
		apparmor.NewModifier(prof, env.AppArmor, aaText),
	}, nil
}

// landlockHelper is the host path of the Landlock helper, which every
// container of a Landlock profile runs: no bundle may bind it, whatever
// its profile. "" when it cannot be told.
func landlockHelper(env Env) string {
	if env.Landlock.Helper != "" {
		return env.Landlock.Helper
	}
	h, _ := landlock.HelperPath()
	return h
}

// bundleRelativeSources makes the relative source of every bind mount
// absolute by joining it to the bundle directory, as runc does (the runtime
// spec: bind sources are absolute or relative to the bundle), so that the
// mount rules judge, and the delegate binds, the same host path. A source
// with a ".." element is left alone for the mount rules to refuse.
func bundleRelativeSources(bundle string) profiles.Modifier {
	return profiles.ModifierFunc(func(s *specs.Spec) error {
		for i := range s.Mounts {
			m := &s.Mounts[i]
			if m.Source == "" || filepath.IsAbs(m.Source) || !isBindMount(m) || bundle == "" {
				continue
			}
			if slices.Contains(strings.Split(m.Source, "/"), "..") {
				continue
			}
			m.Source = filepath.Join(bundle, m.Source)
		}
		return nil
	})
}

func isBindMount(m *specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// pidsLimit caps linux.resources.pids.limit at the profile's pids_limit.
func pidsLimit(prof *profiles.Profile) profiles.Modifier {
	if prof.PidsLimit <= 0 {
		return nil
	}
	return profiles.ModifierFunc(func(s *specs.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		r := s.Linux.Resources
		if r.Pids == nil {
			r.Pids = &specs.LinuxPids{}
		}
		if r.Pids.Limit == nil || *r.Pids.Limit <= 0 || *r.Pids.Limit > prof.PidsLimit {
			limit := prof.PidsLimit
			r.Pids.Limit = &limit
		}
		return nil
	})
}

// Validate checks a rewritten spec the way the delegate will use it: the
// seccomp filter must compile with libseccomp. Filters that compiled before
// are remembered under the policy's state directory.
func (p *Policy) Validate(s *specs.Spec) error {
	if s.Linux != nil && s.Linux.Seccomp != nil {
		if err := seccomp.CompileCached(s.Linux.Seccomp, filepath.Join(p.StateDir, "seccomp-ok")); err != nil {
			return fmt.Errorf("validate seccomp filter: %w", err)
		}
	}
	return nil
}

// pinnedNetnsDirs are the directories, beside the usual ones, where the
// engines the policy names in engine_state_dirs pin network namespaces:
// containerd's CRI with netns_mounts_under_state_dir.
func (p *Policy) pinnedNetnsDirs() []string {
	var dirs []string
	for _, d := range p.EngineStateDirs {
		dirs = append(dirs, filepath.Join(d, "io.containerd.grpc.v1.cri", "netns"))
	}
	return dirs
}

// cgroupHost is the cgroups modifier's view of the host for a delegate
// started by process caller (0: runcage itself).
func cgroupHost(caller int) cgroups.Host {
	if caller == 0 {
		return nil
	}
	return cgroups.HostOf(caller)
}

package shim

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	runtimeoptions "github.com/containerd/containerd/pkg/runtimeoptions/v1"
	ptypes "github.com/containerd/containerd/protobuf/types"
	"github.com/containerd/typeurl/v2"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime/spec"
)

// Options is what the shim takes from a task's runtime options (see the
// package documentation for where each comes from).
type Options struct {
	// Profile names the profile; "" selects by Argv0, else the policy's
	// default.
	Profile string `toml:"profile" json:"profile,omitempty"`
	// Config is the policy file; "" is policy.DefaultPath.
	Config string `toml:"config" json:"config,omitempty"`
	// BinaryName is the delegate runc; "" is the policy's runtime, else
	// runc beside the shim, else runc in PATH.
	BinaryName string `toml:"binary_name" json:"binary_name,omitempty"`
	// Root is the parent of runc's --root: the task's namespace is
	// appended, as containerd's runc shim does. "" is /run/containerd/runc.
	Root string `toml:"root" json:"root,omitempty"`
	// SystemdCgroup makes runc use the systemd cgroup driver.
	SystemdCgroup bool `toml:"systemd_cgroup" json:"systemd_cgroup,omitempty"`

	// Argv0 is runc options' BinaryName: its base name selects the
	// profile the way bin/runcage's argv[0] does (runcage-PROFILE).
	Argv0 string `toml:"-" json:"argv0,omitempty"`
	// NoPivotRoot and NoNewKeyring are runc options' flags of the same
	// names, which runcage forwards to runc unchanged.
	NoPivotRoot  bool `toml:"-" json:"no_pivot_root,omitempty"`
	NoNewKeyring bool `toml:"-" json:"no_new_keyring,omitempty"`
	// IoUID and IoGID own the container's I/O pipes (runc options).
	IoUID uint32 `toml:"-" json:"io_uid,omitempty"`
	IoGID uint32 `toml:"-" json:"io_gid,omitempty"`
}

// ParseOptions decodes a task's runtime options: none, containerd's
// runtimeoptions.Options (CRI, ctr --runtime-config-path) naming a shim
// options file, or runc's own options (ctr --runc-binary, a runc-style
// handler). Any other type is refused.
func ParseOptions(a *ptypes.Any) (Options, error) {
	if a == nil || (a.GetTypeUrl() == "" && len(a.GetValue()) == 0) {
		return Options{}, nil
	}
	v, err := typeurl.UnmarshalAny(a)
	if err != nil {
		return Options{}, fmt.Errorf("runtime options: %w", err)
	}
	switch o := v.(type) {
	case *runtimeoptions.Options:
		return optionsFile(o)
	case *runcoptions.Options:
		return runcOptions(o)
	}
	return Options{}, profiles.Refusef("runtime options of type %q refused: the runcage shim takes runtimeoptions.Options (ConfigPath) or runc's options", a.GetTypeUrl())
}

// optionsFile reads the shim options file o names. The file decides the
// profile, so it must be as trusted as the policy: owned by root and
// writable by no one else, nor any directory above it.
func optionsFile(o *runtimeoptions.Options) (Options, error) {
	switch {
	case o.ConfigPath != "" && len(o.ConfigBody) > 0:
		return Options{}, profiles.Refusef("runtime options refused: both ConfigPath and ConfigBody are set; set one")
	case o.ConfigPath != "":
		data, err := spec.ReadTrusted(o.ConfigPath)
		if err != nil {
			return Options{}, fmt.Errorf("runtime options file: %w", err)
		}
		return DecodeOptionsFile(o.ConfigPath, data)
	case len(o.ConfigBody) > 0:
		// containerd's own configuration carried the file's text.
		return DecodeOptionsFile("ConfigBody", o.ConfigBody)
	}
	return Options{}, nil
}

// DecodeOptionsFile decodes the TOML of a shim options file; name is its
// path, for messages. Unknown keys are refused, as is a delegate that is
// runcage itself (the transaction would run twice).
func DecodeOptionsFile(name string, data []byte) (Options, error) {
	var o Options
	md, err := toml.Decode(string(data), &o)
	if err != nil {
		return Options{}, fmt.Errorf("runtime options %s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Options{}, fmt.Errorf("runtime options %s: unknown keys %s (known: profile, config, binary_name, root, systemd_cgroup)", name, strings.Join(keys, ", "))
	}
	if o.Profile != "" {
		if err := policy.ValidName(o.Profile); err != nil {
			return Options{}, fmt.Errorf("runtime options %s: profile: %w", name, err)
		}
	}
	if isRuncage(o.BinaryName) {
		return Options{}, profiles.Refusef("runtime options %s: binary_name %q refused: the delegate must be runc, not runcage", name, o.BinaryName)
	}
	for _, p := range []struct{ key, v string }{{"config", o.Config}, {"root", o.Root}} {
		if p.v != "" && !filepath.IsAbs(p.v) {
			return Options{}, fmt.Errorf("runtime options %s: %s %q: not an absolute path", name, p.key, p.v)
		}
	}
	return o, nil
}

// runcOptions takes runc's options: the profile from BinaryName's base
// name, runc's root and cgroup driver; the delegate stays the policy's.
func runcOptions(o *runcoptions.Options) (Options, error) {
	if o.Root != "" && !filepath.IsAbs(o.Root) {
		return Options{}, errors.New("runc options: Root must be an absolute path")
	}
	return Options{
		Argv0:         o.BinaryName,
		Root:          o.Root,
		SystemdCgroup: o.SystemdCgroup,
		NoPivotRoot:   o.NoPivotRoot,
		NoNewKeyring:  o.NoNewKeyring,
		IoUID:         o.IoUid,
		IoGID:         o.IoGid,
	}, nil
}

// isRuncage reports whether a binary name is runcage's: runcage, or a
// runcage-PROFILE link.
func isRuncage(name string) bool {
	base := filepath.Base(name)
	return name != "" && (base == "runcage" || policy.Argv0Profile(name) != "")
}

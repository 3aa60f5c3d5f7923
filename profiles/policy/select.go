package policy

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/landlock"
)

// Source says what selected a profile.
type Source string

const (
	FromFlag       Source = "--runcage-profile"
	FromArgv0      Source = "argv[0]"
	FromAnnotation Source = "annotation " + AnnotationProfile
	FromDefault    Source = "policy default"
)

// Argv0Profile returns NAME when argv0's base name is runcage-NAME (the
// symlinks containerd's BinaryName points at), or "".
func Argv0Profile(argv0 string) string {
	base := filepath.Base(argv0)
	if name, ok := strings.CutPrefix(base, "runcage-"); ok {
		return name
	}
	return ""
}

// Select picks the profile for an invocation from, in order, the
// --runcage-profile flag, the argv[0] suffix and the policy default. The
// annotation is considered later, by Tighten, once the bundle is loaded.
func (p *Policy) Select(flag, argv0 string) (*profiles.Profile, Source, error) {
	name, src := p.DefaultProfile, FromDefault
	if n := Argv0Profile(argv0); n != "" {
		name, src = n, FromArgv0
	}
	if flag != "" {
		name, src = flag, FromFlag
	}
	prof, err := p.Profile(name)
	if err != nil {
		return nil, src, fmt.Errorf("select profile from %s: %w", src, err)
	}
	return prof, src, nil
}

// Tighten applies the runcage.dev/profile annotation to base. It returns
// base when the annotation is absent or names base itself. Otherwise it
// refuses unless base lists the named profile in annotation_selectable and
// that profile is at least as strict as base: a pod author can tighten,
// never weaken.
func (p *Policy) Tighten(base *profiles.Profile, annotations map[string]string) (*profiles.Profile, error) {
	name, ok := annotations[AnnotationProfile]
	if !ok || name == base.Name {
		return base, nil
	}
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("annotation %s: %w", AnnotationProfile, err)
	}
	if base.Passthrough {
		// Passthrough changes nothing, annotations included.
		return base, nil
	}
	if !slices.Contains(base.AnnotationSelectable, name) {
		return nil, profiles.Refusef("annotation %s=%q refused: profile %q does not let annotations select %q (annotation_selectable = %q)",
			AnnotationProfile, name, base.Name, name, base.AnnotationSelectable)
	}
	next, err := p.Profile(name)
	if err != nil {
		return nil, fmt.Errorf("annotation %s: %w", AnnotationProfile, err)
	}
	if err := p.AtLeastAsStrict(next, base); err != nil {
		return nil, profiles.Refusef("annotation %s=%q refused: profile %q is weaker than %q: %v", AnnotationProfile, name, name, base.Name, err)
	}
	return next, nil
}

// AtLeastAsStrict returns nil when profile n permits nothing that profile
// base forbids, and otherwise an error naming the first difference found.
func (p *Policy) AtLeastAsStrict(n, base *profiles.Profile) error {
	if base.Passthrough {
		return nil
	}
	if n.Passthrough {
		return fmt.Errorf("%q changes nothing", n.Name)
	}
	for _, c := range n.Capabilities {
		if !slices.Contains(base.Capabilities, c) {
			return fmt.Errorf("it keeps capability %s", c)
		}
	}
	if n.Mode == profiles.ModeComplain && base.Mode != profiles.ModeComplain {
		return fmt.Errorf("it only complains")
	}
	if base.UserNS == profiles.Required && n.UserNS != profiles.Required {
		return fmt.Errorf("it does not require a user namespace")
	}
	if rank(n.AppArmor.Require) < rank(base.AppArmor.Require) {
		return fmt.Errorf("its AppArmor setting is %q, not %q", req(n.AppArmor.Require), req(base.AppArmor.Require))
	}
	if n.AppArmor.Mode == "complain" && base.AppArmor.Mode != "complain" {
		return fmt.Errorf("its AppArmor profile only complains")
	}
	if base.PidsLimit > 0 && (n.PidsLimit == 0 || n.PidsLimit > base.PidsLimit) {
		return fmt.Errorf("its pids_limit %d is above %d", n.PidsLimit, base.PidsLimit)
	}
	for _, pair := range []struct {
		what      string
		sub, from []string
	}{
		{"host namespace", n.HostNamespaces, base.HostNamespaces},
		{"hook", n.Hooks, base.Hooks},
		{"device", n.Devices, base.Devices},
		{"config.json member", n.AllowedMembers, base.AllowedMembers},
	} {
		for _, v := range pair.sub {
			if !slices.Contains(pair.from, v) {
				return fmt.Errorf("it allows %s %s", pair.what, v)
			}
		}
	}
	for _, pair := range []struct {
		what      string
		sup, from []string
	}{
		{"masked path", n.MaskedPaths, base.MaskedPaths},
		{"read-only path", n.ReadonlyPaths, base.ReadonlyPaths},
	} {
		for _, v := range pair.from {
			if !slices.Contains(pair.sup, v) {
				return fmt.Errorf("it does not keep %s %s", pair.what, v)
			}
		}
	}
	if err := landlock.Covers(base.Landlock, n.Landlock); err != nil {
		return fmt.Errorf("its Landlock rules: %w", err)
	}
	wide, err := p.Seccomp(base)
	if err != nil {
		return err
	}
	narrow, err := p.Seccomp(n)
	if err != nil {
		return err
	}
	if err := seccompCovers(wide, narrow); err != nil {
		return fmt.Errorf("its seccomp filter: %w", err)
	}
	return nil
}

func req(r profiles.Requirement) profiles.Requirement {
	if r == "" {
		return profiles.IfAvailable
	}
	return r
}

func rank(r profiles.Requirement) int {
	switch req(r) {
	case profiles.Off:
		return 0
	case profiles.IfAvailable:
		return 1
	}
	return 2
}

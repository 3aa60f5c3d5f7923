package seccomp

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// maxNamed is how many syscalls an error names before it summarises.
const maxNamed = 5

// Covers returns nil if narrow lets nothing run that wide stops: every
// architecture narrow lists is one wide lists, narrow's default action allows
// only if wide's does, and every syscall narrow may allow, wide allows for at
// least the same arguments. It is conservative: a syscall both allow only for
// some arguments counts as covered only if the conditions are identical or
// each of narrow's allowing rules is proven inside one of wide's and apart
// from wide's denying ones (an SCMP_CMP_EQ on an argument whose value wide's
// condition accepts), and narrow's TRACE and NOTIFY rules count as allowing while wide's count as
// denying. It is used to check that a profile selected by annotation is not
// weaker than the one it replaces.
//
// The error satisfies errors.Is(err, profiles.ErrRefused) and names the first
// syscalls (in name order) narrow allows beyond wide. Invalid filters give an
// error satisfying errors.Is(err, ErrInvalid).
func Covers(wide, narrow *specs.LinuxSeccomp) error {
	if err := validate(wide); err != nil {
		return fmt.Errorf("check wide seccomp filter: %w", err)
	}
	if err := validate(narrow); err != nil {
		return fmt.Errorf("check narrow seccomp filter: %w", err)
	}
	for _, a := range effectiveArches(narrow.Architectures) {
		if !slices.Contains(effectiveArches(wide.Architectures), a) {
			return profiles.Refusef("seccomp filter allows architecture %q, which the wider filter does not list", a)
		}
	}
	wix, nix := index(wide), index(narrow)
	if a := nix.defRule.action; (allowLike(a) || mayAllow(a)) && !allowLike(wix.defRule.action) {
		return profiles.Refusef("seccomp filter's default action %s allows syscalls that the wider filter's default action %s denies", a, wix.defRule.action)
	}

	names := append(wix.names(), nix.names()...)
	slices.Sort(names)
	names = slices.Compact(names)
	var beyond []string
	for _, n := range names {
		if !covered(wix.strict(n), nix.loose(n)) {
			beyond = append(beyond, n)
		}
	}
	if len(beyond) == 0 {
		return nil
	}
	return profiles.Refusef("seccomp filter allows %s, which the wider filter denies", quoteNames(beyond))
}

// covered reports whether w (what the wide filter surely allows) covers n
// (what the narrow filter may allow).
func covered(w, n verdict) bool {
	switch n.kind {
	case deny:
		return true
	case allowAll:
		return w.kind == allowAll
	default:
		return w.kind == allowAll || (w.kind == allowIf && (sameRules(w.rules, n.rules, "") || coveredIf(w.rules, n.rules)))
	}
}

// AllowedSyscalls returns, sorted, the names of the syscalls f may allow for
// some or all arguments. TRACE and NOTIFY rules count as allowing, since the
// tracer or listener decides. If f's default action allows, the syscalls f
// does not name are allowed too; they cannot be listed. It returns nil for an
// invalid filter.
func AllowedSyscalls(f *specs.LinuxSeccomp) []string {
	if validate(f) != nil {
		return nil
	}
	ix := index(f)
	var out []string
	for _, n := range ix.names() {
		if ix.loose(n).kind != deny {
			out = append(out, n)
		}
	}
	return out
}

// effectiveArches returns the architectures a filter listing archs accepts:
// those, plus the native one.
func effectiveArches(archs []specs.Arch) []specs.Arch {
	out := slices.Clone(archs)
	if a, ok := nativeArch[runtime.GOARCH]; ok && !slices.Contains(out, a) {
		out = append(out, a)
	}
	return out
}

func quoteNames(names []string) string {
	q := make([]string, 0, maxNamed)
	for i, n := range names {
		if i == maxNamed {
			break
		}
		q = append(q, fmt.Sprintf("%q", n))
	}
	s := strings.Join(q, ", ")
	if len(names) > maxNamed {
		s += fmt.Sprintf(" and %d more", len(names)-maxNamed)
	}
	return s
}

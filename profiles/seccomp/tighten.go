package seccomp

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// Tighten returns the filter runcage writes into a bundle's config.json: the
// intersection of profile, the filter the selected profile enforces, and
// bundle, the filter the bundle itself asked for. bundle may be nil, and a
// bundle filter with neither a default action nor rules counts as nil (runc
// ignores it); the result is then a copy of profile.
//
// The result never lets a syscall, or a combination of its arguments, run
// when either input would stop it. Per syscall:
//
//   - The default action is the stricter of the two defaults (strictest
//     first: KILL_PROCESS, KILL_THREAD and KILL, TRAP, ERRNO, TRACE and
//     NOTIFY, LOG, ALLOW); on a tie the profile's, with its errno.
//   - A syscall the profile allows keeps the profile's rules if the bundle
//     allows it unconditionally, takes the bundle's rules if the bundle
//     allows it only for some arguments and the profile for all, and keeps
//     the profile's rules if both allow it for the same set of conditions.
//     With different conditions it is allowed where an allowing rule of
//     each accepts the arguments and no denying rule of either may match
//     (see intersectConditional); if that leaves nothing, it is denied.
//   - If the bundle names an allowed syscall with an action that does not
//     allow it (ERRNO with its errno, KILL, TRAP, TRACE, NOTIFY), the
//     bundle's rule is carried over. A bundle rule that denies only for some
//     arguments denies the syscall for all arguments in the result, since
//     libseccomp would let an unconditional allowance override it. TRACE and
//     NOTIFY rules only see the argument combinations the profile allows.
//   - A syscall the bundle denies by its default action is denied.
//   - A syscall the profile denies stays denied; a bundle rule for it is
//     carried over only if its action is stricter (KILL, TRAP where the
//     profile answers ERRNO).
//
// Architectures are the profile's that the bundle also lists (syscalls of
// architectures missing from a filter are killed, so listing fewer is
// stricter); if the bundle lists none, the result lists none and only the
// native architecture is allowed. Flags are the union of both, but a bundle
// may only add flags that weaken nothing (see bundleFlags): a bundle asking
// for SECCOMP_FILTER_FLAG_SPEC_ALLOW that the profile does not set is
// refused. The listener path and metadata are the bundle's if it names a
// listener, else the profile's. Rules are grouped by action and arguments and sorted, so the output
// is deterministic whatever the order of the input rules, and Tighten is
// idempotent: Tighten(p, Tighten(p, b)) equals Tighten(p, b). (With a nil b
// the two are equal in meaning, and equal exactly when p is already in
// Tighten's form, as Default() is.)
//
// Tighten returns an error satisfying errors.Is(err, ErrInvalid) if profile is
// invalid, and one also satisfying errors.Is(err, profiles.ErrRefused) if
// bundle is. Neither input is modified.
func Tighten(profile, bundle *specs.LinuxSeccomp) (*specs.LinuxSeccomp, error) {
	if err := validate(profile); err != nil {
		return nil, fmt.Errorf("check profile seccomp filter: %w", err)
	}
	if bundle == nil || (bundle.DefaultAction == "" && len(bundle.Syscalls) == 0) {
		// Intersect the profile with itself: the same filter, in Tighten's
		// canonical form, so that a second pass over a rewritten bundle
		// changes nothing.
		bundle = profile
	}
	if err := validate(bundle); err != nil {
		return nil, fmt.Errorf("%w: %w", profiles.Refusef("bundle seccomp filter refused"), err)
	}
	if err := checkBundleFlags(profile.Flags, bundle.Flags); err != nil {
		return nil, err
	}

	pix, bix := index(profile), index(bundle)
	out := &specs.LinuxSeccomp{
		Architectures:    intersectArches(profile.Architectures, bundle.Architectures),
		Flags:            unionFlags(profile.Flags, bundle.Flags),
		ListenerPath:     profile.ListenerPath,
		ListenerMetadata: profile.ListenerMetadata,
	}
	if bundle.ListenerPath != "" {
		out.ListenerPath, out.ListenerMetadata = bundle.ListenerPath, bundle.ListenerMetadata
	}
	def := pix.defRule
	if bix.defRule.rank() < def.rank() {
		def = bix.defRule
	}
	out.DefaultAction = def.action
	out.DefaultErrnoRet = copyUint(def.errno)

	names := append(pix.names(), bix.names()...)
	slices.Sort(names)
	names = slices.Compact(names)

	perName := make(map[string][]rule, len(names))
	for _, n := range names {
		perName[n] = tightenOne(pix.strict(n), bix.strict(n), def)
	}
	out.Syscalls = group(perName, def.actionKey())
	return out, nil
}

// tightenOne returns the rules for one syscall, given what the profile (p)
// and the bundle (b) do with it and the result's default action.
func tightenOne(p, b verdict, def rule) []rule {
	switch p.kind {
	case deny:
		return denyStricter(p.rules, b.rules, def)
	case allowAll:
		switch b.kind {
		case allowAll:
			return p.rules
		default:
			// The bundle's rules, verbatim: the syscall behaves as the
			// bundle asked, and the profile allows every outcome.
			return b.rules
		}
	default: // allowIf
		switch b.kind {
		case allowAll:
			return p.rules
		case allowIf:
			if sameRules(p.rules, b.rules, def.actionKey()) {
				return p.rules
			}
			return intersectConditional(p.rules, b.rules)
		default:
			return denyWithin(p.rules, b.rules)
		}
	}
}

// denyStricter returns the rules for a syscall the profile denies: the
// profile's own denying rules, with the bundle's denying rules whose action is
// stricter carried over. TRACE and NOTIFY rules are never carried: a tracer or
// listener could let the syscall run.
func denyStricter(p, b []rule, def rule) []rule {
	// The action the profile's rules give for every argument combination.
	floor := def
	if len(p) == 1 && !p[0].conditional() {
		floor = p[0]
	}
	var stricter []rule
	for _, r := range b {
		if allowLike(r.action) || mayAllow(r.action) || r.rank() >= floor.rank() {
			continue
		}
		if !r.conditional() {
			// An unconditional rule overrides every conditional one.
			return []rule{r}
		}
		stricter = append(stricter, r)
	}
	if len(stricter) == 0 {
		return p
	}
	if len(p) == 1 && !p[0].conditional() {
		// libseccomp would let the profile's unconditional rule override
		// conditional ones; it denies already.
		return p
	}
	// Conditional denials only: where two rules share the same
	// conditions, libseccomp refuses both; keep the stricter.
	byArgs := make(map[string]rule)
	for _, r := range append(slices.Clone(p), stricter...) {
		k := argsKey(r.args)
		if o, ok := byArgs[k]; !ok || ruleCompare(r, o) < 0 {
			byArgs[k] = r
		}
	}
	out := make([]rule, 0, len(byArgs))
	for _, r := range byArgs {
		out = append(out, r)
	}
	return sortRules(out)
}

// denyWithin returns the rules for a syscall the profile allows only for some
// arguments (p) and the bundle denies with its own rules (b).
func denyWithin(p, b []rule) []rule {
	if len(b) == 1 && !b[0].conditional() {
		u := b[0]
		if !mayAllow(u.action) {
			return b
		}
		// A tracer or listener could let any argument through; let it
		// see only what the profile allows.
		var out []rule
		for _, r := range p {
			if allowLike(r.action) {
				r = newRule(u.action, u.errno, r.args)
			}
			out = append(out, r)
		}
		return sortRules(out)
	}
	// Conditional denials: the syscall is denied for all arguments. Keep
	// the bundle's denying rules, and its TRACE and NOTIFY rules only where
	// they cover exactly what a profile rule allows.
	allowed := make(map[string]bool)
	for _, r := range p {
		if allowLike(r.action) {
			allowed[argsKey(r.args)] = true
		}
	}
	var out []rule
	for _, r := range b {
		if mayAllow(r.action) && !allowed[argsKey(r.args)] {
			continue
		}
		out = append(out, r)
	}
	return sortRules(out)
}

// group turns per-name rules into OCI syscall entries: one entry per distinct
// rule, naming every syscall that has it. Rules equal to the default action
// are dropped, as runc would. Entries are sorted from the most permissive
// action to the strictest, then by action and errno, unconditional before
// conditional, by conditions, and by first name.
func group(perName map[string][]rule, skip string) []specs.LinuxSyscall {
	type entry struct {
		r     rule
		names []string
	}
	byKey := make(map[string]*entry)
	for n, rules := range perName {
		for _, r := range rules {
			if r.actionKey() == skip {
				continue
			}
			e, ok := byKey[r.key()]
			if !ok {
				e = &entry{r: r}
				byKey[r.key()] = e
			}
			e.names = append(e.names, n)
		}
	}
	entries := make([]*entry, 0, len(byKey))
	for _, e := range byKey {
		slices.Sort(e.names)
		e.names = slices.Compact(e.names)
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b *entry) int {
		return cmp.Or(
			cmp.Compare(b.r.rank(), a.r.rank()), // allowing rules first
			strings.Compare(a.r.actionKey(), b.r.actionKey()),
			cmp.Compare(len(a.r.args), len(b.r.args)), // unconditional first
			slices.CompareFunc(a.r.args, b.r.args, argCompare),
			strings.Compare(a.names[0], b.names[0]),
		)
	})
	out := make([]specs.LinuxSyscall, 0, len(entries))
	for _, e := range entries {
		out = append(out, specs.LinuxSyscall{
			Names:    e.names,
			Action:   e.r.action,
			ErrnoRet: copyUint(e.r.errno),
			Args:     slices.Clone(e.r.args),
		})
	}
	return out
}

// intersectArches returns the architectures of p that b also lists, in p's
// order. A filter without architectures allows only the native one, so an
// empty b gives an empty result.
func intersectArches(p, b []specs.Arch) []specs.Arch {
	var out []specs.Arch
	for _, a := range p {
		if slices.Contains(b, a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// bundleFlags are the filter flags a bundle may add to the profile's:
// TSYNC (runc ignores it), LOG (the kernel also logs the actions other than
// ALLOW, rate limited; nothing is allowed that was not) and
// WAIT_KILLABLE_RECV (a notified task waits killably; only the listener
// sees a difference). SPEC_ALLOW is not one: it turns off the speculative
// store bypass mitigation (Spectre v4, CVE-2018-3639) that loading a filter
// otherwise turns on for the container's tasks. A bundle asking for it is
// refused, not silently stripped, because someone asked for it on purpose
// and should learn that the container runs without it only if a profile
// sets it.
var bundleFlags = map[specs.LinuxSeccompFlag]bool{
	flagTsync:                              true,
	specs.LinuxSeccompFlagLog:              true,
	specs.LinuxSeccompFlagWaitKillableRecv: true,
}

// checkBundleFlags refuses a bundle flag that is neither in bundleFlags nor
// set by the profile itself (so a filter Tighten wrote passes again).
func checkBundleFlags(profile, bundle []specs.LinuxSeccompFlag) error {
	for _, fl := range bundle {
		if bundleFlags[fl] || slices.Contains(profile, fl) {
			continue
		}
		if fl == specs.LinuxSeccompFlagSpecAllow {
			return profiles.Refusef("bundle seccomp flag %q refused: it turns off the speculative store bypass mitigation (CVE-2018-3639) for the container; only a profile's filter may set it", fl)
		}
		return profiles.Refusef("bundle seccomp flag %q refused: runcage does not know what it weakens", fl)
	}
	return nil
}

func unionFlags(a, b []specs.LinuxSeccompFlag) []specs.LinuxSeccompFlag {
	if a == nil && b == nil {
		return nil
	}
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func copyUint(p *uint) *uint {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// clone returns a deep copy of f.
func clone(f *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	if f == nil {
		return nil
	}
	out := *f
	out.DefaultErrnoRet = copyUint(f.DefaultErrnoRet)
	out.Architectures = slices.Clone(f.Architectures)
	out.Flags = slices.Clone(f.Flags)
	if f.Syscalls != nil {
		out.Syscalls = make([]specs.LinuxSyscall, len(f.Syscalls))
		for i, sc := range f.Syscalls {
			out.Syscalls[i] = specs.LinuxSyscall{
				Names:    slices.Clone(sc.Names),
				Action:   sc.Action,
				ErrnoRet: copyUint(sc.ErrnoRet),
				Args:     slices.Clone(sc.Args),
			}
		}
	}
	return &out
}

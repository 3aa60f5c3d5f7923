package seccomp

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// holds reports whether condition c holds for argument value v, compared on
// all 64 bits as libseccomp does for a 64-bit architecture.
func holds(c specs.LinuxSeccompArg, v uint64) bool {
	switch c.Op {
	case specs.OpNotEqual:
		return v != c.Value
	case specs.OpLessThan:
		return v < c.Value
	case specs.OpLessEqual:
		return v <= c.Value
	case specs.OpEqualTo:
		return v == c.Value
	case specs.OpGreaterEqual:
		return v >= c.Value
	case specs.OpGreaterThan:
		return v > c.Value
	case specs.OpMaskedEqual:
		return v&c.Value == c.ValueTwo
	}
	return false
}

// eqValue returns the value an SCMP_CMP_EQ condition on index fixes in args.
func eqValue(args []specs.LinuxSeccompArg, index uint) (uint64, bool) {
	for _, a := range args {
		if a.Index == index && a.Op == specs.OpEqualTo {
			return a.Value, true
		}
	}
	return 0, false
}

// repeatsIndex reports whether two conditions test the same argument: runc
// then adds one libseccomp rule per condition, so they are ORed, not ANDed.
func repeatsIndex(args []specs.LinuxSeccompArg) bool {
	for i := range args {
		for j := i + 1; j < len(args); j++ {
			if args[i].Index == args[j].Index {
				return true
			}
		}
	}
	return false
}

// implies reports whether every argument combination n's conditions accept
// is one w's conditions accept: each condition of w is one of n's, or n
// fixes that argument with SCMP_CMP_EQ to a value the condition accepts.
// It is conservative: false means "not proven". Rules whose conditions
// repeat an index (ORed by runc) are never proven.
func implies(n, w rule) bool {
	if repeatsIndex(n.args) || repeatsIndex(w.args) {
		return false
	}
	for _, c := range w.args {
		if slices.Contains(n.args, c) {
			continue
		}
		v, ok := eqValue(n.args, c.Index)
		if !ok || !holds(c, v) {
			return false
		}
	}
	return true
}

// disjoint reports whether no argument combination satisfies both a's and
// b's conditions: one fixes an argument with SCMP_CMP_EQ to a value a
// condition of the other on that argument rejects. False means "not proven".
func disjoint(a, b rule) bool {
	if repeatsIndex(a.args) || repeatsIndex(b.args) {
		return false
	}
	check := func(x, y rule) bool {
		for _, c := range y.args {
			if v, ok := eqValue(x.args, c.Index); ok && !holds(c, v) {
				return true
			}
		}
		return false
	}
	return check(a, b) || check(b, a)
}

// conjoin returns a rule with a's action that accepts exactly the argument
// combinations both a and b accept, or ok=false if there are none or the
// conjunction needs two conditions on one argument (which runc would OR):
// where both test the same argument, one must fix it with SCMP_CMP_EQ to a
// value the other's condition accepts, and only the EQ is kept.
func conjoin(a, b rule) (rule, bool) {
	if repeatsIndex(a.args) || repeatsIndex(b.args) {
		return rule{}, false
	}
	args := slices.Clone(a.args)
	for _, c := range b.args {
		if slices.Contains(args, c) {
			continue
		}
		i := slices.IndexFunc(args, func(o specs.LinuxSeccompArg) bool { return o.Index == c.Index })
		switch {
		case i < 0:
			args = append(args, c)
		case args[i].Op == specs.OpEqualTo:
			if !holds(c, args[i].Value) {
				return rule{}, false
			}
		case c.Op == specs.OpEqualTo:
			if !holds(args[i], c.Value) {
				return rule{}, false
			}
			args[i] = c
		default:
			return rule{}, false
		}
	}
	return newRule(a.action, a.errno, args), true
}

// intersectConditional returns the rules for a syscall that both the profile
// (p) and the bundle (b) allow only for some arguments, with different
// conditions. The result allows an argument combination only where an
// allowing rule of each accepts it (see conjoin; combinations conjoin cannot
// express are dropped, which denies them), and only where no denying rule
// of either might match, since libseccomp resolves overlapping rules with
// different actions by its tree layout. The denying rules of both are kept,
// the strictest for each set of conditions, so that a denied combination
// fails with the errno either asked for. It returns nil when nothing is
// left to allow: the syscall is then denied by the default action.
func intersectConditional(p, b []rule) []rule {
	pAllow, pDeny := splitAllowing(p)
	bAllow, bDeny := splitAllowing(b)
	denies := append(pDeny, bDeny...)
	var out []rule
	for _, x := range pAllow {
		for _, y := range bAllow {
			r, ok := conjoin(x, y)
			if !ok {
				continue
			}
			if slices.ContainsFunc(denies, func(d rule) bool { return !disjoint(r, d) }) {
				continue
			}
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil
	}
	byArgs := make(map[string]rule)
	for _, d := range denies {
		k := argsKey(d.args)
		if o, ok := byArgs[k]; !ok || ruleCompare(d, o) < 0 {
			byArgs[k] = d
		}
	}
	for _, d := range byArgs {
		out = append(out, d)
	}
	return sortRules(out)
}

// splitAllowing splits rules, in order, into those that allow (see
// allowLike) and the rest.
func splitAllowing(rules []rule) (allow, other []rule) {
	for _, r := range rules {
		if allowLike(r.action) {
			allow = append(allow, r)
		} else {
			other = append(other, r)
		}
	}
	return allow, other
}

// coveredIf reports whether every argument combination the allowing rules
// of n may allow is surely allowed by w (both verdicts of kind allowIf): each
// is implied by an allowing rule of w and disjoint from every rule of w that
// does not allow. TRACE and NOTIFY rules of n count as allowing.
func coveredIf(w, n []rule) bool {
	wAllow, wDeny := splitAllowing(w)
	for _, r := range n {
		if !allowLike(r.action) && !mayAllow(r.action) {
			continue
		}
		if !slices.ContainsFunc(wAllow, func(a rule) bool { return implies(r, a) }) {
			return false
		}
		if slices.ContainsFunc(wDeny, func(d rule) bool { return !disjoint(r, d) }) {
			return false
		}
	}
	return true
}

package seccomp

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rule is one syscall rule of a filter, for one syscall name, in a normal
// form: two rules that runc compiles to the same libseccomp rule are equal.
// Build it with newRule.
type rule struct {
	action specs.LinuxSeccompAction
	errno  *uint
	args   []specs.LinuxSeccompArg // sorted by argCompare, no duplicates
	aKey   string                  // actionKey(action, errno)
	fKey   string                  // aKey + "[" + argsKey(args) + "]"
}

// newRule returns the rule in normal form: SCMP_ACT_KILL is spelled
// SCMP_ACT_KILL_THREAD (runc's alias), ERRNO and TRACE always carry their
// return code (runc's default is EPERM) and other actions none, and the
// conditions are sorted without duplicates.
func newRule(action specs.LinuxSeccompAction, errno *uint, args []specs.LinuxSeccompArg) rule {
	if action == specs.ActKill {
		action = specs.ActKillThread
	}
	r := rule{action: action}
	if usesErrno(action) {
		e := uint(1) // EPERM
		if errno != nil {
			e = *errno
		}
		r.errno = &e
	}
	if len(args) > 0 {
		r.args = slices.Clone(args)
		slices.SortFunc(r.args, argCompare)
		r.args = slices.Compact(r.args)
	}
	r.aKey = actionKey(r.action, r.errno)
	r.fKey = r.aKey + "[" + argsKey(r.args) + "]"
	return r
}

// usesErrno reports whether runc passes errnoRet to libseccomp for action.
func usesErrno(a specs.LinuxSeccompAction) bool {
	return a == specs.ActErrno || a == specs.ActTrace
}

func argCompare(a, b specs.LinuxSeccompArg) int {
	return cmp.Or(
		cmp.Compare(a.Index, b.Index),
		strings.Compare(string(a.Op), string(b.Op)),
		cmp.Compare(a.Value, b.Value),
		cmp.Compare(a.ValueTwo, b.ValueTwo),
	)
}

func (r rule) conditional() bool { return len(r.args) > 0 }

// actionKey names a normalized action with its return code.
func actionKey(a specs.LinuxSeccompAction, errno *uint) string {
	if errno == nil {
		return string(a)
	}
	return string(a) + "(" + strconv.FormatUint(uint64(*errno), 10) + ")"
}

func (r rule) actionKey() string { return r.aKey }

func argsKey(args []specs.LinuxSeccompArg) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(a.Index), 10))
		b.WriteByte(' ')
		b.WriteString(string(a.Op))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(a.Value, 10))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(a.ValueTwo, 10))
	}
	return b.String()
}

// key identifies a rule: two rules with the same key compile to the same
// libseccomp rule.
func (r rule) key() string { return r.fKey }

func (r rule) rank() int { return actionRank[r.action] }

// allowLike reports whether the action lets the syscall run.
func allowLike(a specs.LinuxSeccompAction) bool {
	return a == specs.ActAllow || a == specs.ActLog
}

// mayAllow reports whether the action hands the decision to a tracer or a
// seccomp listener, which may let the syscall run.
func mayAllow(a specs.LinuxSeccompAction) bool {
	return a == specs.ActTrace || a == specs.ActNotify
}

// filterIndex is a filter expanded per syscall name, with the rules runc
// would skip (those whose action equals the default action) left out.
type filterIndex struct {
	f       *specs.LinuxSeccomp
	defRule rule // the default action as an unconditional rule
	byName  map[string][]rule
}

func index(f *specs.LinuxSeccomp) *filterIndex {
	ix := &filterIndex{
		f:       f,
		defRule: newRule(f.DefaultAction, f.DefaultErrnoRet, nil),
		byName:  make(map[string][]rule),
	}
	def := ix.defRule.actionKey()
	for _, sc := range f.Syscalls {
		r := newRule(sc.Action, sc.ErrnoRet, sc.Args)
		if r.actionKey() == def {
			continue
		}
		for _, n := range sc.Names {
			if !slices.ContainsFunc(ix.byName[n], func(o rule) bool { return o.key() == r.key() }) {
				ix.byName[n] = append(ix.byName[n], r)
			}
		}
	}
	return ix
}

// names returns the syscall names ix names with a rule that runc keeps.
func (ix *filterIndex) names() []string {
	out := make([]string, 0, len(ix.byName))
	for n := range ix.byName {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// verdictKind says what a filter does with one syscall.
type verdictKind int

const (
	// deny: the syscall never runs (rules, if any, choose how it fails).
	deny verdictKind = iota
	// allowIf: the syscall runs only when one of the allowing rules
	// matches its arguments.
	allowIf
	// allowAll: the syscall runs whatever its arguments.
	allowAll
)

func (k verdictKind) String() string {
	switch k {
	case deny:
		return "deny"
	case allowIf:
		return "allowIf"
	default:
		return "allowAll"
	}
}

// verdict is what a filter does with one syscall name.
type verdict struct {
	kind verdictKind
	// rules to emit for the name: for allowAll one unconditional
	// allow-like rule; for allowIf the conditional rules (allowing ones and
	// any conditional denying ones); for deny the explicit denying rules,
	// none when the default action denies it.
	rules []rule
}

// strict interprets rules as a lower bound of what the filter allows: any
// ambiguity (an allowing and a denying unconditional rule, a conditional
// denial next to an unconditional allowance or an allowing default) counts as
// a denial, and TRACE and NOTIFY count as denying.
func (ix *filterIndex) strict(name string) verdict {
	rules, ok := ix.byName[name]
	if !ok {
		return ix.byDefault(allowLike(ix.defRule.action))
	}
	var uncondAllow, uncondDeny, condAllow, condDeny []rule
	for _, r := range rules {
		switch {
		case allowLike(r.action) && r.conditional():
			condAllow = append(condAllow, r)
		case allowLike(r.action):
			uncondAllow = append(uncondAllow, r)
		case r.conditional():
			condDeny = append(condDeny, r)
		default:
			uncondDeny = append(uncondDeny, r)
		}
	}
	defAllows := allowLike(ix.defRule.action)
	switch {
	case len(uncondDeny) > 0:
		return verdict{kind: deny, rules: []rule{strictest(uncondDeny)}}
	case len(condDeny) > 0 && (len(uncondAllow) > 0 || defAllows || len(condAllow) == 0):
		return verdict{kind: deny, rules: sortRules(condDeny)}
	case len(condDeny) > 0:
		return verdict{kind: allowIf, rules: sortRules(append(condAllow, condDeny...))}
	case len(uncondAllow) > 0:
		return verdict{kind: allowAll, rules: []rule{strictest(uncondAllow)}}
	case defAllows:
		return verdict{kind: allowAll, rules: []rule{ix.defRule}}
	default:
		return verdict{kind: allowIf, rules: sortRules(condAllow)}
	}
}

// loose interprets rules as an upper bound of what the filter may allow:
// TRACE and NOTIFY count as allowing, an unconditional allowance wins over
// anything, and conditional denials never deny everything.
func (ix *filterIndex) loose(name string) verdict {
	defAllows := allowLike(ix.defRule.action) || mayAllow(ix.defRule.action)
	rules, ok := ix.byName[name]
	if !ok {
		return ix.byDefault(defAllows)
	}
	allows := func(r rule) bool { return allowLike(r.action) || mayAllow(r.action) }
	var uncondDeny, cond []rule
	anyCondAllow := false
	for _, r := range rules {
		switch {
		case allows(r) && !r.conditional():
			return verdict{kind: allowAll, rules: []rule{r}}
		case !r.conditional():
			uncondDeny = append(uncondDeny, r)
		default:
			cond = append(cond, r)
			anyCondAllow = anyCondAllow || allows(r)
		}
	}
	switch {
	case len(uncondDeny) > 0:
		return verdict{kind: deny, rules: []rule{strictest(uncondDeny)}}
	case defAllows:
		return verdict{kind: allowAll, rules: []rule{ix.defRule}}
	case anyCondAllow:
		return verdict{kind: allowIf, rules: sortRules(cond)}
	default:
		return verdict{kind: deny, rules: sortRules(cond)}
	}
}

func (ix *filterIndex) byDefault(allows bool) verdict {
	if allows {
		return verdict{kind: allowAll, rules: []rule{ix.defRule}}
	}
	return verdict{kind: deny}
}

// strictest returns the rule with the strictest action; ties go to the
// smallest key, so the choice does not depend on input order.
func strictest(rules []rule) rule {
	return slices.MinFunc(rules, ruleCompare)
}

func ruleCompare(a, b rule) int {
	return cmp.Or(cmp.Compare(a.rank(), b.rank()), strings.Compare(a.key(), b.key()))
}

func sortRules(rules []rule) []rule {
	out := slices.Clone(rules)
	slices.SortFunc(out, ruleCompare)
	return slices.CompactFunc(out, func(a, b rule) bool { return a.key() == b.key() })
}

// sameRules reports whether a and b are the same set of rules once the rules
// whose action equals skip (a no-op under that default action) are ignored.
// Allowing rules are compared by their conditions only: ALLOW and LOG both
// let the syscall run.
func sameRules(a, b []rule, skip string) bool {
	norm := func(rs []rule) []string {
		var out []string
		for _, r := range rs {
			if r.actionKey() == skip {
				continue
			}
			k := r.key()
			if allowLike(r.action) {
				k = "allow[" + argsKey(r.args) + "]"
			}
			out = append(out, k)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

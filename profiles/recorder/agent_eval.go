package recorder

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// verdict is what a seccomp filter does with one syscall: let it run, or
// fail it with errno.
type verdict struct {
	allow bool
	errno int // when !allow
}

func (v verdict) stricter(o verdict) bool { return !v.allow && o.allow }

// filterEval answers, in user space, what a seccomp filter (in the OCI
// format, as runc compiles it) does with one syscall and its register
// arguments. The agent uses it to give a notified syscall the answer the
// profile's filter would have given, so that record and complain modes
// change what a container may do only where they mean to.
//
// It follows runc and libseccomp: an unconditional rule for a syscall wins
// over its conditional rules; the conditions of one rule must all hold,
// unless two of them test the same argument, in which case runc adds one
// rule per condition; a syscall no rule matches gets the default action.
// Where rules with different actions match (libseccomp's result then depends
// on its tree layout), the stricter one wins. SCMP_ACT_ALLOW and
// SCMP_ACT_LOG allow; SCMP_ACT_ERRNO fails with its errno (EPERM if none);
// SCMP_ACT_TRACE without a tracer fails with ENOSYS, as the kernel does;
// every other action (KILL, TRAP, NOTIFY of another listener) fails with
// EPERM, which the agent can give where the kernel would have done worse.
type filterEval struct {
	def   verdict
	rules map[string][]evalRule
}

type evalRule struct {
	v     verdict
	conds []specs.LinuxSeccompArg // all must hold; none: unconditional
}

const (
	errnoEPERM  = 1
	errnoENOSYS = 38
)

func actionVerdict(a specs.LinuxSeccompAction, errnoRet *uint) verdict {
	switch a {
	case specs.ActAllow, specs.ActLog:
		return verdict{allow: true}
	case specs.ActErrno:
		if errnoRet != nil {
			return verdict{errno: int(*errnoRet)}
		}
		return verdict{errno: errnoEPERM}
	case specs.ActTrace:
		return verdict{errno: errnoENOSYS}
	}
	return verdict{errno: errnoEPERM}
}

// newFilterEval indexes f. It refuses a nil filter: without one there is
// nothing to enforce and the agent must not guess.
func newFilterEval(f *specs.LinuxSeccomp) (*filterEval, error) {
	if f == nil {
		return nil, fmt.Errorf("no seccomp filter to evaluate")
	}
	e := &filterEval{def: actionVerdict(f.DefaultAction, f.DefaultErrnoRet), rules: map[string][]evalRule{}}
	for _, sc := range f.Syscalls {
		v := actionVerdict(sc.Action, sc.ErrnoRet)
		var rules []evalRule
		switch {
		case len(sc.Args) == 0:
			rules = []evalRule{{v: v}}
		case repeatsIndex(sc.Args):
			for _, a := range sc.Args {
				rules = append(rules, evalRule{v: v, conds: []specs.LinuxSeccompArg{a}})
			}
		default:
			rules = []evalRule{{v: v, conds: slices.Clone(sc.Args)}}
		}
		for _, n := range sc.Names {
			e.rules[n] = append(e.rules[n], rules...)
		}
	}
	return e, nil
}

func repeatsIndex(args []specs.LinuxSeccompArg) bool {
	seen := map[uint]bool{}
	for _, a := range args {
		if seen[a.Index] {
			return true
		}
		seen[a.Index] = true
	}
	return false
}

// eval returns the filter's verdict on syscall name with args. When wide32
// is false (a 32-bit architecture), arguments and values compare on their
// low 32 bits, as the kernel passes them.
func (e *filterEval) eval(name string, args [6]uint64, is32 bool) verdict {
	rules := e.rules[name]
	var uncond, matched *verdict
	for i := range rules {
		r := &rules[i]
		if len(r.conds) == 0 {
			if uncond == nil || r.v.stricter(*uncond) {
				uncond = &r.v
			}
			continue
		}
		if r.matches(args, is32) && (matched == nil || r.v.stricter(*matched)) {
			matched = &r.v
		}
	}
	switch {
	case uncond != nil:
		return *uncond
	case matched != nil:
		return *matched
	}
	return e.def
}

// conditional reports whether the verdict on name depends on its arguments.
func (e *filterEval) conditional(name string) bool {
	rules := e.rules[name]
	if len(rules) == 0 {
		return false
	}
	for _, r := range rules {
		if len(r.conds) == 0 {
			return false
		}
	}
	return true
}

func (r *evalRule) matches(args [6]uint64, is32 bool) bool {
	for _, c := range r.conds {
		if c.Index >= 6 || !condHolds(c, args[c.Index], is32) {
			return false
		}
	}
	return true
}

func condHolds(c specs.LinuxSeccompArg, arg uint64, is32 bool) bool {
	v, v2 := c.Value, c.ValueTwo
	if is32 {
		arg, v, v2 = arg&0xffffffff, v&0xffffffff, v2&0xffffffff
	}
	switch c.Op {
	case specs.OpNotEqual:
		return arg != v
	case specs.OpLessThan:
		return arg < v
	case specs.OpLessEqual:
		return arg <= v
	case specs.OpEqualTo:
		return arg == v
	case specs.OpGreaterEqual:
		return arg >= v
	case specs.OpGreaterThan:
		return arg > v
	case specs.OpMaskedEqual:
		return arg&v == v2
	}
	return false // unknown operator: the rule does not match
}

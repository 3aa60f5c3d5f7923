package recorder

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Modes of the agent.
const (
	// ModeRecord: every syscall goes to the agent, which records it and
	// answers as the profile's filter would.
	ModeRecord = "record"
	// ModeComplain: the profile's allowlist runs in the kernel; the other
	// syscalls go to the agent, which logs them and lets them run.
	ModeComplain = "complain"
	// ModeEnforce: every rule of the profile's filter runs in the kernel;
	// the syscalls it does not allow at all, and the calls its set-ID and
	// namespace-flag argument rules reject, go to the denial agent, which
	// logs them and fails them with the profile's errno.
	ModeEnforce = "enforce"
)

// errHasListener is returned when the bundle's filter already names a
// seccomp listener: a container has one listener, and it is not runcage's.
var errHasListener = errors.New("bundle already has a seccomp listener")

// NotifyFilter returns the filter runcage writes into a bundle whose
// container gets an agent, built from enforced, the filter the profile would
// enforce on that bundle (already tightened by the bundle's own filter), and
// known, every syscall name libseccomp knows for the filter's
// architectures. runc refuses SCMP_ACT_NOTIFY as the default action and for
// write, so the filter names each notified syscall:
//
//   - write keeps enforced's rules (it is never notified);
//   - a syscall enforced refuses unconditionally keeps its rule, in the
//     kernel (clone3's ENOSYS, say);
//   - in ModeRecord every other known syscall is notified, so the agent sees
//     each call and answers it as enforced would;
//   - in ModeComplain and ModeEnforce a syscall enforced allows
//     unconditionally keeps its SCMP_ACT_ALLOW rule and costs nothing;
//   - in ModeComplain a syscall enforced allows only for some arguments
//     (clone, personality) is notified, and the agent checks the arguments;
//   - in ModeEnforce such a syscall keeps its rules in the kernel. When its
//     rules are all allowing rules of the shape MASKED_EQ(mask, 0) on one
//     argument each (clone without namespace flags, chmod or open without
//     set-ID bits: see complementRules), it also gets conditional
//     SCMP_ACT_NOTIFY rules that match exactly the calls those rules
//     reject, so its denials are logged while every call they allow stays
//     in the kernel. Other argument rules (personality's value list,
//     socket's families) keep only their rules, and what they deny is not
//     logged: libseccomp lets an unconditional NOTIFY rule override a
//     conditional ALLOW rule of the same syscall, so "allowed for these
//     arguments, else notified" needs the complement spelled out;
//   - every other known syscall is notified.
//
// The default action (for syscalls libseccomp does not know, which cannot be
// named), the architectures and the flags are enforced's. listener is the
// agent's socket. enforced is not modified.
func NotifyFilter(enforced *specs.LinuxSeccomp, known []string, mode, listener string) (*specs.LinuxSeccomp, error) {
	if enforced == nil {
		return nil, errors.New("build notify filter: no seccomp filter")
	}
	if enforced.ListenerPath != "" {
		return nil, fmt.Errorf("build notify filter: %w (%s)", errHasListener, enforced.ListenerPath)
	}
	switch mode {
	case ModeRecord, ModeComplain, ModeEnforce:
	default:
		return nil, fmt.Errorf("build notify filter: unknown mode %q", mode)
	}
	ev, err := newFilterEval(enforced)
	if err != nil {
		return nil, fmt.Errorf("build notify filter: %w", err)
	}
	out := &specs.LinuxSeccomp{
		DefaultAction:   enforced.DefaultAction,
		DefaultErrnoRet: enforced.DefaultErrnoRet,
		Architectures:   slices.Clone(enforced.Architectures),
		Flags:           slices.Clone(enforced.Flags),
		ListenerPath:    listener,
	}
	keep := map[string]bool{} // names whose enforced rules are copied
	var notify []string
	var complement []complementSet // ModeEnforce: argument denials notified
	for _, name := range known {
		rules := ev.rules[name]
		var uncond *verdict
		for i := range rules {
			if len(rules[i].conds) == 0 && (uncond == nil || rules[i].v.stricter(*uncond)) {
				uncond = &rules[i].v
			}
		}
		switch {
		case name == "write":
			keep[name] = true
		case uncond != nil && !uncond.allow:
			keep[name] = true
		case uncond != nil && mode != ModeRecord:
			keep[name] = true
		case len(rules) > 0 && mode == ModeEnforce:
			keep[name] = true
			if args, ok := complementRules(rules); ok {
				complement = addComplement(complement, name, args)
			}
		default:
			notify = append(notify, name)
		}
	}
	for _, sc := range enforced.Syscalls {
		var names []string
		for _, n := range sc.Names {
			if keep[n] {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			c := sc
			c.Names = names
			c.Args = slices.Clone(sc.Args)
			c.ErrnoRet = copyErrno(sc.ErrnoRet)
			out.Syscalls = append(out.Syscalls, c)
		}
	}
	for _, c := range complement {
		for _, args := range c.args {
			out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: c.names, Action: specs.ActNotify, Args: args})
		}
	}
	if len(notify) > 0 {
		slices.Sort(notify)
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: notify, Action: specs.ActNotify})
	}
	return out, nil
}

// maxComplementRules bounds the NOTIFY rules complementRules writes for
// one syscall (the product of its masks' bit counts); past it the syscall
// keeps only its own rules.
const maxComplementRules = 32

// complementRules returns the argument conditions of the SCMP_ACT_NOTIFY
// rules that match exactly the calls rules (one syscall's rules in
// enforced, all conditional) do not allow, when rules can be complemented:
// each allows, and tests one argument, its own, with MASKED_EQ(mask, 0),
// mask a non-zero value of at most 32 bits. A call is then allowed iff some
// rule finds none of its mask's bits set in its argument, so it is denied
// iff every rule finds one: for each choice of one set bit b_i from each
// mask_i, one rule whose conditions are MASKED_EQ(b_i, b_i) on argument
// i, conditions on different arguments, which runc and libseccomp AND
// together. No such rule matches an allowed call, so allowed calls never
// leave the kernel. ok is false for any other shape (an errno rule, EQ
// value lists, two rules on one argument, a mask above 32 bits, which a
// 32-bit ABI cannot test), and when the rules would be more than
// maxComplementRules.
func complementRules(rules []evalRule) (args [][]specs.LinuxSeccompArg, ok bool) {
	if len(rules) == 0 {
		return nil, false
	}
	seen := map[uint]bool{}
	args = [][]specs.LinuxSeccompArg{nil}
	for _, r := range rules {
		if !r.v.allow || len(r.conds) != 1 {
			return nil, false
		}
		c := r.conds[0]
		if c.Op != specs.OpMaskedEqual || c.ValueTwo != 0 || c.Value == 0 || c.Value > 0xffffffff || c.Index >= 6 || seen[c.Index] {
			return nil, false
		}
		seen[c.Index] = true
		var next [][]specs.LinuxSeccompArg
		for b := uint64(1); b != 0 && b <= c.Value; b <<= 1 {
			if c.Value&b == 0 {
				continue
			}
			for _, a := range args {
				cond := specs.LinuxSeccompArg{Index: c.Index, Value: b, ValueTwo: b, Op: specs.OpMaskedEqual}
				next = append(next, append(slices.Clone(a), cond))
			}
		}
		if len(next) > maxComplementRules {
			return nil, false
		}
		args = next
	}
	return args, true
}

// complementSet is the syscalls whose complement rules (complementRules)
// are the same args, written as one OCI rule per element of args.
type complementSet struct {
	names []string
	args  [][]specs.LinuxSeccompArg
}

// addComplement adds name, whose complement rules are args, to the set with
// the same args, or as a new set.
func addComplement(sets []complementSet, name string, args [][]specs.LinuxSeccompArg) []complementSet {
	for i := range sets {
		if slices.EqualFunc(sets[i].args, args, slices.Equal) {
			sets[i].names = append(sets[i].names, name)
			return sets
		}
	}
	return append(sets, complementSet{names: []string{name}, args: args})
}

func copyErrno(p *uint) *uint {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// WithoutNotify is the inverse of NotifyFilter in ModeEnforce: f without
// its listener and its SCMP_ACT_NOTIFY rules, conditional or not, which is
// the filter the profile enforces (ModeEnforce copies every rule of it).
// f is not modified.
func WithoutNotify(f *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	out := *f
	out.ListenerPath = ""
	out.Syscalls = slices.DeleteFunc(slices.Clone(f.Syscalls), func(sc specs.LinuxSyscall) bool {
		return sc.Action == specs.ActNotify
	})
	return &out
}

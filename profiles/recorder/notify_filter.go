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
	// the syscalls it does not allow at all go to the denial agent, which
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
//     in ModeEnforce it keeps its rules in the kernel, so what it is denied
//     for its arguments is not logged (libseccomp lets an unconditional
//     NOTIFY rule override a conditional ALLOW rule of the same syscall, so
//     "allowed for these arguments, else notified" cannot be written);
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
	if len(notify) > 0 {
		slices.Sort(notify)
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: notify, Action: specs.ActNotify})
	}
	return out, nil
}

func copyErrno(p *uint) *uint {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// WithoutNotify is the inverse of NotifyFilter in ModeEnforce: f without
// its listener and its SCMP_ACT_NOTIFY rules, which is the filter the
// profile enforces (ModeEnforce copies every rule of it). f is not
// modified.
func WithoutNotify(f *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	out := *f
	out.ListenerPath = ""
	out.Syscalls = slices.DeleteFunc(slices.Clone(f.Syscalls), func(sc specs.LinuxSyscall) bool {
		return sc.Action == specs.ActNotify
	})
	return &out
}

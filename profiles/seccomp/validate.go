package seccomp

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrInvalid classifies errors about a filter that runc would refuse or that
// this package cannot reason about: an unknown action, operator, architecture
// or flag, an argument index above 5, an empty syscall name, a missing
// default action. Test for it with errors.Is.
var ErrInvalid = errors.New("invalid seccomp filter")

// maxErrno is the largest errno the kernel returns for SECCOMP_RET_ERRNO
// (MAX_ERRNO in include/linux/err.h).
const maxErrno = 4095

// maxArgs is the number of syscall arguments a seccomp rule can inspect.
const maxArgs = 6

// actionRank orders actions from strictest (0) to most permissive. KILL is
// runc's alias of KILL_THREAD. TRACE and NOTIFY share a rank: both hand the
// decision to another process.
var actionRank = map[specs.LinuxSeccompAction]int{
	specs.ActKillProcess: 0,
	specs.ActKillThread:  1,
	specs.ActKill:        1,
	specs.ActTrap:        2,
	specs.ActErrno:       3,
	specs.ActTrace:       4,
	specs.ActNotify:      4,
	specs.ActLog:         5,
	specs.ActAllow:       6,
}

var operators = map[specs.LinuxSeccompOperator]bool{
	specs.OpNotEqual:     true,
	specs.OpLessThan:     true,
	specs.OpLessEqual:    true,
	specs.OpEqualTo:      true,
	specs.OpGreaterEqual: true,
	specs.OpGreaterThan:  true,
	specs.OpMaskedEqual:  true,
}

// flagTsync is accepted and ignored by runc; it is not in the runtime-spec.
const flagTsync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

var knownFlags = map[specs.LinuxSeccompFlag]bool{
	flagTsync:                              true,
	specs.LinuxSeccompFlagLog:              true,
	specs.LinuxSeccompFlagSpecAllow:        true,
	specs.LinuxSeccompFlagWaitKillableRecv: true,
}

// validate checks what can be checked without libseccomp: every action,
// operator, architecture and flag is one runc knows, argument indexes are
// below 6, errno values fit the kernel's range, syscall names are not empty,
// and SCMP_ACT_NOTIFY is neither the default action nor used for write
// (runc refuses both). Errors satisfy errors.Is(err, ErrInvalid).
func validate(f *specs.LinuxSeccomp) error {
	if f == nil {
		return fmt.Errorf("%w: no filter", ErrInvalid)
	}
	if f.DefaultAction == "" {
		return fmt.Errorf("%w: defaultAction is empty", ErrInvalid)
	}
	if _, ok := actionRank[f.DefaultAction]; !ok {
		return fmt.Errorf("%w: unknown defaultAction %q", ErrInvalid, f.DefaultAction)
	}
	if f.DefaultAction == specs.ActNotify {
		// runc refuses it: the write that hands over the listener's
		// file descriptor would itself wait for the listener.
		return fmt.Errorf("%w: SCMP_ACT_NOTIFY cannot be the default action", ErrInvalid)
	}
	if err := checkErrno(f.DefaultErrnoRet); err != nil {
		return fmt.Errorf("%w: defaultErrnoRet: %w", ErrInvalid, err)
	}
	for _, a := range f.Architectures {
		if _, ok := archNames[a]; !ok {
			return fmt.Errorf("%w: unknown architecture %q", ErrInvalid, a)
		}
	}
	for _, fl := range f.Flags {
		if !knownFlags[fl] {
			return fmt.Errorf("%w: unknown flag %q", ErrInvalid, fl)
		}
	}
	for i, sc := range f.Syscalls {
		if err := validateSyscall(sc); err != nil {
			return fmt.Errorf("%w: syscalls[%d]: %w", ErrInvalid, i, err)
		}
	}
	return nil
}

func validateSyscall(sc specs.LinuxSyscall) error {
	if len(sc.Names) == 0 {
		return errors.New("no names")
	}
	for _, n := range sc.Names {
		if n == "" {
			return errors.New("empty syscall name")
		}
	}
	if _, ok := actionRank[sc.Action]; !ok {
		return fmt.Errorf("%q: unknown action %q", sc.Names[0], sc.Action)
	}
	if sc.Action == specs.ActNotify && slices.Contains(sc.Names, "write") {
		return errors.New(`SCMP_ACT_NOTIFY cannot be used for "write"`)
	}
	if err := checkErrno(sc.ErrnoRet); err != nil {
		return fmt.Errorf("%q: errnoRet: %w", sc.Names[0], err)
	}
	for _, a := range sc.Args {
		if a.Index >= maxArgs {
			return fmt.Errorf("%q: argument index %d out of range (at most %d)", sc.Names[0], a.Index, maxArgs-1)
		}
		if !operators[a.Op] {
			return fmt.Errorf("%q: unknown operator %q", sc.Names[0], a.Op)
		}
	}
	return nil
}

func checkErrno(e *uint) error {
	if e != nil && *e > maxErrno {
		return fmt.Errorf("%d out of range (at most %d)", *e, maxErrno)
	}
	return nil
}

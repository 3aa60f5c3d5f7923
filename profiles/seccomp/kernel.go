package seccomp

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// KernelRule is what a filter does with one system call, in the kernel's
// terms: the call's AUDIT_ARCH_* value and number (x32 numbers carry
// __X32_SYSCALL_BIT), and the SECCOMP_RET_* value returned for it.
type KernelRule struct {
	AuditArch uint32
	Nr        uint32
	Ret       uint32
}

// errUnknownSyscall is syscallNumber's error for a name libseccomp does not
// know on an architecture.
var errUnknownSyscall = errors.New("unknown syscall")

// The SECCOMP_RET_* actions (include/uapi/linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
)

// DenyRules returns, for each of names that f denies whatever the
// arguments, the KernelRule of every architecture f accepts (those it
// lists, and the native one): the SECCOMP_RET_* of the unconditional rule
// that denies it, else of f's default action or of a conditional rule
// denying it, whichever is stricter. A filter of those rules (and
// an allowing default) then treats the names as f does, whatever else is
// loaded. A name f allows for some arguments, an action with no fixed
// return (SCMP_ACT_NOTIFY, allowing ones), or an architecture without an
// AUDIT_ARCH_* value is an error; a name libseccomp does not know on an
// architecture is left out there, as runc leaves it out.
func DenyRules(f *specs.LinuxSeccomp, names []string) ([]KernelRule, error) {
	if err := validate(f); err != nil {
		return nil, err
	}
	ix := index(f)
	var out []KernelRule
	for _, name := range names {
		v := ix.loose(name)
		if v.kind != deny {
			return nil, fmt.Errorf("%w: %s is allowed for some arguments", ErrInvalid, name)
		}
		// An unconditional rule decides; else the default, or a
		// conditional denial, whichever is stricter.
		r := ix.defRule
		if len(v.rules) == 1 && !v.rules[0].conditional() {
			r = v.rules[0]
		} else if len(v.rules) > 0 {
			r = strictest(append(slices.Clone(v.rules), ix.defRule))
		}
		ret, err := kernelRet(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, a := range effectiveArches(f.Architectures) {
			audit, ok := auditValue(a)
			if !ok {
				return nil, fmt.Errorf("%w: architecture %q has no audit value", ErrInvalid, a)
			}
			nr, err := syscallNumber(a, name)
			if err != nil {
				if errors.Is(err, errUnknownSyscall) {
					continue
				}
				return nil, err
			}
			out = append(out, KernelRule{AuditArch: audit, Nr: uint32(nr), Ret: ret})
		}
	}
	return out, nil
}

// kernelRet returns the SECCOMP_RET_* value of a denying rule.
func kernelRet(r rule) (uint32, error) {
	errno := func() uint32 {
		if r.errno == nil {
			return 1 // EPERM, runc's default
		}
		return uint32(*r.errno) & 0xffff
	}
	switch r.action {
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActErrno:
		return retErrno | errno(), nil
	case specs.ActTrace:
		return retTrace | errno(), nil
	}
	return 0, fmt.Errorf("%w: action %s has no fixed return", ErrInvalid, r.action)
}

// auditValue returns the AUDIT_ARCH_* value of a: x32 shares x86_64's.
func auditValue(a specs.Arch) (uint32, bool) {
	if a == specs.ArchX32 {
		a = specs.ArchX86_64
	}
	for v, arch := range auditArches {
		if arch == a {
			return v, true
		}
	}
	return 0, false
}

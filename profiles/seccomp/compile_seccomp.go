//go:build cgo && seccomp

package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Compile builds f with libseccomp the way runc 1.5 does when it starts a
// container (libcontainer/seccomp.InitSeccomp) and exports the BPF program,
// without loading it. It returns nil if runc would accept f on this host:
// the actions, operators, architectures and flags are known to libseccomp
// and supported by it, NOTIFY is not the default action and not used for
// write, and the program fits the kernel's limit of 4096 instructions.
// Syscall names libseccomp does not know are skipped, as runc skips them.
// Errors satisfy errors.Is(err, ErrInvalid) when f itself is malformed.
func Compile(f *specs.LinuxSeccomp) error {
	_, err := compileBPF(f)
	return err
}

// compileBPF compiles f and returns the number of BPF instructions.
func compileBPF(f *specs.LinuxSeccomp) (int, error) {
	if err := validate(f); err != nil {
		return 0, fmt.Errorf("compile seccomp filter: %w", err)
	}
	n, err := build(f)
	if err != nil {
		return 0, fmt.Errorf("compile seccomp filter: %w", err)
	}
	return n, nil
}

func build(f *specs.LinuxSeccomp) (int, error) {
	defAct, err := scmpAction(f.DefaultAction, f.DefaultErrnoRet)
	if err != nil {
		return 0, err
	}
	apiLevel, _ := libseccomp.GetAPI() // pre-2.4 libseccomp is level 0
	for _, sc := range f.Syscalls {
		if sc.Action == specs.ActNotify && apiLevel < 6 {
			return 0, fmt.Errorf("seccomp notify needs libseccomp API level 6, have %d", apiLevel)
		}
	}

	filter, err := libseccomp.NewFilter(defAct)
	if err != nil {
		return 0, fmt.Errorf("create filter: %w", err)
	}
	defer filter.Release()

	for _, a := range f.Architectures {
		arch, err := libseccomp.GetArchFromString(archNames[a])
		if err != nil {
			return 0, fmt.Errorf("architecture %q: %w", a, err)
		}
		if err := filter.AddArch(arch); err != nil {
			return 0, fmt.Errorf("add architecture %q: %w", a, err)
		}
	}
	for _, fl := range f.Flags {
		if err := setFlag(filter, fl); err != nil {
			return 0, err
		}
	}
	calls := 0
	for _, sc := range f.Syscalls {
		calls += len(sc.Names)
	}
	if calls > 32 {
		// As runc: use a binary tree for long rule sets. Not fatal.
		_ = filter.SetOptimize(2)
	}
	if err := filter.SetNoNewPrivsBit(false); err != nil {
		return 0, fmt.Errorf("unset no_new_privs bit: %w", err)
	}
	for _, sc := range f.Syscalls {
		act, err := scmpAction(sc.Action, sc.ErrnoRet)
		if err != nil {
			return 0, err
		}
		if act == defAct {
			continue // runc skips rules that repeat the default
		}
		conds, err := conditions(sc.Args)
		if err != nil {
			return 0, fmt.Errorf("syscall %q: %w", sc.Names[0], err)
		}
		for _, name := range sc.Names {
			if err := addRule(filter, name, act, conds); err != nil {
				return 0, err
			}
		}
	}
	return exportLen(filter)
}

func scmpAction(a specs.LinuxSeccompAction, errno *uint) (libseccomp.ScmpAction, error) {
	ret := int16(1) // EPERM, as runc
	if errno != nil {
		ret = int16(*errno) // validate keeps it at most 4095
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(ret), nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return libseccomp.ActNotify, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("%w: unknown action %q", ErrInvalid, a)
}

var scmpOps = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// ruleConds is the conditions of one OCI rule, already split as runc splits
// them: when two conditions inspect the same argument, each becomes a rule
// of its own.
type ruleConds [][]libseccomp.ScmpCondition

func conditions(args []specs.LinuxSeccompArg) (ruleConds, error) {
	if len(args) == 0 {
		return ruleConds{nil}, nil
	}
	var perIndex [maxArgs]int
	conds := make([]libseccomp.ScmpCondition, 0, len(args))
	for _, a := range args {
		op, ok := scmpOps[a.Op]
		if !ok {
			return nil, fmt.Errorf("%w: unknown operator %q", ErrInvalid, a.Op)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		perIndex[a.Index]++
		conds = append(conds, c)
	}
	for _, n := range perIndex {
		if n > 1 {
			split := make(ruleConds, len(conds))
			for i, c := range conds {
				split[i] = []libseccomp.ScmpCondition{c}
			}
			return split, nil
		}
	}
	return ruleConds{conds}, nil
}

func addRule(filter *libseccomp.ScmpFilter, name string, act libseccomp.ScmpAction, rc ruleConds) error {
	call, err := libseccomp.GetSyscallFromName(name)
	if err != nil {
		return nil // unknown to libseccomp on this host: runc skips it
	}
	for _, conds := range rc {
		if len(conds) == 0 {
			err = filter.AddRule(call, act)
		} else {
			err = filter.AddRuleConditional(call, act, conds)
		}
		if err != nil {
			return fmt.Errorf("add rule for syscall %q: %w", name, err)
		}
	}
	return nil
}

func setFlag(filter *libseccomp.ScmpFilter, fl specs.LinuxSeccompFlag) error {
	var err error
	switch fl {
	case flagTsync:
		// runc ignores it: libseccomp-golang always synchronises threads.
	case specs.LinuxSeccompFlagLog:
		err = filter.SetLogBit(true)
	case specs.LinuxSeccompFlagSpecAllow:
		err = filter.SetSSB(true)
	case specs.LinuxSeccompFlagWaitKillableRecv:
		err = filter.SetWaitKill(true)
	default:
		return fmt.Errorf("%w: unknown flag %q", ErrInvalid, fl)
	}
	if err != nil {
		return fmt.Errorf("set flag %s: %w", fl, err)
	}
	return nil
}

// exportLen exports the BPF program of filter through a pipe and returns its
// length in instructions, refusing programs the kernel would not load.
func exportLen(filter *libseccomp.ScmpFilter) (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("export bpf: %w", err)
	}
	defer r.Close()
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := io.Copy(io.Discard, r)
		done <- result{n, err}
	}()
	exportErr := filter.ExportBPF(w)
	closeErr := w.Close()
	res := <-done
	if err := errors.Join(exportErr, closeErr, res.err); err != nil {
		return 0, fmt.Errorf("export bpf: %w", err)
	}
	const insnSize = 8 // struct sock_filter
	insns := int(res.n / insnSize)
	if insns > maxInsns {
		return insns, fmt.Errorf("bpf program has %d instructions, the kernel loads at most %d", insns, maxInsns)
	}
	return insns, nil
}

// libVersion names the libseccomp the binary is linked with, so that a
// cached compile result is not reused across library versions.
func libVersion() string {
	maj, mnr, mic := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("libseccomp %d.%d.%d", maj, mnr, mic)
}

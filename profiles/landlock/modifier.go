package landlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/seccomp"
	"github.com/runcage/runcage/runtime/spec"
)

// Dest is where the helper is bound in the container: under /dev, which
// runc mounts as a tmpfs, so that nothing is created in the image's root
// file system (read-only or not) and the name cannot clash with the image.
const Dest = "/dev/.runcage-landlock"

// HelperName is the helper's file name beside the runcage binary.
const HelperName = "runcage-landlock"

// HelperPath returns the helper beside the running executable (runcage,
// or runcage's containerd shim).
func HelperPath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("landlock helper: %w", err)
	}
	return filepath.Join(filepath.Dir(exe), HelperName), nil
}

// ABI returns the Landlock ABI version of the running kernel, 0 when the
// kernel has no Landlock or it is disabled (with the reason in err).
func ABI() (int, error) {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		switch errno {
		case unix.ENOSYS:
			return 0, errors.New("not built into this kernel")
		case unix.EOPNOTSUPP:
			return 0, errors.New("built in but disabled (lsm= boot parameter)")
		}
		return 0, errno
	}
	return int(v), nil
}

// Options is what New needs from the outside world.
type Options struct {
	// Helper is the host path of the helper binary; "" means HelperPath.
	Helper string
	// ABI reports the kernel's Landlock ABI; nil means ABI. Tests fake it.
	ABI func() (int, error)
}

// New returns the modifier that confines a spec's process with prof's
// Landlock rules, or nil (which a profiles.List skips) when prof has none.
// Errors in the profile or the helper, and a required rule set this
// kernel cannot enforce (ABI below Need), give a modifier that refuses
// every spec. Otherwise the modifier:
//   - refuses a spec without process.args, one whose /dev is not a tmpfs
//     (the last mount at /dev, after rootfs.NewDestinations has resolved
//     symlinks: a /dev that is a symlink in the rootfs has no mount at
//     /dev), and one with a mount of its own at or under Dest;
//   - appends a read-only, nosuid, nodev bind of the helper at Dest;
//   - rewrites process.args to [Dest, HelperArgs..., "--", args...]
//     (HelperArgs of processRules' rules for a pod's sandbox container or
//     a process behind an engine's init);
//   - lets the seccomp filter allow what the helper needs (HelperSyscalls)
//     where it does not; those three Landlock calls only restrict.
//
// It must run after the mount and destination checks (the helper's bind
// is runcage's, not the bundle's) and after the seccomp modifier.
func New(prof *profiles.Profile, o Options) profiles.Modifier {
	l := prof.Landlock
	if prof.Passthrough || !Active(l) {
		return nil
	}
	if err := Check(l); err != nil {
		return failed(fmt.Errorf("profile %q: %w", prof.Name, err))
	}
	args, err := HelperArgs(l)
	if err != nil {
		return failed(fmt.Errorf("profile %q: %w", prof.Name, err))
	}
	if Required(l) {
		if err := CheckKernel(prof, o.ABI); err != nil {
			return failed(err)
		}
	}
	helper := o.Helper
	if helper == "" {
		if helper, err = HelperPath(); err != nil {
			return failed(err)
		}
	}
	if err := checkHelper(helper); err != nil {
		return failed(err)
	}
	return profiles.ModifierFunc(func(s *specs.Spec) error {
		if s.Process == nil || len(s.Process.Args) == 0 {
			return profiles.Refusef("landlock: a spec without process.args refused: profile %q runs the process through runcage's Landlock helper", prof.Name)
		}
		if err := checkMounts(s.Mounts); err != nil {
			return err
		}
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: Dest,
			Type:        "bind",
			Source:      helper,
			Options:     []string{"bind", "ro", "nosuid", "nodev"},
		})
		hargs := args
		if own, file := processRules(l, s); own != nil {
			if hargs, err = HelperArgs(own); err != nil {
				return err
			}
			// Execute on that one regular file only: the helper skips a
			// directory or anything else there (-x).
			hargs = append(hargs, "-x", strconv.FormatUint(accessMask([]string{"execute"}), 10), file)
		}
		if s.Linux != nil && s.Linux.Seccomp != nil {
			f, redeny, err := AllowHelper(s.Linux.Seccomp)
			if err != nil {
				return err
			}
			s.Linux.Seccomp = f
			hargs = append(hargs, syscallArgs(redeny)...)
		}
		s.Process.Args = wrap(hargs, s.Process.Args)
		return nil
	})
}

// CheckKernel refuses prof when its Landlock rules say required and the
// kernel (abi; nil means ABI) cannot enforce them all.
func CheckKernel(prof *profiles.Profile, abi func() (int, error)) error {
	l := prof.Landlock
	if !Active(l) || !Required(l) {
		return nil
	}
	if abi == nil {
		abi = ABI
	}
	need, why := Need(l)
	have, err := abi()
	if err != nil {
		return profiles.Refusef("landlock refused: profile %q requires Landlock and this kernel has none (%v)", prof.Name, err)
	}
	if have < need {
		return profiles.Refusef("landlock refused: profile %q requires Landlock ABI %d for its %s, and this kernel offers ABI %d", prof.Name, need, why, have)
	}
	return nil
}

func failed(err error) profiles.Modifier {
	return profiles.ModifierFunc(func(*specs.Spec) error { return err })
}

// checkHelper makes sure the helper is a regular executable file that only
// root can change, in directories only root can change (spec.CheckTrusted):
// every container of a Landlock profile runs it.
func checkHelper(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("landlock helper %s: %w (build it with make build)", path, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("landlock helper %s: not a regular file", path)
	case st.Mode&0o001 == 0:
		return fmt.Errorf("landlock helper %s: not executable by others (the container's root is not host root)", path)
	}
	return spec.CheckTrusted("landlock helper", path)
}

// checkMounts refuses mounts the helper's bind cannot safely join: no
// tmpfs at /dev (so the bind would create a file in the image), or a
// mount of the bundle's own at or under Dest.
func checkMounts(ms []specs.Mount) error {
	devTmpfs := false
	for _, m := range ms {
		d := filepath.Join("/", m.Destination) // runc takes a relative destination from the root
		switch {
		case d == "/dev":
			devTmpfs = m.Type == "tmpfs"
		case d == Dest || len(d) > len(Dest) && d[:len(Dest)+1] == Dest+"/":
			return profiles.Refusef("landlock: mount at %q refused: runcage binds its Landlock helper there", m.Destination)
		}
	}
	if !devTmpfs {
		return profiles.Refusef("landlock: a container without a tmpfs at /dev refused: runcage binds its Landlock helper in /dev and creates nothing in the image")
	}
	return nil
}

// sandboxAnnotations mark a pod's sandbox (pause) container: containerd's
// CRI and CRI-O's.
var sandboxAnnotations = map[string]string{
	"io.kubernetes.cri.container-type":  "sandbox",
	"io.kubernetes.cri-o.ContainerType": "sandbox",
}

// processRules returns the rules for s's process, and the one file it may
// also execute, when they are not l as it is; else nil, "". The file is
// granted only if it is a regular file (the helper's -x), never a tree:
//   - a pod's sandbox container (sandboxAnnotations), with an absolute
//     process.args[0], keeps l's ports and scopes and no file rule but
//     execute on that program: the pause program does nothing else, and a
//     pod that selects a Landlock profile applies it to its sandbox too,
//     whose pause binary (from the pause image) the pod's rules do not
//     name. A bundle that claims to be a sandbox gains only the right to
//     execute its own program, which it runs anyway;
//   - a process started through an engine's init (engineInit) gets l plus
//     execute on that init.
func processRules(l *profiles.Landlock, s *specs.Spec) (*profiles.Landlock, string) {
	arg0 := s.Process.Args[0]
	for k, v := range sandboxAnnotations {
		if s.Annotations[k] == v && filepath.IsAbs(arg0) && filepath.Clean(arg0) == arg0 && len(l.FS) > 0 {
			cp := *l
			cp.FS = nil
			return &cp, arg0
		}
	}
	if init := engineInit(s); init != "" {
		return l, init
	}
	return nil, ""
}

// engineInit returns process.args[0] when it is the destination of a
// read-only bind mount of the spec (the last mount there): an init the
// engine binds into the container and runs first, as Docker's --init binds
// docker-init at /sbin/docker-init. The helper execs it, so the rules
// must let it execute that one file, which is not the image's and which a
// profile generated from a recording without --init does not name.
// Otherwise "".
func engineInit(s *specs.Spec) string {
	arg0 := s.Process.Args[0]
	if !filepath.IsAbs(arg0) || filepath.Clean(arg0) != arg0 {
		return ""
	}
	init := ""
	for _, m := range s.Mounts {
		if filepath.Join("/", m.Destination) != arg0 {
			continue
		}
		init = ""
		if (m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")) && slices.Contains(m.Options, "ro") {
			init = arg0
		}
	}
	return init
}

func wrap(helperArgs, args []string) []string {
	out := make([]string, 0, len(helperArgs)+len(args)+2)
	out = append(out, Dest)
	out = append(out, helperArgs...)
	out = append(out, "--")
	return append(out, args...)
}

// Exec is how the exec'd processes of one container are confined, decided
// at create and kept in runcage's record of the container, so that an exec
// applies the rules the container was created with even after its profile
// changed: through the helper bound at create with Args (Helper true), or
// not at all, since a container created without rules has no helper.
type Exec struct {
	Helper bool     `json:"helper"`
	Args   []string `json:"args,omitempty"`
}

// ExecFor returns the Exec of a container that New confined under prof,
// whose spec (after New) is s: Helper with HelperArgs of prof's rules and
// the system call rules New gave the container's process, or none when
// prof has no Landlock rules or is a pass-through profile. s may be nil
// (a container runcage did not create): no system call rules.
func ExecFor(prof *profiles.Profile, s *specs.Spec) (Exec, error) {
	if prof.Passthrough || !Active(prof.Landlock) {
		return Exec{}, nil
	}
	if err := Check(prof.Landlock); err != nil {
		return Exec{}, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	args, err := HelperArgs(prof.Landlock)
	if err != nil {
		return Exec{}, fmt.Errorf("profile %q: %w", prof.Name, err)
	}
	return Exec{Helper: true, Args: append(args, specSyscallArgs(s)...)}, nil
}

// WrapProcess makes an exec'd process of a container confined as e says:
// p.Args becomes [Dest, e.Args..., "--", args...]. It does nothing when
// e has no helper, and refuses a process without args.
func WrapProcess(e Exec, p *specs.Process) error {
	if !e.Helper {
		return nil
	}
	if len(p.Args) == 0 {
		return profiles.Refusef("landlock: an exec process without args refused: the container's processes run through runcage's Landlock helper")
	}
	p.Args = wrap(e.Args, p.Args)
	return nil
}

// WrapCommand is WrapProcess for `exec ID COMMAND...` without --process:
// argv (the delegate's command line) must end with command, which is then
// prefixed with the helper and its rules. Anything else is refused, since
// the command could not be placed with certainty.
func WrapCommand(e Exec, argv, command []string) ([]string, error) {
	if !e.Helper {
		return argv, nil
	}
	if len(command) == 0 || len(argv) < len(command) || !slices.Equal(argv[len(argv)-len(command):], command) {
		return nil, profiles.Refusef("landlock: exec refused: the command could not be found at the end of the command line to run it through runcage's Landlock helper (use --process)")
	}
	head := slices.Clone(argv[:len(argv)-len(command)])
	return append(head, wrap(e.Args, command)...), nil
}

// HelperSyscalls are the system calls the helper makes: Landlock's three,
// what it needs to open the rules' paths, report and exec, seccomp (to
// give the workload back its own filter, see AllowHelper), and what static
// glibc start-up makes (seccomp.ProgramStartSyscalls).
func HelperSyscalls() []string {
	return slices.Concat([]string{
		"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
		"openat", "close", "execve", "write", "exit_group", "seccomp",
	}, seccomp.ProgramStartSyscalls)
}

// helperLast are the calls the helper may make after it has loaded the
// filter that denies the workload what it was allowed for the helper: its
// execve, and the report and exit when that fails. They are never denied
// again; a filter that denies them cannot start a process under runc.
var helperLast = []string{"execve", "write", "exit_group"}

// AllowHelper returns f, or a copy of f that also allows each of
// HelperSyscalls that f denies whatever the arguments, and the rules
// that deny them again as f did (seccomp.DenyRules), but helperLast. An
// allowing default action needs nothing. The names are taken out of f's
// rules that deny them, and allowed in one rule of their own. The helper
// loads the rules as a filter of their own once it has restricted itself
// (-S), so the workload's filter is f's: the kernel applies every filter
// loaded and the strictest result wins.
func AllowHelper(f *specs.LinuxSeccomp) (*specs.LinuxSeccomp, []seccomp.KernelRule, error) {
	if f == nil || f.DefaultAction == specs.ActAllow || f.DefaultAction == specs.ActLog {
		return f, nil, nil
	}
	allowed := seccomp.AllowedSyscalls(f)
	if allowed == nil {
		return nil, nil, fmt.Errorf("landlock: the seccomp filter is invalid")
	}
	var missing []string
	for _, n := range HelperSyscalls() {
		if !slices.Contains(allowed, n) && !slices.Contains(missing, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return f, nil, nil
	}
	slices.Sort(missing)
	redeny, err := seccomp.DenyRules(f, slices.DeleteFunc(slices.Clone(missing), func(n string) bool { return slices.Contains(helperLast, n) }))
	if err != nil {
		return nil, nil, fmt.Errorf("landlock: deny again what the helper needs: %w", err)
	}
	if len(redeny) > maxSyscallRules {
		return nil, nil, fmt.Errorf("landlock: %d system call rules for the helper to load, more than %d", len(redeny), maxSyscallRules)
	}
	cp := *f
	cp.Syscalls = nil
	for _, r := range f.Syscalls {
		r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return slices.Contains(missing, n) })
		if len(r.Names) > 0 {
			cp.Syscalls = append(cp.Syscalls, r)
		}
	}
	cp.Syscalls = append(cp.Syscalls, specs.LinuxSyscall{Names: missing, Action: specs.ActAllow})
	return &cp, redeny, nil
}

// maxSyscallRules bounds the helper's -S rules (its own limit is larger).
const maxSyscallRules = 256

// syscallArgs returns the helper's -S AUDIT_ARCH NR RET arguments of rules.
func syscallArgs(rules []seccomp.KernelRule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, "-S", strconv.FormatUint(uint64(r.AuditArch), 10), strconv.FormatUint(uint64(r.Nr), 10), strconv.FormatUint(uint64(r.Ret), 10))
	}
	return out
}

// specSyscallArgs returns the -S arguments of the helper's command line in
// s.Process.Args, which New wrote: an exec'd process runs under the same
// filter, and gets the same rules.
func specSyscallArgs(s *specs.Spec) []string {
	if s == nil || s.Process == nil || len(s.Process.Args) == 0 || s.Process.Args[0] != Dest {
		return nil
	}
	var out []string
	args := s.Process.Args[1:]
	for i := 0; i < len(args) && args[i] != "--"; i++ {
		if args[i] == "-S" && i+3 < len(args) {
			out = append(out, args[i:i+4]...)
			i += 3
		}
	}
	return out
}

// Status describes this kernel's Landlock for `runcage check`.
func Status() string {
	abi, err := ABI()
	if err != nil {
		return "absent (" + err.Error() + ")"
	}
	var has []string
	for _, f := range []struct {
		abi  int
		what string
	}{{abiFS, "files"}, {abiRefer, "refer"}, {abiTruncate, "truncate"}, {abiNet, "TCP ports"}, {abiIoctlDev, "ioctl-dev"}, {abiScopes, "scopes"}} {
		if abi >= f.abi {
			has = append(has, f.what)
		}
	}
	return fmt.Sprintf("present, ABI %d (%s)", abi, strings.Join(has, ", "))
}

// ProfileStatus describes what prof's Landlock rules get on this kernel,
// for `runcage check`; "" when prof has none.
func ProfileStatus(prof *profiles.Profile) string {
	if prof.Passthrough || !Active(prof.Landlock) {
		return ""
	}
	need, why := Need(prof.Landlock)
	if err := CheckKernel(prof, nil); err != nil {
		return "Landlock required but not enforceable: containers will be refused (" + err.Error() + ")"
	}
	abi, _ := ABI()
	if abi < need {
		return fmt.Sprintf("Landlock partly applied (if-available): its %s need ABI %d, this kernel offers %d", why, need, abi)
	}
	return fmt.Sprintf("Landlock applied (%d file rules, needs ABI %d)", len(prof.Landlock.FS), need)
}

package seccomp

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RuncSyscalls are the syscalls runc's init process can make after it has
// loaded the container's filter and before the container's program runs.
// Every filter built by FromSyscalls allows them, whatever a trace says:
// importers of strace and audit logs never see them, and a filter that
// misses one makes the container fail to start.
//
// They come from runc v1.5.2 (libcontainer/standard_init_linux.go, the code
// after seccomp.InitSeccomp) and runc 1.1 (the version Debian 12's Docker
// uses), checked with `strace -f` of both starting a /bin/true container
// with and without no_new_privileges:
//
//   - with no_new_privileges (runcage always sets it) the filter is loaded
//     just before exec: syncParentSeccomp, closing the sync and log pipes,
//     reopening the exec fifo through /proc/thread-self/fd with
//     pathrs-lite (fstatfs, fstat, statx, openat, fcntl, readlinkat,
//     newfstatat; it tries openat2 first, which runtime/default answers
//     with ENOSYS, and falls back to openat), writing to it, UnsafeCloseFrom (close_range,
//     or getdents64 of /proc/self/fd and close), getpid, and execve;
//   - without no_new_privileges (Docker's default) the filter is loaded
//     before finalizeNamespace, which also sets the credentials and
//     capabilities (capget, capset, prctl, setgroups, setgid, setuid and
//     their res/fs variants, which Go applies to every thread with
//     signals), changes directory (chdir, fchdir, getcwd), checks the parent
//     (getppid, kill), and looks the program up (faccessat, faccessat2,
//     newfstatat, stat, access, read, readlink);
//   - the Go runtime, on any of runc's threads, at any time: futex,
//     nanosleep, sched_yield, the netpoller (epoll_pwait, epoll_wait,
//     epoll_ctl), preemption and signals (tgkill, gettid, rt_sigreturn,
//     rt_sigprocmask, rt_sigaction, sigaltstack), memory (mmap, munmap,
//     madvise, mprotect), new threads (clone, with runtime/default's
//     condition that forbids namespace flags), and exit;
//   - exit_group and restart_syscall, without which no process can end or
//     resume an interrupted sleep;
//   - the hand-over of the seccomp notify fd, which runcage asks for on
//     every enforced container (its denial agent, docs/recording.md): runc
//     init writes the fd number to its sync socket and waits for the
//     parent's answer (recvfrom with MSG_PEEK, then read), then closes it.
var RuncSyscalls = []string{
	"access", "capget", "capset", "chdir", "clone", "close", "close_range",
	"epoll_ctl", "epoll_pwait", "epoll_wait", "execve", "exit", "exit_group",
	"faccessat", "faccessat2", "fchdir", "fcntl", "fstat", "fstatfs", "futex",
	"getcwd", "getdents64", "getpid", "getppid", "gettid", "kill", "madvise",
	"mmap", "mprotect", "munmap", "nanosleep", "newfstatat", "openat",
	"prctl", "read", "readlink", "readlinkat", "recvfrom", "restart_syscall",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sched_yield",
	"setfsgid", "setfsuid", "setgid", "setgroups", "setresgid", "setresuid",
	"setuid", "sigaltstack", "stat", "statx", "tgkill", "write",
}

// ProgramStartSyscalls are the syscalls a program makes between execve and
// its main function: glibc's dynamic loader and static start-up code
// (mapping the program and its libraries, thread-local storage, the robust
// futex list, rseq, the stack limit, the stack protector's random bytes)
// and musl's and busybox-static's subset of them. FromSyscalls allows them
// too: a trace imported from an audit log holds only the syscalls that were
// logged, and a profile that kills every program before main is useless.
var ProgramStartSyscalls = []string{
	"arch_prctl", "brk", "getrandom", "pread64", "prlimit64", "rseq",
	"set_robust_list", "set_tid_address",
}

// AlwaysAllowed returns, sorted, the syscalls FromSyscalls always adds:
// RuncSyscalls and ProgramStartSyscalls.
func AlwaysAllowed() []string {
	out := slices.Concat(RuncSyscalls, ProgramStartSyscalls)
	slices.Sort(out)
	return slices.Compact(out)
}

// maxNameLen bounds a syscall name; the longest Linux has is 22 bytes.
const maxNameLen = 64

// CheckName reports whether name can be a syscall name: 1 to 64 lowercase
// ASCII letters, digits and underscores. Names come from recordings and
// logs, which are hostile input; anything else is refused rather than put
// into a filter.
func CheckName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("%w: syscall name %q: want 1 to %d characters", ErrInvalid, name, maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return fmt.Errorf("%w: syscall name %q: character %q is not a lowercase letter, digit or '_'", ErrInvalid, name, c)
		}
	}
	return nil
}

// BeyondDefault returns, sorted, the names in names that runtime/default
// (Default) denies by its default action, whatever their arguments: the
// syscalls a generated
// profile would have to allow beyond what runcage allows every container
// (ptrace, mount, unshare, bpf, ...), and any syscall runtime/default does
// not know.
func BeyondDefault(names []string) []string {
	ix := index(Default())
	var out []string
	for _, n := range names {
		if v := ix.strict(n); v.kind == deny && len(v.rules) == 0 && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// ownErrors returns the names ix denies with a rule of its own rather than
// by its default action.
func (ix *filterIndex) ownErrors() []string {
	var out []string
	for _, n := range ix.names() {
		if v := ix.strict(n); v.kind == deny && len(v.rules) > 0 {
			out = append(out, n)
		}
	}
	return out
}

// FromSyscalls returns the filter a generated profile enforces: it denies
// every syscall with EPERM (defaultAction SCMP_ACT_ERRNO, defaultErrnoRet 1)
// except those in names and in AlwaysAllowed, for the native architectures
// (NativeArches, as runtime/default).
//
// The result is never wider than runtime/default for a syscall both name:
// a syscall runtime/default allows unconditionally is allowed in one
// SCMP_ACT_ALLOW rule (names sorted); one it allows only for some arguments
// (clone without namespace flags, personality for five values, socket for
// unix, inet, inet6 and three netlink protocols, chmod and file creation
// without set-ID bits) gets runtime/default's conditional rules; and one it
// answers with a specific error (clone3 and openat2 with ENOSYS, so that
// libc and runc fall back to clone and openat) keeps that answer, whether
// names has it or not. A
// name runtime/default denies (see
// BeyondDefault) is allowed unconditionally: the caller must have decided
// to include it.
//
// Each name must pass CheckName. The result is deterministic: the same set
// of names gives the same filter, whatever their order and repetitions.
func FromSyscalls(names []string) (*specs.LinuxSeccomp, error) {
	def := Default()
	ix := index(def)
	// Every syscall runtime/default answers with an error of its own
	// (clone3: ENOSYS) keeps that answer, seen or not: it makes libc fall
	// back to what the filter allows, and allows nothing itself.
	all := slices.Concat(names, AlwaysAllowed(), ix.ownErrors())
	for _, n := range all {
		if err := CheckName(n); err != nil {
			return nil, fmt.Errorf("build seccomp filter: %w", err)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)

	errno := uint(1) // EPERM
	out := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &errno,
		Architectures:   slices.Clone(def.Architectures),
	}
	allow := newRule(specs.ActAllow, nil, nil)
	perName := make(map[string][]rule, len(all))
	for _, n := range all {
		v := ix.strict(n)
		switch {
		case v.kind == allowAll:
			perName[n] = []rule{allow}
		case v.kind == allowIf:
			perName[n] = v.rules
		case len(v.rules) > 0:
			// Denied by runtime/default with an answer of its own (clone3:
			// ENOSYS): keep the answer, so programs behave as under
			// runtime/default.
			perName[n] = v.rules
		default:
			perName[n] = []rule{allow}
		}
	}
	out.Syscalls = group(perName, actionKey(out.DefaultAction, out.DefaultErrnoRet))
	if err := validate(out); err != nil {
		return nil, fmt.Errorf("build seccomp filter: %w", err)
	}
	return out, nil
}

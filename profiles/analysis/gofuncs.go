package analysis

import (
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/runcage/runcage/profiles/seccomp"
)

// goSyscallPackages are the Go packages whose functions are syscall
// wrappers: each calls Syscall, RawSyscall or the runtime's assembly with a
// constant syscall number. A vendored copy keeps its import path as a
// suffix ("vendor/golang.org/x/sys/unix").
var goSyscallPackages = []string{
	"syscall",
	"golang.org/x/sys/unix",
	"internal/syscall/unix",
	"internal/runtime/syscall",
	"internal/runtime/syscall/linux",
}

// goDispatchers are wrappers that take the syscall number as an argument:
// linked in, they say nothing about which syscalls run.
var goDispatchers = []string{
	"Syscall", "Syscall6", "RawSyscall", "RawSyscall6", "RawSyscallNoError",
	"rawSyscallNoError", "rawVforkSyscall", "runtime_doAllThreadsSyscall",
	"AllThreadsSyscall", "AllThreadsSyscall6", "Syscall9", "SyscallNoError",
	"RawSyscallNoError6", "syscall", "rawsyscall",
}

// goWrappers maps the wrappers of the Go packages in goSyscallPackages whose
// syscall is not their name lowercased or in snake case (Sendfile and
// sendfile are sendfile; SyncFileRange is sync_file_range). Derived from
// go1.26's syscall/syscall_linux*.go, zsyscall_linux_{amd64,arm64}.go and
// golang.org/x/sys/unix's syscall_linux*.go (the "//sys NAME(...) =
// SYS_X" lines), for amd64 and arm64: the path functions go through the
// *at syscalls, the old ones through their replacements.
var goWrappers = map[string][]string{
	"Open": {"openat"}, "Creat": {"openat"}, "Open64": {"openat"},
	"Stat": {"newfstatat"}, "Lstat": {"newfstatat"},
	"Fstatat": {"newfstatat"}, "fstatat": {"newfstatat"},
	"Mkdir": {"mkdirat"}, "Mknod": {"mknodat"}, "Rmdir": {"unlinkat"}, "Unlink": {"unlinkat"},
	"Rename": {"renameat2", "renameat"}, "Link": {"linkat"}, "Symlink": {"symlinkat"},
	"Readlink": {"readlinkat"}, "Chmod": {"fchmodat"}, "Chown": {"fchownat"}, "Lchown": {"fchownat"},
	"Access": {"faccessat", "faccessat2"}, "Faccessat": {"faccessat", "faccessat2"},
	"Faccessat2": {"faccessat2"}, "faccessat2": {"faccessat2"},
	"Utimes": {"utimensat"}, "UtimesNano": {"utimensat"}, "Futimes": {"utimensat"},
	"Futimesat": {"utimensat", "futimesat"}, "Utime": {"utimensat", "utime"},
	"Pipe": {"pipe2"}, "Dup2": {"dup2", "dup3"},
	"Getdents": {"getdents64"}, "ReadDirent": {"getdents64"}, "Getdirentries": {"getdents64"},
	"Pread": {"pread64"}, "Pwrite": {"pwrite64"}, "Seek": {"lseek"},
	"Accept":    {"accept4", "accept"},
	"Getrlimit": {"prlimit64", "getrlimit"}, "Setrlimit": {"prlimit64", "setrlimit"},
	"Prlimit": {"prlimit64"}, "prlimit": {"prlimit64"}, "prlimit1": {"prlimit64"}, "rawSetrlimit": {"prlimit64", "setrlimit"},
	"EpollCreate": {"epoll_create1", "epoll_create"}, "EpollWait": {"epoll_pwait", "epoll_wait"},
	"Select": {"pselect6", "select"}, "Poll": {"ppoll", "poll"},
	"Sendmsg": {"sendmsg"}, "SendmsgN": {"sendmsg"}, "SendmsgBuffers": {"sendmsg"}, "sendmsgN": {"sendmsg"},
	"Recvmsg": {"recvmsg"}, "RecvmsgBuffers": {"recvmsg"},
	"Send": {"sendto"}, "Recv": {"recvfrom"},
	"Time": {"time", "clock_gettime"}, "Gettimeofday": {"gettimeofday", "clock_gettime"},
	"Exec": {"execve"}, "forkExec": {"clone", "clone3", "vfork", "execve", "pipe2", "read", "close", "dup3", "fcntl", "wait4"},
	"StartProcess":      {"clone", "clone3", "vfork", "execve", "pipe2", "read", "close", "dup3", "fcntl", "wait4"},
	"doCheckClonePidfd": {"clone", "waitid"}, "forkAndExecInChild1": {"clone", "clone3", "vfork", "execve", "dup3", "fcntl", "close"},
	"Getwd": {"getcwd"}, "Getpagesize": nil, "Fchmodat": {"fchmodat", "fchmodat2"},
	"Eventfd": {"eventfd2"}, "Signalfd": {"signalfd4"}, "InotifyInit": {"inotify_init1"},
	"PidFDOpen": {"pidfd_open"}, "PidFDSendSignal": {"pidfd_send_signal"}, "PidfdOpen": {"pidfd_open"},
	"KernelVersion": {"uname"}, "Fadvise": {"fadvise64"}, "Prctl": {"prctl"}, "PrctlRetInt": {"prctl"},
	"Sleep": {"clock_nanosleep", "nanosleep"}, "Getpgrp": {"getpgid", "getpgrp"},
	"Wait4": {"wait4"}, "Waitid": {"waitid"},
}

// goRuntime maps the Go runtime's own syscall stubs (assembly, named after
// the syscall or close to it) to their syscalls, for go1.20 to go1.26 on
// amd64 and arm64. Most are in seccomp.AlwaysAllowed already; they are
// listed so that a Go binary's reasons are complete.
var goRuntime = map[string][]string{
	"futex": {"futex"}, "clone": {"clone"}, "mmap": {"mmap"}, "sysMmap": {"mmap"},
	"munmap": {"munmap"}, "sysMunmap": {"munmap"}, "madvise": {"madvise"}, "mincore": {"mincore"},
	"usleep": {"nanosleep"}, "osyield": {"sched_yield"}, "sched_getaffinity": {"sched_getaffinity"},
	"gettid": {"gettid"}, "tgkill": {"tgkill"}, "getpid": {"getpid"}, "raise": {"tgkill", "gettid"},
	"raiseproc": {"kill", "getpid"}, "setitimer": {"setitimer"}, "timer_create": {"timer_create"},
	"timer_settime": {"timer_settime"}, "timer_delete": {"timer_delete"},
	"rt_sigaction": {"rt_sigaction"}, "sysSigaction": {"rt_sigaction"}, "rtsigprocmask": {"rt_sigprocmask"},
	"sigaltstack": {"sigaltstack"}, "open": {"openat"}, "read": {"read"}, "write1": {"write"},
	"closefd": {"close"}, "pipe2": {"pipe2"}, "exit": {"exit_group"}, "exitThread": {"exit"},
	"nanotime1": {"clock_gettime"}, "walltime": {"clock_gettime"}, "walltime1": {"clock_gettime"},
	"settls": {"arch_prctl"}, "sbrk0": {"brk"}, "access": {"faccessat", "access"},
	"vgetrandom1": {"getrandom"}, "getrandom": {"getrandom"}, "epollcreate": {"epoll_create1", "epoll_create"},
	"epollcreate1": {"epoll_create1"}, "epollctl": {"epoll_ctl"}, "epollwait": {"epoll_pwait", "epoll_wait"},
	"setNonblock": {"fcntl"}, "connect": {"connect"}, "socket": {"socket"}, "prctl": {"prctl"},
}

// goKnown is the set of syscall names the name rule may produce: those
// runtime/default knows. A wrapper whose name is not one is not mapped
// (and anything runtime/default does not name, generate would leave out
// anyway).
var goKnown = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, n := range seccomp.AllowedSyscalls(seccomp.Default()) {
		m[n] = true
	}
	return m
})

// splitGoFunc splits a Go function symbol into its package path and
// function name, dropping an ABI suffix (".abi0"). Methods and closures
// ("pkg.(*T).M", "pkg.F.func1") give ok false.
func splitGoFunc(sym string) (pkg, fn string, ok bool) {
	sym = strings.TrimSuffix(sym, ".abi0")
	slash := strings.LastIndexByte(sym, '/')
	dot := strings.IndexByte(sym[slash+1:], '.')
	if dot < 0 {
		return "", "", false
	}
	pkg, fn = sym[:slash+1+dot], sym[slash+1+dot+1:]
	if fn == "" || strings.ContainsAny(fn, ".()*[]") {
		return "", "", false
	}
	return pkg, fn, true
}

// isGoSyscallPackage reports whether pkg is one of goSyscallPackages or a
// vendored copy of one.
func isGoSyscallPackage(pkg string) bool {
	for _, p := range goSyscallPackages {
		if pkg == p || strings.HasSuffix(pkg, "/vendor/"+p) || pkg == "vendor/"+p {
			return true
		}
	}
	return false
}

// isGoCandidate reports whether the Go function symbol sym is worth
// keeping in a trace: a function of goSyscallPackages or a runtime stub of
// goRuntime.
func isGoCandidate(sym string) bool {
	pkg, fn, ok := splitGoFunc(sym)
	if !ok {
		return false
	}
	if pkg == "runtime" {
		_, ok := goRuntime[fn]
		return ok
	}
	return isGoSyscallPackage(pkg) && !slices.Contains(goDispatchers, fn)
}

// GoSyscalls returns the syscalls the Go function sym (as the symbol table
// or pclntab names it: "syscall.Ftruncate", "golang.org/x/sys/unix.Fsync",
// "runtime.futex.abi0") makes, and whether it is a wrapper this package
// can map: a goRuntime stub, a goWrappers entry, or a function of
// goSyscallPackages whose name lowercased or in snake case is a syscall
// runtime/default knows.
func GoSyscalls(sym string) ([]string, bool) {
	pkg, fn, ok := splitGoFunc(sym)
	if !ok {
		return nil, false
	}
	if pkg == "runtime" {
		calls, ok := goRuntime[fn]
		return calls, ok
	}
	if !isGoSyscallPackage(pkg) || slices.Contains(goDispatchers, fn) {
		return nil, false
	}
	if calls, ok := goWrappers[fn]; ok {
		return calls, true
	}
	known := goKnown()
	for _, cand := range []string{strings.ToLower(fn), snake(fn)} {
		if known[cand] {
			return []string{cand}, true
		}
	}
	return nil, false
}

// snake turns CamelCase into snake_case: SyncFileRange is sync_file_range,
// EpollCreate1 is epoll_create1.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

//go:build !amd64

package userns

import "syscall"

// cloneUserns forks the calling process into a new user namespace and
// returns the child's pid in the parent. In the child, which has one thread,
// a copy of the parent's memory and every signal blocked, it never returns:
// the child may only make raw system calls (no allocation, no stack growth,
// no race instrumentation), so this function is nosplit and norace.
//
//go:norace
//go:nosplit
func cloneUserns(ppid uintptr) (pid uintptr, errno syscall.Errno) {
	beforeFork()
	pid, _, errno = syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD)|syscall.CLONE_NEWUSER, 0, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		afterFork()
		return pid, errno
	}
	// Child. Die with the parent thread, and die now if the parent is
	// already gone (we were reparented before the prctl).
	syscall.RawSyscall6(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0, 0)
	if p, _, _ := syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0); p != ppid {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 1, 0, 0)
	}
	for {
		// ppoll with no descriptors and no timeout sleeps until a signal;
		// all are blocked, so only SIGKILL ends it.
		syscall.RawSyscall6(syscall.SYS_PPOLL, 0, 0, 0, 0, 0, 0)
	}
}

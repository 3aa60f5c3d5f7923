package userns

import "syscall"

// cloneVM is in clone_amd64.s.
func cloneVM(flags, ppid uintptr) (pid, errno uintptr)

// cloneUserns starts the child of NewUsernsFD in a new user namespace and
// returns its pid. The child shares the caller's memory (CLONE_VM), so no
// page table is copied and no page of the caller is made copy-on-write:
// on a small VM that is several milliseconds less than a fork of a Go
// process. It is safe because the child (cloneVM, in assembly) touches no
// memory, and it starts with every signal blocked (the runtime's fork
// hooks block them on this thread around the clone), so no signal handler
// of the caller can run on its stack.
func cloneUserns(ppid uintptr) (uintptr, syscall.Errno) {
	beforeFork()
	pid, errno := cloneVM(uintptr(syscall.SIGCHLD)|syscall.CLONE_NEWUSER|syscall.CLONE_VM, ppid)
	afterFork()
	return pid, syscall.Errno(errno)
}

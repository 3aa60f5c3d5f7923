#include "textflag.h"

// func cloneVM(flags uintptr, ppid uintptr) (pid uintptr, errno uintptr)
//
// clone(2) with flags (which include CLONE_VM), no new stack. The child
// shares the caller's memory and runs only the instructions below: no
// call, no push, no memory access at all, so it never touches the stack it
// shares with the caller. It sets PR_SET_PDEATHSIG to SIGKILL, exits if
// its parent is no longer ppid, and otherwise sleeps in ppoll (every
// signal is blocked by the caller) until it is killed.
TEXT ·cloneVM(SB),NOSPLIT|NOFRAME,$0-32
	MOVQ	flags+0(FP), DI
	MOVQ	ppid+8(FP), R12
	XORQ	SI, SI
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	MOVQ	$56, AX // SYS_clone
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	parent
	NEGQ	AX
	MOVQ	$0, pid+16(FP)
	MOVQ	AX, errno+24(FP)
	RET
parent:
	MOVQ	AX, pid+16(FP)
	MOVQ	$0, errno+24(FP)
	RET
child:
	MOVQ	$157, AX // SYS_prctl
	MOVQ	$1, DI // PR_SET_PDEATHSIG
	MOVQ	$9, SI // SIGKILL
	SYSCALL
	MOVQ	$110, AX // SYS_getppid
	SYSCALL
	CMPQ	AX, R12
	JNE	exit
sleep:
	MOVQ	$271, AX // SYS_ppoll(NULL, 0, NULL, NULL, 0)
	XORQ	DI, DI
	XORQ	SI, SI
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	SYSCALL
	JMP	sleep
exit:
	MOVQ	$60, AX // SYS_exit(1): this thread only
	MOVQ	$1, DI
	SYSCALL
	JMP	exit

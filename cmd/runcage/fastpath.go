//go:build linux && cgo

package main

// fastpath.c holds a C constructor that runs before the Go runtime starts
// and, for runc's pass-through verbs (start, state, kill, ps, events,
// pause, resume, list, features, spec), execs the delegate itself when it
// is certain to pass exactly the argv and environment runtime.Main would.
// Whenever it is not certain it returns, and runtime.Main handles the
// invocation as before. For delete it starts the delegate as a child
// instead and returns, and Go waits for it and cleans up (ahead,
// runtime.MainAhead). RUNCAGE_NO_FASTPATH=1 turns it off;
// RUNCAGE_FASTPATH_TRACE=1 makes it write one line to stderr saying what it
// did. Without cgo (or with a libc other than glibc, which passes no argv
// to constructors) the constructor is absent and Go handles everything.

// #cgo CFLAGS: -Wall -Wextra -Wno-unused-parameter
// #include <limits.h>
// extern int runcage_ahead_pid;
// extern int runcage_ahead_lockfd;
// extern char runcage_ahead_delegate[PATH_MAX];
// extern int runcage_warm_absent;
import "C"

import "github.com/runcage/runcage/runtime"

// warmAbsent reports whether fastpath.c's constructor looked for the warm
// front (warm.c) and found no server.
func warmAbsent() bool { return C.runcage_warm_absent != 0 }

// ahead returns the delegate fastpath.c started ahead of the Go front
// (for delete: see runtime.Ahead), if it did.
func ahead() (runtime.Ahead, bool) {
	if C.runcage_ahead_pid <= 0 {
		return runtime.Ahead{}, false
	}
	return runtime.Ahead{
		Pid:      int(C.runcage_ahead_pid),
		LockFD:   int(C.runcage_ahead_lockfd),
		Delegate: C.GoString(&C.runcage_ahead_delegate[0]),
	}, true
}

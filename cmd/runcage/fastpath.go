//go:build linux && cgo

package main

// fastpath.c holds a C constructor that runs before the Go runtime starts
// and, for runc's pass-through verbs (start, state, kill, ps, events,
// pause, resume, list, features, spec), execs the delegate itself when it
// is certain to pass exactly the argv and environment runtime.Main would.
// Whenever it is not certain it returns, and runtime.Main handles the
// invocation as before. RUNCAGE_NO_FASTPATH=1 turns it off;
// RUNCAGE_FASTPATH_TRACE=1 makes it write one line to stderr saying what it
// did. Without cgo (or with a libc other than glibc, which passes no argv
// to constructors) the constructor is absent and Go handles everything.

// #cgo CFLAGS: -Wall -Wextra -Wno-unused-parameter
import "C"

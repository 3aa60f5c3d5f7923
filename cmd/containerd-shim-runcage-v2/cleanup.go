//go:build linux && cgo

package main

// cleanup.c holds a C constructor that answers containerd's `delete`
// (the cleanup containerd runs after every task whose shim connection
// closed) before the Go runtime starts, when the task left nothing to
// clean up: no state file in its bundle, and no socket or a live one (the
// pod's shim, still serving). Any other
// invocation, or one it is not certain of, continues in Go as before.
// RUNCAGE_SHIM_NO_FASTPATH=1 turns it off.

// #cgo CFLAGS: -Wall -Wextra -Wno-unused-parameter
import "C"

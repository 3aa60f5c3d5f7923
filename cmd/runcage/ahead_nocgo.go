//go:build !(linux && cgo)

package main

import "github.com/runcage/runcage/runtime"

// ahead: without cgo there is no C fast path, so nothing started ahead.
func ahead() (runtime.Ahead, bool) { return runtime.Ahead{}, false }

// warmAbsent: without the C fast path nothing looks for the warm front.
func warmAbsent() bool { return false }

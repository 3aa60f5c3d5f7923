//go:build linux

// Package linuxonly is empty, and exists on Linux only: runcage imports it
// on every other OS (see ../linux_only.go), so that a build there fails at
// once with "imports .../linuxonly: build constraints exclude all Go
// files".
package linuxonly

//go:build integration

// Command pause is the sandbox ("pause") process of the test pod image the
// CRI suite builds: it holds a pod's namespaces open and does nothing else.
// It is built with CGO_ENABLED=0 so that the image needs no libc.
//
// It sleeps until SIGTERM or SIGINT, then exits 0. As the pod's PID 1 (when
// the pod shares one PID namespace) it reaps every child that exits, so no
// zombie outlives its parent.
package main

import (
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGCHLD)
	for sig := range sigs {
		if sig == unix.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "pause: %v, exiting\n", sig)
		os.Exit(0)
	}
}

// reap collects every child that has exited. Signals coalesce, so one
// SIGCHLD may stand for several children.
func reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}

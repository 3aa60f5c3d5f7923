// Command containerd-shim-runcage-v2 is runcage's containerd shim (task
// API v2, runtime_type io.containerd.runcage.v2): see package
// github.com/runcage/runcage/runtime/shim.
package main

import (
	"os"
	goruntime "runtime"

	"github.com/runcage/runcage/runtime"
	"github.com/runcage/runcage/runtime/shim"
)

func init() {
	// Keep the main thread for the main goroutine alone. Setting up a
	// pod's user namespace switches one locked thread into the pod's
	// network namespace and never unlocks it; had that goroutine run on
	// the main thread, the Go runtime would keep the thread (it cannot
	// end the main thread), and /proc/self/ns/net, which the
	// host-namespace check of every later container compares against,
	// would name the pod's namespace: the pod's next container was
	// refused as "host network" once in four CRI runs.
	goruntime.LockOSThread()
}

func main() {
	// The create transaction starts runcage's agents (denial logging,
	// recording) by running this binary again.
	if code, ok := runtime.ServeAgent(os.Args); ok {
		os.Exit(code)
	}
	shim.Run()
}

// Command containerd-shim-runcage-v2 is runcage's containerd shim (task
// API v2, runtime_type io.containerd.runcage.v2): see package
// github.com/runcage/runcage/runtime/shim.
package main

import (
	"os"

	"github.com/runcage/runcage/runtime"
	"github.com/runcage/runcage/runtime/shim"
)

func main() {
	// The create transaction starts runcage's agents (denial logging,
	// recording) by running this binary again.
	if code, ok := runtime.ServeAgent(os.Args); ok {
		os.Exit(code)
	}
	shim.Run()
}

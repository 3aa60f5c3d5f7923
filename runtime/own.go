package runtime

import (
	"github.com/runcage/runcage/profiles/policy"
)

// Own plugs runcage's own commands (check, explain, install, profile,
// denials: package runtime/commands) into the front; cmd/runcage passes
// them to Main. The front does not import them, so that a program that
// links the front for its in-process API (the containerd shim) links
// neither them nor what they import (static analysis, the engine
// installers, a command-line framework). With the zero Own no verb is one
// of runcage's own and help has no runcage section.
type Own struct {
	// Is reports whether verb names one of the commands. The front asks
	// it on every invocation, so it must be cheap.
	Is func(verb string) bool
	// Run runs the command line args (from the verb on) and returns the
	// exit code. loadPolicy loads the policy the global flags select.
	Run func(loadPolicy func() (*policy.Policy, error), args []string) int
	// Usage is the section runcage adds to runc's top-level help.
	Usage func() string
}

// isOwn reports whether verb is one of runcage's own commands rather than
// a runc verb.
func (o Own) isOwn(verb string) bool { return o.Is != nil && o.Is(verb) }

// runOwn runs one of runcage's own commands with the policy inv's global
// flags select.
func (o Own) runOwn(inv *Invocation) int {
	return o.Run(func() (*policy.Policy, error) { return loadPolicy(inv.Global) }, inv.Args[inv.VerbIndex:])
}

// usage is the section runcage adds to runc's top-level help, if any.
func (o Own) usage() string {
	if o.Usage == nil {
		return ""
	}
	return o.Usage()
}

// CheckIDMapMounts returns nil if the delegate supports runc's idmap mount
// option (runc 1.2 and later); stateDir caches the delegate's features.
func CheckIDMapMounts(stateDir, delegate string) error {
	return idmapMountsCheck(stateDir, delegate)()
}

// RunDelegate runs the delegate at path with args, a fixed environment and
// a timeout, and returns its standard output.
func RunDelegate(path string, args ...string) ([]byte, error) { return runDelegate(path, args...) }

// Package runtime is runcage's runc-facing front: it scans runc's command
// line, hardens the request of the verbs that start processes (create, run,
// restore, exec) and guards update, then replaces itself with the delegate
// runtime by execve. Every other invocation is forwarded untouched.
package runtime

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/runcage/runcage/profiles/policy"
)

// Version is runcage's version; the build may override it with -ldflags.
var Version = "0.1.0-dev"

// Main runs runcage with argv (os.Args) and its own commands, and never
// returns: it either execs the delegate or exits.
func Main(argv []string, own Own) {
	// runcage's own memory must stay small whatever a bundle holds (the
	// input limits bound what it parses to 4 MiB). A soft limit makes the
	// collector run before the heap doubles on a large config.json; a
	// small one never comes near it, so nothing changes for it.
	debug.SetMemoryLimit(memoryLimit)
	os.Exit(run(argv, own))
}

// memoryLimit is the Go runtime's soft memory limit for runcage.
const memoryLimit = 40 << 20

func run(argv []string, own Own) int {
	if isAgent(argv) {
		return runAgent(argv)
	}
	inv, err := Scan(argv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runcage: %v\n", err)
		return 1
	}
	if own.isOwn(inv.Verb) {
		return own.runOwn(inv)
	}
	// The runc front lives for one verb and its heap stays far below
	// memoryLimit, which alone bounds it: a collection at the default
	// 4 MB goal cost a create about 4 ms of CPU and freed nothing needed.
	debug.SetGCPercent(-1)
	lg := newLogger(inv.Global)
	defer lg.close()

	pol, err := loadPolicy(inv.Global)
	if err != nil {
		lg.errorf("%v", err)
		return 1
	}
	delegate, err := findDelegate(pol.Runtime)
	if err != nil {
		lg.errorf("%v", err)
		return 1
	}
	if inv.Version && inv.Verb == "" {
		fmt.Printf("runcage version %s\n", Version)
	}
	if usage(inv) {
		// runc's help first, unchanged (tools read its first lines),
		// then runcage's own commands and flags.
		code, err := superviseDelegate(delegate, inv.Args, false)
		if err != nil {
			lg.errorf("%v", err)
		}
		fmt.Print(own.usage())
		return code
	}
	after, err := harden(inv, pol, lg, delegate, 0)
	if err != nil {
		lg.errorf("%s", describe(inv, err))
		return 1
	}
	if after != nil {
		// runcage has work to do once the delegate is done: run it as a
		// child rather than replacing itself.
		code, err := superviseDelegate(delegate, inv.Args, forwardsEverySignal(inv))
		if err != nil {
			lg.errorf("%v", err)
		}
		if err := after(code); err != nil {
			lg.errorf("%s", describe(inv, err))
		}
		maybeStartWarm(inv, pol.StateDir)
		return code
	}
	maybeStartWarm(inv, pol.StateDir)
	lg.close()
	err = execDelegate(delegate, inv.Args)
	lg = newLogger(inv.Global)
	lg.errorf("%v", err)
	return 1
}

// afterFunc is work runcage does once the delegate has exited with code,
// which also releases what the invocation holds (the container id's lock).
// A negative code means the delegate's outcome is not known (the warm
// front's caller went away): it then only releases, and undoes nothing, as
// when runcage is killed; delete cleans up later.
type afterFunc func(code int) error

// harden applies the selected profile to the request, for the verbs that
// need it. It returns nil, nil for verbs that are forwarded untouched, and
// an afterFunc when the delegate must be supervised. caller is the process
// that starts the delegate, 0 for this one (see CreateOptions.Caller).
func harden(inv *Invocation, pol *policy.Policy, lg *logger, delegate string, caller int) (afterFunc, error) {
	// Every record runcage keeps is keyed by the root's one canonical
	// spelling (the delegate still gets --root as written).
	inv.Global.Root = canonicalRoot(inv.Global.Root)
	switch inv.Verb {
	case "create", "run", "restore":
		return hardenBundle(inv, pol, lg, delegate, caller)
	case "exec":
		return nil, hardenExec(inv, pol, lg)
	case "update":
		return nil, guardUpdate(inv, pol)
	case "delete":
		return afterDelete(inv, pol, -1)
	}
	return nil, nil
}

// describe prefixes err with the verb and container, as runc does.
func describe(inv *Invocation, err error) string {
	if inv.ContainerID != "" {
		return fmt.Sprintf("%s %q: %v", inv.Verb, inv.ContainerID, err)
	}
	return fmt.Sprintf("%s: %v", inv.Verb, err)
}

// loadPolicy loads the policy named by --runcage-config, else RUNCAGE_CONFIG,
// else the default path (which may be absent).
func loadPolicy(g GlobalFlags) (*policy.Policy, error) {
	path := os.Getenv(policy.EnvConfig)
	if g.RuncageConfig != "" {
		path = g.RuncageConfig
	}
	return LoadPolicyFile(path)
}

// usage reports whether inv asks for runc's top-level help: a global -h or
// --help, `help` with nothing after it, or no command at all.
func usage(inv *Invocation) bool {
	switch {
	case inv.Version:
		return false
	case inv.Verb == "":
		return inv.Help || len(inv.Args) == 0
	case inv.Verb == "help":
		return len(inv.Args) == inv.VerbIndex+1
	}
	return false
}

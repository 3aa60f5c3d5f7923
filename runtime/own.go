package runtime

import (
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime/commands"
)

// isOwn reports whether verb is one of runcage's own commands (package
// commands) rather than a runc verb.
func isOwn(verb string) bool { return commands.Is(verb) }

// runOwn runs one of runcage's own commands with what they need of the
// front: the version, the policy the global flags select, and the
// delegate.
func runOwn(inv *Invocation) int {
	f := &commands.Front{
		Version:      Version,
		LoadPolicy:   func() (*policy.Policy, error) { return loadPolicy(inv.Global) },
		FindDelegate: findDelegate,
		IDMapMounts: func(stateDir, delegate string) error {
			return idmapMountsCheck(stateDir, delegate)()
		},
		RunDelegate: runDelegate,
	}
	return commands.Run(f, inv.Args[inv.VerbIndex:])
}

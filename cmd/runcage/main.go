// Command runcage is a drop-in front for runc that hardens every container
// it starts. See the README.
package main

import (
	"os"

	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime"
	"github.com/runcage/runcage/runtime/commands"
)

func main() {
	if warmAbsent() {
		runtime.NoteWarmMissing()
	}
	if a, ok := ahead(); ok {
		runtime.MainAhead(os.Args, a)
	}
	runtime.Main(os.Args, own)
}

// own plugs runcage's own commands into the front (package runtime does
// not import them: see runtime.Own).
var own = runtime.Own{
	Is:    commands.Is,
	Usage: commands.Usage,
	Run: func(loadPolicy func() (*policy.Policy, error), args []string) int {
		return commands.Run(&commands.Front{
			Version:      runtime.Version,
			LoadPolicy:   loadPolicy,
			FindDelegate: runtime.FindDelegate,
			IDMapMounts:  runtime.CheckIDMapMounts,
			RunDelegate:  runtime.RunDelegate,
		}, args)
	},
}

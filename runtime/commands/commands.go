// Package commands holds runcage's own subcommands, one file per command:
// check, explain, install and profile. None of them is a runc verb; the
// runc-facing front (package runtime) hands a command line to Run when Is
// says its verb is one of these.
package commands

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/runcage/runcage/profiles/policy"
)

// Front is what the commands take from the runc-facing front. The front
// fills every field; the commands never reach into the front otherwise,
// so the front can import this package and tests can pass fakes.
type Front struct {
	// Version is runcage's version.
	Version string
	// LoadPolicy loads the policy the global flags select.
	LoadPolicy func() (*policy.Policy, error)
	// FindDelegate resolves the delegate runtime from the policy's runtime
	// setting ("" for the default search).
	FindDelegate func(configured string) (string, error)
	// IDMapMounts reports, as nil, that the delegate supports runc's idmap
	// mount option; stateDir caches the delegate's features.
	IDMapMounts func(stateDir, delegate string) error
	// RunDelegate runs the delegate with args, a fixed environment and a
	// timeout, and returns its standard output.
	RunDelegate func(path string, args ...string) ([]byte, error)
}

// all builds every command, in the order help lists them.
var all = []func(*Front) *cli.Command{installCommand, checkCommand, profileCommand, explainCommand, denialsCommand}

// names are the names of all, in order. The front asks Is on every
// invocation, so it must not build the commands (22 µs) to learn them;
// TestNamesMatchCommands keeps the two lists in step.
var names = []string{"install", "check", "profile", "explain", "denials"}

// Is reports whether verb names one of runcage's own commands.
func Is(verb string) bool {
	for _, n := range names {
		if n == verb {
			return true
		}
	}
	return false
}

// Run runs the command in args (the command line from the verb on),
// writing to stdout and stderr, and returns the exit code.
func Run(f *Front, args []string) int {
	app := &cli.App{
		Name:      "runcage",
		Usage:     "a drop-in runc front that hardens every container",
		Version:   f.Version,
		Writer:    os.Stdout,
		ErrWriter: os.Stderr,
	}
	for _, mk := range all {
		app.Commands = append(app.Commands, mk(f))
	}
	if err := app.Run(append([]string{"runcage"}, args...)); err != nil {
		fmt.Fprintf(os.Stderr, "runcage: %v\n", err)
		return 1
	}
	return 0
}

// Usage is the section runcage adds to runc's help (`runcage --help`,
// `runcage help`): its own commands, with their one-line usage, and its own
// global flags, which the front strips before it calls the delegate.
func Usage() string {
	var b strings.Builder
	b.WriteString("\nRUNCAGE:\n   runcage accepts every runc command and flag above, and hardens create, run,\n   restore, exec and update with the selected profile. Its own commands:\n\n")
	for _, mk := range all {
		c := mk(&Front{})
		fmt.Fprintf(&b, "   %-10s %s\n", c.Name, c.Usage)
	}
	b.WriteString("\nRUNCAGE GLOBAL OPTIONS:\n")
	b.WriteString("   --runcage-profile NAME  the profile to apply (else runcage-NAME as argv[0], else the policy's default)\n")
	b.WriteString("   --runcage-config PATH   the policy file (else $RUNCAGE_CONFIG, else /etc/runcage/config.toml)\n")
	b.WriteString("\n   `runcage COMMAND --help` shows a command's flags.\n")
	return b.String()
}

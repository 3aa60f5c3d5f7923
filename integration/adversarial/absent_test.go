//go:build integration

package adversarial

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// capsScript prints Pwned when the process has any effective capability.
const capsScript = `c=$(grep '^CapEff:' /proc/self/status | tr -d 'CapEf:\t '); [ "$c" != 0000000000000000 ] && echo ` + Pwned + `; true`

// TestAbsentMembers: class 1, members runc acts on when they are absent.
func TestAbsentMembers(t *testing.T) {
	RunCases(t, []Case{
		{
			Name: "no-process-capabilities", Class: 1, Script: capsScript, Expect: Contained,
			Mutate: func(_ *Env, s *specs.Spec) { s.Process.Capabilities = nil },
		},
	})
}

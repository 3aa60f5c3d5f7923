package seccomp

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Builders for small filters.

func filt(def specs.LinuxSeccompAction, rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: def, Syscalls: rules}
}

func errnoFilt(rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
	return filt(specs.ActErrno, rules...)
}

func sc(a specs.LinuxSeccompAction, names ...string) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: names, Action: a}
}

func allow(names ...string) specs.LinuxSyscall { return sc(specs.ActAllow, names...) }

func errnoRule(e uint, names ...string) specs.LinuxSyscall {
	r := sc(specs.ActErrno, names...)
	r.ErrnoRet = &e
	return r
}

func with(r specs.LinuxSyscall, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
	r.Args = args
	return r
}

func arg(i uint, op specs.LinuxSeccompOperator, v uint64) specs.LinuxSeccompArg {
	return specs.LinuxSeccompArg{Index: i, Op: op, Value: v}
}

func eq(i uint, v uint64) specs.LinuxSeccompArg { return arg(i, specs.OpEqualTo, v) }

// cloneMask is the namespace-creating clone flags Docker and runcage refuse.
const cloneMask = 0x7E020000

func masked() specs.LinuxSeccompArg { return arg(0, specs.OpMaskedEqual, cloneMask) }

func uintp(v uint) *uint { return &v }

// view is a filter's meaning: per syscall name, the sorted keys of the rules
// runc keeps, plus the default action under the name "<default>".
func view(t *testing.T, f *specs.LinuxSeccomp) map[string][]string {
	t.Helper()
	if err := validate(f); err != nil {
		t.Fatalf("invalid filter: %v", err)
	}
	ix := index(f)
	out := map[string][]string{"<default>": {ix.defRule.actionKey()}}
	for n, rules := range ix.byName {
		var keys []string
		for _, r := range rules {
			keys = append(keys, r.key())
		}
		slices.Sort(keys)
		out[n] = keys
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Docker's profile format (github.com/moby/moby profiles/seccomp), read only
// by the tests.

type dockerProfile struct {
	DefaultAction   specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet *uint                    `json:"defaultErrnoRet"`
	ArchMap         []struct {
		Arch    specs.Arch   `json:"architecture"`
		SubArch []specs.Arch `json:"subArchitectures"`
	} `json:"archMap"`
	Syscalls []dockerSyscall `json:"syscalls"`
}

type dockerSyscall struct {
	Names    []string                 `json:"names"`
	Action   specs.LinuxSeccompAction `json:"action"`
	ErrnoRet *uint                    `json:"errnoRet"`
	Args     []specs.LinuxSeccompArg  `json:"args"`
	Comment  string                   `json:"comment"`
	Includes dockerFilter             `json:"includes"`
	Excludes dockerFilter             `json:"excludes"`
}

type dockerFilter struct {
	Caps      []string `json:"caps"`
	Arches    []string `json:"arches"`
	MinKernel string   `json:"minKernel"`
}

// dockerArches are Docker's (GOARCH-style) names for the architectures
// runcage's default lists.
var dockerArches = []string{"amd64", "x86", "x32", "arm64", "arm"}

// dockerDefault resolves testdata/docker-default.json the way Docker would
// for a container without capabilities on any of runcage's architectures: a
// rule that needs a capability is dropped, a rule that excludes a capability
// is kept, an arch-specific rule is kept if it applies to one of runcage's
// architectures, and minKernel is taken as satisfied. The result is an OCI
// filter listing runcage's architectures.
func dockerDefault(t testing.TB) *specs.LinuxSeccomp {
	t.Helper()
	data, err := os.ReadFile("testdata/docker-default.json")
	if err != nil {
		t.Fatal(err)
	}
	var p dockerProfile
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	out := &specs.LinuxSeccomp{
		DefaultAction:   p.DefaultAction,
		DefaultErrnoRet: p.DefaultErrnoRet,
		Architectures:   Default().Architectures,
	}
	applies := func(arches []string) bool {
		return slices.ContainsFunc(arches, func(a string) bool { return slices.Contains(dockerArches, a) })
	}
	for _, s := range p.Syscalls {
		if len(s.Includes.Caps) > 0 {
			continue
		}
		if len(s.Includes.Arches) > 0 && !applies(s.Includes.Arches) {
			continue
		}
		if len(s.Excludes.Arches) > 0 && !slices.ContainsFunc(dockerArches, func(a string) bool {
			return !slices.Contains(s.Excludes.Arches, a)
		}) {
			continue
		}
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{
			Names: s.Names, Action: s.Action, ErrnoRet: s.ErrnoRet, Args: s.Args,
		})
	}
	if err := validate(out); err != nil {
		t.Fatalf("docker default: %v", err)
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	return slices.Sorted(maps.Keys(m))
}

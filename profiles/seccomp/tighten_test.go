package seccomp

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// baseProfile allows read, write, openat and socket for all arguments, clone
// without namespace flags, personality(0), and answers clone3 with ENOSYS.
func baseProfile() *specs.LinuxSeccomp {
	p := errnoFilt(
		allow("read", "write", "openat", "socket"),
		with(allow("clone"), masked()),
		with(allow("personality"), eq(0, 0)),
		errnoRule(38, "clone3"),
	)
	p.DefaultErrnoRet = uintp(1)
	p.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchAARCH64}
	return p
}

// Rule keys, as view prints them.
const (
	kAllow   = "SCMP_ACT_ALLOW[]"
	kClone   = "SCMP_ACT_ALLOW[0 SCMP_CMP_MASKED_EQ 2114060288 0]"
	kPers0   = "SCMP_ACT_ALLOW[0 SCMP_CMP_EQ 0 0]"
	kENOSYS  = "SCMP_ACT_ERRNO(38)[]"
	kDefault = "SCMP_ACT_ERRNO(1)"
)

// base returns the view of baseProfile with changes: a nil value removes the
// name.
func base(changes map[string][]string) map[string][]string {
	v := map[string][]string{
		"<default>":   {kDefault},
		"read":        {kAllow},
		"write":       {kAllow},
		"openat":      {kAllow},
		"socket":      {kAllow},
		"clone":       {kClone},
		"personality": {kPers0},
		"clone3":      {kENOSYS},
	}
	for n, keys := range changes {
		if keys == nil {
			delete(v, n)
		} else {
			v[n] = keys
		}
	}
	return v
}

func withListener(f *specs.LinuxSeccomp, path string) *specs.LinuxSeccomp {
	f.ListenerPath = path
	return f
}

type tightenCase struct {
	name    string
	profile *specs.LinuxSeccomp // nil means baseProfile()
	bundle  *specs.LinuxSeccomp
	want    map[string][]string
	// Architectures, flags and listener of the result; checked when set.
	wantArch     []specs.Arch
	wantFlags    []specs.LinuxSeccompFlag
	wantListener string
}

func tightenCases() []tightenCase {
	pArch := baseProfile().Architectures
	return []tightenCase{
		{
			name:   "bundle default allows everything: profile's rules",
			bundle: filt(specs.ActAllow),
			want:   base(nil),
		},
		{
			name:   "bundle default LOG counts as allowing",
			bundle: filt(specs.ActLog),
			want:   base(nil),
		},
		{
			name:   "bundle allowlist denies what it does not name",
			bundle: errnoFilt(allow("read")),
			want: base(map[string][]string{
				"write": nil, "openat": nil, "socket": nil, "clone": nil, "personality": nil,
			}),
		},
		{
			name:   "rule repeating the bundle's default is a no-op",
			bundle: errnoFilt(allow("read"), errnoRule(1, "write")),
			want: base(map[string][]string{
				"write": nil, "openat": nil, "socket": nil, "clone": nil, "personality": nil,
			}),
		},
		{
			name: "bundle unconditional, profile conditional: profile's conditions",
			bundle: errnoFilt(
				allow("read", "write", "openat", "socket", "clone", "personality", "clone3"),
			),
			want: base(nil),
		},
		{
			name: "bundle conditional, profile unconditional: bundle's conditions",
			bundle: errnoFilt(
				allow("read", "write"),
				with(allow("socket"), eq(0, 2)),
				with(allow("socket"), eq(0, 10)),
				with(specs.LinuxSyscall{Names: []string{"openat"}, Action: specs.ActLog}, arg(2, specs.OpMaskedEqual, 3)),
			),
			want: base(map[string][]string{
				"socket":      {"SCMP_ACT_ALLOW[0 SCMP_CMP_EQ 10 0]", "SCMP_ACT_ALLOW[0 SCMP_CMP_EQ 2 0]"},
				"openat":      {"SCMP_ACT_LOG[2 SCMP_CMP_MASKED_EQ 3 0]"},
				"clone":       nil,
				"personality": nil,
			}),
		},
		{
			name: "both conditional and identical: kept",
			bundle: errnoFilt(
				with(allow("clone"), masked()),
				with(allow("personality"), eq(0, 0)),
			),
			want: base(map[string][]string{"read": nil, "write": nil, "openat": nil, "socket": nil}),
		},
		{
			// personality: EQ 0 lies inside the bundle's EQ 0 or EQ 8;
			// clone: two masks on one argument cannot be conjoined.
			name: "both conditional and different: the provable intersection",
			bundle: errnoFilt(
				allow("read"),
				with(allow("clone"), arg(0, specs.OpMaskedEqual, 0x7E000000)),
				with(allow("personality"), eq(0, 0)),
				with(allow("personality"), eq(0, 8)),
			),
			want: base(map[string][]string{
				"write": nil, "openat": nil, "socket": nil, "clone": nil,
			}),
		},
		{
			// The kill rule's argument is one the mask rejects: the two
			// are disjoint, so both are kept.
			name: "bundle conditional kill apart from identical conditions: both kept",
			bundle: errnoFilt(
				with(allow("clone"), masked()),
				with(sc(specs.ActKillProcess, "clone"), eq(0, 0x10000000)),
			),
			want: base(map[string][]string{
				"read": nil, "write": nil, "openat": nil, "socket": nil, "personality": nil,
				"clone": {kClone, "SCMP_ACT_KILL_PROCESS[0 SCMP_CMP_EQ 268435456 0]"},
			}),
		},
		{
			// A kill rule that may overlap the allowed arguments: libseccomp
			// would pick by tree layout, so the syscall is denied.
			name: "bundle conditional kill overlapping identical conditions: denied",
			bundle: errnoFilt(
				with(allow("clone"), masked()),
				with(sc(specs.ActKillProcess, "clone"), eq(0, 0x100)),
			),
			want: base(map[string][]string{
				"read": nil, "write": nil, "openat": nil, "socket": nil, "personality": nil,
				"clone": nil,
			}),
		},
		{
			name: "bundle denies allowed syscalls with its own actions",
			bundle: filt(specs.ActAllow,
				errnoRule(13, "write"),
				sc(specs.ActKillProcess, "read"),
				sc(specs.ActTrap, "personality"),
				sc(specs.ActKill, "clone"),
			),
			want: base(map[string][]string{
				"write":       {"SCMP_ACT_ERRNO(13)[]"},
				"read":        {"SCMP_ACT_KILL_PROCESS[]"},
				"personality": {"SCMP_ACT_TRAP[]"},
				"clone":       {"SCMP_ACT_KILL_THREAD[]"}, // KILL is runc's alias
			}),
		},
		{
			name:         "bundle NOTIFY on an unconditionally allowed syscall is carried over",
			bundle:       withListener(filt(specs.ActAllow, sc(specs.ActNotify, "openat")), "/run/agent.sock"),
			want:         base(map[string][]string{"openat": {"SCMP_ACT_NOTIFY[]"}}),
			wantListener: "/run/agent.sock",
		},
		{
			name: "bundle NOTIFY or TRACE on a conditionally allowed syscall sees only the profile's arguments",
			bundle: filt(specs.ActAllow,
				sc(specs.ActNotify, "clone"),
				sc(specs.ActTrace, "personality"),
			),
			want: base(map[string][]string{
				"clone":       {"SCMP_ACT_NOTIFY[0 SCMP_CMP_MASKED_EQ 2114060288 0]"},
				"personality": {"SCMP_ACT_TRACE(1)[0 SCMP_CMP_EQ 0 0]"},
			}),
		},
		{
			name: "bundle conditional NOTIFY on a conditionally allowed syscall: kept only on the profile's conditions",
			bundle: errnoFilt(
				with(sc(specs.ActNotify, "personality"), eq(0, 0)),
				with(sc(specs.ActNotify, "clone"), eq(0, 0)),
			),
			want: base(map[string][]string{
				"read": nil, "write": nil, "openat": nil, "socket": nil, "clone": nil,
				"personality": {"SCMP_ACT_NOTIFY[0 SCMP_CMP_EQ 0 0]"},
			}),
		},
		{
			name: "bundle denies some arguments: the syscall is denied for all",
			bundle: filt(specs.ActAllow,
				with(errnoRule(13, "socket"), eq(0, 17)),
				with(sc(specs.ActKillProcess, "clone"), arg(0, specs.OpMaskedEqual, 0x10000000)),
				with(sc(specs.ActNotify, "personality"), eq(0, 8)),
			),
			want: base(map[string][]string{
				"socket":      {"SCMP_ACT_ERRNO(13)[0 SCMP_CMP_EQ 17 0]"},
				"clone":       {"SCMP_ACT_KILL_PROCESS[0 SCMP_CMP_MASKED_EQ 268435456 0]"},
				"personality": nil,
			}),
		},
		{
			name: "ambiguous bundle (unconditional allow and conditional errno): denied",
			bundle: errnoFilt(
				allow("read", "write", "openat", "socket"),
				with(errnoRule(13, "socket"), eq(0, 17)),
			),
			want: base(map[string][]string{
				"socket": {"SCMP_ACT_ERRNO(13)[0 SCMP_CMP_EQ 17 0]"},
				"clone":  nil, "personality": nil,
			}),
		},
		{
			name: "bundle with disjoint conditional allow and kill: bundle's rules",
			bundle: errnoFilt(
				allow("read"),
				with(allow("socket"), eq(0, 2)),
				with(sc(specs.ActKillProcess, "socket"), eq(0, 17)),
			),
			want: base(map[string][]string{
				"socket": {"SCMP_ACT_ALLOW[0 SCMP_CMP_EQ 2 0]", "SCMP_ACT_KILL_PROCESS[0 SCMP_CMP_EQ 17 0]"},
				"write":  nil, "openat": nil, "clone": nil, "personality": nil,
			}),
		},
		{
			name:   "syscalls the profile denies stay denied",
			bundle: errnoFilt(allow("read", "write", "openat", "socket", "ptrace", "mount", "clone3")),
			want:   base(map[string][]string{"clone": nil, "personality": nil}),
		},
		{
			name: "stricter bundle rules for denied syscalls are carried over",
			bundle: filt(specs.ActAllow,
				sc(specs.ActKillProcess, "ptrace"),
				sc(specs.ActTrap, "mount"),
				sc(specs.ActKillThread, "clone3"),
				with(sc(specs.ActKillProcess, "bpf"), eq(0, 5)),
			),
			want: base(map[string][]string{
				"ptrace": {"SCMP_ACT_KILL_PROCESS[]"},
				"mount":  {"SCMP_ACT_TRAP[]"},
				"clone3": {"SCMP_ACT_KILL_THREAD[]"},
				"bpf":    {"SCMP_ACT_KILL_PROCESS[0 SCMP_CMP_EQ 5 0]"},
			}),
		},
		{
			name: "bundle rules for denied syscalls that are not stricter are ignored",
			bundle: filt(specs.ActAllow,
				errnoRule(1, "clone3"),
				errnoRule(5, "ptrace"),
				sc(specs.ActNotify, "mount"),
				sc(specs.ActTrace, "bpf"),
				sc(specs.ActLog, "umount2"),
				with(sc(specs.ActKillProcess, "clone3"), eq(0, 0)),
			),
			want: base(nil),
		},
		{
			name: "stricter bundle default wins",
			bundle: filt(specs.ActKillProcess,
				allow("read", "write", "openat", "socket", "clone", "personality", "clone3")),
			want: base(map[string][]string{"<default>": {"SCMP_ACT_KILL_PROCESS"}}),
		},
		{
			name: "equal defaults keep the profile's errno",
			bundle: func() *specs.LinuxSeccomp {
				b := errnoFilt(allow("read", "write", "openat", "socket", "clone", "personality"))
				b.DefaultErrnoRet = uintp(38)
				return b
			}(),
			want: base(nil),
		},
		{
			name: "blocklist profile under an allowlist bundle",
			profile: filt(specs.ActAllow,
				sc(specs.ActKillProcess, "ptrace"),
				errnoRule(1, "mount"),
			),
			bundle: errnoFilt(allow("read", "ptrace", "mount")),
			want: map[string][]string{
				"<default>": {kDefault},
				"read":      {kAllow},
				"ptrace":    {"SCMP_ACT_KILL_PROCESS[]"},
			},
		},
		{
			name: "two blocklists",
			profile: filt(specs.ActAllow,
				sc(specs.ActKillProcess, "ptrace"),
			),
			bundle: filt(specs.ActLog, errnoRule(1, "mount"), sc(specs.ActTrap, "ptrace")),
			want: map[string][]string{
				"<default>": {"SCMP_ACT_LOG"},
				"ptrace":    {"SCMP_ACT_KILL_PROCESS[]"},
				"mount":     {kDefault + "[]"},
			},
		},
		{
			name:    "blocklist profile's partial denial is not handed to a bundle listener",
			profile: filt(specs.ActAllow, with(errnoRule(13, "socket"), eq(0, 17))),
			bundle:  withListener(filt(specs.ActAllow, sc(specs.ActNotify, "socket")), "/run/agent.sock"),
			want: map[string][]string{
				"<default>": {"SCMP_ACT_ALLOW"},
				"socket":    {"SCMP_ACT_ERRNO(13)[0 SCMP_CMP_EQ 17 0]"},
			},
			wantListener: "/run/agent.sock",
		},
		{
			name: "architectures: the profile's that the bundle lists",
			bundle: &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Architectures: []specs.Arch{specs.ArchX32, specs.ArchAARCH64, specs.ArchX86_64},
			},
			want:     base(nil),
			wantArch: []specs.Arch{specs.ArchX86_64, specs.ArchAARCH64},
		},
		{
			name:     "architectures: none listed by the bundle means native only",
			bundle:   filt(specs.ActAllow),
			want:     base(nil),
			wantArch: []specs.Arch{},
		},
		{
			name: "flags are the union; listener from the profile when the bundle has none",
			profile: func() *specs.LinuxSeccomp {
				p := baseProfile()
				p.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow}
				p.ListenerPath = "/run/runcage/agent.sock"
				return p
			}(),
			bundle: &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
				Architectures: pArch,
			},
			want:         base(nil),
			wantArch:     pArch,
			wantFlags:    []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
			wantListener: "/run/runcage/agent.sock",
		},
	}
}

func hasMayAllow(fs ...*specs.LinuxSeccomp) bool {
	for _, f := range fs {
		if mayAllow(f.DefaultAction) {
			return true
		}
		for _, s := range f.Syscalls {
			if mayAllow(s.Action) {
				return true
			}
		}
	}
	return false
}

func TestTighten(t *testing.T) {
	for _, tt := range tightenCases() {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.profile
			if p == nil {
				p = baseProfile()
			}
			pBefore, bBefore := mustJSON(t, p), mustJSON(t, tt.bundle)

			got, err := Tighten(p, tt.bundle)
			if err != nil {
				t.Fatalf("Tighten: %v", err)
			}
			if v := view(t, got); !reflect.DeepEqual(v, tt.want) {
				t.Errorf("Tighten view:\n got %v\nwant %v\nresult %s", v, tt.want, mustJSON(t, got))
			}
			if tt.wantArch != nil && !slices.Equal(got.Architectures, tt.wantArch) {
				t.Errorf("architectures %v, want %v", got.Architectures, tt.wantArch)
			}
			if tt.wantFlags != nil && !slices.Equal(got.Flags, tt.wantFlags) {
				t.Errorf("flags %v, want %v", got.Flags, tt.wantFlags)
			}
			if got.ListenerPath != tt.wantListener {
				t.Errorf("listenerPath %q, want %q", got.ListenerPath, tt.wantListener)
			}

			// Inputs are not modified.
			if mustJSON(t, p) != pBefore || mustJSON(t, tt.bundle) != bBefore {
				t.Error("Tighten modified an input")
			}
			// Idempotent.
			again, err := Tighten(p, got)
			if err != nil {
				t.Fatalf("Tighten again: %v", err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("not idempotent:\nonce  %s\ntwice %s", mustJSON(t, got), mustJSON(t, again))
			}
			// Never allows what either input denies. TRACE and NOTIFY
			// hand the decision to another process, which Covers
			// counts as allowing in narrow but denying in wide.
			if !hasMayAllow(p, tt.bundle) {
				if err := Covers(p, got); err != nil {
					t.Errorf("result not covered by the profile: %v", err)
				}
				if err := Covers(tt.bundle, got); err != nil {
					t.Errorf("result not covered by the bundle: %v", err)
				}
			}
			// Deterministic whatever the order of the bundle's rules.
			shuffled := clone(tt.bundle)
			rand.Shuffle(len(shuffled.Syscalls), func(i, j int) {
				shuffled.Syscalls[i], shuffled.Syscalls[j] = shuffled.Syscalls[j], shuffled.Syscalls[i]
			})
			for i := range shuffled.Syscalls {
				slices.Reverse(shuffled.Syscalls[i].Names)
			}
			if s, err := Tighten(p, shuffled); err != nil || !reflect.DeepEqual(s, got) {
				t.Errorf("order of the bundle's rules changed the result (err %v)", err)
			}
			// libseccomp accepts the result.
			if err := Compile(got); err != nil && !errors.Is(err, ErrSeccompNotEnabled) {
				t.Errorf("Compile(result): %v", err)
			}
		})
	}
}

func TestTightenNoBundleFilter(t *testing.T) {
	for _, b := range []*specs.LinuxSeccomp{nil, {}, {Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}}} {
		p := Default()
		got, err := Tighten(p, b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("Tighten(p, %+v) is not a copy of p", b)
		}
		got.Syscalls[0].Names[0] = "mutated"
		if reflect.DeepEqual(got, p) {
			t.Error("result shares memory with the profile")
		}
	}
}

func TestTightenSelf(t *testing.T) {
	for name, p := range map[string]*specs.LinuxSeccomp{
		"default": Default(),
		"base":    baseProfile(),
		"docker":  dockerDefault(t),
		"blocklist": filt(specs.ActAllow,
			sc(specs.ActKillProcess, "ptrace"),
			with(errnoRule(13, "socket"), eq(0, 17)),
		),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Tighten(p, p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(view(t, got), view(t, p)) {
				t.Errorf("Tighten(p, p) differs from p:\n got %v\nwant %v", view(t, got), view(t, p))
			}
			if !slices.Equal(got.Architectures, p.Architectures) {
				t.Errorf("architectures %v, want %v", got.Architectures, p.Architectures)
			}
		})
	}
}

// TestTightenDefaultIsCanonical checks that default.json is written in the
// form Tighten produces, so that the filter of a bundle without one and the
// filter of a bundle with Docker's both look like default.json.
func TestTightenDefaultIsCanonical(t *testing.T) {
	got, err := Tighten(Default(), Default())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("Tighten(Default(), Default()) is not Default():\n%s", mustJSON(t, got))
	}
}

// TestTightenDefaultWithDocker tightens runcage's default with Docker's
// default as the bundle, as for a container started by dockerd.
func TestTightenDefaultWithDocker(t *testing.T) {
	got, err := Tighten(Default(), dockerDefault(t))
	if err != nil {
		t.Fatal(err)
	}
	want := Default() // Docker's bundle lists the same architectures here
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Tighten(Default(), docker) differs from Default():\n got %v\nwant %v", view(t, got), view(t, want))
	}
}

func TestTightenOutputShape(t *testing.T) {
	b := filt(specs.ActAllow, sc(specs.ActKillProcess, "ptrace", "mount"), errnoRule(13, "write"))
	got, err := Tighten(baseProfile(), b)
	if err != nil {
		t.Fatal(err)
	}
	want := []specs.LinuxSyscall{
		allow("openat", "read", "socket"),
		with(allow("personality"), eq(0, 0)),
		with(allow("clone"), masked()),
		errnoRule(13, "write"),
		errnoRule(38, "clone3"),
		sc(specs.ActKillProcess, "mount", "ptrace"),
	}
	if !reflect.DeepEqual(got.Syscalls, want) {
		t.Errorf("syscalls:\n got %s\nwant %s", mustJSON(t, got.Syscalls), mustJSON(t, want))
	}
}

func TestTightenErrors(t *testing.T) {
	bad := errnoFilt(sc("SCMP_ACT_MAYBE", "read"))
	tests := []struct {
		name        string
		profile     *specs.LinuxSeccomp
		bundle      *specs.LinuxSeccomp
		wantRefused bool
		wantText    string
	}{
		{name: "invalid bundle", profile: baseProfile(), bundle: bad, wantRefused: true, wantText: `bundle seccomp filter refused: invalid seccomp filter: syscalls[0]: "read": unknown action "SCMP_ACT_MAYBE"`},
		{name: "bundle without default action", profile: baseProfile(), bundle: &specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{allow("read")}}, wantRefused: true, wantText: "defaultAction is empty"},
		{name: "invalid profile", profile: bad, bundle: baseProfile(), wantText: "check profile seccomp filter: invalid seccomp filter"},
		{name: "nil profile", profile: nil, bundle: baseProfile(), wantText: "no filter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Tighten(tt.profile, tt.bundle)
			if err == nil {
				t.Fatal("Tighten succeeded")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not satisfy ErrInvalid", err)
			}
			if errors.Is(err, profiles.ErrRefused) != tt.wantRefused {
				t.Errorf("errors.Is(%q, ErrRefused) = %v, want %v", err, !tt.wantRefused, tt.wantRefused)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantText)
			}
		})
	}
}

// TestTightenNeverWidens tightens random bundles built from the base
// profile's vocabulary and checks the result against both inputs.
func TestTightenNeverWidens(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"read", "write", "socket", "clone", "personality", "clone3", "ptrace"}
	actions := []specs.LinuxSeccompAction{
		specs.ActAllow, specs.ActAllow, specs.ActAllow, specs.ActLog, specs.ActErrno,
		specs.ActKillProcess, specs.ActTrap, specs.ActKillThread,
	}
	args := [][]specs.LinuxSeccompArg{nil, nil, {masked()}, {eq(0, 0)}, {eq(0, 2)}, {eq(0, 17), eq(1, 1)}}
	p := baseProfile()
	for i := range 2000 {
		b := &specs.LinuxSeccomp{DefaultAction: actions[rng.IntN(len(actions))]}
		for range rng.IntN(6) {
			r := specs.LinuxSyscall{
				Names:  []string{names[rng.IntN(len(names))]},
				Action: actions[rng.IntN(len(actions))],
				Args:   args[rng.IntN(len(args))],
			}
			if r.Action == specs.ActErrno {
				r.ErrnoRet = uintp(uint(rng.IntN(3)) + 1)
			}
			b.Syscalls = append(b.Syscalls, r)
		}
		got, err := Tighten(p, b)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if err := Covers(p, got); err != nil {
			t.Fatalf("case %d: bundle %s: result not covered by the profile: %v", i, mustJSON(t, b), err)
		}
		if err := Covers(b, got); err != nil {
			t.Fatalf("case %d: bundle %s: result %s not covered by the bundle: %v", i, mustJSON(t, b), mustJSON(t, got), err)
		}
		again, err := Tighten(p, got)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("case %d: bundle %s: not idempotent (%v):\nonce  %s\ntwice %s", i, mustJSON(t, b), err, mustJSON(t, got), mustJSON(t, again))
		}
		if i%100 == 0 {
			if err := Compile(got); err != nil && !errors.Is(err, ErrSeccompNotEnabled) {
				t.Fatalf("case %d: Compile(result %s): %v", i, mustJSON(t, got), err)
			}
		}
	}
}

func TestTightenListener(t *testing.T) {
	p := baseProfile()
	p.ListenerPath, p.ListenerMetadata = "/run/runcage/agent.sock", "profile"
	tests := []struct {
		name               string
		path, meta         string
		wantPath, wantMeta string
	}{
		{name: "bundle without listener", wantPath: "/run/runcage/agent.sock", wantMeta: "profile"},
		{name: "bundle listener without metadata", path: "/run/b.sock", wantPath: "/run/b.sock"},
		{name: "bundle listener with metadata", path: "/run/b.sock", meta: "bundle", wantPath: "/run/b.sock", wantMeta: "bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := filt(specs.ActAllow)
			b.ListenerPath, b.ListenerMetadata = tt.path, tt.meta
			got, err := Tighten(p, b)
			if err != nil {
				t.Fatal(err)
			}
			if got.ListenerPath != tt.wantPath || got.ListenerMetadata != tt.wantMeta {
				t.Errorf("listener %q %q, want %q %q", got.ListenerPath, got.ListenerMetadata, tt.wantPath, tt.wantMeta)
			}
		})
	}
}

// TestTightenNormalForm checks that spellings runc treats alike come out as
// one entry: SCMP_ACT_KILL and SCMP_ACT_KILL_THREAD, and TRACE with and
// without its default return code.
func TestTightenNormalForm(t *testing.T) {
	traceEPERM := sc(specs.ActTrace, "socket")
	traceEPERM.ErrnoRet = uintp(1)
	b := filt(specs.ActAllow,
		sc(specs.ActKill, "read"),
		sc(specs.ActKillThread, "write"),
		sc(specs.ActTrace, "openat"),
		traceEPERM,
	)
	want := []specs.LinuxSyscall{
		with(allow("personality"), eq(0, 0)),
		with(allow("clone"), masked()),
		{Names: []string{"openat", "socket"}, Action: specs.ActTrace, ErrnoRet: uintp(1)},
		errnoRule(38, "clone3"),
		sc(specs.ActKillThread, "read", "write"),
	}
	for range 20 { // map order must not matter
		got, err := Tighten(baseProfile(), b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Syscalls, want) {
			t.Fatalf("syscalls:\n got %s\nwant %s", mustJSON(t, got.Syscalls), mustJSON(t, want))
		}
	}
}

func TestTightenBundleFlags(t *testing.T) {
	withFlags := func(f *specs.LinuxSeccomp, fl ...specs.LinuxSeccompFlag) *specs.LinuxSeccomp {
		f.Flags = fl
		return f
	}
	for _, tt := range []struct {
		name      string
		profile   *specs.LinuxSeccomp
		bundle    *specs.LinuxSeccomp
		refused   string // substring of the refusal, "" for none
		wantFlags []specs.LinuxSeccompFlag
	}{
		{"log kept", baseProfile(), withFlags(filt(specs.ActAllow), specs.LinuxSeccompFlagLog), "", []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}},
		{"tsync and wait killable kept", baseProfile(), withFlags(filt(specs.ActAllow), flagTsync, specs.LinuxSeccompFlagWaitKillableRecv), "", []specs.LinuxSeccompFlag{flagTsync, specs.LinuxSeccompFlagWaitKillableRecv}},
		{"spec allow refused", baseProfile(), withFlags(filt(specs.ActAllow), specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow), `"SECCOMP_FILTER_FLAG_SPEC_ALLOW" refused`, nil},
		{"spec allow set by the profile passes", withFlags(baseProfile(), specs.LinuxSeccompFlagSpecAllow), withFlags(filt(specs.ActAllow), specs.LinuxSeccompFlagSpecAllow), "", []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow}},
		{"unknown flag refused", baseProfile(), withFlags(filt(specs.ActAllow), "SECCOMP_FILTER_FLAG_NEW_LISTENER"), "unknown flag", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.bundle.Architectures = tt.profile.Architectures
			got, err := Tighten(tt.profile, tt.bundle)
			if tt.refused != "" {
				if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), tt.refused) {
					t.Fatalf("Tighten: %v, want a refusal containing %q", err, tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Flags, tt.wantFlags) {
				t.Errorf("flags %v, want %v", got.Flags, tt.wantFlags)
			}
			if _, err := Tighten(tt.profile, got); err != nil {
				t.Errorf("Tighten of its own result: %v", err)
			}
		})
	}
}

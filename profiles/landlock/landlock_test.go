package landlock

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/seccomp"
)

func parse(t *testing.T, text string) *profiles.Landlock {
	t.Helper()
	var p profiles.Profile
	md, err := toml.Decode(text, &p)
	if err != nil {
		t.Fatal(err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Fatalf("undecoded keys %v", und)
	}
	return p.Landlock
}

const sample = `
[landlock]
require = "required"
bind = [8080]
scopes = ["signal"]
[[landlock.fs]]
path = "/etc/passwd"
access = ["read"]
[[landlock.fs]]
path = "/bin"
access = ["read", "execute", "list"]
`

func TestParseAndArgs(t *testing.T) {
	l := parse(t, sample)
	if err := Check(l); err != nil {
		t.Fatal(err)
	}
	if l.Connect != nil || l.Bind == nil {
		t.Fatalf("bind/connect presence: %v %v", l.Bind, l.Connect)
	}
	args, err := HelperArgs(l)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-R", "-a", "6", "-f", "4", "/etc/passwd", "-f", "13", "/bin", "-n", "1", "-b", "8080", "-s", "2"}
	if !slices.Equal(args, want) {
		t.Fatalf("args %q, want %q", args, want)
	}
	if need, why := Need(l); need != 6 || why != "scopes" {
		t.Fatalf("Need = %d %q", need, why)
	}
	// An empty bind list restricts binding to no port at all.
	l = parse(t, "[landlock]\nbind = []\n")
	if !Active(l) {
		t.Fatal("bind = [] is not active")
	}
	if args, _ := HelperArgs(l); !slices.Equal(args, []string{"-a", "4", "-n", "1"}) {
		t.Fatalf("args %q", args)
	}
	if Active(parse(t, "[landlock]\nrequire = \"required\"\n")) {
		t.Fatal("a table without rules is active")
	}
}

func TestCheckErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"[landlock]\n[[landlock.fs]]\npath = \"etc\"\naccess = [\"read\"]\n", `path "etc": want an absolute clean container path`},
		{"[landlock]\n[[landlock.fs]]\npath = \"/etc/../x\"\naccess = [\"read\"]\n", "absolute clean"},
		{"[landlock]\n[[landlock.fs]]\npath = \"/etc\"\naccess = [\"fly\"]\n", `unknown access "fly"`},
		{"[landlock]\n[[landlock.fs]]\npath = \"/etc\"\naccess = []\n", "access is empty"},
		{"[landlock]\n[[landlock.fs]]\npath = \"/etc\"\naccess = [\"read\"]\n[[landlock.fs]]\npath = \"/etc\"\naccess = [\"write\"]\n", "appears twice"},
		{"[landlock]\nbind = [0]\n", "port 0 out of range"},
		{"[landlock]\nconnect = [65536]\n", "landlock.connect: port 65536 out of range"},
		{"[landlock]\nscopes = [\"ptrace\"]\n", `unknown scope "ptrace"`},
		{"[landlock]\nrequire = \"off\"\n", `landlock.require "off"`},
	} {
		err := Check(parse(t, c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.text, err, c.want)
		}
	}
}

// helper writes a root-owned executable file to stand for the helper.
func helper(t *testing.T) string {
	p := filepath.Join(t.TempDir(), HelperName)
	if err := os.WriteFile(p, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() != 0 {
		t.Skip("the helper check wants a root-owned file: run as root")
	}
	return p
}

func newSpec(args ...string) *specs.Spec {
	return &specs.Spec{
		Process: &specs.Process{Args: args},
		Mounts:  []specs.Mount{{Destination: "/proc", Type: "proc"}, {Destination: "/dev", Type: "tmpfs"}},
		Linux:   &specs.Linux{Seccomp: seccomp.Default()},
	}
}

func abi(v int) func() (int, error) { return func() (int, error) { return v, nil } }

func TestModifier(t *testing.T) {
	h := helper(t)
	prof := &profiles.Profile{Name: "p", Landlock: parse(t, sample)}
	s := newSpec("sh", "-c", "x")
	if err := New(prof, Options{Helper: h, ABI: abi(7)}).Modify(s); err != nil {
		t.Fatal(err)
	}
	args, _ := HelperArgs(prof.Landlock)
	want := slices.Concat([]string{Dest}, args, []string{"--", "sh", "-c", "x"})
	if !slices.Equal(s.Process.Args, want) {
		t.Fatalf("args %q, want %q", s.Process.Args, want)
	}
	last := s.Mounts[len(s.Mounts)-1]
	if last.Destination != Dest || last.Source != h || !slices.Equal(last.Options, []string{"bind", "ro", "nosuid", "nodev"}) {
		t.Fatalf("mount %+v", last)
	}
	// runtime/default already allows everything the helper needs.
	if !reflect.DeepEqual(s.Linux.Seccomp, seccomp.Default()) {
		t.Fatal("runtime/default's filter changed")
	}
	// No rules: no modifier at all.
	if m := New(&profiles.Profile{Name: "d"}, Options{Helper: h}); m != nil {
		t.Fatal("a profile without Landlock rules has a modifier")
	}
}

func TestModifierRefusals(t *testing.T) {
	h := helper(t)
	prof := &profiles.Profile{Name: "p", Landlock: parse(t, sample)}
	for _, c := range []struct {
		name   string
		edit   func(*specs.Spec)
		opt    Options
		wanted string
	}{
		{"old kernel, required", nil, Options{Helper: h, ABI: abi(3)}, "requires Landlock ABI 6 for its scopes, and this kernel offers ABI 3"},
		{"no landlock, required", nil, Options{Helper: h, ABI: func() (int, error) { return 0, errors.New("disabled") }}, "has none (disabled)"},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, Options{Helper: h, ABI: abi(7)}, "without process.args"},
		{"no process", func(s *specs.Spec) { s.Process = nil }, Options{Helper: h, ABI: abi(7)}, "without process.args"},
		{"mount at the helper's place", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: Dest, Type: "bind", Source: "/evil"})
		}, Options{Helper: h, ABI: abi(7)}, "runcage binds its Landlock helper there"},
		{"mount under it", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: Dest + "/x", Type: "tmpfs"})
		}, Options{Helper: h, ABI: abi(7)}, "runcage binds its Landlock helper there"},
		{"/dev not a tmpfs", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev", Type: "bind", Source: "/somewhere"})
		}, Options{Helper: h, ABI: abi(7)}, "without a tmpfs at /dev"},
		{"/dev replaced by a relative destination", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "dev", Type: "bind", Source: "/somewhere"})
		}, Options{Helper: h, ABI: abi(7)}, "without a tmpfs at /dev"},
		{"mount at the helper's place, relative", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "dev/../dev/.runcage-landlock", Type: "bind", Source: "/evil"})
		}, Options{Helper: h, ABI: abi(7)}, "runcage binds its Landlock helper there"},
		{"no /dev", func(s *specs.Spec) { s.Mounts = s.Mounts[:1] }, Options{Helper: h, ABI: abi(7)}, "without a tmpfs at /dev"},
		{"missing helper", nil, Options{Helper: h + ".absent", ABI: abi(7)}, "build it with make build"},
	} {
		s := newSpec("sh")
		if c.edit != nil {
			c.edit(s)
		}
		err := New(prof, c.opt).Modify(s)
		if err == nil || !strings.Contains(err.Error(), c.wanted) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.wanted)
		}
		if c.name != "missing helper" && !errors.Is(err, profiles.ErrRefused) {
			t.Errorf("%s: %v is not a refusal", c.name, err)
		}
	}
	// if-available on an old kernel: applied, as far as the kernel goes.
	ia := &profiles.Profile{Name: "p", Landlock: parse(t, strings.Replace(sample, `"required"`, `"if-available"`, 1))}
	if err := New(ia, Options{Helper: h, ABI: abi(1)}).Modify(newSpec("sh")); err != nil {
		t.Fatal(err)
	}
}

func TestAllowHelper(t *testing.T) {
	f := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "openat", "close", "execve", "write", "exit_group"}, Action: specs.ActAllow},
			{Names: []string{"landlock_add_rule", "mount"}, Action: specs.ActErrno},
		},
	}
	got, redeny, err := AllowHelper(f)
	if errors.Is(err, seccomp.ErrSeccompNotEnabled) {
		t.Skip("built without libseccomp, which names the system calls' numbers")
	}
	if err != nil {
		t.Fatal(err)
	}
	// Denied again, as f denies them, for the workload: every name
	// allowed for the helper only, but those it needs after loading them.
	var nrs []uint32
	for _, r := range redeny {
		if r.AuditArch != 0xc000003e || r.Ret != 0x50001 {
			t.Errorf("rule %+v: want x86_64, ERRNO(EPERM)", r)
		}
		nrs = append(nrs, r.Nr)
	}
	slices.Sort(nrs)
	// brk 12, pread64 17, arch_prctl 158, set_tid_address 218,
	// set_robust_list 273, prlimit64 302, seccomp 317, getrandom 318,
	// rseq 334, landlock 444-446.
	if want := []uint32{12, 17, 158, 218, 273, 302, 317, 318, 334, 444, 445, 446}; !slices.Equal(nrs, want) {
		t.Errorf("denied again: %v, want %v", nrs, want)
	}
	allowed := seccomp.AllowedSyscalls(got)
	for _, n := range HelperSyscalls() {
		if !slices.Contains(allowed, n) {
			t.Errorf("%s not allowed", n)
		}
	}
	if slices.Contains(allowed, "mount") {
		t.Error("mount allowed")
	}
	if err := seccomp.Compile(got); err != nil && !strings.Contains(err.Error(), "not built") {
		t.Fatalf("compile: %v", err)
	}
	// The input is not changed.
	if len(f.Syscalls) != 2 || len(f.Syscalls[1].Names) != 2 {
		t.Fatal("input changed")
	}
}

func TestWrapCommand(t *testing.T) {
	prof := &profiles.Profile{Name: "p", Landlock: parse(t, "[landlock]\nbind = [80]\n")}
	argv := []string{"--root", "/r", "exec", "-t", "ctr", "sh", "-c", "id"}
	e, err := ExecFor(prof, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := WrapCommand(e, argv, []string{"sh", "-c", "id"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--root", "/r", "exec", "-t", "ctr", Dest, "-a", "4", "-n", "1", "-b", "80", "--", "sh", "-c", "id"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := WrapCommand(e, argv, []string{"sh", "-c", "other"}); !errors.Is(err, profiles.ErrRefused) {
		t.Fatalf("mismatched command: %v", err)
	}
	p := &specs.Process{}
	if err := WrapProcess(e, p); !errors.Is(err, profiles.ErrRefused) {
		t.Fatalf("empty exec process: %v", err)
	}
	none, err := ExecFor(&profiles.Profile{}, nil)
	if err != nil || none.Helper {
		t.Fatalf("no rules: %+v, %v", none, err)
	}
	if got, _ := WrapCommand(none, argv, nil); !slices.Equal(got, argv) {
		t.Fatal("no rules changed argv")
	}
	p.Args = []string{"id"}
	if err := WrapProcess(none, p); err != nil || !slices.Equal(p.Args, []string{"id"}) {
		t.Fatalf("no rules changed the process: %q, %v", p.Args, err)
	}
}

func TestCovers(t *testing.T) {
	wide := parse(t, "[landlock]\nbind = [80, 443]\n[[landlock.fs]]\npath = \"/usr\"\naccess = [\"read\", \"execute\"]\n[[landlock.fs]]\npath = \"/tmp\"\naccess = [\"write\"]\n")
	for _, c := range []struct{ narrow, want string }{
		{"[landlock]\nbind = [80]\n[[landlock.fs]]\npath = \"/usr/bin\"\naccess = [\"execute\"]\n", ""},
		{"", "it has none"},
		{"[landlock]\nbind = [80]\n[[landlock.fs]]\npath = \"/usr/bin\"\naccess = [\"write\"]\n", "they grant truncate, write-file on /usr/bin"},
		{"[landlock]\nbind = [80]\n[[landlock.fs]]\npath = \"/usrx\"\naccess = [\"read\"]\n", "they grant read on /usrx"},
		{"[landlock]\n[[landlock.fs]]\npath = \"/usr\"\naccess = [\"read\"]\n", "do not restrict TCP bind"},
		{"[landlock]\nbind = [22]\n[[landlock.fs]]\npath = \"/usr\"\naccess = [\"read\"]\n", "port 22"},
	} {
		err := Covers(wide, parse(t, c.narrow))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%q: %v, want %q", c.narrow, err, c.want)
		}
	}
	if err := Covers(nil, wide); err != nil {
		t.Fatal(err)
	}
}

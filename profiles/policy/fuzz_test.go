package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/mounts"
	"github.com/runcage/runcage/profiles/seccomp"
	"github.com/runcage/runcage/runtime/spec"
)

// hardenFuzzHost is an AppArmor host without AppArmor, like the machines
// the suite runs on.
type hardenFuzzHost struct{}

func (hardenFuzzHost) Enabled() bool                      { return false }
func (hardenFuzzHost) Loaded(string) (bool, error)        { return false, nil }
func (hardenFuzzHost) Load(context.Context, []byte) error { return errors.New("no AppArmor") }

// hardenSeeds returns the seed configs: the testdata configs of the
// repository (runc's own `runc spec`, a Docker-like one, the spec package's
// lossless-round-trip file) and hostile ones (privileged, members absent).
func hardenSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	files, _ := filepath.Glob("testdata/harden/*.json")
	files = append(files, "../../runtime/spec/testdata/future.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzHarden feeds mutated config.json files through the whole create path
// of the default profile, without runc: spec.Parse, Tighten by the
// bundle's annotations, the profile's modifiers, Validate, Marshal. The
// fuzzer's op and sel also mutate the input structurally first (drop a
// member or an array element, duplicate an array element, empty a value),
// so that absent members are exercised. Whenever the create path accepts
// the input, the output (decoded as runc decodes it) must be hardened
// (hardenCheckOutput) and no wider than the input (hardenCheckNarrower).
// A refused input must give an error, never a panic; an error from the
// modifiers must be a refusal (profiles.ErrRefused).
func FuzzHarden(f *testing.F) {
	for _, s := range hardenSeeds(f) {
		for _, op := range []uint8{0, 1, 2, 3} {
			f.Add(s, op, uint16(0))
			f.Add(s, op, uint16(7))
		}
	}
	// One state directory for all runs: the seccomp compile cache in it
	// makes an accepted input cost milliseconds instead of a compile.
	state := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, op uint8, sel uint16) {
		hardenOnce(t, state, hardenMutate(data, op, sel))
	})
}

// TestHardenSeedsAccepted makes sure FuzzHarden checks its invariants at
// all: the benign seeds pass the create path.
func TestHardenSeedsAccepted(t *testing.T) {
	for _, name := range []string{"runc-spec.json", "docker-like.json"} {
		b, err := os.ReadFile(filepath.Join("testdata/harden", name))
		if err != nil {
			t.Fatal(err)
		}
		if !hardenOnce(t, t.TempDir(), b) {
			t.Errorf("%s was refused", name)
		}
	}
}

var hardenDefaultFilter = seccomp.Default()

// TestHardenChecksCatch makes sure the invariants can fail: the hostile
// seeds, taken as if the create path had passed them through unchanged,
// break each of them.
func TestHardenChecksCatch(t *testing.T) {
	read := func(name string) *specs.Spec {
		b, err := os.ReadFile(filepath.Join("testdata/harden", name))
		if err != nil {
			t.Fatal(err)
		}
		var s specs.Spec
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		return &s
	}
	priv, absent, docker := read("privileged.json"), read("absent.json"), read("docker-like.json")
	narrowed := read("docker-like.json")
	narrowed.Mounts[len(narrowed.Mounts)-1].Options = []string{"rbind", "ro", "nosuid", "nodev"}
	narrowed.Linux.MaskedPaths = append(narrowed.Linux.MaskedPaths, "/secret")
	narrowed.Linux.Seccomp.Syscalls[0].Names = []string{"read"}
	for _, c := range []struct {
		name     string
		problems []string
		want     []string
	}{
		{"privileged", hardenCheckOutput(Builtin("default"), hardenDefaultFilter, priv),
			[]string{"capabilities.bounding", "noNewPrivileges", "seccomp default action", "joins the host's", "namespace ipc listed 0 times",
				"masked paths lack /proc/kcore", "readonly paths lack /proc/sys", "sensitive source", "not nosuid", "hooks"}},
		{"absent", hardenCheckOutput(Builtin("default"), hardenDefaultFilter, absent),
			[]string{"process.capabilities is absent", "noNewPrivileges", "namespace pid listed 0 times"}},
		{"widened", hardenCheckNarrower(narrowed, docker),
			[]string{"lost ro", "masked path", "allows more than the bundle's own"}},
	} {
		all := strings.Join(c.problems, "\n")
		for _, w := range c.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: no problem mentions %q; problems:\n%s", c.name, w, all)
			}
		}
	}
}

// hardenOnce runs input through the create path, with policy state under
// state, and checks the result; it reports whether the create path
// accepted the input.
func hardenOnce(t *testing.T, state string, input []byte) bool {
	t.Helper()
	doc, err := spec.Parse(input)
	if err != nil {
		return false
	}
	var in specs.Spec // the input as runc would read it
	if err := json.Unmarshal(input, &in); err != nil {
		t.Fatalf("spec.Parse accepted what encoding/json refuses: %v", err)
	}
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle")
	if err := os.MkdirAll(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	pol := &Policy{StateDir: state}
	pol.fill()
	s := doc.Value
	prof, err := pol.Tighten(Builtin("default"), s.Annotations)
	if err != nil {
		hardenCheckRefusal(t, "tighten", err)
		return false
	}
	mods, err := pol.Modifiers(prof, Env{Bundle: bundle, AppArmor: hardenFuzzHost{}, ContainerID: "fuzz", RuncRoot: filepath.Join(dir, "runc")})
	if err != nil {
		t.Fatalf("modifiers of the default profile: %v", err)
	}
	if err := mods.Modify(s); err != nil {
		hardenCheckRefusal(t, "modify", err)
		return false
	}
	if err := pol.Validate(s); err != nil {
		return false
	}
	outData, err := doc.Marshal()
	if err != nil {
		return false // create fails: nothing reaches runc
	}
	if _, err := spec.Parse(outData); err != nil {
		t.Fatalf("the rewritten config does not parse again: %v\n%s", err, outData)
	}
	var out specs.Spec
	if err := json.Unmarshal(outData, &out); err != nil {
		t.Fatalf("runc could not read the rewritten config: %v", err)
	}
	for _, p := range append(hardenCheckOutput(prof, hardenDefaultFilter, &out), hardenCheckNarrower(&in, &out)...) {
		t.Error(p)
	}
	if t.Failed() {
		t.Logf("input:\n%s\noutput:\n%s", input, outData)
	}
	return true
}

// hardenCheckRefusal: an input the create path does not accept must be
// refused (profiles.ErrRefused) or fail on the host with a clear error
// (one wrapping a system error, such as a root.path that does not exist).
func hardenCheckRefusal(t *testing.T, stage string, err error) {
	t.Helper()
	if err.Error() == "" {
		t.Fatalf("%s: empty error", stage)
	}
	var pe *fs.PathError
	var errno syscall.Errno
	if !errors.Is(err, profiles.ErrRefused) && !errors.As(err, &pe) && !errors.As(err, &errno) {
		t.Fatalf("%s: error is neither a refusal nor a system error: %v", stage, err)
	}
}

// hardenCaps returns the five capability sets of p by name.
func hardenCaps(p *specs.Process) map[string][]string {
	if p == nil || p.Capabilities == nil {
		return nil
	}
	c := p.Capabilities
	return map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "inheritable": c.Inheritable, "permitted": c.Permitted, "ambient": c.Ambient}
}

// hardenCheckOutput checks what the default profile promises for every
// config it lets through.
func hardenCheckOutput(prof *profiles.Profile, filter *specs.LinuxSeccomp, out *specs.Spec) (problems []string) {
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if p := out.Process; p != nil {
		// runc keeps every capability of root when process.capabilities
		// is absent.
		if p.Capabilities == nil {
			bad("process.capabilities is absent: runc would keep all of root's capabilities")
		}
		for set, caps := range hardenCaps(p) {
			if len(caps) > 0 && len(prof.Capabilities) == 0 {
				bad("capabilities.%s = %q, the default profile keeps none", set, caps)
			}
		}
		if !p.NoNewPrivileges {
			bad("process.noNewPrivileges is false")
		}
	}
	if out.Linux == nil {
		bad("linux is absent: every host namespace is shared")
		return problems
	}
	l := out.Linux
	if l.Seccomp == nil {
		bad("no seccomp filter")
	} else {
		if l.Seccomp.DefaultAction == specs.ActAllow || l.Seccomp.DefaultAction == specs.ActLog {
			bad("seccomp default action %s", l.Seccomp.DefaultAction)
		}
		if err := seccomp.Covers(filter, l.Seccomp); err != nil {
			bad("the seccomp filter is wider than the default's: %v", err)
		}
	}
	seen := map[specs.LinuxNamespaceType]int{}
	for _, ns := range l.Namespaces {
		seen[ns.Type]++
		if ns.Path != "" && hardenHostNS(ns) {
			bad("namespace %s joins the host's: path %q", ns.Type, ns.Path)
		}
	}
	for _, typ := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.NetworkNamespace, specs.MountNamespace, specs.UTSNamespace} {
		if seen[typ] != 1 && !slices.Contains(prof.HostNamespaces, string(typ)) {
			bad("namespace %s listed %d times, want once", typ, seen[typ])
		}
	}
	for _, want := range mounts.DefaultMaskedPaths {
		if !slices.Contains(l.MaskedPaths, want) {
			bad("masked paths lack %s", want)
		}
	}
	for _, want := range mounts.DefaultReadonlyPaths {
		if !slices.Contains(l.ReadonlyPaths, want) {
			bad("readonly paths lack %s", want)
		}
	}
	for _, m := range out.Mounts {
		eff := hardenMountFlags(m.Options)
		if hardenIsBind(m) {
			if !filepath.IsAbs(m.Source) {
				bad("bind mount %q -> %q: source is not absolute", m.Source, m.Destination)
			} else if why := mounts.SensitiveSource(filepath.Clean(m.Source)); why != "" {
				bad("bind mount %q -> %q: sensitive source: %s", m.Source, m.Destination, why)
			}
		}
		if !eff["nosuid"] {
			bad("mount %q -> %q (%s) is not nosuid: %q", m.Source, m.Destination, m.Type, m.Options)
		}
		devOK := m.Type == "devpts" || (m.Destination == "/dev" && m.Type == "tmpfs" && prof.UserNS == profiles.Off)
		if !eff["nodev"] && !devOK {
			bad("mount %q -> %q (%s) is not nodev: %q", m.Source, m.Destination, m.Type, m.Options)
		}
	}
	if h := out.Hooks; h != nil && len(prof.Hooks) == 0 {
		if n := len(h.Prestart) + len(h.CreateRuntime) + len(h.CreateContainer) + len(h.StartContainer) + len(h.Poststart) + len(h.Poststop); n > 0 {
			bad("%d hooks, the default profile allows none", n)
		}
	}
	return problems
}

// hardenCheckNarrower checks that out asks for nothing in that in did not:
// for every member in has, out's is at least as strict.
func hardenCheckNarrower(in, out *specs.Spec) (problems []string) {
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	inCaps, outCaps := hardenCaps(in.Process), hardenCaps(out.Process)
	for set, caps := range outCaps {
		if in.Process != nil && in.Process.Capabilities != nil {
			for _, c := range caps {
				if !slices.Contains(inCaps[set], c) {
					bad("capabilities.%s gained %s", set, c)
				}
			}
		}
	}
	if in.Process != nil && in.Process.NoNewPrivileges && (out.Process == nil || !out.Process.NoNewPrivileges) {
		bad("noNewPrivileges was dropped")
	}
	if in.Root != nil && in.Root.Readonly && (out.Root == nil || !out.Root.Readonly) {
		bad("root.readonly was dropped")
	}
	if in.Linux == nil || out.Linux == nil {
		return problems
	}
	for _, p := range in.Linux.MaskedPaths {
		if !slices.Contains(out.Linux.MaskedPaths, p) {
			bad("masked path %q was dropped", p)
		}
	}
	for _, p := range in.Linux.ReadonlyPaths {
		if !slices.Contains(out.Linux.ReadonlyPaths, p) {
			bad("readonly path %q was dropped", p)
		}
	}
	for _, ns := range in.Linux.Namespaces {
		if !slices.ContainsFunc(out.Linux.Namespaces, func(o specs.LinuxNamespace) bool { return o.Type == ns.Type }) {
			bad("namespace %s was dropped", ns.Type)
		}
	}
	// Every mount of the input is still there, at least as strict.
	used := make([]bool, len(out.Mounts))
	for _, m := range in.Mounts {
		i := -1
		for j, o := range out.Mounts {
			if !used[j] && o.Destination == m.Destination && o.Type == m.Type {
				i = j
				break
			}
		}
		if i < 0 {
			bad("mount %q -> %q (%s) was dropped", m.Source, m.Destination, m.Type)
			continue
		}
		used[i] = true
		inf, outf := hardenMountFlags(m.Options), hardenMountFlags(out.Mounts[i].Options)
		for _, fl := range []string{"ro", "nosuid", "nodev", "noexec", "nosymfollow"} {
			if inf[fl] && !outf[fl] {
				bad("mount %q -> %q lost %s: %q -> %q", m.Source, m.Destination, fl, m.Options, out.Mounts[i].Options)
			}
		}
	}
	if in.Linux.Seccomp != nil && out.Linux.Seccomp != nil {
		err := seccomp.Covers(in.Linux.Seccomp, out.Linux.Seccomp)
		if err != nil && !errors.Is(err, seccomp.ErrInvalid) {
			bad("the seccomp filter allows more than the bundle's own: %v", err)
		}
	}
	return problems
}

// hardenMountFlags returns the effective state of the restricting mount
// options as runc reads them: a later option overrides an earlier opposite
// one (rw after ro, suid after nosuid, ...). Recursive variants count too.
func hardenMountFlags(opts []string) map[string]bool {
	opposite := map[string]string{"ro": "rw", "nosuid": "suid", "nodev": "dev", "noexec": "exec", "nosymfollow": "symfollow"}
	eff := map[string]bool{}
	for _, o := range opts {
		o = strings.TrimPrefix(o, "r") // rro, rnosuid, ... (never "ro"/"rw" themselves)
		switch o {
		case "o", "w":
			o = "r" + o
		}
		for on, off := range opposite {
			switch o {
			case on:
				eff[on] = true
			case off:
				eff[on] = false
			}
		}
	}
	return eff
}

func hardenIsBind(m specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// hardenHostNS reports whether ns's path is the namespace of the host (pid
// 1's) or of this process (which runs in the host's namespaces), compared
// by nsfs device and inode.
func hardenHostNS(ns specs.LinuxNamespace) bool {
	name := map[specs.LinuxNamespaceType]string{specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
		specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user", specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time"}[ns.Type]
	var st unix.Stat_t
	if name == "" || unix.Stat(ns.Path, &st) != nil {
		return false
	}
	for _, h := range []string{"/proc/1/ns/", "/proc/self/ns/"} {
		var hs unix.Stat_t
		if unix.Stat(h+name, &hs) == nil && hs.Dev == st.Dev && hs.Ino == st.Ino {
			return true
		}
	}
	return false
}

// hardenMutate changes data structurally when it is JSON: op%4 is 0 (as
// is), 1 (drop the member or array element number sel of a walk of the
// document), 2 (duplicate every element of that value if it is an array)
// or 3 (replace that value with null). Data that is not JSON is returned
// unchanged, for the parser to refuse.
func hardenMutate(data []byte, op uint8, sel uint16) []byte {
	if op%4 == 0 {
		return data
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return data
	}
	n := 0
	var walk func(v any, set func(any), del func()) bool
	walk = func(v any, set func(any), del func()) bool {
		if n == int(sel) && del != nil {
			switch op % 4 {
			case 1:
				del()
			case 2:
				set(hardenDup(v))
			case 3:
				set(nil)
			}
			return true
		}
		n++
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if walk(x[k], func(nv any) { x[k] = nv }, func() { delete(x, k) }) {
					return true
				}
			}
		case []any:
			for i := range x {
				arr := x
				i := i
				if walk(arr[i], func(nv any) { arr[i] = nv }, func() {
					x = append(arr[:i:i], arr[i+1:]...)
					set(x)
				}) {
					return true
				}
			}
		}
		return false
	}
	var root any = v
	walk(v, func(nv any) { root = nv }, nil)
	out, err := json.Marshal(root)
	if err != nil {
		return data
	}
	return out
}

// hardenDup duplicates each element of an array value (mounts,
// namespaces, capabilities, ...); other values stay as they are.
func hardenDup(v any) any {
	a, ok := v.([]any)
	if !ok {
		return v
	}
	out := make([]any, 0, 2*len(a))
	for _, e := range a {
		out = append(out, e, e)
	}
	return out
}

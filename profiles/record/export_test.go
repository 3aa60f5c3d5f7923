package record

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"sigs.k8s.io/yaml"

	"github.com/runcage/runcage/profiles/seccomp"
)

func TestExportSPO(t *testing.T) {
	tr := New("busy_box", SourceRuncage)
	tr.Syscalls = map[string]uint64{"clone3": 1, "clone": 1, "socket": 1, "personality": 1, "read": 1}
	g, err := buildProfile(tr, buildOptions{Name: "busy_box"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exportSPO(g.Seccomp, g.Name, "apps")
	if err != nil {
		t.Fatal(err)
	}
	var p spoSeccompProfile
	if err := yaml.UnmarshalStrict(out, &p); err != nil {
		t.Fatalf("strict decode: %v\n%s", err, out)
	}
	if p.APIVersion != "security-profiles-operator.x-k8s.io/v1beta1" || p.Kind != "SeccompProfile" ||
		p.Metadata.Name != "busy-box" || p.Metadata.Namespace != "apps" || p.Spec.DefaultAction != "SCMP_ACT_ERRNO" {
		t.Errorf("header %+v", p)
	}
	if len(p.Spec.Architectures) != len(g.Seccomp.Architectures) {
		t.Errorf("architectures %v", p.Spec.Architectures)
	}
	// Turn it back into an OCI filter: it must allow exactly what the
	// generated filter allows, and keep clone3's ENOSYS.
	back := &specs.LinuxSeccomp{DefaultAction: specs.LinuxSeccompAction(p.Spec.DefaultAction)}
	for _, a := range p.Spec.Architectures {
		back.Architectures = append(back.Architectures, specs.Arch(a))
	}
	enosys := false
	for _, sc := range p.Spec.Syscalls {
		s := specs.LinuxSyscall{Names: sc.Names, Action: specs.LinuxSeccompAction(sc.Action)}
		if sc.ErrnoRet != 0 {
			e := sc.ErrnoRet
			s.ErrnoRet = &e
			enosys = enosys || (e == 38 && slices.Contains(sc.Names, "clone3"))
		}
		for _, a := range sc.Args {
			s.Args = append(s.Args, specs.LinuxSeccompArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: specs.LinuxSeccompOperator(a.Op)})
		}
		back.Syscalls = append(back.Syscalls, s)
	}
	if got, want := seccomp.AllowedSyscalls(back), seccomp.AllowedSyscalls(g.Seccomp); !slices.Equal(got, want) {
		t.Errorf("round trip allows %v, want %v", got, want)
	}
	if err := seccomp.Covers(back, g.Seccomp); err != nil {
		t.Errorf("round trip is narrower: %v", err)
	}
	if err := seccomp.Covers(g.Seccomp, back); err != nil {
		t.Errorf("round trip is wider: %v", err)
	}
	if !enosys {
		t.Error("clone3's ENOSYS rule was lost")
	}

	for _, bad := range []struct{ name, ns string }{{"Bad Name", ""}, {"ok", "Bad_NS"}, {"-x", ""}} {
		if _, err := exportSPO(g.Seccomp, bad.name, bad.ns); err == nil {
			t.Errorf("exported name %q namespace %q", bad.name, bad.ns)
		}
	}
}

func TestExportLocalhost(t *testing.T) {
	g := generateFrom(t, buildOptions{Name: "busybox"}, straceLog)
	out, err := exportLocalhost(g.Seccomp)
	if err != nil {
		t.Fatal(err)
	}
	f, err := seccomp.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seccomp.AllowedSyscalls(f), seccomp.AllowedSyscalls(g.Seccomp)) {
		t.Error("localhost export allows something else")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil || raw["defaultErrnoRet"] == nil || raw["architectures"] == nil {
		t.Errorf("localhost JSON lacks defaultErrnoRet or architectures: %s", out)
	}
}

func TestDiffAndMerge(t *testing.T) {
	dir := t.TempDir()
	a := New("a", SourceRuncage)
	a.Syscalls = map[string]uint64{"read": 1, "write": 1}
	a.Files = []FileAccess{{Path: "/etc/a", Access: "r"}}
	b := New("b", SourceRuncage)
	b.Syscalls = map[string]uint64{"read": 1, "sendfile": 4}
	b.Capabilities = map[string][]string{"CAP_NET_BIND_SERVICE": {"bind to port 80"}}
	b.Files = []FileAccess{{Path: "/etc/a", Access: "r"}}
	pa, pb := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for p, tr := range map[string]*Trace{pa: a, pb: b} {
		data, err := tr.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	la, err := Load(pa, dir)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := Load(pb, dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	different, err := Diff(&out, la, lb)
	if err != nil || !different {
		t.Fatalf("different=%v err=%v", different, err)
	}
	want := "syscalls:\n- write\n+ sendfile\ncapabilities:\n+ CAP_NET_BIND_SERVICE\n"
	if out.String() != want {
		t.Errorf("diff:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	if different, err := Diff(&out, la, la); err != nil || different || out.Len() != 0 {
		t.Errorf("a vs a: different=%v err=%v out=%q", different, err, out.String())
	}

	// A profile generated from a, merged with trace b, is the profile of
	// a ∪ b; diffing it against a's profile shows what b added.
	g, err := buildProfile(a, buildOptions{Name: "pa"})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.write(dir, false, nil); err != nil {
		t.Fatal(err)
	}
	lpa, err := Load("pa", dir)
	if err != nil || !lpa.IsProfile {
		t.Fatalf("load profile by name: %v %+v", err, lpa)
	}
	merged := New("m", SourceMerged)
	merged.Merge(lpa.Trace)
	merged.Merge(lb.Trace)
	gm, err := buildProfile(merged, buildOptions{Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gm.write(dir, false, nil); err != nil {
		t.Fatal(err)
	}
	lm, err := Load(filepath.Join(dir, "m"), dir)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if different, err := Diff(&out, lpa, lm); err != nil || !different {
		t.Fatalf("different=%v err=%v", different, err)
	}
	if got := out.String(); got != "syscalls:\n+ sendfile\ncapabilities:\n+ CAP_NET_BIND_SERVICE\n" {
		t.Errorf("profile diff:\n%s", got)
	}
	// Profile against the trace it came from: equal.
	out.Reset()
	if different, err := Diff(&out, lpa, la); err != nil || different {
		t.Errorf("profile vs its own trace: different=%v err=%v\n%s", different, err, out.String())
	}
	// The built-in default: no file needed.
	ld, err := Load("default", dir)
	if err != nil || !strings.Contains(strings.Join(ld.summary.Syscalls, " "), "sendfile") {
		t.Fatalf("default: %v", err)
	}
}

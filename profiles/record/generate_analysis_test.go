package record

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/runcage/runcage/profiles/analysis"
	"github.com/runcage/runcage/profiles/seccomp"
)

// analysedTrace is a recording of a program that was seen making only
// read, write and accept4, and that imports sendfile, mount and malloc.
func analysedTrace() *Trace {
	tr := New("a", SourceRuncage)
	tr.Syscalls = map[string]uint64{"read": 3, "write": 2, "accept4": 1}
	tr.Objects = []Object{
		{Path: "/usr/sbin/web", SHA256: strings.Repeat("a", 64), Analysis: string(analysis.KindImports),
			Imports: []string{"sendfile64@GLIBC_2.3", "mount@GLIBC_2.2.5", "malloc@GLIBC_2.2.5", "strlen@GLIBC_2.2.5", "read@GLIBC_2.2.5"}},
		{Path: "/usr/lib/x86_64-linux-gnu/libc.so.6", SHA256: strings.Repeat("b", 64), Analysis: string(analysis.KindLibc)},
		{Path: "/bin/busybox", SHA256: strings.Repeat("c", 64), Analysis: string(analysis.KindNone), Note: "static program without a symbol table"},
	}
	return tr
}

func TestGenerateWithAnalysis(t *testing.T) {
	g, err := buildProfile(analysedTrace(), buildOptions{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	allowed := seccomp.AllowedSyscalls(g.Seccomp)
	for n, want := range map[string]string{
		"read":          ReasonRecorded,
		"accept4":       ReasonRecorded,
		"sendfile":      "static: /usr/sbin/web:sendfile64",
		"mremap":        "static: /usr/sbin/web:malloc",
		"clock_gettime": ReasonRuntime,
		"gettimeofday":  ReasonRuntime,
		"time":          ReasonRuntime,
		"futex":         ReasonRuntime,
	} {
		if g.Reasons[n] != want {
			t.Errorf("reason of %s = %q, want %q", n, g.Reasons[n], want)
		}
		if !slices.Contains(allowed, n) {
			t.Errorf("%s not allowed by seccomp.json", n)
		}
	}
	for _, n := range []string{"mount", "umount2"} {
		if slices.Contains(allowed, n) || g.Reasons[n] != "" {
			t.Errorf("%s (runtime/default denies it) added by analysis", n)
		}
		if !slices.Contains(g.Analysis.Denied, n) {
			t.Errorf("%s not listed as reachable but denied: %v", n, g.Analysis.Denied)
		}
	}
	if !slices.Equal(slices.Sorted(maps.Keys(g.Reasons)), allowed) {
		t.Errorf("reasons for %v, filter allows %v", slices.Sorted(maps.Keys(g.Reasons)), allowed)
	}
	if b := seccomp.BeyondDefault(allowed); len(b) != 0 {
		t.Errorf("generated profile allows %v beyond runtime/default", b)
	}
	if err := seccomp.Covers(seccomp.Default(), g.Seccomp); err != nil {
		t.Errorf("runtime/default does not cover the generated filter: %v", err)
	}

	// The reasons are in profile.toml, as the policy loads them.
	prof := loadProfile(t, g)
	if prof.SyscallReasons["sendfile"] != "static: /usr/sbin/web:sendfile64" || len(prof.SyscallReasons) != len(allowed) {
		t.Errorf("profile.toml reasons: %v", prof.SyscallReasons)
	}
	text := string(g.Files[fileProfile])
	for _, s := range []string{"Not analysed, only its recorded syscalls count: \"/bin/busybox:", "Reachable in their code but NOT allowed", "mount, umount2"} {
		if !strings.Contains(text, s) {
			t.Errorf("profile.toml lacks %q:\n%s", s, text)
		}
	}

	// --recorded-only: no static reasons, only recorded and runtime ones.
	ro, err := buildProfile(analysedTrace(), buildOptions{Name: "a", RecordedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for n, r := range ro.Reasons {
		if r != ReasonRecorded && r != ReasonRuntime {
			t.Errorf("recorded-only: %s has reason %q", n, r)
		}
	}
	if _, ok := ro.Reasons["sendfile"]; ok {
		t.Error("recorded-only allows sendfile")
	}
	if ro.Reasons["clock_gettime"] != ReasonRuntime {
		t.Error("recorded-only does not allow clock_gettime (the vDSO fallback)")
	}
}

// TestProfileTOMLHostileReasons: an object path from a container cannot
// add a setting to profile.toml.
func TestProfileTOMLHostileReasons(t *testing.T) {
	tr := analysedTrace()
	tr.Objects[0].Path = "/x\"\n[apparmor]\nmode = \"complain\"\n\x00\x7f\u2028"
	g, err := buildProfile(tr, buildOptions{Name: "h"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_, err = toml.Decode(string(g.Files[fileProfile]), &m)
	if err != nil {
		t.Fatalf("profile.toml does not parse: %v\n%s", err, g.Files[fileProfile])
	}
	if aa := m["apparmor"].(map[string]any); aa["mode"] != "enforce" {
		t.Errorf("apparmor mode %v", aa["mode"])
	}
	if r := g.Reasons["sendfile"]; !strings.HasPrefix(r, "static: /x\"\n[apparmor]") {
		t.Errorf("reason %q", r)
	}
}

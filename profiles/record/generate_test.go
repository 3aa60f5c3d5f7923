package record

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/analysis"
	"github.com/runcage/runcage/profiles/apparmor"
	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/profiles/seccomp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const straceLog = "testdata/busybox-f-tt-T.strace"

func generateFrom(t *testing.T, o buildOptions, paths ...string) *Generated {
	t.Helper()
	merged := New(o.Name, SourceMerged)
	for _, p := range paths {
		imp, err := importPath(p, filepath.Base(p))
		if err != nil {
			t.Fatal(err)
		}
		o.Inputs = append(o.Inputs, inputInfo{Path: p, Format: imp.Format, Syscalls: len(imp.Trace.Syscalls)})
		merged.Merge(imp.Trace)
	}
	g, err := buildProfile(merged, o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGenerateGolden compares the files generated from a real strace log
// with the reviewed copies in testdata/golden/busybox (go test -update
// rewrites them).
func TestGenerateGolden(t *testing.T) {
	g := generateFrom(t, buildOptions{Name: "busybox"}, straceLog)
	for _, name := range []string{fileSeccomp, fileAppArmor, fileProfile} {
		golden := filepath.Join("testdata", "golden", "busybox", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, g.Files[name], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(g.Files[name], want) {
			t.Errorf("%s differs from %s:\n%s", name, golden, g.Files[name])
		}
	}
}

func TestGenerateSeccomp(t *testing.T) {
	g := generateFrom(t, buildOptions{Name: "busybox"}, straceLog)
	f := g.Seccomp
	if f.DefaultAction != specs.ActErrno || f.DefaultErrnoRet == nil || *f.DefaultErrnoRet != 1 {
		t.Errorf("default %s %v, want SCMP_ACT_ERRNO with EPERM", f.DefaultAction, f.DefaultErrnoRet)
	}
	if !slices.Equal(f.Architectures, seccomp.NativeArches()) {
		t.Errorf("architectures %v, want %v", f.Architectures, seccomp.NativeArches())
	}
	allowed := seccomp.AllowedSyscalls(f)
	for _, n := range append(g.Trace.SyscallNames(), seccomp.AlwaysAllowed()...) {
		if !slices.Contains(allowed, n) {
			t.Errorf("%s seen or always needed, but not allowed", n)
		}
	}
	for _, n := range []string{"ptrace", "mount", "unshare", "bpf", "io_uring_setup"} {
		if slices.Contains(allowed, n) {
			t.Errorf("%s allowed; the trace never shows it", n)
		}
	}
	// Not wider than runtime/default anywhere (clone keeps its condition).
	if err := seccomp.Covers(seccomp.Default(), f); err != nil {
		t.Errorf("generated filter is wider than runtime/default: %v", err)
	}
	// It compiles with libseccomp, as runc will compile it.
	if err := seccomp.Compile(f); errors.Is(err, seccomp.ErrSeccompNotEnabled) {
		t.Log("not compiled: built without libseccomp (run with -tags seccomp)")
	} else if err != nil {
		t.Fatal(err)
	}
	// Parse accepts what was written, strictly.
	if _, err := seccomp.Parse(g.Files[fileSeccomp]); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateDangerous(t *testing.T) {
	tr := New("d", SourceRuncage)
	tr.Syscalls = map[string]uint64{"read": 3, "ptrace": 1, "unshare": 2}
	tr.Denied = map[string]uint64{"mount": 1}
	tr.Capabilities = map[string][]string{
		"CAP_NET_BIND_SERVICE": {"bind to port 80"},
		"CAP_SYS_ADMIN":        {"mount(\"/x\")"},
		"CAP_BOGUS":            {"x"},
	}
	g, err := buildProfile(tr, buildOptions{Name: "d"})
	if err != nil {
		t.Fatal(err)
	}
	allowed := seccomp.AllowedSyscalls(g.Seccomp)
	for _, n := range []string{"ptrace", "unshare", "mount"} {
		if slices.Contains(allowed, n) {
			t.Errorf("%s allowed without --allow-dangerous", n)
		}
	}
	if !slices.Equal(g.Excluded, []string{"CAP_SYS_ADMIN", "ptrace", "unshare"}) || !slices.Equal(g.Capabilities, []string{"CAP_NET_BIND_SERVICE"}) {
		t.Errorf("excluded %v capabilities %v", g.Excluded, g.Capabilities)
	}
	toml := string(g.Files[fileProfile])
	for _, want := range []string{"NOT allowed", "CAP_SYS_ADMIN, ptrace, unshare", "Denied while recording, and not allowed: mount", `CAP_NET_BIND_SERVICE: "bind to port 80"`, `capabilities = ["CAP_NET_BIND_SERVICE"]`} {
		if !strings.Contains(toml, want) {
			t.Errorf("profile.toml lacks %q:\n%s", want, toml)
		}
	}

	g, err = buildProfile(tr, buildOptions{Name: "d", AllowDangerous: true})
	if err != nil {
		t.Fatal(err)
	}
	allowed = seccomp.AllowedSyscalls(g.Seccomp)
	if !slices.Contains(allowed, "ptrace") || !slices.Contains(allowed, "unshare") || slices.Contains(allowed, "mount") {
		t.Errorf("with --allow-dangerous: allowed %v", allowed)
	}
	if !slices.Equal(g.Capabilities, []string{"CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"}) || len(g.Excluded) != 0 {
		t.Errorf("with --allow-dangerous: capabilities %v excluded %v", g.Capabilities, g.Excluded)
	}
}

// TestGenerateHostileInput feeds paths and evidence crafted to break out of
// the generated texts.
func TestGenerateHostileInput(t *testing.T) {
	tr := New("h", SourceRuncage)
	tr.Syscalls = map[string]uint64{"read": 1}
	tr.Files = []FileAccess{
		{Path: "/etc/x, /** rwk,\n  capability sys_admin,\n  #", Access: "r"},
		{Path: "/data/a b", Access: "w"},
		{Path: "/\n", Access: "r"},
		{Path: "/srv/{a,b}", Access: "x"},
	}
	tr.Capabilities = map[string][]string{"CAP_CHOWN": {"x\"\ncapabilities = [\"CAP_SYS_ADMIN\"]\n#"}}
	g, err := buildProfile(tr, buildOptions{Name: "h"})
	if err != nil {
		t.Fatal(err)
	}
	aa := string(g.Files[fileAppArmor])
	for _, bad := range []string{"sys_admin", "/etc/x", "{a,b}", "a b"} {
		if strings.Contains(aa, bad) {
			t.Errorf("apparmor text contains %q:\n%s", bad, aa)
		}
	}
	for _, want := range []string{"/data/* rwk,", "/srv/* mrix,"} {
		if !strings.Contains(aa, want) {
			t.Errorf("apparmor text lacks %q:\n%s", want, aa)
		}
	}
	prof := loadProfile(t, g)
	if !slices.Equal(prof.Capabilities, []string{"CAP_CHOWN"}) {
		t.Errorf("profile.toml capabilities %v: evidence escaped its comment", prof.Capabilities)
	}
	validateAppArmor(t, g.Files[fileAppArmor])
}

// loadProfile writes g and loads it through the policy, as runcage will.
func loadProfile(t *testing.T, g *Generated) *profiles.Profile {
	t.Helper()
	dir := t.TempDir()
	if err := g.write(dir, false, nil); err != nil {
		t.Fatal(err)
	}
	pol := &policy.Policy{ProfilesDir: dir}
	prof, err := pol.Profile(g.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pol.Seccomp(prof); err != nil {
		t.Fatal(err)
	}
	return prof
}

func validateAppArmor(t *testing.T, text []byte) {
	t.Helper()
	err := apparmor.Validate(context.Background(), text)
	if errors.Is(err, apparmor.ErrParserMissing) {
		t.Logf("apparmor_parser is not installed (apt-get install apparmor); text not validated: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
}

func TestGenerateAppArmorValidates(t *testing.T) {
	g := generateFrom(t, buildOptions{Name: "busybox"}, straceLog, "testdata/busybox-f-stderr.strace")
	validateAppArmor(t, g.Files[fileAppArmor])
	aa := string(g.Files[fileAppArmor])
	for _, want := range []string{"profile runcage-busybox ", "network inet,", "/bin/busybox mrix,", "/usr/bin/busybox mrix,", "/tmp/** rwk,", "/dev/null rwk,", "/etc/hostname r,", "/proc/** r,"} {
		if !strings.Contains(aa, want) {
			t.Errorf("apparmor text lacks %q:\n%s", want, aa)
		}
	}
	for _, bad := range []string{"network inet6", "network packet", "\n  file,"} {
		if strings.Contains(aa, bad) {
			t.Errorf("apparmor text has %q:\n%s", bad, aa)
		}
	}
	// A trace with no file or socket evidence (an audit log) keeps general
	// file access and the template's network rules.
	audit := New("a", SourceAudit)
	audit.Syscalls = map[string]uint64{"accept4": 1, "epoll_wait": 2}
	g, err := buildProfile(audit, buildOptions{Name: "audit"})
	if err != nil {
		t.Fatal(err)
	}
	aa = string(g.Files[fileAppArmor])
	if !strings.Contains(aa, "\n  file,") || !strings.Contains(aa, "network inet6,") {
		t.Errorf("audit-only profile restricts what the audit log cannot show:\n%s", aa)
	}
	validateAppArmor(t, g.Files[fileAppArmor])
}

func TestGenerateEmptyTrace(t *testing.T) {
	g, err := buildProfile(New("empty", SourceRuncage), buildOptions{Name: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(slices.Concat(seccomp.AlwaysAllowed(), analysis.VDSOSyscalls)))
	if got := seccomp.AllowedSyscalls(g.Seccomp); !slices.Equal(got, want) {
		t.Errorf("empty trace allows %v, want exactly %v", got, want)
	}
	if b := seccomp.BeyondDefault(seccomp.AlwaysAllowed()); len(b) != 0 {
		t.Errorf("runc's syscalls include %v, which runtime/default denies", b)
	}
	prof := loadProfile(t, g)
	if len(prof.Capabilities) != 0 || prof.Seccomp != fileSeccomp || prof.Mode != "enforce" || prof.UserNS != "required" {
		t.Errorf("profile %+v", prof)
	}
}

// --mode complain writes the same filter in a profile that loads as
// complain mode; the default is enforce.
func TestGenerateComplainMode(t *testing.T) {
	tr := New("c", SourceRuncage)
	tr.Syscalls["read"] = 1
	for _, complain := range []bool{false, true} {
		g, err := buildProfile(tr, buildOptions{Name: "c", Complain: complain})
		if err != nil {
			t.Fatal(err)
		}
		want := profiles.ModeEnforce
		if complain {
			want = profiles.ModeComplain
		}
		if prof := loadProfile(t, g); prof.Mode != want {
			t.Errorf("Complain %v: mode %q, want %q", complain, prof.Mode, want)
		}
	}
}

func TestWriteAtomicAndForce(t *testing.T) {
	dir := t.TempDir()
	tr := New("w", SourceRuncage)
	tr.Syscalls["read"] = 1
	g1, err := buildProfile(tr, buildOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if err := g1.write(dir, false, nil); err != nil {
		t.Fatal(err)
	}
	tr.Syscalls["sendfile"] = 1
	g2, err := buildProfile(tr, buildOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if err := g2.write(dir, false, nil); !errors.Is(err, ErrProfileExists) {
		t.Fatalf("overwrote without force: %v", err)
	}
	checkErr := errors.New("refused by check")
	if err := g2.write(dir, true, func(string) error { return checkErr }); !errors.Is(err, checkErr) {
		t.Fatalf("check error not returned: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "w", fileSeccomp))
	if !bytes.Equal(got, g1.Files[fileSeccomp]) {
		t.Fatal("a failed check replaced the profile")
	}
	if err := g2.write(dir, true, nil); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(filepath.Join(dir, "w", fileSeccomp))
	if !bytes.Equal(got, g2.Files[fileSeccomp]) {
		t.Fatal("--force did not replace the profile")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}

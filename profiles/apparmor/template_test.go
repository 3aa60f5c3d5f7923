package apparmor

import (
	"bytes"
	"strings"
	"testing"
)

// lines returns the trimmed, non-empty lines of text.
func lines(text []byte) []string {
	var out []string
	for _, l := range strings.Split(string(text), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func hasLine(text []byte, line string) bool {
	for _, l := range lines(text) {
		if l == line {
			return true
		}
	}
	return false
}

// checkStructure asserts what every generated profile must look like: one
// profile block, and every line inside it a comment, an include, or a rule
// ending in ','.
func checkStructure(t *testing.T, text []byte) {
	t.Helper()
	ls := lines(text)
	profiles := 0
	for i, l := range ls {
		switch {
		case strings.HasPrefix(l, "profile "):
			profiles++
			if !strings.HasSuffix(l, "{") {
				t.Errorf("profile line %q does not open a block", l)
			}
		case strings.HasPrefix(l, "#"):
		case l == "}":
			if i != len(ls)-1 {
				t.Errorf("block closes at line %d of %d", i+1, len(ls))
			}
		default:
			if !strings.HasSuffix(l, ",") || topLevelCommas(l) != 1 {
				t.Errorf("line %q is not a single rule", l)
			}
		}
	}
	if profiles != 1 {
		t.Errorf("text has %d profile lines, want 1", profiles)
	}
	if ls[len(ls)-1] != "}" {
		t.Errorf("text does not end with the closing brace: %q", ls[len(ls)-1])
	}
}

// topLevelCommas counts the commas of l outside {} alternations and ()
// permission lists.
func topLevelCommas(l string) int {
	depth, n := 0, 0
	for _, r := range l {
		switch r {
		case '{', '(':
			depth++
		case '}', ')':
			depth--
		case ',':
			if depth == 0 {
				n++
			}
		}
	}
	return n
}

var peers = "{runcage-default,runcage-default//&**,**//&runcage-default,**//&runcage-default//&**}"

func TestGenerateDefault(t *testing.T) {
	text, err := Generate(Options{Name: "default"})
	if err != nil {
		t.Fatal(err)
	}
	checkStructure(t, text)

	mustContain := []string{
		"#include <tunables/global>",
		"profile runcage-default flags=(attach_disconnected,mediate_deleted) {",
		"#include <abstractions/base>",
		"network inet,",
		"network inet6,",
		"network unix,",
		"capability,",
		"deny capability mac_admin,",
		"deny capability mac_override,",
		"file,",
		"deny mount,",
		"deny umount,",
		"deny pivot_root,",
		"deny ptrace (trace,tracedby),",
		"ptrace (read,readby) peer=" + peers + ",",
		"signal (receive) peer={unconfined,runc,crun},",
		"signal (send,receive) peer=" + peers + ",",
		"deny @{PROC}/* w,",
		"deny @{PROC}/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9]*}/** w,",
		"deny @{PROC}/sys/[^k]** w,",
		"deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,",
		"deny @{PROC}/sysrq-trigger rwklx,",
		"deny @{PROC}/mem rwklx,",
		"deny @{PROC}/kmem rwklx,",
		"deny @{PROC}/kcore rwklx,",
		"deny /sys/[^f]*/** wklx,",
		"deny /sys/f[^s]*/** wklx,",
		"deny /sys/fs/[^c]*/** wklx,",
		"deny /sys/fs/c[^g]*/** wklx,",
		"deny /sys/fs/cg[^r]*/** wklx,",
		"deny /sys/firmware/** rwklx,",
		"deny /sys/kernel/security/** rwklx,",
	}
	for _, l := range mustContain {
		if !hasLine(text, l) {
			t.Errorf("default profile lacks the line %q", l)
		}
	}

	// Rules that would make the profile weaker than docker-default, or
	// than what runcage promises.
	mustNotContain := []string{
		"network,",         // every socket family
		"network packet,",  // raw link-layer access
		"mount,",           // any mount
		"umount,",          // docker-default allows it; runcage does not
		"pivot_root,",      //
		"ptrace,",          // any ptrace
		"signal,",          // any signal
		"change_profile,",  // escaping the profile
		"deny capability,", // would break the profile's capability list
		"capability sys_admin,",
		"unix,",
		"dbus,",
	}
	for _, l := range mustNotContain {
		if hasLine(text, l) {
			t.Errorf("default profile has the line %q", l)
		}
	}
	for _, sub := range []string{"complain", "change_profile", "ptrace (trace,read", "peer=unconfined,"} {
		if bytes.Contains(text, []byte(sub)) {
			t.Errorf("default profile contains %q", sub)
		}
	}
	for _, l := range lines(text) {
		if strings.HasPrefix(l, "ptrace ") && l != "ptrace (read,readby) peer="+peers+"," {
			t.Errorf("unexpected ptrace allow rule %q", l)
		}
		if strings.HasPrefix(l, "signal ") && !strings.Contains(l, "peer=") {
			t.Errorf("signal rule without a peer: %q", l)
		}
	}
}

func TestGenerateComplain(t *testing.T) {
	text, err := Generate(Options{Name: "default", Complain: true})
	if err != nil {
		t.Fatal(err)
	}
	checkStructure(t, text)
	if !hasLine(text, "profile runcage-default flags=(attach_disconnected,mediate_deleted,complain) {") {
		t.Errorf("complain profile lacks the complain flag:\n%s", text)
	}
	// Complain mode changes the flag, nothing else.
	enforce, err := Generate(Options{Name: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Replace(text, []byte(",complain)"), []byte(")"), 1); !bytes.Equal(got, enforce) {
		t.Errorf("complain profile differs from the enforce one in more than the flag")
	}
}

func TestGeneratePaths(t *testing.T) {
	text, err := Generate(Options{
		Name:       "rec",
		ReadPaths:  []string{"/etc/passwd", "/etc/", "/etc/passwd", "/a+b:c~d%e=f_g-h.i"},
		WritePaths: []string{"/tmp/out"},
		ExecPaths:  []string{"/usr/bin/app", "/lib/x86_64-linux-gnu/libc.so.6"},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkStructure(t, text)
	for _, l := range []string{
		"profile runcage-rec flags=(attach_disconnected,mediate_deleted) {",
		"/etc/ r,",
		"/etc/passwd r,",
		"/a+b:c~d%e=f_g-h.i r,",
		"/tmp/out rwk,",
		"/usr/bin/app mrix,",
		"/lib/x86_64-linux-gnu/libc.so.6 mrix,",
		"deny mount,",
		"deny /sys/kernel/security/** rwklx,",
	} {
		if !hasLine(text, l) {
			t.Errorf("profile lacks the line %q", l)
		}
	}
	if hasLine(text, "file,") {
		t.Errorf("a profile with recorded paths must not allow all files")
	}
	if n := strings.Count(string(text), "/etc/passwd r,"); n != 1 {
		t.Errorf("/etc/passwd appears %d times, want 1", n)
	}
	// Sorted: /a+b... before /etc/ before /etc/passwd.
	s := string(text)
	if !(strings.Index(s, "/a+b") < strings.Index(s, "/etc/ r,") && strings.Index(s, "/etc/ r,") < strings.Index(s, "/etc/passwd r,")) {
		t.Errorf("read paths are not sorted:\n%s", text)
	}

	// The same options always give the same text.
	again, err := Generate(Options{
		Name:       "rec",
		ReadPaths:  []string{"/a+b:c~d%e=f_g-h.i", "/etc/passwd", "/etc/"},
		WritePaths: []string{"/tmp/out"},
		ExecPaths:  []string{"/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/app"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(text, again) {
		t.Errorf("Generate is not deterministic")
	}
}

func TestGenerateHostile(t *testing.T) {
	long := "/" + strings.Repeat("a", MaxPathLen)
	names := []string{
		"", ".", "..", "a/b", "a b", "a\nb", "a\rb", "a\tb", `a"b`, "a'b", "a{b", "a}b",
		"a,b", "a#b", "a\x00b", "a\x1bb", "a\x7fb", "a@b", "a*b", "a//&b", "a(b)", "ünï",
		strings.Repeat("a", MaxNameLen+1),
		"x flags=(complain) {\n  /** rwlkmix,\n}\nprofile y",
	}
	for _, n := range names {
		if _, err := Generate(Options{Name: n}); err == nil {
			t.Errorf("Generate accepted the name %q", n)
		}
	}
	paths := []string{
		"", "relative", "./a", "a/b", "/a/../b", "/..", "/a/..", "/a/./b", "/.", "/a//b",
		"/a\n", "/a\n  /** rwlkmix,", "/a,b", "/a, /** rw", `/a"b`, "/a'b", "/a{b}", "/a}", "/a{",
		"/a#b", "/a\x00", "/a\x01", "/a\x7f", "/a b", "/a\tb", "/a\rb",
		"/**", "/a*", "/a?", "/a[b]", "/a^b", `/a\b`, "/@{HOME}/x", "/a@b", "/a$b", "/a!b",
		"/a&b", "/a|b", "/a<b", "/a>b", "/a(b)", "/a;b", "/é", "/a\u2028b",
		long,
	}
	for _, p := range paths {
		for kind, o := range map[string]Options{
			"read":  {Name: "x", ReadPaths: []string{"/ok", p}},
			"write": {Name: "x", WritePaths: []string{p}},
			"exec":  {Name: "x", ExecPaths: []string{p, "/ok"}},
		} {
			text, err := Generate(o)
			if err == nil {
				t.Errorf("Generate accepted the %s path %q:\n%s", kind, p, text)
				continue
			}
			if text != nil {
				t.Errorf("Generate returned text with an error for the %s path %q", kind, p)
			}
			if strings.ContainsAny(err.Error(), "\n\x00") {
				t.Errorf("error for %q is not one line: %q", p, err)
			}
		}
	}
}

func TestGenerateAcceptsOrdinaryPaths(t *testing.T) {
	for _, p := range []string{"/", "/etc/", "/a..b", "/.hidden", "/a/b.c", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/run/a:b", "/home/~user", "/x%20y", "/k=v", "/a+b", strings.Repeat("/a", MaxPathLen/2)} {
		if _, err := Generate(Options{Name: "x", ReadPaths: []string{p}}); err != nil {
			t.Errorf("Generate rejected the path %q: %v", p, err)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"default", "record", "a", "A.b_c-d", "0", strings.Repeat("x", MaxNameLen)} {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", n, err)
		}
	}
	for _, n := range []string{"", ".", "..", "a/b", "a b", "a\n", `a"`, "a'", strings.Repeat("x", MaxNameLen+1), "é"} {
		if err := ValidName(n); err == nil {
			t.Errorf("ValidName(%q) = nil, want an error", n)
		}
	}
}

func TestProfileName(t *testing.T) {
	if got := ProfileName("default"); got != "runcage-default" {
		t.Errorf("ProfileName(default) = %q", got)
	}
}

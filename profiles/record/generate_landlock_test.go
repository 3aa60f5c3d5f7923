package record

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/policy"
)

// rulesOf returns the file rules of l without the baseline and the
// program /opt/app, as
// "PATH=ACCESS,ACCESS".
func rulesOf(l *profiles.Landlock) []string {
	var out []string
	for _, r := range l.FS {
		if r.Path == "/opt/app" || slices.ContainsFunc(landlockBaseline, func(b profiles.LandlockPath) bool { return b.Path == r.Path }) {
			continue
		}
		out = append(out, r.Path+"="+strings.Join(r.Access, ","))
	}
	return out
}

func TestLandlockRules(t *testing.T) {
	cases := []struct {
		name    string
		files   []FileAccess
		objects []string
		ports   []Port
		grants  []Grant
		want    []string
		bind    []int // nil: unrestricted
		connect []int
		warn    string
	}{{
		name:  "read, written, executed files are rules on themselves",
		files: []FileAccess{{"/etc/passwd", "r"}, {"/srv/log", "w"}, {"/app/run", "x"}, {"/etc/hosts", "s"}},
		want:  []string{"/app/run=execute", "/etc/passwd=read", "/srv/log=write"},
		bind:  []int{}, connect: []int{},
	}, {
		name:  "created and removed files give their directory create, remove and the file's rights",
		files: []FileAccess{{"/tmp/out/a", "cw"}, {"/tmp/old", "d"}, {"/var/lib/d", "m"}, {"/run/s.sock", "u"}},
		want: []string{"/run=make-sock", "/tmp=remove", "/tmp/out=create,write", "/tmp/out/a=write",
			"/var/lib=create"},
		bind: []int{}, connect: []int{},
	}, {
		name:  "a rename within one directory needs no refer",
		files: []FileAccess{{"/data/x.tmp", "cdw"}, {"/data/x", "clw"}},
		want:  []string{"/data=create,remove,write", "/data/x=write", "/data/x.tmp=write"},
		bind:  []int{}, connect: []int{},
	}, {
		name:  "a rename across directories gives both refer",
		files: []FileAccess{{"/data/tmp/x", "cdw"}, {"/data/db/x", "cl"}},
		want:  []string{"/data/db=create,refer", "/data/tmp=create,refer,remove,write", "/data/tmp/x=write"},
		bind:  []int{}, connect: []int{},
	}, {
		name:  "a listed directory, or one opened for reading, is list on itself only",
		files: []FileAccess{{"/etc", "e"}, {"/etc/passwd", "r"}, {"/srv/data", "r"}, {"/srv/data/db", "cw"}},
		want:  []string{"/etc=list", "/etc/passwd=read", "/srv/data=create,list,write", "/srv/data/db=write"},
		bind:  []int{}, connect: []int{},
	}, {
		name:    "mapped objects are execute on each file; /lib paths get their /usr twin",
		files:   []FileAccess{{"/lib/x86_64-linux-gnu/libc.so.6", "r"}},
		objects: []string{"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/redis-server", "[vdso]"},
		want: []string{"/lib/x86_64-linux-gnu/libc.so.6=read", "/usr/bin/redis-server=execute",
			"/usr/lib/x86_64-linux-gnu/libc.so.6=execute,read"},
		bind: []int{}, connect: []int{},
	}, {
		name:  "procfs and sysfs fold into one rule; devices get ioctl-dev",
		files: []FileAccess{{"/proc/self/status", "r"}, {"/proc/1/oom_score_adj", "w"}, {"/sys/fs/cgroup/x", "r"}, {"/dev/pts/0", "rw"}, {"/self/fd", "r"}, {"/proc/self/fd/7", "x"}},
		want:  []string{"/dev/pts/0=ioctl-dev,read,write", "/proc=read,write", "/sys=read"},
		bind:  []int{}, connect: []int{},
	}, {
		name:    "ports become port rules",
		ports:   []Port{{PortBind, "AF_INET", 8080}, {PortBind, "AF_INET6", 8080}, {PortConnect, "AF_INET", 5432}},
		bind:    []int{8080},
		connect: []int{5432},
	}, {
		name:    "a bind to port 0 leaves bind unrestricted",
		ports:   []Port{{PortBind, "AF_INET", 0}, {PortBind, "AF_INET", 80}},
		connect: []int{},
		warn:    "ephemeral port",
	}, {
		name:   "grants are added as given",
		grants: []Grant{{"/var/lib/x", []string{"write"}}},
		want:   []string{"/var/lib/x=write"},
		bind:   []int{}, connect: []int{},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := New("w", SourceRuncage)
			tr.PortsAndListings = true
			tr.Files, tr.Ports, tr.Grants = c.files, c.ports, c.grants
			tr.Objects = []Object{{Path: "/opt/app"}} // the program: every recording has one
			for _, o := range c.objects {
				tr.Objects = append(tr.Objects, Object{Path: o})
			}
			l, warnings := LandlockRules(tr, false)
			if l == nil {
				t.Fatalf("no rules: %v", warnings)
			}
			if got := rulesOf(l); !slices.Equal(got, c.want) {
				t.Errorf("rules:\n got %q\nwant %q", got, c.want)
			}
			if !slices.Equal(l.Bind, c.bind) || (l.Bind == nil) != (c.bind == nil) {
				t.Errorf("bind = %#v, want %#v", l.Bind, c.bind)
			}
			if !slices.Equal(l.Connect, c.connect) || (l.Connect == nil) != (c.connect == nil) {
				t.Errorf("connect = %#v, want %#v", l.Connect, c.connect)
			}
			if l.Require != profiles.IfAvailable {
				t.Errorf("require = %q, want if-available", l.Require)
			}
			if len(l.FS) < len(landlockBaseline) {
				t.Errorf("the baseline is missing: %v", l.FS)
			}
			if c.warn != "" && !strings.Contains(strings.Join(warnings, "\n"), c.warn) {
				t.Errorf("warnings %q lack %q", warnings, c.warn)
			}
		})
	}
}

// Without evidence that ports and listings were recorded, no rules.
func TestLandlockRulesNeedEvidence(t *testing.T) {
	tr := New("w", SourceStrace)
	tr.Files = []FileAccess{{"/etc/passwd", "r"}}
	if l, warnings := LandlockRules(tr, false); l != nil || len(warnings) != 1 {
		t.Errorf("a trace without PortsAndListings: rules %v, warnings %q", l, warnings)
	}
	a, b := New("a", SourceRuncage), New("b", SourceStrace)
	a.PortsAndListings = true
	b.Syscalls["read"] = 1
	if a.Merge(b); !a.PortsAndListings {
		t.Error("a merge with a log of syscalls only lost PortsAndListings")
	}
	b.Files = []FileAccess{{"/etc/passwd", "r"}}
	if a.Merge(b); a.PortsAndListings {
		t.Error("a merge with files recorded without listings kept PortsAndListings")
	}
}

// Too many rules fold into their directory.
func TestLandlockRulesFold(t *testing.T) {
	tr := New("w", SourceRuncage)
	tr.PortsAndListings = true
	for i := range maxGeneratedRules + 10 {
		tr.Files = append(tr.Files, FileAccess{Path: filepath.Join("/data", strings.Repeat("x", i%7+1), string(rune('a'+i%26))+strings.Repeat("y", i/26)), Access: "r"})
	}
	l, warnings := LandlockRules(tr, false)
	if l == nil || len(l.FS) > maxGeneratedRules || len(warnings) == 0 {
		t.Fatalf("%d rules, warnings %q", len(l.FS), warnings)
	}
	if !slices.ContainsFunc(l.FS, func(r profiles.LandlockPath) bool {
		return strings.HasPrefix(r.Path, "/data/") && !strings.Contains(r.Path[6:], "/")
	}) {
		t.Errorf("no directory rule under /data: %v", l.FS[:5])
	}
}

// The table buildProfile writes loads through the policy, with bind = []
// kept apart from no bind at all.
func TestLandlockTOMLLoads(t *testing.T) {
	tr := New("w", SourceRuncage)
	tr.Syscalls["read"] = 1
	tr.PortsAndListings = true
	tr.Files = []FileAccess{{Path: "/etc/passwd", Access: "r"}}
	tr.Ports = []Port{{PortConnect, "AF_INET", 443}}
	for _, noLandlock := range []bool{false, true} {
		g, err := buildProfile(tr, buildOptions{Name: "w", NoLandlock: noLandlock})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := g.write(dir, false, nil); err != nil {
			t.Fatal(err)
		}
		pol := &policy.Policy{ProfilesDir: dir}
		prof, err := pol.Profile("w")
		if err != nil {
			t.Fatal(err)
		}
		if noLandlock {
			if prof.Landlock != nil {
				t.Errorf("--no-landlock wrote %+v", prof.Landlock)
			}
			continue
		}
		l := prof.Landlock
		if l == nil || l.Bind == nil || len(l.Bind) != 0 || !slices.Equal(l.Connect, []int{443}) || len(l.FS) != len(g.Landlock.FS) {
			text, _ := os.ReadFile(filepath.Join(dir, "w", fileProfile))
			t.Errorf("loaded %+v from\n%s", l, text)
		}
	}
}

// Outside the system trees, the directories of the workload's data files
// get rules of their own unless --recorded-only; inside them, a file read
// is still a rule on that file only.
func TestLandlockRulesWidenData(t *testing.T) {
	tr := New("w", SourceRuncage)
	tr.PortsAndListings = true
	tr.Objects = []Object{{Path: "/opt/app"}}
	tr.Files = []FileAccess{
		{"/etc/passwd", "r"}, {"/usr/share/app/page.html", "r"},
		{"/srv/www/index.html", "r"}, {"/data", "r"}, {"/data/db", "r"},
		{"/tmp/uploads", "m"}, {"/var/log/app.log", "cw"}, {"/top", "r"}, {"/run", "m"},
	}
	for _, c := range []struct {
		widen bool
		want  []string
	}{
		{false, []string{"/data=list", "/data/db=read", "/etc/passwd=read", "/srv/www/index.html=read", "/tmp=create", "/top=read",
			"/usr/share/app/page.html=read", "/var/log=create,write", "/var/log/app.log=write"}},
		{true, []string{"/data=list,read", "/data/db=read", "/etc/passwd=read", "/srv/www=list,read", "/srv/www/index.html=read",
			"/tmp=create,list,read,remove,write", "/top=read", "/usr/share=list,read", "/usr/share/app/page.html=read",
			"/var/log=create,list,read,remove,write", "/var/log/app.log=write"}},
	} {
		l, warnings := LandlockRules(tr, c.widen)
		if l == nil {
			t.Fatal(warnings)
		}
		if got := rulesOf(l); !slices.Equal(got, c.want) {
			t.Errorf("widen %v:\n got %q\nwant %q", c.widen, got, c.want)
		}
	}
}

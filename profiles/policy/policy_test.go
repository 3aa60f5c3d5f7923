package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runcage/runcage/profiles"
)

func writePolicy(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadDefaults(t *testing.T) {
	p, err := Load(filepath.Join(t.TempDir(), "absent.toml"), false)
	if err != nil {
		t.Fatal(err)
	}
	if p.DefaultProfile != "default" || p.StateDir != DefaultStateDir || p.Runtime != "" || p.Path != "" {
		t.Fatalf("built-in policy = %+v", p)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent.toml"), true); err == nil {
		t.Fatal("an explicitly named policy that does not exist was accepted")
	}
}

func TestLoadRefusesBadPolicies(t *testing.T) {
	for name, text := range map[string]string{
		"unknown key":           "runtimee = \"/usr/bin/runc\"\n",
		"unknown profile key":   "[profiles.web]\ncapabilites = [\"CAP_KILL\"]\n",
		"redefine passthrough":  "[profiles.passthrough]\ndescription = \"x\"\n",
		"bad name":              "[profiles.\"../etc\"]\n",
		"bad mode":              "[profiles.web]\nmode = \"lenient\"\n",
		"bad host namespace":    "[profiles.web]\nhost_namespaces = [\"user\"]\n",
		"bad default":           "default_profile = \"a b\"\n",
		"negative pids":         "[profiles.web]\npids_limit = -1\n",
		"record and complain":   "[profiles.web]\nrecord = true\nmode = \"complain\"\n",
		"bad toml":              "runtime = \n",
		"bad apparmor require":  "[profiles.web]\napparmor = { require = \"maybe\" }\n",
		"bad userns":            "[profiles.web]\nuserns = \"sometimes\"\n",
		"bad selectable":        "[profiles.web]\nannotation_selectable = [\"a/b\"]\n",
		"recordings_dir type":   "recordings_dir = 3\n",
		"bad apparmor mode":     "[profiles.web]\napparmor = { mode = \"audit\" }\n",
		"typed value wrong":     "[profiles.web]\ncapabilities = \"CAP_KILL\"\n",
		"runtime wrong type":    "runtime = 3\n",
		"profiles wrong type":   "profiles = 3\n",
		"state_dir wrong type":  "state_dir = [1]\n",
		"duplicate table":       "[profiles.web]\n[profiles.web]\n",
		"selectable wrong type": "[profiles.web]\nannotation_selectable = \"x\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(writePolicy(t, text), true); err == nil {
				t.Fatalf("policy accepted:\n%s", text)
			}
		})
	}
}

const testPolicy = `
runtime = "/usr/sbin/runc"
default_profile = "default"

[profiles.default]
annotation_selectable = ["web", "strict", "loose", "passthrough"]

[profiles.web]
capabilities = ["CAP_NET_BIND_SERVICE"]

[profiles.strict]
masked_paths = ["/proc/kallsyms"]
pids_limit = 100
annotation_selectable = ["stricter", "looser-pids"]

[profiles.stricter]
masked_paths = ["/proc/kallsyms", "/proc/modules"]
pids_limit = 50

[profiles.looser-pids]
masked_paths = ["/proc/kallsyms"]
pids_limit = 1000

[profiles.loose]
host_namespaces = ["network"]
`

func TestSelectOrder(t *testing.T) {
	p, err := Load(writePolicy(t, testPolicy), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flag, argv0 string
		want        string
		src         Source
	}{
		{"", "/usr/bin/runcage", "default", FromDefault},
		{"", "/usr/local/bin/runcage-web", "web", FromArgv0},
		{"strict", "/usr/local/bin/runcage-web", "strict", FromFlag},
		{"passthrough", "runcage", "passthrough", FromFlag},
		{"", "runcage-passthrough", "passthrough", FromArgv0},
	} {
		prof, src, err := p.Select(tc.flag, tc.argv0)
		if err != nil {
			t.Fatal(err)
		}
		if prof.Name != tc.want || src != tc.src {
			t.Errorf("Select(%q, %q) = %s from %s, want %s from %s", tc.flag, tc.argv0, prof.Name, src, tc.want, tc.src)
		}
	}
	if _, _, err := p.Select("nosuch", "runcage"); !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), `profile "nosuch" not found`) {
		t.Errorf("unknown profile: %v", err)
	}
	if _, _, err := p.Select("../../etc", "runcage"); !errors.Is(err, profiles.ErrRefused) {
		t.Errorf("path-like profile name: %v", err)
	}
}

func TestAnnotationOnlyTightens(t *testing.T) {
	p, err := Load(writePolicy(t, testPolicy), true)
	if err != nil {
		t.Fatal(err)
	}
	def, _ := p.Profile("default")
	strict, _ := p.Profile("strict")
	for _, tc := range []struct {
		name    string
		base    *profiles.Profile
		value   string
		want    string
		wantErr string
	}{
		{name: "absent", base: def, want: "default"},
		{name: "same", base: def, value: "default", want: "default"},
		{name: "stricter permitted", base: def, value: "strict", want: "strict"},
		{name: "chain", base: strict, value: "stricter", want: "stricter"},
		{name: "not selectable", base: strict, value: "web", wantErr: `does not let annotations select "web"`},
		{name: "weaker caps", base: def, value: "web", wantErr: `profile "web" is weaker than "default": it keeps capability CAP_NET_BIND_SERVICE`},
		{name: "weaker namespaces", base: def, value: "loose", wantErr: "it allows host namespace network"},
		{name: "passthrough", base: def, value: "passthrough", wantErr: `"passthrough" changes nothing`},
		{name: "raised pids", base: strict, value: "looser-pids", wantErr: "pids_limit 1000 is above 100"},
		{name: "hostile value", base: def, value: "x\n\x1b[31m", wantErr: `"x\n\x1b[31m"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ann := map[string]string{"other": "x"}
			if tc.value != "" {
				ann[AnnotationProfile] = tc.value
			}
			got, err := p.Tighten(tc.base, ann)
			if tc.wantErr != "" {
				if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want refusal with %s", err, tc.wantErr)
				}
				if strings.ContainsAny(err.Error(), "\n\x1b") {
					t.Fatalf("raw control bytes in error %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tc.want {
				t.Fatalf("got %s, want %s", got.Name, tc.want)
			}
		})
	}
}

func TestProfilesDir(t *testing.T) {
	dir := t.TempDir()
	pd := filepath.Join(dir, "profiles", "redis")
	if err := os.MkdirAll(pd, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(pd, "profile.toml"), []byte("description = \"recorded\"\n"), 0o644)
	os.WriteFile(filepath.Join(pd, "seccomp.json"), []byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"}]}`), 0o644)
	p, err := Load(writePolicy(t, "profiles_dir = \""+filepath.Join(dir, "profiles")+"\"\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := p.Profile("redis")
	if err != nil {
		t.Fatal(err)
	}
	if prof.Seccomp != "seccomp.json" || prof.Dir != pd {
		t.Fatalf("profile = %+v", prof)
	}
	f, err := p.Seccomp(prof)
	if err != nil || len(f.Syscalls) != 1 {
		t.Fatalf("seccomp = %+v, %v", f, err)
	}
	def, _ := p.Profile("default")
	if err := p.AtLeastAsStrict(prof, def); err != nil {
		t.Errorf("a narrower recorded filter is not weaker: %v", err)
	}
	if err := p.AtLeastAsStrict(def, prof); err == nil {
		t.Errorf("default is wider than the recorded filter, but was accepted as at least as strict")
	}
	names := strings.Join(p.Names(), ",")
	if names != "default,passthrough,record,redis" {
		t.Errorf("Names() = %s", names)
	}
}

func TestArgv0Profile(t *testing.T) {
	for in, want := range map[string]string{
		"runcage": "", "/usr/bin/runcage-strict": "strict", "runc": "", "runcage-": "",
		"/opt/runcage-web/runcage": "",
	} {
		if got := Argv0Profile(in); got != want {
			t.Errorf("Argv0Profile(%q) = %q, want %q", in, got, want)
		}
	}
}

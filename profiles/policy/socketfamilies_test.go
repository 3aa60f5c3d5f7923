package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/runcage/runcage/profiles/seccomp"
	"github.com/runcage/runcage/runtime/spec"
)

func TestSocketFamilies(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		wantErr    string // "" for none
		wantAlg    bool   // socket(AF_ALG) gets an allowing rule
	}{
		{"default", "[profiles.web]\n", "", false},
		{"widened", "[profiles.web]\nsocket_families = [\"AF_ALG\", \"NETLINK_GENERIC\"]\n", "", true},
		{"unknown family", "[profiles.web]\nsocket_families = [\"AF_FOO\"]\n", `socket_families: invalid seccomp filter: "AF_FOO"`, false},
		{"not runtime/default", "[profiles.web]\nseccomp = \"/etc/x.json\"\nsocket_families = [\"AF_ALG\"]\n", "widens only runtime/default", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load(writePolicy(t, tc.text), true)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load: %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			prof, err := p.Profile("web")
			if err != nil {
				t.Fatal(err)
			}
			f, err := p.Seccomp(prof)
			if err != nil {
				t.Fatal(err)
			}
			alg := false
			for _, sc := range f.Syscalls {
				if sc.Action == "SCMP_ACT_ALLOW" && slices.Contains(sc.Names, "socket") && len(sc.Args) == 1 && sc.Args[0].Value == 38 {
					alg = true
				}
			}
			if alg != tc.wantAlg {
				t.Errorf("AF_ALG allowed %v, want %v", alg, tc.wantAlg)
			}
			if err := seccomp.Covers(f, seccomp.Default()); err != nil {
				t.Errorf("widened filter does not cover runtime/default: %v", err)
			}
		})
	}
}

func TestPolicySizeLimit(t *testing.T) {
	text := "# " + strings.Repeat("x", spec.MaxFileSize) + "\n"
	if _, err := Load(writePolicy(t, text), true); !errors.Is(err, spec.ErrTooLarge) {
		t.Errorf("Load of a policy larger than %d bytes: %v, want ErrTooLarge", spec.MaxFileSize, err)
	}
}

func TestSetIDFiles(t *testing.T) {
	p, err := Load(writePolicy(t, "[profiles.pkg]\nsetid_files = true\n[profiles.default]\nannotation_selectable = [\"pkg\"]\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := p.Profile("pkg")
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.Seccomp(prof)
	if err != nil {
		t.Fatal(err)
	}
	if err := seccomp.Covers(seccomp.Default(), f); err == nil {
		t.Fatal("setid_files did not widen runtime/default")
	}
	// An annotation cannot pick it over default: it is weaker.
	def, err := p.Profile("default")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Tighten(def, map[string]string{AnnotationProfile: "pkg"}); err == nil || !strings.Contains(err.Error(), "seccomp") {
		t.Fatalf("annotation selected a profile with setid_files over default: %v", err)
	}
	if _, err := Load(writePolicy(t, "[profiles.x]\nseccomp = \"/etc/x.json\"\nsetid_files = true\n"), true); err == nil || !strings.Contains(err.Error(), "runtime/default only") {
		t.Fatalf("setid_files with a seccomp file: %v", err)
	}
}

func TestPolicyDirLists(t *testing.T) {
	for _, text := range []string{
		"volume_roots = [\"relative/dir\"]\n",
		"volume_roots = [\"/\"]\n",
		"engine_state_dirs = [\"/var/lib/../etc\"]\n",
		"engine_state_dirs = [\"\"]\n",
	} {
		if _, err := Load(writePolicy(t, text), true); err == nil || !strings.Contains(err.Error(), "absolute clean path") {
			t.Errorf("%q: Load = %v, want a refusal of the path", text, err)
		}
	}
	p, err := Load(writePolicy(t, "volume_roots = [\"/srv/volumes\"]\nengine_state_dirs = [\"/srv/docker\"]\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.VolumeRoots, []string{"/srv/volumes"}) || !slices.Equal(p.EngineStateDirs, []string{"/srv/docker"}) {
		t.Errorf("got %v, %v", p.VolumeRoots, p.EngineStateDirs)
	}
	if p, err = Load(writePolicy(t, "\n"), true); err != nil || !slices.Equal(p.VolumeRoots, DefaultVolumeRoots) {
		t.Errorf("default volume roots: %v, %v", p.VolumeRoots, err)
	}
}

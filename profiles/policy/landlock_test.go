package policy

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/landlock"
)

const landlockPolicy = `
[profiles.base]
annotation_selectable = ["narrow", "wide", "none", "soft"]
[profiles.base.landlock]
require = "required"
[[profiles.base.landlock.fs]]
path = "/usr"
access = ["read", "execute"]

[profiles.narrow]
[profiles.narrow.landlock]
require = "required"
[[profiles.narrow.landlock.fs]]
path = "/usr/bin"
access = ["execute"]

[profiles.wide]
[profiles.wide.landlock]
require = "required"
[[profiles.wide.landlock.fs]]
path = "/"
access = ["read"]

[profiles.soft]
[profiles.soft.landlock]
[[profiles.soft.landlock.fs]]
path = "/usr"
access = ["read"]

[profiles.none]
`

// TestLandlockAnnotation: an annotation may select a profile whose
// Landlock rules are narrower than the base's, never wider, softer or absent.
func TestLandlockAnnotation(t *testing.T) {
	p, err := Load(writePolicy(t, landlockPolicy), true)
	if err != nil {
		t.Fatal(err)
	}
	base, err := p.Profile("base")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"narrow": "",
		"wide":   "they grant read on /",
		"soft":   "if-available, not required",
		"none":   "its Landlock rules: it has none",
	} {
		_, err := p.Tighten(base, map[string]string{AnnotationProfile: name})
		if want == "" && err != nil || want != "" && (!errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
}

// TestLandlockPolicyErrors: bad rules are refused when the policy loads.
func TestLandlockPolicyErrors(t *testing.T) {
	_, err := Load(writePolicy(t, "[profiles.x.landlock]\nbind = [70000]\n"), true)
	if err == nil || !strings.Contains(err.Error(), `profile "x": landlock.bind: port 70000 out of range`) {
		t.Fatalf("error %v", err)
	}
}

// TestLandlockModifierWired: the modifiers of a profile with Landlock
// rules run the process through the helper; default's do not.
func TestLandlockModifierWired(t *testing.T) {
	p, err := Load(writePolicy(t, landlockPolicy), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		helper bool
	}{{"narrow", true}, {"default", false}} {
		prof, err := p.Profile(c.name)
		if err != nil {
			t.Fatal(err)
		}
		// A helper path that does not exist: the modifier says so, which
		// proves it is in the list without building the helper here.
		mods, err := p.Modifiers(prof, Env{Landlock: landlock.Options{Helper: "/nonexistent/runcage-landlock"}})
		if err != nil {
			t.Fatal(err)
		}
		got := false
		for _, m := range mods {
			if m == nil {
				continue
			}
			err := m.Modify(&specs.Spec{Process: &specs.Process{Args: []string{"sh"}}})
			got = got || err != nil && strings.Contains(err.Error(), "landlock helper /nonexistent/runcage-landlock")
		}
		if got != c.helper {
			t.Errorf("%s: helper in the modifiers = %v", c.name, got)
		}
	}
}

package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/caps"
)

// TestRecordCapabilities checks the policy key record_capabilities: absent
// or true, the built-in record profile keeps the engines' default set (and
// so what a bundle asks for within it); false, it keeps none; a record
// profile the administrator defines keeps its own list; and default never
// changes.
func TestRecordCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"absent", "", caps.EngineDefault},
		{"true", "record_capabilities = true\n", caps.EngineDefault},
		{"false", "record_capabilities = false\n", nil},
		{"redefined", "[profiles.record]\nrecord = true\ncapabilities = [\"CAP_KILL\"]\n", []string{"CAP_KILL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load(writePolicy(t, tc.text), true)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := p.Profile("record")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rec.Capabilities, tc.want) {
				t.Errorf("record keeps %q, want %q", rec.Capabilities, tc.want)
			}
			def, err := p.Profile("default")
			if err != nil {
				t.Fatal(err)
			}
			if len(def.Capabilities) != 0 {
				t.Errorf("default keeps %q", def.Capabilities)
			}
		})
	}
	if _, err := Load(writePolicy(t, "record_capabilities = \"yes\"\n"), true); err == nil {
		t.Error("record_capabilities = \"yes\" was accepted")
	}
	// The built-in policy (no file) is the same as an empty file.
	p, err := Load(writePolicy(t, "")+".absent", false)
	if err != nil {
		t.Fatal(err)
	}
	if rec, _ := p.Profile("record"); !slices.Equal(rec.Capabilities, caps.EngineDefault) {
		t.Errorf("built-in policy: record keeps %q", rec.Capabilities)
	}
	// Builtin itself stays the policy-free definition: a second lookup
	// does not see the first one's list through shared memory.
	if b := Builtin("record"); len(b.Capabilities) != 0 {
		t.Errorf("Builtin(record) keeps %q", b.Capabilities)
	}
}

// TestRecordCapabilitiesBounded runs the record profile's capability
// modifier on bundles: it keeps what the bundle asked for within the
// engines' default set, never adds one, and refuses one beyond it.
func TestRecordCapabilitiesBounded(t *testing.T) {
	p, err := Load(writePolicy(t, ""), true)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := p.Profile("record")
	if err != nil {
		t.Fatal(err)
	}
	m, err := caps.New(rec)
	if err != nil {
		t.Fatal(err)
	}
	asked := []string{"CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"}
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: slices.Clone(asked), Effective: slices.Clone(asked), Permitted: slices.Clone(asked),
	}}}
	if err := m.Modify(s); err != nil {
		t.Fatal(err)
	}
	c := s.Process.Capabilities
	for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted} {
		if !slices.Equal(set, asked) {
			t.Errorf("record kept %q of %q", set, asked)
		}
	}
	if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
		t.Errorf("record added inheritable %q or ambient %q", c.Inheritable, c.Ambient)
	}
	admin := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_SYS_ADMIN"}}}}
	if err := m.Modify(admin); !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), "CAP_SYS_ADMIN") {
		t.Errorf("record with CAP_SYS_ADMIN asked: %v, want a refusal naming it", err)
	}
}

// TestRecordNotSelectableToWiden checks that a pod author cannot use the
// annotation to move from default (no capabilities) to record (some), even
// where the administrator lists record in annotation_selectable; with
// record_capabilities = false the same move is permitted (record then
// permits nothing default forbids).
func TestRecordNotSelectableToWiden(t *testing.T) {
	const sel = "[profiles.default]\nannotation_selectable = [\"record\"]\n"
	ann := map[string]string{AnnotationProfile: "record"}
	p, err := Load(writePolicy(t, sel), true)
	if err != nil {
		t.Fatal(err)
	}
	def, _ := p.Profile("default")
	if _, err := p.Tighten(def, ann); !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), "it keeps capability") {
		t.Errorf("annotation selected record from default: %v, want a refusal for its capabilities", err)
	}
	p, err = Load(writePolicy(t, "record_capabilities = false\n"+sel), true)
	if err != nil {
		t.Fatal(err)
	}
	def, _ = p.Profile("default")
	if got, err := p.Tighten(def, ann); err != nil || got.Name != "record" {
		t.Errorf("record_capabilities = false: annotation record from default: %v, %v", got, err)
	}
}

package apparmor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// fakeHost is a Host in memory. Load marks as loaded the profile that the
// text's "profile NAME " line names.
type fakeHost struct {
	mu        sync.Mutex
	enabled   bool
	loaded    map[string]bool
	loads     [][]byte
	loadErr   error
	loadedErr error
}

func (h *fakeHost) Enabled() bool { return h.enabled }

func (h *fakeHost) Loaded(name string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.loadedErr != nil {
		return false, h.loadedErr
	}
	return h.loaded[name], nil
}

func (h *fakeHost) Load(_ context.Context, text []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.loads = append(h.loads, bytes.Clone(text))
	if h.loadErr != nil {
		return h.loadErr
	}
	if h.loaded == nil {
		h.loaded = map[string]bool{}
	}
	for _, l := range strings.Split(string(text), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "profile" {
			h.loaded[f[1]] = true
		}
	}
	return nil
}

func specWith(label string) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{ApparmorProfile: label}}
}

func TestNewModifierTable(t *testing.T) {
	const ours = "runcage-default"
	bundles := map[string]string{
		"empty":         "",
		"unconfined":    "unconfined",
		"other":         "site-profile",
		"engine":        "docker-default",
		"already ours":  ours,
		"stacked":       "site-profile//&" + ours,
		"stacked first": ours + "//&zz-profile",
	}
	// What an AppArmor host ends up with, for each bundle value.
	want := map[string]string{
		"empty":         ours,
		"unconfined":    ours,
		"other":         "site-profile//&" + ours,
		"engine":        ours,
		"already ours":  ours,
		"stacked":       "site-profile//&" + ours,
		"stacked first": ours + "//&zz-profile",
	}
	for _, enabled := range []bool{true, false} {
		for _, req := range []profiles.Requirement{profiles.Required, profiles.IfAvailable, "", profiles.Off} {
			for bname, label := range bundles {
				t.Run(fmt.Sprintf("apparmor=%v/require=%q/bundle=%s", enabled, req, bname), func(t *testing.T) {
					host := &fakeHost{enabled: enabled}
					p := &profiles.Profile{Name: "default", AppArmor: profiles.AppArmor{Require: req}}
					m := NewModifier(p, host, nil)

					switch {
					case req == profiles.Off, !enabled && req != profiles.Required:
						if m != nil {
							t.Fatalf("NewModifier = %T, want nil", m)
						}
						// A nil modifier in a List changes nothing.
						s := specWith(label)
						if err := (profiles.List{m}).Modify(s); err != nil || s.Process.ApparmorProfile != label {
							t.Fatalf("List{nil}.Modify = %v, label %q", err, s.Process.ApparmorProfile)
						}
						return
					case !enabled:
						s := specWith(label)
						err := m.Modify(s)
						if !errors.Is(err, profiles.ErrRefused) {
							t.Fatalf("Modify = %v, want a refusal", err)
						}
						for _, sub := range []string{`"runcage-default"`, `"default"`, "requires AppArmor", "does not have it"} {
							if !strings.Contains(err.Error(), sub) {
								t.Errorf("refusal %q does not mention %s", err, sub)
							}
						}
						if s.Process.ApparmorProfile != label {
							t.Errorf("refused spec changed to %q", s.Process.ApparmorProfile)
						}
						if len(host.loads) != 0 {
							t.Errorf("loaded %d times on a host without AppArmor", len(host.loads))
						}
						return
					}

					if m == nil {
						t.Fatal("NewModifier = nil on an AppArmor host")
					}
					s := specWith(label)
					if err := m.Modify(s); err != nil {
						t.Fatalf("Modify: %v", err)
					}
					if got := s.Process.ApparmorProfile; got != want[bname] {
						t.Errorf("apparmorProfile = %q, want %q", got, want[bname])
					}
					// Idempotent, and the profile is loaded once.
					if err := m.Modify(s); err != nil {
						t.Fatalf("second Modify: %v", err)
					}
					if got := s.Process.ApparmorProfile; got != want[bname] {
						t.Errorf("after a second Modify apparmorProfile = %q, want %q", got, want[bname])
					}
					if len(host.loads) != 1 {
						t.Fatalf("loaded %d times, want 1", len(host.loads))
					}
					if !bytes.Contains(host.loads[0], []byte("profile runcage-default flags=(attach_disconnected,mediate_deleted) {")) {
						t.Errorf("loaded text is not the generated default:\n%s", host.loads[0])
					}
				})
			}
		}
	}
}

func TestNewModifierAlreadyLoaded(t *testing.T) {
	host := &fakeHost{enabled: true, loaded: map[string]bool{"runcage-default": true}}
	m := NewModifier(&profiles.Profile{Name: "default"}, host, nil)
	s := specWith("")
	if err := m.Modify(s); err != nil {
		t.Fatal(err)
	}
	if len(host.loads) != 0 {
		t.Errorf("loaded %d times, want 0: the profile was loaded already", len(host.loads))
	}
	if s.Process.ApparmorProfile != "runcage-default" {
		t.Errorf("apparmorProfile = %q", s.Process.ApparmorProfile)
	}
}

func TestNewModifierPassthrough(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		p := &profiles.Profile{Name: "passthrough", Passthrough: true, AppArmor: profiles.AppArmor{Require: profiles.Required}}
		if m := NewModifier(p, &fakeHost{enabled: enabled}, nil); m != nil {
			t.Errorf("passthrough profile on apparmor=%v: NewModifier = %T, want nil", enabled, m)
		}
	}
}

func TestNewModifierNoProcess(t *testing.T) {
	host := &fakeHost{enabled: true}
	m := NewModifier(&profiles.Profile{Name: "default"}, host, nil)
	s := &specs.Spec{}
	if err := m.Modify(s); err != nil {
		t.Fatal(err)
	}
	if s.Process != nil || len(host.loads) != 0 {
		t.Errorf("a spec without a process was changed or caused a load")
	}
}

func TestNewModifierComplain(t *testing.T) {
	host := &fakeHost{enabled: true}
	p := &profiles.Profile{Name: "default", AppArmor: profiles.AppArmor{Mode: "complain"}}
	if err := NewModifier(p, host, nil).Modify(specWith("")); err != nil {
		t.Fatal(err)
	}
	if len(host.loads) != 1 || !bytes.Contains(host.loads[0], []byte("mediate_deleted,complain)")) {
		t.Errorf("complain profile not loaded in complain mode: %q", host.loads)
	}
}

func TestNewModifierOwnText(t *testing.T) {
	own := []byte("profile runcage-custom flags=(attach_disconnected) {\n  file,\n}\n")
	host := &fakeHost{enabled: true}
	s := specWith("")
	if err := NewModifier(&profiles.Profile{Name: "custom"}, host, own).Modify(s); err != nil {
		t.Fatal(err)
	}
	if len(host.loads) != 1 || !bytes.Equal(host.loads[0], own) {
		t.Errorf("loaded %q, want the profile's own text", host.loads)
	}
	if s.Process.ApparmorProfile != "runcage-custom" {
		t.Errorf("apparmorProfile = %q", s.Process.ApparmorProfile)
	}

	// A text that does not define runcage-custom loads "fine" but leaves
	// the container without its profile: that is an error.
	host = &fakeHost{enabled: true}
	s = specWith("")
	err := NewModifier(&profiles.Profile{Name: "custom"}, host, []byte("profile something-else {\n}\n")).Modify(s)
	if err == nil || !strings.Contains(err.Error(), "does not list the profile") {
		t.Errorf("Modify with a text for another profile = %v", err)
	}
	if s.Process.ApparmorProfile != "" {
		t.Errorf("failed Modify changed the spec to %q", s.Process.ApparmorProfile)
	}
}

func TestNewModifierHostErrors(t *testing.T) {
	boom := errors.New("boom")
	for name, host := range map[string]*fakeHost{
		"load":   {enabled: true, loadErr: boom},
		"loaded": {enabled: true, loadedErr: boom},
	} {
		t.Run(name, func(t *testing.T) {
			s := specWith("docker-default")
			err := NewModifier(&profiles.Profile{Name: "default"}, host, nil).Modify(s)
			if !errors.Is(err, boom) {
				t.Fatalf("Modify = %v, want it to wrap the host's error", err)
			}
			if !strings.Contains(err.Error(), `"runcage-default"`) {
				t.Errorf("error does not name the profile: %v", err)
			}
			if s.Process.ApparmorProfile != "docker-default" {
				t.Errorf("failed Modify changed the spec to %q", s.Process.ApparmorProfile)
			}
		})
	}
	// A failed load is tried again by the next Modify.
	host := &fakeHost{enabled: true, loadErr: boom}
	m := NewModifier(&profiles.Profile{Name: "default"}, host, nil)
	_ = m.Modify(specWith(""))
	host.loadErr = nil
	if err := m.Modify(specWith("")); err != nil {
		t.Fatalf("Modify after a failed load: %v", err)
	}
	if len(host.loads) != 2 {
		t.Errorf("loads = %d, want 2", len(host.loads))
	}
}

func TestNewModifierInvalidProfile(t *testing.T) {
	for name, p := range map[string]*profiles.Profile{
		"nil":         nil,
		"bad name":    {Name: "a/b"},
		"empty name":  {Name: ""},
		"bad mode":    {Name: "default", AppArmor: profiles.AppArmor{Mode: "audit"}},
		"bad require": {Name: "default", AppArmor: profiles.AppArmor{Require: "sometimes"}},
	} {
		for _, enabled := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/apparmor=%v", name, enabled), func(t *testing.T) {
				host := &fakeHost{enabled: enabled}
				m := NewModifier(p, host, nil)
				if m == nil {
					t.Fatal("NewModifier = nil for an invalid profile")
				}
				s := specWith("")
				err := m.Modify(s)
				if err == nil {
					t.Fatal("Modify = nil for an invalid profile")
				}
				if errors.Is(err, profiles.ErrRefused) {
					t.Errorf("a configuration error is classified as a refusal: %v", err)
				}
				if s.Process.ApparmorProfile != "" || len(host.loads) != 0 {
					t.Errorf("invalid profile changed the spec or loaded something")
				}
			})
		}
	}
}

func TestNewModifierHostileBundleLabel(t *testing.T) {
	for _, label := range []string{
		"docker-default (enforce)", "a\nb", "a\tb", "a\x00", "a\x1b[31m", "é",
		"a//&", "//&a", "a//&//&b", "a&b", "&a", "a//&&b", "a/", "a//", "a//&b/",
	} {
		host := &fakeHost{enabled: true}
		s := specWith(label)
		err := NewModifier(&profiles.Profile{Name: "default"}, host, nil).Modify(s)
		if !errors.Is(err, profiles.ErrRefused) {
			t.Errorf("label %q: Modify = %v, want a refusal", label, err)
			continue
		}
		if strings.ContainsAny(err.Error(), "\n\x00\x1b\t") {
			t.Errorf("label %q: refusal is not escaped: %q", label, err)
		}
		if s.Process.ApparmorProfile != label || len(host.loads) != 0 {
			t.Errorf("label %q: refused spec changed to %q or loaded", label, s.Process.ApparmorProfile)
		}
	}
}

func TestStack(t *testing.T) {
	const ours = "runcage-default"
	for current, want := range map[string]string{
		"":                          ours,
		"unconfined":                ours,
		ours:                        ours,
		"docker-default":            ours,
		"cri-containerd.apparmor.d": ours,
		"site//&docker-default":     "site//&" + ours,
		"site//&" + ours:            "site//&" + ours,
		"a//&b":                     "a//&b//&" + ours,
		"a//&unconfined":            "a//&" + ours,
		"unconfined//&" + ours:      "unconfined//&" + ours,
		"/usr/bin/foo":              "/usr/bin/foo//&" + ours,
		"parent//hat":               "parent//hat//&" + ours,
		":ns:profile":               ":ns:profile//&" + ours,
		"runcage-record":            "runcage-record//&" + ours,
		"runcage-default-x":         "runcage-default-x//&" + ours,
	} {
		got, err := stack(current, ours)
		if err != nil || got != want {
			t.Errorf("stack(%q) = %q, %v; want %q", current, got, err, want)
		}
		if again, err := stack(got, ours); err != nil || again != got {
			t.Errorf("stack is not idempotent on %q: %q, %v", got, again, err)
		}
	}
}

func TestModifierConcurrent(t *testing.T) {
	host := &fakeHost{enabled: true}
	m := NewModifier(&profiles.Profile{Name: "default"}, host, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Modify(specWith("docker-default")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(host.loads) != 1 {
		t.Errorf("loads = %d, want 1", len(host.loads))
	}
}

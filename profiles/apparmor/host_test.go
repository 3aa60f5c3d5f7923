package apparmor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSys builds a fake /sys under a temporary root. enabled is the content
// of the module parameter ("" leaves it out); securityfs creates the
// AppArmor directory; profiles, if not nil, is the list of loaded profiles.
func fakeSys(t *testing.T, enabled string, securityfs bool, profiles []string) string {
	t.Helper()
	root := t.TempDir()
	write := func(p, content string) {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if enabled != "" {
		write(enabledParam, enabled)
	}
	if securityfs {
		if err := os.MkdirAll(filepath.Join(root, securityfsDir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if profiles != nil {
		write(loadedProfiles, strings.Join(profiles, "\n")+"\n")
	}
	return root
}

func TestSystemHostEnabled(t *testing.T) {
	for _, tc := range []struct {
		name       string
		enabled    string
		securityfs bool
		want       bool
		reason     string
	}{
		{"enabled", "Y\n", true, true, "AppArmor is enabled in this kernel"},
		{"disabled", "N\n", true, false, `AppArmor is disabled in this kernel: /sys/module/apparmor/parameters/enabled is "N"`},
		{"no module", "", false, false, "AppArmor is not enabled in this kernel: /sys/module/apparmor/parameters/enabled does not exist"},
		{"no securityfs", "Y\n", false, false, "AppArmor is enabled in this kernel but its interface is missing: "},
		{"empty parameter", "\n", true, false, `AppArmor is disabled in this kernel: /sys/module/apparmor/parameters/enabled is ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := SystemHost{Root: fakeSys(t, tc.enabled, tc.securityfs, nil)}
			if got := h.Enabled(); got != tc.want {
				t.Errorf("Enabled() = %v, want %v", got, tc.want)
			}
			ok, reason := h.enabled()
			if ok != tc.want || !strings.HasPrefix(reason, tc.reason) {
				t.Errorf("enabled() = %v, %q; want %v, %q", ok, reason, tc.want, tc.reason)
			}
			if strings.Contains(reason, "\n") {
				t.Errorf("reason is not one line: %q", reason)
			}
		})
	}
}

func TestSystemHostLoaded(t *testing.T) {
	h := SystemHost{Root: fakeSys(t, "Y\n", true, []string{
		"/usr/bin/man (enforce)",
		"runcage-default-2 (complain)",
		"docker-default (enforce)",
		"runcage-default (enforce)",
		"runcage-record//null-/bin/sh (complain)",
	})}
	for name, want := range map[string]bool{
		"runcage-default":   true,
		"runcage-default-2": true,
		"docker-default":    true,
		"/usr/bin/man":      true,
		"runcage-def":       false, // a prefix of a loaded name is not loaded
		"runcage-record":    false, // only its child is
		"runcage-other":     false,
		"runcage-default-":  false,
	} {
		got, err := h.Loaded(name)
		if err != nil {
			t.Errorf("Loaded(%q): %v", name, err)
		}
		if got != want {
			t.Errorf("Loaded(%q) = %v, want %v", name, got, want)
		}
	}
	for _, bad := range []string{"", "runcage-default (enforce)", "a\nb", "a\tb"} {
		if _, err := h.Loaded(bad); err == nil {
			t.Errorf("Loaded(%q) = nil error, want one", bad)
		}
	}
	missing := SystemHost{Root: fakeSys(t, "Y\n", true, nil)}
	if _, err := missing.Loaded("runcage-default"); err == nil {
		t.Error("Loaded without a profiles file = nil error, want one")
	}
}

func TestAvailable(t *testing.T) {
	parser, _ := fakeParser(t, "exit 0")
	for _, tc := range []struct {
		name   string
		host   SystemHost
		want   bool
		reason string
	}{
		{"enabled", SystemHost{Root: fakeSys(t, "Y\n", true, nil), Parser: parser}, true, "AppArmor is enabled in this kernel and profiles are loaded with " + parser},
		{"no parser", SystemHost{Root: fakeSys(t, "Y\n", true, nil), Parser: "/nonexistent/apparmor_parser"}, false, "AppArmor is enabled in this kernel, but apparmor_parser is not installed at /nonexistent/apparmor_parser"},
		{"no kernel support", SystemHost{Root: fakeSys(t, "", false, nil), Parser: parser}, false, "AppArmor is not enabled in this kernel: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := tc.host.available()
			if ok != tc.want || !strings.HasPrefix(reason, tc.reason) {
				t.Errorf("available() = %v, %q; want %v, %q", ok, reason, tc.want, tc.reason)
			}
		})
	}
	// The real host: whatever the answer, it comes with a reason.
	ok, reason := Available()
	t.Logf("Available() = %v, %q", ok, reason)
	if reason == "" || strings.Contains(reason, "\n") {
		t.Errorf("Available() reason %q is not one line", reason)
	}
}

// TestSystemHostLoad loads a generated profile into the real kernel. It
// needs AppArmor in the kernel, root and apparmor_parser.
func TestSystemHostLoad(t *testing.T) {
	h := SystemHost{}
	if ok, reason := h.enabled(); !ok {
		t.Skipf("%s", reason)
	}
	if os.Geteuid() != 0 {
		t.Skip("loading AppArmor profiles needs root")
	}
	requireParser(t)

	name := fmt.Sprintf("test-load-%d", os.Getpid())
	text, err := Generate(Options{Name: name, Complain: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := runParser(context.Background(), "", text, []string{"--remove"}); err != nil {
			t.Errorf("remove test profile: %v", err)
		}
	})
	if loaded, err := h.Loaded(ProfileName(name)); err != nil || loaded {
		t.Fatalf("before Load: Loaded = %v, %v", loaded, err)
	}
	if err := h.Load(context.Background(), text); err != nil {
		t.Fatal(err)
	}
	if loaded, err := h.Loaded(ProfileName(name)); err != nil || !loaded {
		t.Fatalf("after Load: Loaded = %v, %v", loaded, err)
	}
	// Loading again replaces the profile.
	if err := h.Load(context.Background(), text); err != nil {
		t.Fatalf("second Load: %v", err)
	}
}

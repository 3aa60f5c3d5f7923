package hooks

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/internal/testutil"
)

func TestModify(t *testing.T) {
	nvidia := []string{"/usr/bin/nvidia-container-runtime-hook", "/usr/libexec/oci/hooks.d/*"}
	tests := []struct {
		name    string
		allow   []string
		hooks   *specs.Hooks
		refused string // substring of the refusal
		errSub  string // substring of a non-refusal error
	}{
		{name: "no hooks, empty allowlist", hooks: nil},
		{name: "empty hooks struct", hooks: &specs.Hooks{}},
		{
			name:    "any hook refused with empty allowlist",
			hooks:   &specs.Hooks{Prestart: []specs.Hook{{Path: "/usr/bin/true"}}},
			refused: `prestart hook "/usr/bin/true" refused: profile "test" allows no hooks`,
		},
		{
			name:  "exact match",
			allow: nvidia,
			hooks: &specs.Hooks{Prestart: []specs.Hook{{Path: "/usr/bin/nvidia-container-runtime-hook", Args: []string{"x", "prestart"}}}},
		},
		{
			name:  "pattern match in every stage",
			allow: nvidia,
			hooks: &specs.Hooks{
				Prestart:        []specs.Hook{{Path: "/usr/libexec/oci/hooks.d/a"}},
				CreateRuntime:   []specs.Hook{{Path: "/usr/libexec/oci/hooks.d/b"}},
				CreateContainer: []specs.Hook{{Path: "/usr/libexec/oci/hooks.d/c"}},
				StartContainer:  []specs.Hook{{Path: "/usr/libexec/oci/hooks.d/d"}},
				Poststart:       []specs.Hook{{Path: "/usr/libexec/oci/hooks.d/e"}},
				Poststop:        []specs.Hook{{Path: "/usr/libexec/oci/hooks.d/f"}},
			},
		},
		{
			name:    "createRuntime not listed",
			allow:   nvidia,
			hooks:   &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/tmp/evil"}}},
			refused: `createRuntime hook "/tmp/evil" refused: not in profile "test" hooks list`,
		},
		{
			name:    "createContainer not listed",
			allow:   nvidia,
			hooks:   &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh"}}},
			refused: `createContainer hook "/bin/sh" refused`,
		},
		{
			name:    "startContainer not listed",
			allow:   nvidia,
			hooks:   &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh"}}},
			refused: `startContainer hook "/bin/sh" refused`,
		},
		{
			name:    "poststart not listed",
			allow:   nvidia,
			hooks:   &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/sh"}}},
			refused: `poststart hook "/bin/sh" refused`,
		},
		{
			name:    "poststop not listed after allowed ones",
			allow:   nvidia,
			hooks:   &specs.Hooks{Prestart: []specs.Hook{{Path: "/usr/bin/nvidia-container-runtime-hook"}}, Poststop: []specs.Hook{{Path: "/bin/sh"}}},
			refused: `poststop hook "/bin/sh" refused`,
		},
		{
			name:    "pattern does not cross directories",
			allow:   nvidia,
			hooks:   &specs.Hooks{Prestart: []specs.Hook{{Path: "/usr/libexec/oci/hooks.d/sub/x"}}},
			refused: `prestart hook "/usr/libexec/oci/hooks.d/sub/x" refused`,
		},
		{
			name:    "dot-dot cannot satisfy a star",
			allow:   nvidia,
			hooks:   &specs.Hooks{Prestart: []specs.Hook{{Path: "/usr/libexec/oci/hooks.d/.."}}},
			refused: "not absolute and clean",
		},
		{
			name:    "dot-dot in the middle",
			allow:   []string{"/opt/hooks/*/run"},
			hooks:   &specs.Hooks{Prestart: []specs.Hook{{Path: "/opt/hooks/../run"}}},
			refused: "not absolute and clean",
		},
		{
			name:   "relative hook path",
			allow:  []string{"*"},
			hooks:  &specs.Hooks{Prestart: []specs.Hook{{Path: "evil"}}},
			errSub: `hook pattern "*" is not absolute`,
		},
		{
			name:    "relative hook path with absolute pattern",
			allow:   []string{"/*"},
			hooks:   &specs.Hooks{Prestart: []specs.Hook{{Path: "evil"}}},
			refused: `prestart hook "evil" refused: path is not absolute and clean`,
		},
		{
			name:    "hostile bytes are escaped",
			allow:   nvidia,
			hooks:   &specs.Hooks{Prestart: []specs.Hook{{Path: "/tmp/\x1b[31mevil\n"}}},
			refused: `"/tmp/\x1b[31mevil\n"`,
		},
		{
			name:    "proc path refused before matching",
			allow:   []string{"/proc/*/exe"},
			hooks:   &specs.Hooks{Poststop: []specs.Hook{{Path: "/proc/1234/exe"}}},
			refused: `poststop hook "/proc/1234/exe" refused: path is under /proc`,
		},
		{
			name:    "proc task path refused before matching",
			allow:   []string{"/proc/*/task/*/exe"},
			hooks:   &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/proc/1234/task/1234/exe"}}},
			refused: `path is under /proc`,
		},
		{
			name:   "malformed pattern is a profile error",
			allow:  []string{"/usr/bin/[a"},
			errSub: `hook pattern "/usr/bin/[a"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Hooks: tt.hooks}
			var orig *specs.Hooks
			if tt.hooks != nil {
				c := *tt.hooks
				orig = &c
			}
			m := New(&profiles.Profile{Name: "test", Hooks: tt.allow}).(modifier)
			m.resolve = func(p string) (string, error) { return p, nil }
			err := m.Modify(s)
			switch {
			case tt.refused != "":
				testutil.RequireRefused(t, err, tt.refused)
			case tt.errSub != "":
				if err == nil || errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("err = %v, want a non-refusal error containing %q", err, tt.errSub)
				}
			default:
				if err != nil {
					t.Fatalf("Modify: %v", err)
				}
				if !reflect.DeepEqual(s.Hooks, orig) {
					t.Errorf("hooks changed: %+v, want %+v", s.Hooks, orig)
				}
			}
		})
	}
}

func TestNilProfile(t *testing.T) {
	s := &specs.Spec{Hooks: &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}}}
	testutil.RequireRefused(t, New(nil).Modify(s), "allows no hooks")
	if err := New(nil).Modify(&specs.Spec{}); err != nil {
		t.Fatalf("Modify without hooks: %v", err)
	}
}

// TestHostStagesResolved: the hooks that run on the host are decided on, and
// rewritten to, their resolved path; those that run in the container are not.
func TestHostStagesResolved(t *testing.T) {
	m := New(&profiles.Profile{Name: "test", Hooks: []string{"/opt/hooks/*", "/usr/lib/hook"}}).(modifier)
	m.resolve = func(p string) (string, error) {
		switch p {
		case "/opt/hooks/link":
			return "/usr/lib/hook", nil
		case "/opt/hooks/evil":
			return "", profiles.Refusef("directory %q is writable by group or others", "/tmp")
		}
		return p, nil
	}
	s := &specs.Spec{Hooks: &specs.Hooks{
		Prestart:        []specs.Hook{{Path: "/opt/hooks/link"}},
		CreateRuntime:   []specs.Hook{{Path: "/opt/hooks/link"}},
		CreateContainer: []specs.Hook{{Path: "/opt/hooks/link"}},
		StartContainer:  []specs.Hook{{Path: "/opt/hooks/link"}},
		Poststart:       []specs.Hook{{Path: "/opt/hooks/link"}},
		Poststop:        []specs.Hook{{Path: "/opt/hooks/x"}},
	}}
	if err := m.Modify(s); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		stage string
		got   string
		want  string
	}{
		{"prestart", s.Hooks.Prestart[0].Path, "/usr/lib/hook"},
		{"createRuntime", s.Hooks.CreateRuntime[0].Path, "/usr/lib/hook"},
		{"createContainer", s.Hooks.CreateContainer[0].Path, "/opt/hooks/link"},
		{"startContainer", s.Hooks.StartContainer[0].Path, "/opt/hooks/link"},
		{"poststart", s.Hooks.Poststart[0].Path, "/usr/lib/hook"},
		{"poststop", s.Hooks.Poststop[0].Path, "/opt/hooks/x"},
	} {
		if c.got != c.want {
			t.Errorf("%s hook path = %q, want %q", c.stage, c.got, c.want)
		}
	}
	// Idempotent: the rewritten spec passes again unchanged.
	again := *s.Hooks
	if err := m.Modify(s); err != nil || !reflect.DeepEqual(*s.Hooks, again) {
		t.Fatalf("second Modify: %v, hooks %+v, want %+v", err, *s.Hooks, again)
	}
	s = &specs.Spec{Hooks: &specs.Hooks{Poststop: []specs.Hook{{Path: "/opt/hooks/evil"}}}}
	testutil.RequireRefused(t, m.Modify(s), `poststop hook "/opt/hooks/evil" refused: it runs on the host as root, and directory "/tmp" is writable`)
	// The resolved path must match the list, not only the written one.
	m.allow = []string{"/opt/hooks/*"}
	s = &specs.Spec{Hooks: &specs.Hooks{Prestart: []specs.Hook{{Path: "/opt/hooks/link"}}}}
	testutil.RequireRefused(t, m.Modify(s), `prestart hook "/opt/hooks/link" refused: it resolves to "/usr/lib/hook", which is not in profile "test" hooks list`)
}

// TestResolveHostExec runs the resolver on this host's own files.
func TestResolveHostExec(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/hook"
	if err := os.WriteFile(file, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	true_, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Skip(err)
	}
	for _, c := range []struct {
		path    string
		want    string
		refused string
	}{
		{path: "/bin/true", want: true_},
		{path: true_, want: true_},
		{path: "/proc/self/exe", refused: "on procfs"},
		{path: "/proc/1/root/bin/true", refused: "on procfs"},
		{path: "/dev/fd/0", refused: "on procfs"},
		{path: "/usr/bin", refused: "is a directory"},
		{path: "/dev/null", refused: "not a regular file"},
		{path: file, refused: "writable by group or others"},
		{path: "/nonexistent-hook", refused: "no such file"},
	} {
		got, err := resolveHostExec(c.path)
		if c.refused != "" {
			if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), c.refused) {
				t.Errorf("resolveHostExec(%q) = %q, %v; want refusal containing %q", c.path, got, err, c.refused)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("resolveHostExec(%q) = %q, %v; want %q", c.path, got, err, c.want)
		}
	}
}

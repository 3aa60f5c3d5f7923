package hooks

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
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
			err := New(&profiles.Profile{Name: "test", Hooks: tt.allow}).Modify(s)
			switch {
			case tt.refused != "":
				checkRefused(t, err, tt.refused)
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
	checkRefused(t, New(nil).Modify(s), "allows no hooks")
	if err := New(nil).Modify(&specs.Spec{}); err != nil {
		t.Fatalf("Modify without hooks: %v", err)
	}
}

func checkRefused(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want refusal containing %q", substr)
	}
	if !errors.Is(err, profiles.ErrRefused) {
		t.Errorf("error %q is not ErrRefused", err)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
	if strings.ContainsAny(err.Error(), "\n\x1b\x00") {
		t.Errorf("error %q contains raw control bytes", err)
	}
}

package shim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	runtimeoptions "github.com/containerd/containerd/pkg/runtimeoptions/v1"
	"github.com/containerd/containerd/protobuf"
	ptypes "github.com/containerd/containerd/protobuf/types"

	"github.com/runcage/runcage/profiles"
)

func anyOf(t *testing.T, v any) *ptypes.Any {
	t.Helper()
	a, err := protobuf.MarshalAnyToProto(v)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// optionsDir makes a root-owned directory (0755) holding an options file
// with text and mode, and returns the file's path.
func optionsFileAt(t *testing.T, text string, dirMode, mode os.FileMode) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the trust checks need files owned by root: run as root")
	}
	dir := filepath.Join(t.TempDir(), "etc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "shim.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseOptionsNone(t *testing.T) {
	for _, a := range []*ptypes.Any{nil, {}} {
		o, err := ParseOptions(a)
		if err != nil || o != (Options{}) {
			t.Errorf("ParseOptions(%v) = %+v, %v; want the zero Options", a, o, err)
		}
	}
}

func TestParseOptionsFile(t *testing.T) {
	p := optionsFileAt(t, `profile = "strict"
config = "/etc/runcage/other.toml"
binary_name = "/usr/sbin/runc"
root = "/run/my-runc"
systemd_cgroup = true
`, 0o755, 0o644)
	o, err := ParseOptions(anyOf(t, &runtimeoptions.Options{ConfigPath: p}))
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Profile: "strict", Config: "/etc/runcage/other.toml", BinaryName: "/usr/sbin/runc", Root: "/run/my-runc", SystemdCgroup: true}
	if o != want {
		t.Errorf("got %+v, want %+v", o, want)
	}
}

// A pod author who could write the options file could pick a weaker
// profile: the file and its directories must be root's alone.
func TestParseOptionsFileUntrusted(t *testing.T) {
	for _, tc := range []struct {
		name          string
		dirMode, mode os.FileMode
	}{
		{"file writable by others", 0o755, 0o666},
		{"file writable by group", 0o755, 0o664},
		{"directory writable by others", 0o777, 0o644},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := optionsFileAt(t, `profile = "passthrough"`, tc.dirMode, tc.mode)
			_, err := ParseOptions(anyOf(t, &runtimeoptions.Options{ConfigPath: p}))
			if !errors.Is(err, profiles.ErrRefused) {
				t.Errorf("ParseOptions of a file with %s = %v, want a refusal", tc.name, err)
			}
		})
	}
	t.Run("owned by another user", func(t *testing.T) {
		p := optionsFileAt(t, `profile = "passthrough"`, 0o755, 0o644)
		if err := os.Chown(p, 1000, 1000); err != nil {
			t.Fatal(err)
		}
		_, err := ParseOptions(anyOf(t, &runtimeoptions.Options{ConfigPath: p}))
		if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), "uid 1000") {
			t.Errorf("ParseOptions of a file owned by uid 1000 = %v, want a refusal naming the owner", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := ParseOptions(anyOf(t, &runtimeoptions.Options{ConfigPath: "/nonexistent/runcage-shim.toml"}))
		if err == nil {
			t.Error("ParseOptions of a missing file succeeded; a named file must exist")
		}
	})
}

func TestDecodeOptionsFileRefusals(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{`profle = "strict"`, "unknown keys profle"},
		{`profile = "../x"`, "profile"},
		{`binary_name = "/usr/local/bin/runcage"`, "not runcage"},
		{`binary_name = "/usr/local/bin/runcage-strict"`, "not runcage"},
		{`config = "relative.toml"`, "not an absolute path"},
		{`root = "run/runc"`, "not an absolute path"},
		{`profile = 3`, "runtime options"},
	} {
		_, err := DecodeOptionsFile("t.toml", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DecodeOptionsFile(%q) = %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
}

func TestParseOptionsBody(t *testing.T) {
	o, err := ParseOptions(anyOf(t, &runtimeoptions.Options{ConfigBody: []byte(`profile = "strict"`)}))
	if err != nil || o.Profile != "strict" {
		t.Errorf("ConfigBody: %+v, %v", o, err)
	}
	_, err = ParseOptions(anyOf(t, &runtimeoptions.Options{ConfigPath: "/x", ConfigBody: []byte(`profile = "strict"`)}))
	if !errors.Is(err, profiles.ErrRefused) {
		t.Errorf("ConfigPath and ConfigBody both set: %v, want a refusal", err)
	}
}

// runc's options select the profile by BinaryName's base name, never the
// delegate.
func TestParseOptionsRunc(t *testing.T) {
	o, err := ParseOptions(anyOf(t, &runcoptions.Options{BinaryName: "/usr/local/bin/runcage-strict", Root: "/run/r", SystemdCgroup: true, NoNewKeyring: true}))
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Argv0: "/usr/local/bin/runcage-strict", Root: "/run/r", SystemdCgroup: true, NoNewKeyring: true}
	if o != want {
		t.Errorf("got %+v, want %+v", o, want)
	}
	if _, err := ParseOptions(anyOf(t, &runcoptions.Options{Root: "rel"})); err == nil {
		t.Error("a relative runc Root was accepted")
	}
}

func TestParseOptionsOtherType(t *testing.T) {
	_, err := ParseOptions(anyOf(t, &runcoptions.CheckpointOptions{Exit: true}))
	if !errors.Is(err, profiles.ErrRefused) {
		t.Errorf("options of another type: %v, want a refusal", err)
	}
}

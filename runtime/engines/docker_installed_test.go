package engines

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadDockerInstalled(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "daemon.json")
	if in, err := ReadDockerInstalled(cfg); in != nil || err != nil {
		t.Fatalf("missing file: %v, %v", in, err)
	}
	d := &Docker{Request: Request{Binary: "/usr/bin/runcage", Profiles: []string{"default", "web"}}, Policy: "/etc/p.toml"}
	data, _, err := mergeDaemonJSON([]byte(`{"runtimes":{"nvidia":{"path":"/x"},"runcage-old":{"path":"/other/runcage","runtimeArgs":["--runcage-config=/etc/p.toml","--runcage-profile=old"]}}}`), d.runtimes(), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := ReadDockerInstalled(cfg)
	if err != nil || in == nil {
		t.Fatalf("ReadDockerInstalled: %v, %v", in, err)
	}
	if in.Binary != d.Binary || in.Policy != d.Policy || !slices.Equal(in.Profiles, []string{"default", "web"}) {
		t.Errorf("read %+v, want binary, policy and profiles of %+v", in, d)
	}
	if !in.Has("web") || in.Has("old") {
		t.Errorf("Has: web %v, old (another binary) %v", in.Has("web"), in.Has("old"))
	}
	want := []string{"/usr/bin/runcage", "install", "docker", "--config", cfg, "--binary", "/usr/bin/runcage", "--policy", "/etc/p.toml", "--profiles", "default,web,gen"}
	if got := in.Adding("gen").Argv(); !slices.Equal(got, want) {
		t.Errorf("Argv = %q, want %q", got, want)
	}
	if err := os.WriteFile(cfg, []byte(`{"runtimes":{"crun":{"path":"/usr/bin/crun"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if in, err := ReadDockerInstalled(cfg); in != nil || err != nil {
		t.Errorf("no runcage runtime: %v, %v", in, err)
	}
	if err := os.WriteFile(cfg, []byte(`{"runtimes":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDockerInstalled(cfg); err == nil {
		t.Error("malformed daemon.json read without error")
	}
}

// TestDockerLegacyForm: a daemon.json from an install before the
// runcage-<profile> links (the profile as --runcage-profile in runtimeArgs)
// is read as installed and updated to the link form without --force.
func TestDockerLegacyForm(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "daemon.json")
	bin := filepath.Join(dir, "runcage")
	legacy := `{"runtimes": {"runcage": {"path": "` + bin + `"}, "runcage-web": {"path": "` + bin + `", "runtimeArgs": ["--runcage-profile=web"]}}}`
	if err := os.WriteFile(cfg, []byte(legacy), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := ReadDockerInstalled(cfg)
	if err != nil || in == nil || !in.Has("web") {
		t.Fatalf("legacy form not read as installed: %+v, %v", in, err)
	}
	var out bytes.Buffer
	if err := (&Docker{Request: newInstallReq(bin, "web"), Config: cfg}).Install(&out); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(cfg)
	want := `{"runtimes": {"runcage": {"path": "` + bin + `"}, "runcage-web": {"path": "` + bin + `-web"}}}`
	if string(got) != want || !strings.Contains(out.String(), "updated runtime \"runcage-web\"") {
		t.Errorf("got %s\nwant %s\noutput:\n%s", got, want, out.String())
	}
	if in, err := ReadDockerInstalled(cfg); err != nil || in == nil || !in.Has("web") {
		t.Errorf("link form not read as installed: %+v, %v", in, err)
	}
}

package engines

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const debianContainerdConfig = `version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
`

func TestEnsureImport(t *testing.T) {
	const dropin = "/etc/containerd/conf.d/runcage.toml"
	for _, tc := range []struct {
		name, in string
		changed  bool
	}{
		{"debian", debianContainerdConfig, true},
		{"no-version", "# a comment\n[plugins]\n", true},
		{"imports-other", "version = 2\nimports = [\"/etc/containerd/other.toml\"] # keep me\n\n[grpc]\n  address = \"/run/x.sock\"\n", true},
		{"imports-multiline-trailing-comma", "version = 2\nimports = [\n  \"/a.toml\",\n  # note ] inside a comment\n  \"/b].toml\",\n]\n", true},
		{"imports-empty", "imports = []\nversion = 2\n", true},
		{"covered-by-glob", "version = 2\nimports = [\"/etc/containerd/conf.d/*.toml\"]\n", false},
		{"covered-relative", "version = 2\nimports = [\"conf.d/runcage.toml\"]\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ensureImport([]byte(tc.in), true, "/etc/containerd/config.toml", dropin)
			if err != nil {
				t.Fatal(err)
			}
			if changed := !bytes.Equal(out, []byte(tc.in)); changed != tc.changed {
				t.Fatalf("changed = %v, want %v:\n%s", changed, tc.changed, out)
			}
			if tc.changed {
				golden(t, "containerd-main-"+tc.name+".toml", out)
				again, err := ensureImport(out, true, "/etc/containerd/config.toml", dropin)
				if err != nil || !bytes.Equal(again, out) {
					t.Errorf("second pass changed it (err %v):\n%s", err, again)
				}
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		out, err := ensureImport(nil, false, "/etc/containerd/config.toml", dropin)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "containerd-main-missing.toml", out)
	})
	for _, bad := range []string{"version = 2\n[plugins\n", "imports = \"/x.toml\"\n", "imports = [1]\n"} {
		if _, err := ensureImport([]byte(bad), true, "/etc/containerd/config.toml", dropin); !errors.Is(err, errInstall) {
			t.Errorf("ensureImport(%q) = %v, want errInstall", bad, err)
		}
	}
}

func TestBuildDropin(t *testing.T) {
	hs := (&Containerd{Request: Request{Binary: "/usr/local/bin/runcage", Profiles: []string{"default"}}}).handlers()
	out, err := buildDropin([]byte(debianContainerdConfig), true, hs, false)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "containerd-dropin-debian.toml", out)
	// A main config with its own runc handler and CRI settings: both are
	// carried into the drop-in unchanged.
	withRunc := debianContainerdConfig + `  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
`
	out, err = buildDropin([]byte(withRunc), true, hs, false)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "containerd-dropin-own-runc.toml", out)
	out, err = buildDropin(nil, false, hs, false)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "containerd-dropin-no-main.toml", out)

	conflict := debianContainerdConfig + `  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runcage]
    runtime_type = "io.containerd.runsc.v1"
`
	if _, err := buildDropin([]byte(conflict), true, hs, false); !errors.Is(err, errInstall) {
		t.Errorf("conflicting runcage handler: err = %v, want errInstall", err)
	}
	if _, err := buildDropin([]byte("[plugins.cri]\n"), true, hs, false); !errors.Is(err, errInstall) || !strings.Contains(err.Error(), "version 1") {
		t.Errorf("version 1 config: err = %v, want a refusal naming version 1", err)
	}
	if _, err := buildDropin([]byte("version = 2\nplugins = 3\n"), true, hs, false); !errors.Is(err, errInstall) {
		t.Errorf("plugins not a table: err = %v, want errInstall", err)
	}
}

func TestContainerdInstallFiles(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "runcage")
	os.MkdirAll(filepath.Dir(bin), 0o755)
	os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755)
	cfg := filepath.Join(dir, "etc", "config.toml")
	os.MkdirAll(filepath.Dir(cfg), 0o755)
	os.WriteFile(cfg, []byte(debianContainerdConfig), 0o644)
	c := &Containerd{
		Request: newInstallReq(bin, "default", "web"),
		Config:  cfg,
		Dropin:  filepath.Join(dir, "etc", "conf.d", "runcage.toml"),
	}
	var out bytes.Buffer
	if err := c.Install(&out); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"default", "web"} {
		l, err := os.Readlink(filepath.Join(dir, "bin", "runcage-"+p))
		if err != nil || l != "runcage" {
			t.Errorf("runcage-%s -> %q (%v), want runcage", p, l, err)
		}
	}
	main, _ := os.ReadFile(cfg)
	if want := "version = 2\nimports = [\"" + c.Dropin + "\"]\n"; !strings.HasPrefix(string(main), want) || string(main[len(want):]) != debianContainerdConfig[len("version = 2\n"):] {
		t.Errorf("main config is not the original plus one imports line:\n%s", main)
	}
	if b := backups(t, filepath.Join(dir, "etc")); len(b) != 1 {
		t.Errorf("backups %q, want one of the main config", b)
	}
	before := snapshot(t, dir)
	out.Reset()
	if err := c.Install(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "already installed") {
		t.Errorf("second run: %s", out.String())
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("second run changed files:\n%s\n->\n%s", before, after)
	}

	// Something else in the way of a profile link is refused, untouched.
	os.Remove(filepath.Join(dir, "bin", "runcage-web"))
	os.WriteFile(filepath.Join(dir, "bin", "runcage-web"), []byte("x"), 0o755)
	before = snapshot(t, dir)
	if err := c.Install(&out); !errors.Is(err, errInstall) {
		t.Errorf("file in the way of a link: err = %v, want errInstall", err)
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("refused run changed files")
	}
	// A symlinked main config is refused.
	os.Remove(filepath.Join(dir, "bin", "runcage-web"))
	link := filepath.Join(dir, "etc", "link.toml")
	os.Symlink(cfg, link)
	c.Config = link
	if err := c.Install(&out); !errors.Is(err, errInstall) || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlinked config: err = %v, want errInstall", err)
	}
}

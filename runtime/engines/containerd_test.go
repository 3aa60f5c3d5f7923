package engines

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
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
	hs := (&Containerd{Request: Request{Binary: "/usr/local/bin/runcage", Profiles: []string{"default"}}}).handlers(false)
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

func TestContainerdVersion(t *testing.T) {
	for _, tc := range []struct {
		out          string
		major, minor int
		ok           bool
	}{
		{"containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n", 1, 6, true},
		{"containerd github.com/containerd/containerd v1.7.35 abcdef\n", 1, 7, true},
		{"containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7\n", 2, 1, true},
		{"containerd\n", 0, 0, false},
		{"containerd x vX.Y\n", 0, 0, false},
	} {
		major, minor, ok := containerdVersion(tc.out)
		if major != tc.major || minor != tc.minor || ok != tc.ok {
			t.Errorf("containerdVersion(%q) = %d, %d, %v; want %d, %d, %v", tc.out, major, minor, ok, tc.major, tc.minor, tc.ok)
		}
	}
}

// TestBuildDropinShim: the shim form's handlers, for containerd 1.6 (found
// by name) and 1.7+ (runtime_path).
func TestBuildDropinShim(t *testing.T) {
	c := &Containerd{Request: Request{Binary: "/usr/local/bin/runcage", Profiles: []string{"default", "web"}},
		Shim: "/usr/local/bin/containerd-shim-runcage-v2", OptionsDir: DefaultOptionsDir}
	for _, tc := range []struct {
		name        string
		runtimePath bool
	}{{"containerd-dropin-shim-1.6.toml", false}, {"containerd-dropin-shim-1.7.toml", true}} {
		out, err := buildDropin([]byte(debianContainerdConfig), true, c.handlers(tc.runtimePath), false)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, tc.name, out)
	}
	// A drop-in of the runc-binary form is "defined differently" for the
	// shim form: the main config's own runcage handler is kept unless
	// --force, whichever form it has.
	binForm := debianContainerdConfig + `  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runcage]
    runtime_type = "io.containerd.runc.v2"
    pod_annotations = ["runcage.dev/*"]
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runcage.options]
      BinaryName = "/usr/local/bin/runcage"
`
	if _, err := buildDropin([]byte(binForm), true, c.handlers(false), false); !errors.Is(err, errInstall) {
		t.Errorf("main config with the runc-binary form: err = %v, want errInstall", err)
	}
	if _, err := buildDropin([]byte(binForm), true, (&Containerd{Request: c.Request}).handlers(false), false); err != nil {
		t.Errorf("main config with the same runc-binary form: %v", err)
	}
}

// shimInstallDir makes a runcage binary, a shim and Debian's main config
// under dir and returns an install of the shim form into it.
func shimInstallDir(t *testing.T, dir string, profiles ...string) *Containerd {
	t.Helper()
	bin := filepath.Join(dir, "bin", "runcage")
	shim := filepath.Join(dir, "bin", ShimBinaryName)
	cfg := filepath.Join(dir, "etc", "config.toml")
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(cfg), filepath.Join(dir, "ctrd")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755)
	os.WriteFile(shim, []byte("#!/bin/true\n"), 0o755)
	os.WriteFile(cfg, []byte(debianContainerdConfig), 0o644)
	return &Containerd{
		Request:     newInstallReq(bin, profiles...),
		Config:      cfg,
		Dropin:      filepath.Join(dir, "etc", "conf.d", "runcage.toml"),
		Shim:        shim,
		OptionsDir:  filepath.Join(dir, "etc", "runcage"),
		ShimLinkDir: filepath.Join(dir, "ctrd"),
	}
}

func TestContainerdInstallShim(t *testing.T) {
	dir := t.TempDir()
	c := shimInstallDir(t, dir, "web")
	c.PolicyPath = "/srv/policy.toml"
	var out bytes.Buffer
	if err := c.Install(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("install:\n%s", out.String())
	// Without a containerd binary the version is unknown: the 1.6 form,
	// with the link containerd finds the shim by.
	if l, err := os.Readlink(filepath.Join(dir, "ctrd", ShimBinaryName)); err != nil || l != c.Shim {
		t.Errorf("shim link -> %q (%v), want %s", l, err, c.Shim)
	}
	for name, want := range map[string]string{
		"runcage.toml":     "config = \"/srv/policy.toml\"\n",
		"runcage-web.toml": "profile = \"web\"\nconfig = \"/srv/policy.toml\"\n",
	} {
		p := filepath.Join(c.OptionsDir, name)
		b, err := os.ReadFile(p)
		if err != nil || !strings.HasSuffix(string(b), "\n"+want) {
			t.Errorf("%s = %q (%v), want it to end in %q", name, b, err, want)
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v (%v), want 0644", name, st.Mode(), err)
		}
	}
	dropin, _ := os.ReadFile(c.Dropin)
	for _, want := range []string{`runtime_type = "` + ShimRuntimeType + `"`, `ConfigPath = "` + filepath.Join(c.OptionsDir, "runcage-web.toml") + `"`} {
		if !strings.Contains(string(dropin), want) {
			t.Errorf("drop-in lacks %s:\n%s", want, dropin)
		}
	}
	if strings.Contains(string(dropin), "BinaryName") || strings.Contains(string(dropin), "runtime_path") {
		t.Errorf("drop-in of the 1.6 shim form names a BinaryName or runtime_path:\n%s", dropin)
	}
	// Idempotent: nothing changes on a second run.
	before := snapshot(t, dir)
	out.Reset()
	if err := c.Install(&out); err != nil || !strings.Contains(out.String(), "already installed") {
		t.Errorf("second run: %v\n%s", err, out.String())
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("second run changed files:\n%s\n->\n%s", before, after)
	}
	// An options file changed by hand is put back; a file in the way of
	// the shim link is refused without --force.
	os.WriteFile(filepath.Join(c.OptionsDir, "runcage-web.toml"), []byte("profile = \"passthrough\"\n"), 0o644)
	if err := c.Install(&out); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("install did not restore the options file:\n%s\n->\n%s", before, after)
	}
	link := filepath.Join(dir, "ctrd", ShimBinaryName)
	os.Remove(link)
	os.WriteFile(link, []byte("x"), 0o755)
	if err := c.Install(&out); !errors.Is(err, errInstall) {
		t.Errorf("file in the way of the shim link: err = %v, want errInstall", err)
	}
}

// TestContainerdInstallShimMissing: a missing shim is refused when it was
// asked for, and registers the runc-binary form when it is optional.
func TestContainerdInstallShimMissing(t *testing.T) {
	dir := t.TempDir()
	c := shimInstallDir(t, dir)
	os.Remove(c.Shim)
	before := snapshot(t, dir)
	var out bytes.Buffer
	if err := c.Install(&out); !errors.Is(err, errInstall) || !strings.Contains(err.Error(), "--shim=false") {
		t.Errorf("missing shim: err = %v, want a refusal naming --shim=false", err)
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("refused run changed files")
	}
	c.ShimOptional = true
	if err := c.Install(&out); err != nil {
		t.Fatal(err)
	}
	dropin, _ := os.ReadFile(c.Dropin)
	if !strings.Contains(out.String(), "no shim at") || !strings.Contains(string(dropin), `BinaryName = "`+c.Binary+`"`) {
		t.Errorf("optional shim missing: want the runc-binary form and a line saying so:\n%s\n%s", out.String(), dropin)
	}
	if _, err := os.Stat(c.OptionsDir); err == nil {
		t.Errorf("options written for the runc-binary form")
	}
}

// TestContainerdInstallShimVerified installs the shim form with the real
// containerd binary's version and `config dump` as the judge.
func TestContainerdInstallShimVerified(t *testing.T) {
	ctrd, err := exec.LookPath("containerd")
	if err != nil {
		t.Skipf("no containerd binary to verify with: %v", err)
	}
	out, err := exec.Command(ctrd, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	major, minor, ok := containerdVersion(string(out))
	if !ok {
		t.Fatalf("containerd --version: %q", out)
	}
	dir := t.TempDir()
	c := shimInstallDir(t, dir, "web")
	c.Containerd = ctrd
	var log bytes.Buffer
	if err := c.Install(&log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "verified with") {
		t.Errorf("not verified:\n%s", log.String())
	}
	dropin, _ := os.ReadFile(c.Dropin)
	_, linkErr := os.Readlink(filepath.Join(c.ShimLinkDir, ShimBinaryName))
	if major == 1 && minor < 7 {
		if linkErr != nil || strings.Contains(string(dropin), "runtime_path") {
			t.Errorf("containerd %d.%d: want the shim link and no runtime_path (link: %v):\n%s", major, minor, linkErr, dropin)
		}
	} else if linkErr == nil || !strings.Contains(string(dropin), `runtime_path = "`+c.Shim+`"`) {
		t.Errorf("containerd %d.%d: want runtime_path and no link:\n%s", major, minor, dropin)
	}
}

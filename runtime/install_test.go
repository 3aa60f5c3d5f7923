package runtime

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/install")

// golden compares got with testdata/install/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "install", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

var testRuntimes = (&dockerInstall{installReq: installReq{Binary: "/usr/local/bin/runcage", Profiles: []string{"default", "web"}}}).runtimes()

func TestMergeDaemonJSONGolden(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"missing", ""},
		{"empty-object", "{}\n"},
		{"no-runtimes", "{\n    \"log-level\": \"warn\",\n    \"max-concurrent-downloads\": 3.0\n}\n"},
		{"other-runtimes", "{\n  \"runtimes\": {\n    \"nvidia\": {\n      \"path\": \"/usr/bin/nvidia-container-runtime\",\n      \"runtimeArgs\": []\n    }\n  },\n  \"data-root\": \"/srv/docker\"\n}\n"},
		{"empty-runtimes", "{\n\t\"runtimes\": {},\n\t\"debug\": true\n}\n"},
		{"one-line", `{"debug":true,"runtimes":{"crun":{"path":"/usr/bin/crun"}}}`},
		{"unknown-keys-kept", "{\n  \"x-future\": {\"a\": [1, 2.50, 1e3]},\n  \"Runtimes\": {\n    \"crun\": {\"path\": \"/usr/bin/crun\", \"extra\": null}\n  }\n}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, report, err := mergeDaemonJSON([]byte(tc.in), testRuntimes, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(report) != len(testRuntimes) {
				t.Errorf("report %q: want one line per runtime", report)
			}
			golden(t, "daemon-"+tc.name+".json", out)
			// The result must parse, keep the input's bytes as a
			// subsequence-free prefix where nothing was inserted, and merge
			// to itself a second time.
			again, report2, err := mergeDaemonJSON(out, testRuntimes, false)
			if err != nil {
				t.Fatalf("second merge: %v", err)
			}
			if !bytes.Equal(again, out) {
				t.Errorf("second merge changed the file:\n%s", again)
			}
			for _, l := range report2 {
				if !strings.Contains(l, "already installed") {
					t.Errorf("second merge reported %q", l)
				}
			}
		})
	}
}

func TestMergeDaemonJSONKeepsBytes(t *testing.T) {
	in := "{\n  \"runtimes\": {\n    \"nvidia\": {\"path\":   \"/x\" ,\"runtimeArgs\":[ ]}\n  },\n  \"n\": 1.0e2\n}\n"
	out, _, err := mergeDaemonJSON([]byte(in), testRuntimes, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []string{`"nvidia": {"path":   "/x" ,"runtimeArgs":[ ]}`, `"n": 1.0e2`} {
		if !strings.Contains(string(out), keep) {
			t.Errorf("output lost %q:\n%s", keep, out)
		}
	}
	if !strings.HasSuffix(string(out), "  \"n\": 1.0e2\n}\n") {
		t.Errorf("tail changed:\n%s", out)
	}
}

func TestMergeDaemonJSONRefuses(t *testing.T) {
	other := `{"runtimes":{"runcage":{"path":"/opt/other/runcage"}}}`
	for _, tc := range []struct{ name, in, want string }{
		{"malformed", `{"runtimes": {`, "parse json"},
		{"not-object", `["runtimes"]`, "not a JSON object"},
		{"trailing", `{} {}`, "trailing data"},
		{"duplicate-key", `{"debug": true, "debug": false}`, "duplicate key"},
		{"case-duplicate", `{"runtimes": {}, "Runtimes": {}}`, "differ only in case"},
		{"runtimes-not-object", `{"runtimes": []}`, "not a JSON object"},
		{"different-runcage", other, "exists with a different value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := mergeDaemonJSON([]byte(tc.in), testRuntimes, false)
			if err == nil || !errors.Is(err, errInstall) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want errInstall mentioning %q", err, tc.want)
			}
		})
	}
	t.Run("force-replaces-only-that-entry", func(t *testing.T) {
		in := "{\n  \"runtimes\": {\n    \"runcage\": {\"path\": \"/opt/other/runcage\"},\n    \"crun\": {\"path\": \"/usr/bin/crun\"}\n  }\n}\n"
		out, report, err := mergeDaemonJSON([]byte(in), testRuntimes, true)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(report, "\n"), `replaced runtime "runcage" (was {"path":"/opt/other/runcage"})`) {
			t.Errorf("report %q", report)
		}
		golden(t, "daemon-force.json", out)
	})
}

// newInstallReq is an installReq with a fixed clock.
func newInstallReq(bin string, profiles ...string) installReq {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	n := 0
	return installReq{Binary: bin, Profiles: profiles, Now: func() time.Time {
		n++
		return t0.Add(time.Duration(n) * time.Second)
	}}
}

func backups(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.runcage-bak.*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDockerInstallIdempotentWithBackup(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "daemon.json")
	orig := []byte("{\n  \"debug\": true\n}\n")
	if err := os.WriteFile(cfg, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	d := &dockerInstall{installReq: newInstallReq("/usr/local/bin/runcage", "default"), Config: cfg, Policy: "/etc/runcage/test.toml"}
	var out bytes.Buffer
	if err := d.run(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "SIGHUP") || !strings.Contains(out.String(), "nothing was restarted") {
		t.Errorf("output does not say how to reload dockerd:\n%s", out.String())
	}
	got, _ := os.ReadFile(cfg)
	golden(t, "daemon-policy.json", got)
	if st, _ := os.Stat(cfg); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the original 0600", st.Mode().Perm())
	}
	b := backups(t, dir)
	if len(b) != 1 {
		t.Fatalf("backups %q, want one", b)
	}
	if data, _ := os.ReadFile(b[0]); !bytes.Equal(data, orig) {
		t.Errorf("backup holds %q, want the original", data)
	}
	out.Reset()
	if err := d.run(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "already installed") {
		t.Errorf("second run: %s", out.String())
	}
	if again, _ := os.ReadFile(cfg); !bytes.Equal(again, got) {
		t.Error("second run changed the file")
	}
	if b2 := backups(t, dir); len(b2) != 1 {
		t.Errorf("second run made a backup: %q", b2)
	}
}

func TestDockerInstallRefusesWithoutTouching(t *testing.T) {
	for _, tc := range []struct {
		name string
		prep func(t *testing.T, cfg string)
		want string
	}{
		{"malformed", func(t *testing.T, cfg string) { os.WriteFile(cfg, []byte(`{"debug": tru`), 0o644) }, "parse json"},
		{"symlink", func(t *testing.T, cfg string) {
			real := cfg + ".real"
			os.WriteFile(real, []byte(`{}`), 0o644)
			os.Symlink(real, cfg)
		}, "is a symlink"},
		{"different-entry", func(t *testing.T, cfg string) {
			os.WriteFile(cfg, []byte(`{"runtimes":{"runcage-default":{"path":"/elsewhere"}}}`), 0o644)
		}, "--force"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "daemon.json")
			tc.prep(t, cfg)
			before := snapshot(t, dir)
			d := &dockerInstall{installReq: newInstallReq("/usr/local/bin/runcage", "default"), Config: cfg}
			err := d.run(&bytes.Buffer{})
			if !errors.Is(err, errInstall) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want errInstall mentioning %q", err, tc.want)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("directory changed:\n%s\n->\n%s", before, after)
			}
		})
	}
}

// snapshot renders a directory's names, link targets and contents.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + info.Mode().String())
		if info.Mode()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			b.WriteString(" -> " + l)
		} else if info.Mode().IsRegular() {
			d, _ := os.ReadFile(p)
			b.WriteString(" " + string(d))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

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
	hs := (&containerdInstall{installReq: installReq{Binary: "/usr/local/bin/runcage", Profiles: []string{"default"}}}).handlers()
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
	c := &containerdInstall{
		installReq: newInstallReq(bin, "default", "web"),
		Config:     cfg,
		Dropin:     filepath.Join(dir, "etc", "conf.d", "runcage.toml"),
	}
	var out bytes.Buffer
	if err := c.run(&out); err != nil {
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
	if err := c.run(&out); err != nil {
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
	if err := c.run(&out); !errors.Is(err, errInstall) {
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
	if err := c.run(&out); !errors.Is(err, errInstall) || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlinked config: err = %v, want errInstall", err)
	}
}

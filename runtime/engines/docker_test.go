package engines

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testRuntimes = (&Docker{Request: Request{Binary: "/usr/local/bin/runcage", Profiles: []string{"default", "web"}}}).runtimes()

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

func TestDockerInstallIdempotentWithBackup(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "daemon.json")
	orig := []byte("{\n  \"debug\": true\n}\n")
	if err := os.WriteFile(cfg, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	// The binary's directory gets the runcage-<profile> links; the golden
	// file names it /usr/local/bin.
	binDir := filepath.Join(dir, "bin")
	os.Mkdir(binDir, 0o755)
	d := &Docker{Request: newInstallReq(filepath.Join(binDir, "runcage"), "default"), Config: cfg, Policy: "/etc/runcage/test.toml"}
	var out bytes.Buffer
	if err := d.Install(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "SIGHUP") || !strings.Contains(out.String(), "nothing was restarted") {
		t.Errorf("output does not say how to reload dockerd:\n%s", out.String())
	}
	got, _ := os.ReadFile(cfg)
	golden(t, "daemon-policy.json", bytes.ReplaceAll(got, []byte(binDir), []byte("/usr/local/bin")))
	if l, err := os.Readlink(filepath.Join(binDir, "runcage-default")); err != nil || l != "runcage" {
		t.Errorf("runcage-default -> %q (%v), want runcage", l, err)
	}
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
	if err := d.Install(&out); err != nil {
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
			d := &Docker{Request: newInstallReq("/usr/local/bin/runcage", "default"), Config: cfg}
			err := d.Install(&bytes.Buffer{})
			if !errors.Is(err, errInstall) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want errInstall mentioning %q", err, tc.want)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("directory changed:\n%s\n->\n%s", before, after)
			}
		})
	}
}

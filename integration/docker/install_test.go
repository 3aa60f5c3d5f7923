//go:build integration

package docker

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	it "github.com/runcage/runcage/integration"
)

// The tests below check `runcage install containerd` against the real
// containerd binary (the one Docker's stack runs): its own `config dump`
// is the judge of what the merged configuration means.

// debianMain is Debian 12's /etc/containerd/config.toml.
const debianMain = `version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
`

func dump(t *testing.T, config string) map[string]any {
	t.Helper()
	cmd := exec.Command("containerd", "--config", config, "config", "dump")
	cmd.Env = []string{it.HostPATH}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("containerd config dump: %v", err)
	}
	m := map[string]any{}
	if _, err := toml.Decode(string(out), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func lookup(m map[string]any, path ...string) any {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func installContainerd(t *testing.T, dir, main string) (string, error) {
	bin := filepath.Join(dir, "bin", "runcage")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(eng.Bins.Runcage)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// The runc-binary form (the shim form is the CRI suite's).
	cmd := exec.Command(bin, "install", "containerd", "--shim=false", "--config", main,
		"--dropin", filepath.Join(dir, "conf.d", "runcage.toml"), "--binary", bin, "--profiles", "default")
	cmd.Env = []string{it.HostPATH}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestInstallContainerdKeepsMainConfig(t *testing.T) {
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Fatalf("containerd not installed (make deps installs it): %v", err)
	}
	dir := t.TempDir()
	main := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(main, []byte(debianMain), 0o644); err != nil {
		t.Fatal(err)
	}
	before := dump(t, main)
	out, err := installContainerd(t, dir, main)
	if err != nil || !strings.Contains(out, "verified with") {
		t.Fatalf("install: %v\n%s", err, out)
	}
	after := dump(t, main)
	cri := []string{"plugins", "io.containerd.grpc.v1.cri"}
	for _, path := range [][]string{
		append(cri, "cni", "bin_dir"),
		append(cri, "containerd", "default_runtime_name"),
		append(cri, "containerd", "runtimes", "runc", "runtime_type"),
		append(cri, "sandbox_image"),
	} {
		if b, a := lookup(before, path...), lookup(after, path...); b == nil || b != a {
			t.Errorf("%s: %v before, %v after install", strings.Join(path, "."), b, a)
		}
	}
	for name, bin := range map[string]string{"runcage": "runcage", "runcage-default": "runcage-default"} {
		rt := append(append([]string(nil), cri...), "containerd", "runtimes", name)
		if got := lookup(after, append(rt, "options", "BinaryName")...); got != filepath.Join(dir, "bin", bin) {
			t.Errorf("handler %s: BinaryName %v", name, got)
		}
		if got := lookup(after, append(rt, "runtime_type")...); got != "io.containerd.runc.v2" {
			t.Errorf("handler %s: runtime_type %v", name, got)
		}
		if got, _ := lookup(after, append(rt, "pod_annotations")...).([]any); len(got) != 1 || got[0] != "runcage.dev/*" {
			t.Errorf("handler %s: pod_annotations %v", name, got)
		}
	}
	// A drop-in with only the handlers (what a naive install writes)
	// would have replaced the whole CRI table: prove that containerd 1.6
	// does that, so the comparison above is meaningful.
	naive := filepath.Join(dir, "naive")
	os.MkdirAll(naive, 0o755)
	os.WriteFile(filepath.Join(naive, "runcage.toml"), []byte(`version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runcage]
  runtime_type = "io.containerd.runc.v2"
`), 0o644)
	nm := filepath.Join(naive, "config.toml")
	os.WriteFile(nm, []byte(strings.Replace(debianMain, "version = 2\n", "version = 2\nimports = [\""+filepath.Join(naive, "runcage.toml")+"\"]\n", 1)), 0o644)
	nd := dump(t, nm)
	if lookup(nd, append(cri, "cni", "bin_dir")...) == "/usr/lib/cni" && lookup(nd, append(cri, "containerd", "runtimes", "runc")...) != nil {
		t.Log("this containerd merges plugin tables key by key: the drop-in's copy of the CRI table is redundant but harmless")
	} else {
		t.Logf("confirmed: with a handlers-only drop-in this containerd loses cni.bin_dir (%v) and the runc handler", lookup(nd, append(cri, "cni", "bin_dir")...))
	}
}

func TestInstallContainerdRollsBackWhenOverridden(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "config.toml")
	// Another import after runcage's replaces the CRI table again, so
	// runcage's handlers would not be in effect: install must say so and
	// put both files back.
	other := filepath.Join(dir, "other.toml")
	os.WriteFile(other, []byte("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"/opt/cni/bin\"\n"), 0o644)
	orig := []byte(strings.Replace(debianMain, "version = 2\n", "version = 2\nimports = [\""+filepath.Join(dir, "conf.d", "*.toml")+"\", \""+other+"\"]\n", 1))
	if err := os.WriteFile(main, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := installContainerd(t, dir, main)
	if err == nil || !strings.Contains(out, "lacks runcage's handlers") || !strings.Contains(out, "put back") {
		t.Fatalf("install did not refuse an overridden drop-in: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(main); !bytes.Equal(got, orig) {
		t.Errorf("main config changed:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "conf.d", "runcage.toml")); !os.IsNotExist(err) {
		t.Errorf("drop-in left behind after the roll-back: %v", err)
	}
}

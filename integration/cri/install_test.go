//go:build integration

package cri

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// TestInstalledConfig checks what `runcage install containerd` did to the
// node's containerd configuration, as containerd itself reads it
// (`containerd config dump`): the handlers runcage and runcage-strict with
// runcage's shim, runcage.dev/* pod annotations and an options file each
// naming the suite's policy and (for runcage-strict) the profile, and the
// main config's own CRI settings and handlers (runc, and the runc-binary
// registration bin-runcage*) still in force (containerd 1.6 replaces a
// whole plugin table from a drop-in).
func TestInstalledConfig(t *testing.T) {
	out, err := exec.Command("containerd", "--config", daemon.Config, "config", "dump").Output()
	if err != nil {
		t.Fatalf("containerd config dump: %v", err)
	}
	var dump struct {
		Plugins struct {
			CRI struct {
				SandboxImage string `toml:"sandbox_image"`
				CNI          struct {
					ConfDir string `toml:"conf_dir"`
				} `toml:"cni"`
				Containerd struct {
					Runtimes map[string]struct {
						RuntimeType    string         `toml:"runtime_type"`
						RuntimePath    string         `toml:"runtime_path"`
						PodAnnotations []string       `toml:"pod_annotations"`
						Options        map[string]any `toml:"options"`
					} `toml:"runtimes"`
				} `toml:"containerd"`
			} `toml:"io.containerd.grpc.v1.cri"`
		} `toml:"plugins"`
	}
	if _, err := toml.Decode(string(out), &dump); err != nil {
		t.Fatalf("parse config dump: %v", err)
	}
	cri := dump.Plugins.CRI
	if cri.SandboxImage != pauseImage || cri.CNI.ConfDir != daemon.CNIConfDir {
		t.Errorf("the main config's CRI settings were lost: sandbox_image %q, cni conf_dir %q", cri.SandboxImage, cri.CNI.ConfDir)
	}
	if r, ok := cri.Containerd.Runtimes["runc"]; !ok || r.Options["Root"] != daemon.RuncRoot {
		t.Errorf("the main config's runc handler was lost or changed: %+v", r)
	}
	for name, bin := range binaryHandlers {
		bin = filepath.Join(filepath.Dir(runcageBin), bin)
		r, ok := cri.Containerd.Runtimes[name]
		if !ok {
			t.Errorf("handler %s not registered", name)
			continue
		}
		if r.RuntimeType != "io.containerd.runc.v2" || !reflect.DeepEqual(r.PodAnnotations, []string{"runcage.dev/*"}) || r.Options["BinaryName"] != bin {
			t.Errorf("handler %s = %+v, want runc v2, pod_annotations [runcage.dev/*], BinaryName %s", name, r, bin)
		}
	}
	policy := "config = " + strconv.Quote(filepath.Join(eng.WorkDir, "policy.toml")) + "\n"
	for name, want := range map[string]string{
		"runcage":        policy,
		"runcage-strict": "profile = \"strict\"\n" + policy,
	} {
		r, ok := cri.Containerd.Runtimes[name]
		if !ok {
			t.Errorf("handler %s not registered", name)
			continue
		}
		opts := filepath.Join(optionsDir, name+".toml")
		// containerd 1.6 has no runtime_path: it finds the shim by name.
		if r.RuntimeType != "io.containerd.runcage.v2" || r.RuntimePath != "" || !reflect.DeepEqual(r.PodAnnotations, []string{"runcage.dev/*"}) || r.Options["ConfigPath"] != opts {
			t.Errorf("handler %s = %+v, want runtime_type io.containerd.runcage.v2, pod_annotations [runcage.dev/*], ConfigPath %s", name, r, opts)
		}
		b, err := os.ReadFile(opts)
		if err != nil || !strings.HasSuffix(string(b), "\n"+want) {
			t.Errorf("options file %s = %q (%v), want it to end in %q", opts, b, err, want)
		}
	}
	if target, err := os.Readlink(filepath.Join(filepath.Dir(runcageBin), "runcage-strict")); err != nil || target != "runcage" {
		t.Errorf("runcage-strict link: %q, %v; want a link to runcage", target, err)
	}
	if !strings.Contains(installOutput, "nothing was restarted") {
		t.Errorf("install did not say that it restarted nothing:\n%s", installOutput)
	}
}

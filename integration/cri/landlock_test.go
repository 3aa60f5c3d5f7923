//go:build integration

package cri

import (
	"testing"

	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	it "github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/policy"
)

// TestLandlockPod runs a pod that selects it.LandlockProfile with the
// runcage.dev/profile annotation (the suite's default profile lets it)
// through each registration, with a volume at it.LandlockVolume: the app
// container's init process and an ExecSync'd one may read /etc/passwd but
// not /etc/group and write the volume but not /tmp. The same pod without
// the annotation (default, no Landlock rules) passes all four checks.
func TestLandlockPod(t *testing.T) {
	eachRegistration(t, func(t *testing.T, reg registration) {
		for _, c := range []struct {
			name        string
			annotations map[string]string
			confined    bool
		}{
			{"ll", map[string]string{policy.AnnotationProfile: it.LandlockProfile}, true},
			{"default", nil, false},
		} {
			t.Run(c.name, func(t *testing.T) { testLandlockPod(t, reg, c.annotations, c.confined) })
		}
	})
}

func testLandlockPod(t *testing.T, reg registration, annotations map[string]string, confined bool) {
	vol := eng.Volume(t)
	p, err := runPod(t, "landlock", reg.Base, annotations)
	if err != nil {
		t.Fatalf("RunPodSandbox: %v\ncontainerd log:\n%s", err, daemon.LogTail())
	}
	id, err := p.startContainer(t, containerConfig("app", []*cri.Mount{{ContainerPath: it.LandlockVolume, HostPath: vol}},
		"/bin/sh", "-c", it.LandlockInitScript))
	if err != nil {
		t.Fatalf("%v\ncontainerd log:\n%s", err, daemon.LogTail())
	}
	out, err := it.WaitLandlockInit(vol)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.CheckLandlockScript(out, confined); err != nil {
		t.Errorf("init: %v", err)
	}
	ex := execSync(t, id, "/bin/sh", "-c", it.LandlockScript)
	t.Logf("ExecSync output:\n%s", ex)
	if err := it.CheckLandlockScript(ex, confined); err != nil {
		t.Errorf("ExecSync: %v", err)
	}
}

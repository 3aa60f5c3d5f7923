//go:build integration

package containerd

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	it "github.com/runcage/runcage/integration"
)

// TestLandlockCtr runs it.LandlockProfile through both registrations
// (runcage's shim with the profile in its options file; containerd's runc
// shim with a runcage-ll link to runcage as its runc binary) on
// containerd's overlay rootfs, id-mapped, with a volume bound at
// it.LandlockVolume: the init process and a `ctr task exec`'d one may
// read /etc/passwd but not /etc/group and write the volume but not /tmp.
// The same container under default (no Landlock rules) passes all four,
// so each denial is the rules' doing. That the helper is found proves
// landlock.HelperPath beside the shim's and runcage's executables, the
// latter through the profile link.
func TestLandlockCtr(t *testing.T) {
	shim, err := it.FindShim()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := it.LandlockHelperBeside(shim); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(it.TempDir(t, "runcage-ll-link-"), "runcage-"+it.LandlockProfile)
	if err := os.Symlink(eng.Bins.Runcage, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		reg      registration
		confined bool
	}{
		{"shim", shimReg("profile = " + strconv.Quote(it.LandlockProfile) + "\n"), true},
		{"shim-default", shimReg(""), false},
		{"binary", runcBinary(link), true},
		{"binary-default", runcBinary(eng.Bins.Runcage), false},
	} {
		t.Run(c.name, func(t *testing.T) { testLandlockCtr(t, c.reg, c.confined) })
	}
}

func testLandlockCtr(t *testing.T, reg registration, confined bool) {
	vol := eng.Volume(t)
	id := newID("ll")
	_, res := ctrRun(t, id, reg,
		[]string{"--mount", "type=bind,src=" + vol + ",dst=" + it.LandlockVolume + ",options=rbind:rw"},
		"/bin/sh", "-c", it.LandlockInitScript)
	if res.Exit != 0 {
		t.Fatalf("ctr run: %s\ncontainerd log:\n%s", res, daemon.LogTail())
	}
	out, err := it.WaitLandlockInit(vol)
	if err != nil {
		t.Fatal(err)
	}
	if err := it.CheckLandlockScript(out, confined); err != nil {
		t.Errorf("init: %v", err)
	}
	ex := daemon.Ctr(ns, "task", "exec", "--exec-id", "ll", id, "/bin/sh", "-c", it.LandlockScript)
	if ex.Exit != 0 {
		t.Fatalf("ctr task exec: %s", ex)
	}
	t.Logf("exec output:\n%s", ex.Stdout)
	if err := it.CheckLandlockScript(ex.Stdout, confined); err != nil {
		t.Errorf("exec: %v", err)
	}
	if _, err := os.Stat(filepath.Join(vol, "ll-ok")); err != nil {
		t.Errorf("the volume write is not on the host: %v", err)
	}
}

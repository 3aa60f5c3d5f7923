//go:build integration

package docker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	it "github.com/runcage/runcage/integration"
)

// TestLandlock runs it.LandlockProfile through `docker run --runtime
// runcage-ll` (the profile link `runcage install docker` made beside the
// suite's copy of runcage, where the helper must be too) with a volume
// bound at it.LandlockVolume, plain, with a read-only rootfs and with
// Docker's --init: the init process and a `docker exec`'d one may read
// /etc/passwd but not /etc/group and write the volume but not /tmp. The
// same runs under runcage-default (no Landlock rules) pass all four checks,
// so each denial is the rules' doing.
func TestLandlock(t *testing.T) {
	noLeaks(t)
	for _, c := range []struct {
		name     string
		runtime  string
		flags    []string
		confined bool
	}{
		{"ll", "runcage-" + it.LandlockProfile, nil, true},
		{"ll/read-only", "runcage-" + it.LandlockProfile, []string{"--read-only", "--tmpfs", "/tmp"}, true},
		{"ll/init", "runcage-" + it.LandlockProfile, []string{"--init"}, true},
		{"default", "runcage-default", nil, false},
		{"default/init", "runcage-default", []string{"--init"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			vol := eng.Volume(t)
			args := append([]string{"run", "-d", "--network", "none", "--runtime", c.runtime, "-v", vol + ":" + it.LandlockVolume}, c.flags...)
			res := mustDocker(t, time.Minute, append(args, busybox, "sh", "-c",
				it.LandlockInitScript)...)
			id := strings.TrimSpace(res.Stdout)
			t.Cleanup(func() { docker(time.Minute, "rm", "-f", id) })
			out, err := it.WaitLandlockInit(vol)
			if err != nil {
				t.Fatalf("%v\ndocker logs: %s", err, docker(time.Minute, "logs", id))
			}
			if err := it.CheckLandlockScript(out, c.confined); err != nil {
				t.Errorf("init: %v", err)
			}
			ex := mustDocker(t, time.Minute, "exec", id, "sh", "-c", it.LandlockScript)
			t.Logf("docker exec output:\n%s", ex.Stdout)
			if err := it.CheckLandlockScript(ex.Stdout, c.confined); err != nil {
				t.Errorf("docker exec: %v", err)
			}
			if _, err := os.Stat(filepath.Join(vol, "ll-ok")); err != nil {
				t.Errorf("the volume write is not on the host: %v", err)
			}
		})
	}
}

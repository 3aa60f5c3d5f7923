//go:build integration

package podman

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	it "github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/policy"
)

// TestLandlock runs it.LandlockProfile through `podman run --runtime
// runcage --runtime-flag runcage-profile=...` with a volume from Podman's
// volume directory bound at it.LandlockVolume, plain and with Podman's
// --init: the init process and a `podman exec`'d one may read /etc/passwd
// but not /etc/group and write the volume but not /tmp; under default
// (no Landlock rules) all four work. The suite runs on the built-in
// policy, so the profile is installed, for this test only and under a
// name of its own, in the built-in profiles directory.
func TestLandlock(t *testing.T) {
	name := "it-ll-" + strconv.Itoa(os.Getpid())
	dir := filepath.Join(policy.DefaultProfilesDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		// Only when empty: what others put there stays.
		os.Remove(policy.DefaultProfilesDir)
		os.Remove(filepath.Dir(policy.DefaultProfilesDir))
	})
	if err := os.WriteFile(filepath.Join(dir, "profile.toml"), []byte(it.LandlockProfileTOML()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, profile string
		flags         []string
		confined      bool
	}{
		{"ll", name, nil, true},
		// Podman binds its init at /run/podman-init; catatonit, its
		// default, is not in Debian's podman package, so the static tini
		// docker.io ships stands in.
		{"ll/init", name, []string{"--init", "--init-path", "/usr/bin/tini-static"}, true},
		{"default", "default", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			volRoot := filepath.Join(policy.DefaultVolumeRoots[1], "runcage-it-ll-"+strconv.Itoa(os.Getpid()))
			vol := filepath.Join(volRoot, "_data")
			if err := os.MkdirAll(vol, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(volRoot) })
			cid, id := cidFile(t)
			flags := append([]string{"-d", "--network", "none", "--cidfile", cid, "--runtime-flag", "runcage-profile=" + c.profile, "-v", vol + ":" + it.LandlockVolume}, c.flags...)
			mustPodman(t, 2*time.Minute, runArgs(flags, "sh", "-c", it.LandlockInitScript)...)
			t.Cleanup(func() { podman(time.Minute, "rm", "-f", "-t", "0", id()) })
			out, err := it.WaitLandlockInit(vol)
			if err != nil {
				t.Fatalf("%v\npodman logs: %s", err, podman(time.Minute, "logs", id()))
			}
			if err := it.CheckLandlockScript(out, c.confined); err != nil {
				t.Errorf("init: %v", err)
			}
			ex := mustPodman(t, time.Minute, "exec", id(), "sh", "-c", it.LandlockScript)
			t.Logf("podman exec output:\n%s", ex.Stdout)
			if err := it.CheckLandlockScript(ex.Stdout, c.confined); err != nil {
				t.Errorf("podman exec: %v", err)
			}
		})
	}
}

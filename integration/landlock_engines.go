package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LandlockProfile is the profile with Landlock rules that the engine
// suites (docker, podman, containerd, cri) add to their policy:
// runtime/default plus rules that let the container read /etc/passwd,
// execute /bin, use /dev/null, and create and write under LandlockVolume,
// where the tests bind a volume. Everything else is denied, so that a
// file beside a granted one and a directory outside the volume discriminate.
const LandlockProfile = "ll"

// LandlockVolume is where the engine tests mount the volume the profile
// lets the container write.
const LandlockVolume = "/vol"

// LandlockPolicy is the policy text that defines LandlockProfile, to be
// appended to a suite's policy (Engine.WritePolicy's extra).
const LandlockPolicy = `
[profiles.ll]
[profiles.ll.landlock]
require = "required"
[[profiles.ll.landlock.fs]]
path = "/etc/passwd"
access = ["read"]
[[profiles.ll.landlock.fs]]
path = "/bin"
access = ["execute"]
[[profiles.ll.landlock.fs]]
path = "/dev/null"
access = ["read", "write"]
[[profiles.ll.landlock.fs]]
path = "/vol"
access = ["create", "write"]
`

// LandlockProfileTOML is LandlockProfile as a profile.toml, for a suite
// that installs it in a profiles directory (podman, on the built-in policy).
func LandlockProfileTOML() string {
	return strings.ReplaceAll(strings.TrimPrefix(LandlockPolicy, "\n[profiles.ll]\n"), "profiles.ll.", "")
}

// LandlockScript is a busybox sh script that prints one key=result line
// per check ("ok" or the error): read-passwd (granted), read-group (a
// file beside it), write-vol (the granted volume), write-tmp (a directory
// outside it).
const LandlockScript = `
try() { k=$1; shift; if out=$("$@" 2>&1); then echo "$k=ok"; else echo "$k=$out"; fi; }
try read-passwd cat /etc/passwd
try read-group cat /etc/group
try write-vol sh -c 'echo x > /vol/ll-ok'
try write-tmp sh -c 'echo x > /tmp/ll-no'
`

// CheckLandlockScript checks LandlockScript's output: with confined
// (LandlockProfile) the granted read and the volume write work and the
// other two are denied with EACCES; without it (a profile with no Landlock
// rules, the control that makes the check discriminate) all four work.
func CheckLandlockScript(out string, confined bool) error {
	got := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			got[k] = v
		}
	}
	var errs []string
	for _, k := range []string{"read-passwd", "read-group", "write-vol", "write-tmp"} {
		v, ok := got[k]
		denied := confined && (k == "read-group" || k == "write-tmp")
		switch {
		case !ok:
			errs = append(errs, k+": no result")
		case denied && !strings.Contains(v, "Permission denied"):
			errs = append(errs, fmt.Sprintf("%s = %q, want Permission denied", k, v))
		case !denied && v != "ok":
			errs = append(errs, fmt.Sprintf("%s = %q, want ok", k, v))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("landlock checks (confined %v): %s\noutput:\n%s", confined, strings.Join(errs, "; "), out)
	}
	return nil
}

// LandlockHelperBeside returns the Landlock helper that runcage (or its
// shim) at bin uses: cmd/runcage-landlock, built beside it
// (landlock.HelperPath, through the symlinks os.Executable resolves). It
// fails, so that a suite fails rather than skips, when the helper is absent.
func LandlockHelperBeside(bin string) (string, error) {
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return "", fmt.Errorf("landlock helper: %w", err)
	}
	h := filepath.Join(filepath.Dir(real), "runcage-landlock")
	if st, err := os.Stat(h); err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("the Landlock helper must be an executable beside %s (make build, or gcc -static -o %s cmd/runcage-landlock/main.c): %v", real, h, err)
	}
	return h, nil
}

// LandlockInitScript is the container command of the engine tests: it runs
// LandlockScript with its results in LandlockVolume/init.out, then sleeps
// so that the test can exec into the container.
const LandlockInitScript = "{ " + LandlockScript + "echo done=ok; } >" + LandlockVolume + "/init.out 2>&1; exec sleep 600"

// WaitLandlockInit waits up to 30 seconds for LandlockInitScript's results
// in vol, the host directory bound at LandlockVolume, and returns them.
// The script cannot rename in the volume (the profile grants no remove
// right), so its last line, done=ok, tells that the file is complete.
func WaitLandlockInit(vol string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := os.ReadFile(filepath.Join(vol, "init.out"))
		switch {
		case err == nil && strings.Contains(string(out), "done=ok"):
			return string(out), nil
		case time.Now().After(deadline):
			return string(out), fmt.Errorf("the container's process wrote no complete results to its volume in 30s (%v):\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

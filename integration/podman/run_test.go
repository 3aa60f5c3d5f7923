//go:build integration

package podman

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	it "github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/policy"
)

// runArgs is `podman run` with runcage as the runtime, plus the test's
// flags, the image and the command.
func runArgs(flags []string, cmd ...string) []string {
	args := append([]string{"run", "--runtime", eng.Bins.Runcage}, ulimits...)
	args = append(args, flags...)
	return append(append(args, image), cmd...)
}

// cidFile returns a path for --cidfile, and a function that reads the id.
func cidFile(t *testing.T) (string, func() string) {
	p := filepath.Join(eng.WorkDir, "cid-"+strings.ReplaceAll(t.Name(), "/", "_")+time.Now().Format("150405.000000000"))
	return p, func() string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("container id: %v", err)
		}
		return strings.TrimSpace(string(b))
	}
}

// noLeaks fails the test if runcage holds anything for container id
// after podman removed it: a mount directory, a mount, a container record
// or a user-namespace allocation. (The state directory is the built-in
// one, shared with anything else on the host, so only id is looked at.)
func noLeaks(t *testing.T, id string) {
	t.Helper()
	if id == "" {
		t.Fatal("no container id")
	}
	state := policy.DefaultStateDir
	// Podman's clean-up runs from conmon after the container exits; give
	// it a moment to finish.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		if _, err := os.Lstat(filepath.Join(state, "mnt", id)); err == nil {
			left = append(left, "mount dir "+filepath.Join(state, "mnt", id))
		}
		mounts, err := it.MountPointsUnder(filepath.Join(state, "mnt", id))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mounts {
			left = append(left, "mount "+m)
		}
		recs, _ := filepath.Glob(filepath.Join(state, "containers", "*", id+".json"))
		for _, r := range recs {
			left = append(left, "record "+r)
		}
		al, err := it.RuncageAllocations(state)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range al {
			if a.Key == id || slices.Contains(a.Containers, id) {
				left = append(left, "allocation "+a.Key)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("runcage still holds, after podman removed container %s:\n%s", id, strings.Join(left, "\n"))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustPodman(t *testing.T, timeout time.Duration, args ...string) it.Result {
	t.Helper()
	res := podman(timeout, args...)
	if res.Exit != 0 {
		t.Fatalf("%s", res)
	}
	return res
}

func TestRunHardened(t *testing.T) {
	// The suite runs on runcage's built-in policy, whose volume roots
	// include Podman's default volume directory: a bind from there is
	// id-mapped; a bind from anywhere else keeps its host ids.
	volRoot := filepath.Join(policy.DefaultVolumeRoots[1], "runcage-it-"+strconv.Itoa(os.Getpid()))
	vol := filepath.Join(volRoot, "_data")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(volRoot) })
	cid, id := cidFile(t)
	res := mustPodman(t, 2*time.Minute, runArgs([]string{"--rm", "--network", "none", "--cidfile", cid, "-v", vol + ":/vol"}, "sh", "-c", it.ReportScript)...)
	t.Logf("podman run: %v", res.Elapsed.Round(time.Millisecond))
	f, err := it.CheckHardenedReport(res.Stdout)
	if err != nil {
		t.Error(err)
	}
	// Podman asks for "0 0"; it is inside the mapped range and kept.
	if r := f["ping_group_range"]; r != "0 0" {
		t.Errorf("ping_group_range %q, want podman's 0 0", r)
	}
	if err := it.CheckVolumeWrite(f, filepath.Join(vol, "from-container")); err != nil {
		t.Errorf("%v\n%s", err, res.Stdout)
	}
	noLeaks(t, id())
}

func TestExecHardened(t *testing.T) {
	cid, idf := cidFile(t)
	mustPodman(t, time.Minute, runArgs([]string{"-d", "--network", "none", "--cidfile", cid}, "sleep", "600")...)
	id := idf()
	t.Cleanup(func() { podman(time.Minute, "rm", "-f", "-t", "0", id) })
	pid1 := mustPodman(t, time.Minute, "exec", id, "sh", "-c", "echo \"uid_map: $(tr -s ' \\n' ' ' </proc/1/uid_map)\"")
	ex := mustPodman(t, time.Minute, "exec", id, "sh", "-c", it.ReportScript)
	f, err := it.CheckHardenedReport(ex.Stdout)
	if err != nil {
		t.Errorf("podman exec: %v", err)
	}
	if want := it.ProcStatusFields(pid1.Stdout)["uid_map"]; f["uid_map"] != want {
		t.Errorf("exec runs in uid_map %q, the container's pid 1 in %q", f["uid_map"], want)
	}
	res := podman(time.Minute, "exec", "--privileged", id, "true")
	if err := it.CheckRefusal(res.Stdout + res.Stderr); res.Exit == 0 || err != nil {
		t.Errorf("podman exec --privileged: want a refusal carrying runcage's message (%v), got\n%s", err, res)
	}
	mustPodman(t, time.Minute, "rm", "-f", "-t", "0", id)
	noLeaks(t, id)
}

func TestRefusedVisibleInPodmanError(t *testing.T) {
	for _, tc := range slices.Concat(it.CommonRefusals, []it.RunFlags{
		{Args: []string{"--annotation", "run.oci.keep_original_groups=1"}, Want: `"annotations.run.oci.keep_original_groups" refused`},
		{Args: []string{"--annotation", "org.criu.config=/tmp/x"}, Want: "refused"},
	}) {
		t.Run(strings.Join(tc.Args, " "), func(t *testing.T) {
			cid, id := cidFile(t)
			res := podman(time.Minute, runArgs(append([]string{"--rm", "--network", "none", "--cidfile", cid}, tc.Args...), "true")...)
			if err := it.CheckRefused(res, tc.Want); err != nil {
				t.Errorf("podman: %v", err)
			}
			noLeaks(t, id())
		})
	}
}

func TestRuntimeFlagPicksProfile(t *testing.T) {
	cid, id := cidFile(t)
	res := mustPodman(t, time.Minute, runArgs([]string{"--rm", "--network", "none", "--cidfile", cid, "--runtime-flag", "runcage-profile=passthrough"}, "sh", "-c", it.ReportScript)...)
	f := it.ProcStatusFields(res.Stdout)
	if f["CapEff"] == "0000000000000000" || f["CapEff"] == "" {
		t.Errorf("runcage-profile=passthrough: CapEff %q, want podman's default capabilities (passthrough changes nothing)", f["CapEff"])
	}
	if m, err := it.ParseIDMapText(f["uid_map"]); err != nil || !it.IsIdentityMap(m) {
		t.Errorf("runcage-profile=passthrough: uid_map %q, want the host's identity map", f["uid_map"])
	}
	noLeaks(t, id())
}

//go:build integration

package docker

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	it "github.com/runcage/runcage/integration"
)

// reportScript is the shared report every container prints.
const reportScript = it.ReportScript

// checkHardened asserts the report of a container (or exec) started with
// an enforcing profile, and returns the parsed fields.
func checkHardened(t *testing.T, what, out string) map[string]string {
	t.Helper()
	f, err := it.CheckHardenedReport(out)
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
	return f
}

// noLeaks snapshots the mounts under the work directory and, at the end of
// the test, fails if there are more, or if runcage's state directory holds
// any mount, record, mount directory or allocation.
func noLeaks(t *testing.T) {
	t.Helper()
	before, err := it.MountPointsUnder(eng.WorkDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		after, err := it.MountPointsUnder(eng.WorkDir)
		if err != nil {
			t.Error(err)
			return
		}
		var extra []string
		for _, m := range after {
			if !slices.Contains(before, m) {
				extra = append(extra, m)
			}
		}
		if len(extra) > 0 {
			t.Errorf("mounts left under %s after docker rm: %q", eng.WorkDir, extra)
		}
		left, err := it.RuncageLeftovers(eng.StateDir)
		if err != nil {
			t.Error(err)
		}
		if len(left) > 0 {
			t.Errorf("runcage left state behind after docker rm:\n%s", strings.Join(left, "\n"))
		}
	})
}

func mustDocker(t *testing.T, timeout time.Duration, args ...string) it.Result {
	t.Helper()
	res := docker(timeout, args...)
	if res.Exit != 0 {
		t.Fatalf("%s\ndockerd log tail:\n%s", res, dockerd.LogTail(2048))
	}
	return res
}

func TestRunHardened(t *testing.T) {
	noLeaks(t)
	vol := eng.Volume(t)
	for _, tc := range []struct {
		name, image string
		args        []string
	}{
		{"busybox/network-none/volume", busybox, []string{"--network", "none", "-v", vol + ":/vol"}},
		// No --network: with --bridge=none the container gets a network
		// namespace but no setkey hook.
		{"busybox/default-network", busybox, nil},
		{"debian/network-none/volume", debian, []string{"--network", "none", "-v", vol + ":/vol"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(filepath.Join(vol, "from-container"))
			args := append([]string{"run", "--rm", "--runtime", "runcage"}, tc.args...)
			args = append(args, tc.image, "sh", "-c", reportScript)
			res := mustDocker(t, 2*time.Minute, args...)
			t.Logf("docker run: %v", res.Elapsed.Round(time.Millisecond))
			f := checkHardened(t, tc.name, res.Stdout)
			if r := f["ping_group_range"]; r != "0 65535" {
				t.Errorf("ping_group_range %q: want Docker's 0 2147483647 narrowed to the mapped groups, 0 65535", r)
			}
			if len(tc.args) > 2 {
				if err := it.CheckVolumeWrite(f, filepath.Join(vol, "from-container")); err != nil {
					t.Errorf("%v\n%s", err, res.Stdout)
				}
			}
		})
	}
}

func TestExecHardened(t *testing.T) {
	noLeaks(t)
	res := mustDocker(t, time.Minute, "run", "-d", "--network", "none", "--runtime", "runcage", busybox, "sleep", "600")
	id := strings.TrimSpace(res.Stdout)
	t.Cleanup(func() { docker(time.Minute, "rm", "-f", id) })
	main := mustDocker(t, time.Minute, "exec", id, "sh", "-c", "cat /proc/1/status; echo \"uid_map: $(tr -s ' \\n' ' ' </proc/1/uid_map)\"")
	ex := mustDocker(t, time.Minute, "exec", id, "sh", "-c", reportScript)
	f := checkHardened(t, "docker exec", ex.Stdout)
	if pid1 := it.ProcStatusFields(main.Stdout); pid1["uid_map"] != f["uid_map"] {
		t.Errorf("exec runs in uid_map %q, the container's pid 1 in %q", f["uid_map"], pid1["uid_map"])
	}
	// exec may not ask for more than the container has.
	for _, extra := range [][]string{{"--privileged"}, {"--user", "0", "--privileged"}} {
		args := append(append([]string{"exec"}, extra...), id, "true")
		res := docker(time.Minute, args...)
		if err := it.CheckRefusal(res.Stdout + res.Stderr); res.Exit == 0 || err != nil {
			t.Errorf("docker exec %v: want a refusal carrying runcage's message (%v), got\n%s", extra, err, res)
		}
	}
	mustDocker(t, time.Minute, "rm", "-f", id)
}

func TestRefusedVisibleInDockerError(t *testing.T) {
	noLeaks(t)
	for _, tc := range slices.Concat(it.CommonRefusals, []it.RunFlags{
		{Args: []string{"-v", "/:/host"}, Want: "refused"},
		// runcage's own files and this dockerd's private data root,
		// however the engine spells them.
		{Args: []string{"-v", filepath.Join(eng.WorkDir, "policy.toml") + ":/p"}, Want: "runcage's own files"},
		{Args: []string{"-v", eng.StateDir + ":/s"}, Want: "refused"},
		{Args: []string{"-v", filepath.Join(eng.WorkDir, "data", "containers") + ":/c"}, Want: "container-engine"},
		{Args: []string{"--device-cgroup-rule", "c 1:11 rwm"}, Want: `"c 1:11 rwm" refused`},
		{Args: []string{"--ipc", "host"}, Want: "refused"},
	}) {
		t.Run(strings.Join(tc.Args, " "), func(t *testing.T) {
			args := append([]string{"run", "--rm", "--network", "none", "--runtime", "runcage"}, tc.Args...)
			if err := it.CheckRefused(docker(time.Minute, append(args, busybox, "true")...), tc.Want); err != nil {
				t.Errorf("docker: %v", err)
			}
		})
	}
}

func TestRuntimePicksProfile(t *testing.T) {
	noLeaks(t)
	pass := mustDocker(t, time.Minute, "run", "--rm", "--network", "none", "--runtime", "runcage-passthrough", busybox, "sh", "-c", reportScript)
	f := it.ProcStatusFields(pass.Stdout)
	if want := it.CapMask(it.DockerDefaultCaps); f["CapEff"] != want {
		t.Errorf("runcage-passthrough: CapEff %q, want Docker's default set %s (passthrough changes nothing)", f["CapEff"], want)
	}
	if m, err := it.ParseIDMapText(f["uid_map"]); err != nil || !it.IsIdentityMap(m) {
		t.Errorf("runcage-passthrough: uid_map %q, want the host's identity map", f["uid_map"])
	}
	def := mustDocker(t, time.Minute, "run", "--rm", "--network", "none", "--runtime", "runcage-default", busybox, "sh", "-c", reportScript)
	checkHardened(t, "runcage-default", def.Stdout)
}

// TestLoad starts 200 containers through Docker, 20 at a time, and checks
// every one is enforced, then that nothing leaked.
func TestLoad(t *testing.T) {
	n, par := 200, 20
	if v := os.Getenv("RUNCAGE_DOCKER_LOAD"); v != "" {
		fmt.Sscanf(v, "%d", &n)
	}
	noLeaks(t)
	const script = `grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status; echo "uid_map: $(tr -s ' \n' ' ' </proc/self/uid_map)"; echo "end: ok"`
	type outcome struct {
		res it.Result
		err error
	}
	outs := make([]outcome, n)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res := docker(3*time.Minute, "run", "--rm", "--network", "none", "--runtime", "runcage", busybox, "sh", "-c", script)
			o := outcome{res: res}
			f := it.ProcStatusFields(res.Stdout)
			switch {
			case res.Exit != 0:
				o.err = fmt.Errorf("failed: %s", res)
			case f["end"] != "ok":
				o.err = fmt.Errorf("incomplete report: %s", res)
			default:
				m, err := it.ParseIDMapText(f["uid_map"])
				o.err = it.HardenedStatus(f)
				if err != nil || it.IsIdentityMap(m) || it.MapsHostRoot(m) {
					o.err = fmt.Errorf("uid_map %q (%v); %v", f["uid_map"], err, o.err)
				}
			}
			outs[i] = o
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	var failed int
	var lat []time.Duration
	for i, o := range outs {
		lat = append(lat, o.res.Elapsed)
		if o.err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("container %d: %v", i, o.err)
			}
		}
	}
	slices.Sort(lat)
	t.Logf("%d containers through dockerd, %d concurrent: wall %v, %d failed, per docker run p50 %v p95 %v max %v",
		n, par, wall.Round(time.Millisecond), failed, lat[len(lat)/2].Round(time.Millisecond),
		lat[len(lat)*95/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "docker load: %d containers, %d concurrent, wall %v, %d failed\n", n, par, wall.Round(time.Millisecond), failed)
}

// TestJoinAnotherContainerRefused: `--network container:X` joins X's
// network namespace by a /proc path with no pod evidence. Passthrough (the
// control) lets it through; the default profile refuses it with its reason
// in docker's error.
func TestJoinAnotherContainerRefused(t *testing.T) {
	noLeaks(t)
	victim := strings.TrimSpace(mustDocker(t, time.Minute, "run", "-d", "--network", "none", "--runtime", "runcage", busybox, "sleep", "600").Stdout)
	t.Cleanup(func() { docker(time.Minute, "rm", "-f", victim) })
	ctl := docker(time.Minute, "run", "--rm", "--network", "container:"+victim, "--runtime", "runcage-passthrough", busybox, "true")
	if ctl.Exit != 0 {
		t.Fatalf("control: passthrough did not join the victim's network:\n%s", ctl)
	}
	res := docker(time.Minute, "run", "--rm", "--network", "container:"+victim, "--runtime", "runcage", busybox, "true")
	if err := it.CheckRefused(res, "network namespace"); err != nil {
		t.Errorf("joining another container's network namespace: %v", err)
	}
}

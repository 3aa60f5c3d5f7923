//go:build integration

// Command landlockbench measures what Landlock confinement costs: the same
// profile (runtime/default) without Landlock rules ("default") and with a
// handful of them ("ll": six file rules, a bind and a connect port, so
// runcage puts its helper, cmd/runcage-landlock, in front of the
// container's process), in the same run, interleaved in rotating order.
//
// Each measurement is a fresh container on real runc, a busybox rootfs
// (integration.BuildRootfs) with a small static C program
// (testdata/llwork.c, built with gcc -static at start), read-only:
//
//   - start: `runcage run` of /bin/true, so the figure is create + start +
//     wait + delete, helper included;
//   - open, stat, getpid: llwork's own timings of -ops open/read/close of
//     a granted file four directories deep (Landlock checks each open
//     against the rules on the file and the directories above it), -ops
//     stat of it (Landlock does not check stat) and -ops getpid (no file);
//     llwork also opens a file beside the granted one, which must fail
//     with EACCES under ll and succeed under default, or the run stops.
//
// Last, on the host, it times the helper's own exec: the helper with the
// same rules (paths under the bench rootfs) exec'ing llwork, which exits at
// once, against llwork exec'd directly.
//
// It prints the medians and the ratios ll/default. Run it as root from the
// repository, with the helper beside runcage (`make build`):
//
//	go run -tags integration ./integration/bench/landlockbench -n 30
//
// The binaries come from $RUNCAGE and $RUNC, as in the integration tests.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/landlock"
)

func main() {
	var o options
	flag.IntVar(&o.n, "n", 10, "runs per configuration and workload")
	flag.IntVar(&o.ops, "ops", 200000, "iterations of each syscall loop of llwork")
	flag.IntVar(&o.execs, "execs", 300, "host execs of the helper, and of llwork alone, for the exec row")
	flag.StringVar(&o.dir, "dir", "/dev/shm", "directory for the rootfs, bundles and state (tmpfs, as a host keeps /run)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "landlockbench:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	n, ops, execs int
	dir           string
}

// The paths llwork uses inside the container: granted is four levels deep
// so that each open is checked against its directories too.
const (
	granted = "/data/a/b/c/granted"
	denied  = "/data/a/b/c/other"
)

// rules are the Landlock rules of profile ll.
var rules = profiles.Landlock{
	Require: "required",
	FS: []profiles.LandlockPath{
		{Path: "/bin", Access: []string{"execute"}},
		{Path: granted, Access: []string{"read"}},
		{Path: "/etc/passwd", Access: []string{"read"}},
		{Path: "/dev/null", Access: []string{"read", "write"}},
		{Path: "/var", Access: []string{"create", "write"}},
		{Path: "/tmp", Access: []string{"create", "write", "remove"}},
	},
	Bind:    []int{8080},
	Connect: []int{443},
}

// configs are the two profiles compared; the first is the baseline.
var configs = []string{"default", "ll"}

func run(o options) error {
	if o.n < 1 || o.ops < 1 || o.execs < 1 {
		return fmt.Errorf("-n, -ops and -execs must be at least 1")
	}
	bin, err := integration.FindBinaries()
	if err != nil {
		return err
	}
	helper := filepath.Join(filepath.Dir(bin.Runcage), landlock.HelperName)
	if _, err := os.Stat(helper); err != nil {
		return fmt.Errorf("the Landlock helper must be beside runcage (make build, or gcc -static -O2 -o %s cmd/runcage-landlock/main.c): %w", helper, err)
	}
	abi, err := landlock.ABI()
	if abi < 4 {
		return fmt.Errorf("landlock ABI %d, need 4 for the port rules: %v", abi, err)
	}
	root, err := integration.RepoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(o.dir, "runcage-llbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// 0755: runc remounts the id-mapped rootfs under the state directory
	// as the container's ids, so the path to it must be searchable.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	work := filepath.Join(dir, "llwork")
	if out, err := exec.Command("gcc", "-static", "-O2", "-o", work, filepath.Join(root, "integration/bench/landlockbench/testdata/llwork.c")).CombinedOutput(); err != nil {
		return fmt.Errorf("build llwork: %w: %s", err, out)
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := integration.BuildRootfs(rootfs, integration.RootfsOptions{Extra: map[string]string{"/bin/llwork": work}}); err != nil {
		return err
	}
	for _, p := range []string{granted, denied} {
		if err := os.MkdirAll(filepath.Join(rootfs, filepath.Dir(p)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(rootfs, p), bytes.Repeat([]byte("x"), 4096), 0o644); err != nil {
			return err
		}
	}
	policy, err := writePolicy(dir, bin.Runc)
	if err != nil {
		return err
	}

	ops := strconv.Itoa(o.ops)
	workloads := []struct {
		name string
		args []string
	}{
		{"start", []string{"/bin/true"}},
		{"work", []string{"/bin/llwork", ops, granted, denied}},
	}
	wall, cpu := map[string][]time.Duration{}, map[string][]time.Duration{}
	loops := map[string][]time.Duration{} // config/open|stat|getpid
	seq := 0
	for round := 0; round < o.n+1; round++ { // round 0 warms up
		for _, w := range workloads {
			for i := range configs {
				c := configs[(i+round)%len(configs)]
				seq++
				res, err := once(dir, rootfs, bin.Runcage, policy, c, w.args, seq)
				if err != nil {
					return fmt.Errorf("%s/%s: %w", c, w.name, err)
				}
				var got map[string]time.Duration
				if w.name == "work" {
					if got, err = parseWork(res.Stdout, c == "ll"); err != nil {
						return fmt.Errorf("%s/%s: %w", c, w.name, err)
					}
				}
				if round == 0 {
					continue
				}
				k := c + "/" + w.name
				wall[k] = append(wall[k], res.Elapsed)
				cpu[k] = append(cpu[k], rusageCPU(res.Rusage))
				for name, d := range got {
					loops[c+"/"+name] = append(loops[c+"/"+name], d)
				}
			}
		}
	}
	direct, viaHelper, err := execCost(helper, rootfs, work, o.execs)
	if err != nil {
		return err
	}

	fmt.Printf("| measurement | default | ll (Landlock) | ratio ll/default |\n|---|---:|---:|---:|\n")
	row := func(name string, a, b time.Duration, unit func(time.Duration) string) {
		fmt.Printf("| %s | %s | %s | %.3f |\n", name, unit(a), unit(b), float64(b)/float64(a))
	}
	for _, w := range workloads {
		row("`runcage run` "+w.name+", wall", integration.Median(wall["default/"+w.name]), integration.Median(wall["ll/"+w.name]), msStr)
		row("`runcage run` "+w.name+", CPU", integration.Median(cpu["default/"+w.name]), integration.Median(cpu["ll/"+w.name]), msStr)
	}
	for _, l := range []string{"open", "stat", "getpid"} {
		a, b := integration.Median(loops["default/"+l]), integration.Median(loops["ll/"+l])
		fmt.Printf("| %s ×%d in the container | %s (%s/op) | %s (%s/op) | %.3f |\n", l, o.ops, msStr(a), nsOp(a, o.ops), msStr(b), nsOp(b, o.ops), float64(b)/float64(a))
	}
	fmt.Printf("| host exec, wall | %s | %s | %.3f |\n", usStr(direct.wall), usStr(viaHelper.wall), float64(viaHelper.wall)/float64(direct.wall))
	fmt.Printf("| host exec, CPU | %s | %s | %.3f |\n", usStr(direct.cpu), usStr(viaHelper.cpu), float64(viaHelper.cpu)/float64(direct.cpu))
	fmt.Printf("\nll: %d file rules, bind %v, connect %v, require = %q; kernel Landlock ABI %d.\n", len(rules.FS), rules.Bind, rules.Connect, rules.Require, abi)
	fmt.Printf("CPU is user+system time of runcage, runc and the container (wait4). Loop times are llwork's own (CLOCK_MONOTONIC).\n")
	fmt.Printf("Host exec: llwork (exits at once) exec'd directly vs through %s with the same rules, median of %d each; its helper-minus-direct is the helper's own cost.\n", landlock.HelperName, o.execs)
	fmt.Printf("\n%d runs each, median, interleaved; state and rootfs on %s; load average %s\n", o.n, o.dir, loadavg())
	return nil
}

// writePolicy writes the policy file: runc as the delegate, state and
// audit log under dir, and profile ll (runtime/default with rules).
func writePolicy(dir, runc string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "runtime = %q\nstate_dir = %q\naudit_log = %q\n\n", runc, filepath.Join(dir, "state"), filepath.Join(dir, "audit.log"))
	top := map[string]any{"profiles": map[string]any{"ll": map[string]any{"landlock": rules}}}
	if err := toml.NewEncoder(&b).Encode(top); err != nil {
		return "", fmt.Errorf("policy: %w", err)
	}
	p := filepath.Join(dir, "policy.toml")
	return p, os.WriteFile(p, []byte(b.String()), 0o644)
}

// once runs args in a new container of profile and returns the result of
// `runcage run` (create, start, wait, delete), which must exit 0.
func once(dir, rootfs, runcage, policy, profile string, args []string, seq int) (integration.Result, error) {
	bundle := filepath.Join(dir, fmt.Sprintf("b%d", seq))
	s := integration.BaseSpec(nil, args...)
	s.Root.Path, s.Root.Readonly = rootfs, true
	b, err := integration.MarshalSpec(s)
	if err != nil {
		return integration.Result{}, err
	}
	if err := integration.WriteConfig(bundle, b); err != nil {
		return integration.Result{}, err
	}
	defer os.RemoveAll(bundle)
	rt := integration.Runtime{Path: runcage, Pre: []string{"--runcage-profile", profile},
		Env: []string{"RUNCAGE_CONFIG=" + policy}, Root: filepath.Join(dir, "root")}
	id := fmt.Sprintf("llb%d", seq)
	res := rt.Exec(5*time.Minute, "run", "--bundle", bundle, id)
	rt.Exec(time.Minute, "delete", "-f", id)
	return res, res.ExitError()
}

// parseWork reads llwork's line and checks that the file beside the
// granted one was denied (EACCES) exactly when confined.
func parseWork(out string, confined bool) (map[string]time.Duration, error) {
	got := map[string]time.Duration{}
	var deniedErrno string
	for _, f := range strings.Fields(out) {
		k, v, _ := strings.Cut(f, "=")
		if k == "denied" {
			deniedErrno = v
			continue
		}
		ns, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("llwork output %q: %w", out, err)
		}
		got[k] = time.Duration(ns)
	}
	want := "0"
	if confined {
		want = strconv.Itoa(int(syscall.EACCES))
	}
	if len(got) != 3 || deniedErrno != want {
		return nil, fmt.Errorf("llwork output %q: want open, stat, getpid and denied=%s (the rules must be in force exactly under ll)", out, want)
	}
	return got, nil
}

// cost is the median wall and CPU time of one exec.
type cost struct{ wall, cpu time.Duration }

// execCost times, on the host, llwork with no arguments (it exits at once)
// exec'd directly and through the helper with rules' arguments (paths
// under rootfs, so that every rule finds its file), n times each,
// alternating. The helper restricts only itself and llwork.
func execCost(helper, rootfs, work string, n int) (direct, viaHelper cost, err error) {
	host := rules
	host.FS = nil
	for _, r := range rules.FS {
		host.FS = append(host.FS, profiles.LandlockPath{Path: filepath.Join(rootfs, r.Path), Access: r.Access})
	}
	if err := landlock.Check(&host); err != nil {
		return cost{}, cost{}, err
	}
	args, err := landlock.HelperArgs(&host)
	if err != nil {
		return cost{}, cost{}, err
	}
	prog := filepath.Join(rootfs, "bin", "llwork")
	argvs := [][]string{{prog}, append(append(args, "--"), prog)}
	var walls, cpus [2][]time.Duration
	for i := 0; i < n; i++ {
		for j, argv := range argvs {
			var cmd *exec.Cmd
			if j == 0 {
				cmd = exec.Command(argv[0])
			} else {
				cmd = exec.Command(helper, argv...)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return cost{}, cost{}, fmt.Errorf("host exec %q: %w: %s", cmd.Args, err, stderr.Bytes())
			}
			walls[j] = append(walls[j], time.Since(start))
			ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			cpus[j] = append(cpus[j], rusageCPU(ru))
		}
	}
	return cost{integration.Median(walls[0]), integration.Median(cpus[0])}, cost{integration.Median(walls[1]), integration.Median(cpus[1])}, nil
}

func rusageCPU(ru *syscall.Rusage) time.Duration {
	if ru == nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func msStr(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func usStr(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func nsOp(d time.Duration, ops int) string {
	return fmt.Sprintf("%.0f ns", float64(d)/float64(ops))
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown: " + errors.Join(err, errors.New("no /proc/loadavg")).Error()
}

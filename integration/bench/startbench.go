// Command startbench measures what runcage adds to a container's start-up.
//
// It builds one busybox bundle, then takes plain runc, runcage (default
// profile) and plain runc on the config.json runcage writes -n times each,
// interleaved, through create → start → wait for exit (polling `state` every
// millisecond until "stopped") → delete, with a container that runs `true`.
// It prints a markdown report: median and p90 per runtime and phase, and
// the runcage/runc ratio. It then times runcage alone, with /bin/true as the
// delegate (RUNCAGE_CONFIG with runtime = "/bin/true"), which isolates
// runcage's own work from runc's. Last, it reports peak RSS (wait4
// ru_maxrss) of runc create, runcage create and runcage alone.
//
// ru_maxrss survives fork and execve: a child's figure can never be lower
// than its parent's resident set when it was spawned. So peak RSS is measured
// through a launcher, this same program re-executed in a minimal mode that
// spawns the command and reports its ru_maxrss. The report shows the
// launcher's floor.
//
// Run it as root from the repository after `make build`:
//
//	go run ./integration/bench -n 100
//
// The binaries come from $RUNCAGE and $RUNC (default bin/runcage, bin/runc),
// as in the integration tests. It uses only the standard library so that it
// needs no build tag; it lives in its own directory so `go test` never runs
// it.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const modulePath = "github.com/runcage/runcage"

// launchArg as argv[1] selects launcher mode; see launch.
const launchArg = "__startbench_launch"

func main() {
	if len(os.Args) > 2 && os.Args[1] == launchArg {
		os.Exit(launch(os.Args[2:]))
	}
	n := flag.Int("n", 100, "number of create/start/wait/delete cycles per runtime (at least 100 for docs/benchmarks.md)")
	warmup := flag.Int("warmup", 5, "untimed warm-up cycles per runtime")
	rssRuns := flag.Int("rss-runs", 30, "launcher runs per peak-RSS row")
	busybox := flag.String("busybox", "/bin/busybox", "statically linked busybox for the rootfs")
	flag.Parse()
	if err := run(*n, *warmup, *rssRuns, *busybox); err != nil {
		fmt.Fprintln(os.Stderr, "startbench:", err)
		os.Exit(1)
	}
}

// binaries resolves $RUNCAGE and $RUNC like the integration tests do.
func binaries() (runcage, runc string, err error) {
	root, err := repoRoot()
	if err != nil {
		return "", "", err
	}
	get := func(env, def string) (string, error) {
		p := os.Getenv(env)
		if p == "" {
			p = def
		}
		p, _ = filepath.Abs(p)
		if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s binary %s is missing or not executable (run `make build` first, or set $%s)", env, p, env)
		}
		return p, nil
	}
	if runcage, err = get("RUNCAGE", filepath.Join(root, "bin", "runcage")); err != nil {
		return "", "", err
	}
	if runc, err = get("RUNC", filepath.Join(root, "bin", "runc")); err != nil {
		return "", "", err
	}
	return runcage, runc, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod for %s at or above the working directory", modulePath)
		}
		dir = parent
	}
}

// invocation is one timed process run.
type invocation struct {
	elapsed time.Duration
	maxrss  int64 // KiB, from wait4
	stdout  string
}

// invoke runs path with args and env added to the environment, stdout and
// stderr to temporary files (so a created container that inherits them
// cannot block us), and times it from start to reap. A non-zero exit is an
// error that carries stderr.
func invoke(env []string, path string, args ...string) (invocation, error) {
	var files [2]*os.File
	for i := range files {
		f, err := os.CreateTemp("", "startbench-")
		if err != nil {
			return invocation{}, err
		}
		os.Remove(f.Name())
		defer f.Close()
		files[i] = f
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = files[0], files[1]
	start := time.Now()
	err := cmd.Run()
	inv := invocation{elapsed: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			inv.maxrss = ru.Maxrss
		}
	}
	read := func(f *os.File) string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
		return string(b)
	}
	inv.stdout = read(files[0])
	if err != nil {
		return inv, fmt.Errorf("%s %s: %w: %s", path, strings.Join(args, " "), err, strings.TrimSpace(read(files[1])))
	}
	return inv, nil
}

// launch is launcher mode: it spawns argv (absolute path first) with stdio
// on /dev/null, waits, prints the child's ru_maxrss in KiB and exits with
// the child's status. The launcher does nothing else, so its own small
// resident set is the floor of what it can report.
func launch(argv []string) int {
	null, err := syscall.Open(os.DevNull, syscall.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{uintptr(null), uintptr(null), uintptr(null)},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 126
	}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	for {
		_, err = syscall.Wait4(pid, &ws, 0, &ru)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 127
	}
	fmt.Println(ru.Maxrss)
	return ws.ExitStatus()
}

// peakRSS runs argv through the launcher and returns its ru_maxrss in KiB.
func peakRSS(env []string, argv ...string) (int64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	inv, err := invoke(env, self, append([]string{launchArg}, argv...)...)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(inv.stdout), 10, 64)
}

// rt is one runtime under test.
type rt struct {
	name   string
	path   string
	env    []string
	root   string
	config []byte // config.json as the bundle holds it before create
}

func (r rt) invoke(args ...string) (invocation, error) {
	return invoke(r.env, r.path, append([]string{"--root", r.root}, args...)...)
}

// cycle is the timing of one create → start → wait → delete.
type cycle struct {
	create, start, wait, delete, total time.Duration
	polls                              int
}

func (r rt) cycle(bundle, id string) (c cycle, err error) {
	defer func() {
		if err != nil {
			r.invoke("delete", "--force", id)
		}
	}()
	t0 := time.Now()
	inv, err := r.invoke("create", "--bundle", bundle, id)
	if err != nil {
		return c, err
	}
	c.create = inv.elapsed
	t1 := time.Now()
	if _, err := r.invoke("start", id); err != nil {
		return c, err
	}
	t2 := time.Now()
	for {
		inv, err := r.invoke("state", id)
		if err != nil {
			return c, err
		}
		c.polls++
		var st struct{ Status string }
		if err := json.Unmarshal([]byte(inv.stdout), &st); err != nil {
			return c, fmt.Errorf("state %s: %w", id, err)
		}
		if st.Status == "stopped" {
			break
		}
		if c.polls > 10000 {
			return c, fmt.Errorf("container %s did not stop", id)
		}
		time.Sleep(time.Millisecond)
	}
	t3 := time.Now()
	if _, err := r.invoke("delete", id); err != nil {
		return c, err
	}
	t4 := time.Now()
	c.start, c.wait, c.delete, c.total = t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), t4.Sub(t0)
	return c, nil
}

// buildBundle makes a busybox rootfs and a `runc spec` config.json running
// `true` without a terminal. It returns the config.json bytes.
func buildBundle(dir, busybox, runc string) ([]byte, error) {
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return nil, err
		}
	}
	b, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), b, 0o755); err != nil {
		return nil, err
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	for _, a := range strings.Fields(string(list)) {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a)); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	if _, err := invoke(nil, runc, "spec", "--bundle", dir); err != nil {
		return nil, err
	}
	var spec map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, err
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"true"}
	out, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return nil, err
	}
	return out, os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644)
}

// restore puts back the original config.json (runcage rewrites it on
// create) and removes anything runcage left beside it, untimed.
func restore(bundle string, config []byte) error {
	ents, err := os.ReadDir(bundle)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() != "rootfs" && e.Name() != "config.json" {
			os.RemoveAll(filepath.Join(bundle, e.Name()))
		}
	}
	return os.WriteFile(filepath.Join(bundle, "config.json"), config, 0o644)
}

func run(n, warmup, rssRuns int, busybox string) error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	if n < 1 {
		return errors.New("-n must be positive")
	}
	runcagePath, runcPath, err := binaries()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "startbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bundle := filepath.Join(tmp, "bundle")
	config, err := buildBundle(bundle, busybox, runcPath)
	if err != nil {
		return fmt.Errorf("build bundle: %w", err)
	}
	writePolicy := func(name, runtime string) (string, error) {
		p := filepath.Join(tmp, name)
		return p, os.WriteFile(p, []byte("runtime = "+strconv.Quote(runtime)+"\n"), 0o644)
	}
	var runcageEnv []string
	if filepath.Join(filepath.Dir(runcagePath), "runc") != runcPath {
		p, err := writePolicy("policy.toml", runcPath)
		if err != nil {
			return err
		}
		runcageEnv = []string{"RUNCAGE_CONFIG=" + p}
	}
	// The policy naming /bin/true as the delegate serves twice: to capture
	// the spec runcage hands runc, and below to time runcage alone.
	truePolicy, err := writePolicy("true.toml", "/bin/true")
	if err != nil {
		return err
	}
	trueEnv := []string{"RUNCAGE_CONFIG=" + truePolicy}
	captureID := fmt.Sprintf("capture-%d", os.Getpid())
	if _, err := invoke(trueEnv, runcagePath, "--root", filepath.Join(tmp, "root-capture"), "create", "--bundle", bundle, captureID); err != nil {
		return fmt.Errorf("capture runcage's spec: %w", err)
	}
	// The captured spec may point at what runcage set up for this
	// container (an id range, an id-mapped rootfs); it stays until this
	// delete.
	defer invoke(trueEnv, runcagePath, "--root", filepath.Join(tmp, "root-capture"), "delete", "--force", captureID)
	hardened, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return err
	}
	if bytes.Equal(hardened, config) {
		return errors.New("runcage's default profile left config.json unchanged; is it the default profile?")
	}

	rts := []rt{
		{name: "runc", path: runcPath, root: filepath.Join(tmp, "root-runc"), config: config},
		{name: "runcage (default profile)", path: runcagePath, env: runcageEnv, root: filepath.Join(tmp, "root-runcage"), config: config},
		{name: "runc on runcage's rewritten config.json", path: runcPath, root: filepath.Join(tmp, "root-runc-hard"), config: hardened},
	}
	cycles := make([][]cycle, len(rts))
	id := 0
	for i := -warmup; i < n; i++ {
		// Rotate the order too, so no runtime always runs in the same slot.
		for j := range rts {
			k := (i + warmup + j) % len(rts)
			if err := restore(bundle, rts[k].config); err != nil {
				return err
			}
			id++
			c, err := rts[k].cycle(bundle, fmt.Sprintf("bench-%d-%d", os.Getpid(), id))
			if err != nil {
				return fmt.Errorf("%s: %w", rts[k].name, err)
			}
			if i >= 0 {
				cycles[k] = append(cycles[k], c)
			}
		}
	}

	// runcage alone: the delegate is /bin/true, so the time is runcage's
	// own plus one execve of a trivial program. Direct /bin/true with the
	// same argv is the baseline for process start-up. runcage still sets
	// up what the profile needs (a user-namespace range, an id-mapped
	// rootfs), so each create is deleted again through runcage, untimed.
	soloRoot := filepath.Join(tmp, "root-solo")
	trueRT := rt{name: "/bin/true", path: "/bin/true", root: soloRoot}
	aloneRT := rt{name: "runcage → /bin/true", path: runcagePath, env: trueEnv, root: soloRoot}
	solos := []probe{
		{name: "/bin/true, same argv (process start-up baseline)", rt: trueRT, verb: []string{"create", "--bundle", bundle}},
		{name: "runcage create → /bin/true (all of runcage's own create work)", rt: aloneRT, verb: []string{"create", "--bundle", bundle}, del: true},
		{name: "runcage state → /bin/true (start-up and hand-over only)", rt: aloneRT, verb: []string{"state"}},
	}
	seq := 0
	for i := -warmup; i < n; i++ {
		for k := range solos {
			seq++
			inv, err := solos[k].do(bundle, config, fmt.Sprintf("solo-%d-%d", os.Getpid(), seq), nil)
			if err != nil {
				return fmt.Errorf("%s: %w", solos[k].name, err)
			}
			if i >= 0 {
				solos[k].times = append(solos[k].times, inv.elapsed)
			}
		}
	}

	// Peak RSS, through the launcher.
	rssRows := []probe{
		{name: "launcher floor: /bin/true", rt: rt{path: "/bin/true"}},
		{name: "runc create", rt: rts[0], verb: []string{"create", "--bundle", bundle}, del: true},
		{name: "runcage create (→ runc)", rt: rts[1], verb: []string{"create", "--bundle", bundle}, del: true},
		{name: "runcage create → /bin/true (runcage alone)", rt: aloneRT, verb: []string{"create", "--bundle", bundle}, del: true},
		{name: "runcage state → /bin/true (runcage alone)", rt: aloneRT, verb: []string{"state"}},
	}
	for range max(rssRuns, 1) {
		for k := range rssRows {
			seq++
			var kib int64
			_, err := rssRows[k].do(bundle, config, fmt.Sprintf("rss-%d-%d", os.Getpid(), seq), &kib)
			if err != nil {
				return fmt.Errorf("peak RSS of %s: %w", rssRows[k].name, err)
			}
			rssRows[k].kib = append(rssRows[k].kib, kib)
		}
	}

	report(os.Stdout, n, runcPath, runcagePath, rts, cycles, solos, rssRows)
	return nil
}

// probe is one measured invocation: rt's binary with --root (if rt has
// one), then verb and a container id (if verb is not empty). If del is set,
// the container is force-deleted with the same runtime afterwards, untimed.
type probe struct {
	name  string
	rt    rt
	verb  []string
	del   bool
	times []time.Duration
	kib   []int64
}

// do restores config.json, runs the probe once with container id id and
// returns the invocation. If kib is not nil, it runs through the launcher
// and stores the peak RSS there instead of timing.
func (p *probe) do(bundle string, config []byte, id string, kib *int64) (inv invocation, err error) {
	if err := restore(bundle, config); err != nil {
		return inv, err
	}
	var args []string
	if p.rt.root != "" {
		args = append(args, "--root", p.rt.root)
	}
	if len(p.verb) > 0 {
		args = append(append(args, p.verb...), id)
	}
	if p.del {
		defer func() {
			if _, derr := p.rt.invoke("delete", "--force", id); derr != nil && err == nil {
				err = derr
			}
		}()
	}
	if kib != nil {
		*kib, err = peakRSS(p.rt.env, append([]string{p.rt.path}, args...)...)
		return inv, err
	}
	return invoke(p.rt.env, p.rt.path, args...)
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func quantileInt(xs []int64, q float64) int64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func field(cs []cycle, f func(cycle) time.Duration) []time.Duration {
	out := make([]time.Duration, len(cs))
	for i, c := range cs {
		out[i] = f(c)
	}
	return out
}

func report(w *os.File, n int, runcPath, runcagePath string, rts []rt, cycles [][]cycle, solos, rss []probe) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	ver, _ := exec.Command(runcPath, "--version").Output()
	p("### Start-up: create → start → wait (state poll, 1 ms) → delete, container runs `true`")
	p("")
	p("%s, kernel %s, %d CPUs, %s; runc %s; n = %d cycles per runtime, interleaved in rotating order.",
		time.Now().UTC().Format("2006-01-02"), strings.TrimSpace(string(kernel)), runtime.NumCPU(), runtime.GOARCH,
		strings.Fields(string(ver) + " ? ? ?")[2], n)
	if n < 100 {
		p("")
		p("**n < 100: not valid for docs/benchmarks.md.**")
	}
	p("")
	p("| runtime | cycle median | cycle p90 | create median | create p90 | start median | wait median | delete median | state polls (median) |")
	p("|---|---|---|---|---|---|---|---|---|")
	total := func(c cycle) time.Duration { return c.total }
	create := func(c cycle) time.Duration { return c.create }
	for k, r := range rts {
		cs := cycles[k]
		polls := make([]int64, len(cs))
		for i, c := range cs {
			polls[i] = int64(c.polls)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %d |", r.name,
			ms(quantile(field(cs, total), .5)), ms(quantile(field(cs, total), .9)),
			ms(quantile(field(cs, create), .5)), ms(quantile(field(cs, create), .9)),
			ms(quantile(field(cs, func(c cycle) time.Duration { return c.start }), .5)),
			ms(quantile(field(cs, func(c cycle) time.Duration { return c.wait }), .5)),
			ms(quantile(field(cs, func(c cycle) time.Duration { return c.delete }), .5)),
			quantileInt(polls, .5))
	}
	ratio := func(f func(cycle) time.Duration, q float64) string {
		a, b := quantile(field(cycles[1], f), q), quantile(field(cycles[0], f), q)
		return fmt.Sprintf("%.2f", float64(a)/float64(b))
	}
	p("| **ratio runcage/runc** | **%s** | **%s** | **%s** | **%s** | | | | |",
		ratio(total, .5), ratio(total, .9), ratio(create, .5), ratio(create, .9))
	p("")
	p("The third row runs plain runc on the config.json runcage writes (captured once with a /bin/true delegate): it separates what runc spends applying the hardened spec from what runcage spends itself.")
	p("")
	p("### runcage alone (RUNCAGE_CONFIG with `runtime = \"/bin/true\"`), n = %d", n)
	p("")
	p("| invocation | median | p90 |")
	p("|---|---|---|")
	for _, s := range solos {
		p("| %s | %s | %s |", s.name, ms(quantile(s.times, .5)), ms(quantile(s.times, .9)))
	}
	p("")
	p("### Peak RSS (wait4 ru_maxrss through the launcher), %d runs each", len(rss[0].kib))
	p("")
	p("runcage either execve's runc or runs it as a child and waits (when it has work to do afterwards); either way \"runcage create (→ runc)\" is the larger of runcage's own peak and runc's. The \"runcage alone\" rows isolate runcage. No figure can be lower than the launcher floor.")
	p("")
	p("| invocation | median | max |")
	p("|---|---|---|")
	for _, r := range rss {
		p("| %s | %d KiB | %d KiB |", r.name, quantileInt(r.kib, .5), quantileInt(r.kib, 1))
	}
	p("| difference: runcage create (→ runc) − runc create | %+d KiB | %+d KiB |",
		quantileInt(rss[2].kib, .5)-quantileInt(rss[1].kib, .5), quantileInt(rss[2].kib, 1)-quantileInt(rss[1].kib, 1))
	p("")
	p("Binaries: `%s`, `%s`.", runcPath, runcagePath)
}

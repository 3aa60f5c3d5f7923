// Command startbench measures what runcage adds to a container's start-up.
//
// It builds one busybox bundle, then alternates plain runc and runcage
// (default profile) -n times through create → start → wait for exit (polling
// `state` every millisecond until "stopped") → delete, with a container that
// runs `true`. It prints a markdown report: median and p90 per runtime and
// phase, the runcage/runc ratio, peak RSS (wait4 ru_maxrss) of the create
// invocations, and runcage's own overhead measured with /bin/true as the
// delegate (RUNCAGE_CONFIG with runtime = "/bin/true"), which isolates the
// policy load, spec rewrite and execve from runc's work.
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
	"iter"
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

func main() {
	n := flag.Int("n", 100, "number of create/start/wait/delete cycles per runtime (at least 100 for docs/benchmarks.md)")
	warmup := flag.Int("warmup", 5, "untimed warm-up cycles per runtime")
	busybox := flag.String("busybox", "/bin/busybox", "statically linked busybox for the rootfs")
	flag.Parse()
	if err := run(*n, *warmup, *busybox); err != nil {
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

// rt is one runtime under test.
type rt struct {
	name string
	path string
	env  []string
	root string
}

func (r rt) invoke(args ...string) (invocation, error) {
	return invoke(r.env, r.path, append([]string{"--root", r.root}, args...)...)
}

// cycle is the timing of one create → start → wait → delete.
type cycle struct {
	create, start, wait, delete, total time.Duration
	polls                              int
	createRSS                          int64
}

func (r rt) cycle(bundle, id string) (cycle, error) {
	var c cycle
	t0 := time.Now()
	inv, err := r.invoke("create", "--bundle", bundle, id)
	if err != nil {
		return c, err
	}
	c.create, c.createRSS = inv.elapsed, inv.maxrss
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

func run(n, warmup int, busybox string) error {
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
	rts := []rt{
		{name: "runc", path: runcPath, root: filepath.Join(tmp, "root-runc")},
		{name: "runcage (default profile)", path: runcagePath, env: runcageEnv, root: filepath.Join(tmp, "root-runcage")},
	}
	cycles := make([][]cycle, len(rts))
	id := 0
	for i := -warmup; i < n; i++ {
		// Alternate the order too, so neither runtime always runs second.
		order := []int{0, 1}
		if i%2 != 0 {
			order = []int{1, 0}
		}
		for _, k := range order {
			if err := restore(bundle, config); err != nil {
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

	// runcage alone: the delegate is /bin/true, so the time and RSS are
	// runcage's own (plus one execve of a trivial program). Direct /bin/true
	// with the same argv is the baseline for process start-up.
	truePolicy, err := writePolicy("true.toml", "/bin/true")
	if err != nil {
		return err
	}
	trueEnv := []string{"RUNCAGE_CONFIG=" + truePolicy}
	type solo struct {
		name string
		do   func(id string) (invocation, error)
	}
	soloRoot := filepath.Join(tmp, "root-solo")
	solos := []solo{
		{"/bin/true, same argv (process start-up baseline)", func(id string) (invocation, error) {
			return invoke(nil, "/bin/true", "--root", soloRoot, "create", "--bundle", bundle, id)
		}},
		{"runcage create → /bin/true (load, rewrite, execve)", func(id string) (invocation, error) {
			return invoke(trueEnv, runcagePath, "--root", soloRoot, "create", "--bundle", bundle, id)
		}},
		{"runcage state → /bin/true (argv scan, execve)", func(id string) (invocation, error) {
			return invoke(trueEnv, runcagePath, "--root", soloRoot, "state", id)
		}},
	}
	soloRes := make([][]invocation, len(solos))
	for i := -warmup; i < n; i++ {
		for k, s := range solos {
			if err := restore(bundle, config); err != nil {
				return err
			}
			inv, err := s.do(fmt.Sprintf("solo-%d", i+warmup))
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if i >= 0 {
				soloRes[k] = append(soloRes[k], inv)
			}
		}
	}

	report(os.Stdout, n, runcPath, runcagePath, rts, cycles, func(yield func(string, []invocation) bool) {
		for k, s := range solos {
			if !yield(s.name, soloRes[k]) {
				return
			}
		}
	})
	return nil
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

func report(w *os.File, n int, runcPath, runcagePath string, rts []rt, cycles [][]cycle, solos iter.Seq2[string, []invocation]) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	ver, _ := exec.Command(runcPath, "--version").Output()
	p("### Start-up: create → start → wait (state poll, 1 ms) → delete, container runs `true`")
	p("")
	p("%s, kernel %s, %d CPUs, %s; runc: %s; n = %d cycles per runtime, alternating.",
		time.Now().UTC().Format("2006-01-02"), strings.TrimSpace(string(kernel)), runtime.NumCPU(), runtime.GOARCH,
		strings.Fields(string(ver) + " ? ? ?")[2], n)
	if n < 100 {
		p("")
		p("**n < 100: not valid for docs/benchmarks.md.**")
	}
	p("")
	p("| runtime | cycle median | cycle p90 | create median | create p90 | start median | wait median | delete median | state polls (median) |")
	p("|---|---|---|---|---|---|---|---|---|")
	for k, r := range rts {
		cs := cycles[k]
		polls := make([]int64, len(cs))
		for i, c := range cs {
			polls[i] = int64(c.polls)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %d |", r.name,
			ms(quantile(field(cs, func(c cycle) time.Duration { return c.total }), .5)),
			ms(quantile(field(cs, func(c cycle) time.Duration { return c.total }), .9)),
			ms(quantile(field(cs, func(c cycle) time.Duration { return c.create }), .5)),
			ms(quantile(field(cs, func(c cycle) time.Duration { return c.create }), .9)),
			ms(quantile(field(cs, func(c cycle) time.Duration { return c.start }), .5)),
			ms(quantile(field(cs, func(c cycle) time.Duration { return c.wait }), .5)),
			ms(quantile(field(cs, func(c cycle) time.Duration { return c.delete }), .5)),
			quantileInt(polls, .5))
	}
	ratio := func(f func(cycle) time.Duration, q float64) string {
		a, b := quantile(field(cycles[1], f), q), quantile(field(cycles[0], f), q)
		return fmt.Sprintf("%.2f", float64(a)/float64(b))
	}
	total := func(c cycle) time.Duration { return c.total }
	create := func(c cycle) time.Duration { return c.create }
	p("| **ratio runcage/runc** | **%s** | **%s** | **%s** | **%s** | | | | |",
		ratio(total, .5), ratio(total, .9), ratio(create, .5), ratio(create, .9))
	p("")
	p("### Peak RSS of `create` (wait4 ru_maxrss)")
	p("")
	p("runcage execve's runc, so the runcage row is the larger of runcage's own peak and runc's (and that of the children runc reaps); the /bin/true rows below isolate runcage.")
	p("ru_maxrss survives execve and fork, so no row can read below the benchmark process's own resident set at launch: the \"/bin/true, same argv\" row shows that floor, and a figure equal to it means \"at most this much\".")
	p("")
	p("| invocation | median | max |")
	p("|---|---|---|")
	rss := func(cs []cycle) []int64 {
		out := make([]int64, len(cs))
		for i, c := range cs {
			out[i] = c.createRSS
		}
		return out
	}
	r0, r1 := rss(cycles[0]), rss(cycles[1])
	p("| runc create | %d KiB | %d KiB |", quantileInt(r0, .5), quantileInt(r0, 1))
	p("| runcage create (→ runc) | %d KiB | %d KiB |", quantileInt(r1, .5), quantileInt(r1, 1))
	p("| difference | %+d KiB | %+d KiB |", quantileInt(r1, .5)-quantileInt(r0, .5), quantileInt(r1, 1)-quantileInt(r0, 1))
	p("")
	p("### runcage alone (RUNCAGE_CONFIG with `runtime = \"/bin/true\"`)")
	p("")
	p("| invocation | median | p90 | peak RSS median |")
	p("|---|---|---|---|")
	for name, invs := range solos {
		ds := make([]time.Duration, len(invs))
		rs := make([]int64, len(invs))
		for i, inv := range invs {
			ds[i], rs[i] = inv.elapsed, inv.maxrss
		}
		p("| %s | %s | %s | %d KiB |", name, ms(quantile(ds, .5)), ms(quantile(ds, .9)), quantileInt(rs, .5))
	}
	p("")
	p("Binaries: `%s`, `%s`.", runcPath, runcagePath)
}

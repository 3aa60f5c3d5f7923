// Command startbench measures what runcage adds to a container's start-up.
//
// It builds two bundles: a busybox rootfs (about 1 MB) and a private copy of
// the cached Debian rootfs of integration/rootfs/debian.sh (about 241 MB; the
// cache itself is never modified). For each bundle it takes plain runc,
// runcage (default profile: user namespace, id-mapped rootfs, seccomp
// allowlist, no capabilities) and plain runc on the config.json runcage
// writes, -n times each, interleaved in rotating order, through create →
// start → wait for exit (polling `state` every millisecond until "stopped")
// → delete, with a container that runs `true`, and after each cycle one
// foreground `run` of the same bundle. The third runtime separates
// what the protections cost (runc applying a seccomp filter, a user
// namespace, masked paths) from what runcage itself costs.
//
// It prints a markdown report: median and p90 per runtime and phase, the
// ratios to runc, and the split of runcage's overhead. It then times runcage
// alone, with /bin/true as the delegate, which isolates runcage's own work
// from runc's, for both rootfs sizes: the id-mapped mount must cost the same
// whatever the size of the image. Last, it reports peak RSS (wait4
// ru_maxrss) of runc create, runcage create and runcage alone. The load
// average is sampled every round, because the figures mean little on a busy
// machine.
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
// as in the integration tests. $RUNCAGE_BASELINE, if set, names a second
// runcage (an earlier build) timed in the same rotation, for before/after
// ratios. runcage runs with a policy file the benchmark
// writes (the delegate, and a state directory of its own under the
// benchmark's temporary directory), as a deployment would have one. It uses
// only the standard library so that it needs no build tag; it lives in its
// own directory so `go test` never runs it.
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
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/runcage/runcage/internal/mountinfo"
)

const modulePath = "github.com/runcage/runcage"

// launchArg as argv[1] selects launcher mode; see launch.
const launchArg = "__startbench_launch"

func main() {
	if len(os.Args) > 2 && os.Args[1] == launchArg {
		os.Exit(launch(os.Args[2:]))
	}
	var o options
	flag.IntVar(&o.n, "n", 100, "create/start/wait/delete cycles per runtime and rootfs (at least 100 for docs/benchmarks.md)")
	flag.IntVar(&o.warmup, "warmup", 5, "untimed warm-up cycles per runtime and rootfs")
	flag.IntVar(&o.rssRuns, "rss-runs", 30, "launcher runs per peak-RSS row")
	flag.StringVar(&o.busybox, "busybox", "/bin/busybox", "statically linked busybox for the small rootfs")
	flag.StringVar(&o.debian, "debian", "", "Debian rootfs to copy for the large bundle (default: the path integration/rootfs/debian.sh prints, building it if missing)")
	flag.BoolVar(&o.noDebian, "no-debian", false, "measure the busybox bundle only")
	flag.StringVar(&o.dir, "dir", "", "directory for the bundles, runc roots and runcage's state (default: /run if it is tmpfs, else /dev/shm if it is, else $TMPDIR)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "startbench:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	n, warmup, rssRuns int
	busybox, debian    string
	noDebian           bool
	dir                string
}

// workParent is where the benchmark puts its bundles, runc roots and
// runcage's state directory: dir if given, else tmpfs, where a host keeps
// runc's root (/run/runc) and runcage's state (/run/runcage), so neither
// side pays for a disk file system's metadata journal the real one does
// not. It returns the directory and the name of its file system.
func workParent(dir string) (string, string) {
	cands := []string{dir}
	if dir == "" {
		cands = []string{"/run", "/dev/shm", os.TempDir()}
	}
	for i, d := range cands {
		var st syscall.Statfs_t
		if err := syscall.Statfs(d, &st); err != nil {
			continue
		}
		const tmpfsMagic = 0x01021994
		if st.Type == tmpfsMagic {
			return d, "tmpfs"
		}
		if i == len(cands)-1 {
			return d, fmt.Sprintf("not tmpfs (f_type %#x)", st.Type)
		}
	}
	return os.TempDir(), "unknown"
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
	// run is a separate foreground `run` of the same bundle (runc's own
	// create, start, wait and delete in one invocation), timed after the
	// cycle with config.json restored first.
	run time.Duration
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

// runOnce times a foreground `run` of bundle as id, which must exit 0.
func (r rt) runOnce(bundle, id string) (time.Duration, error) {
	inv, err := r.invoke("run", "--bundle", bundle, id)
	if err != nil {
		r.invoke("delete", "--force", id)
		return 0, err
	}
	return inv.elapsed, nil
}

// busyboxRootfs fills rootfs with a static busybox and its applet links.
func busyboxRootfs(rootfs, busybox string) error {
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), b, 0o755); err != nil {
		return err
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w", busybox, err)
	}
	for _, a := range strings.Fields(string(list)) {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a)); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// copyRootfs copies the directory tree src to rootfs with `cp -a`, which
// copies symlinks as symlinks and keeps owners, modes and special files.
// src is only read.
func copyRootfs(rootfs, src string) error {
	st, err := os.Stat(filepath.Join(src, "bin"))
	if err != nil || !st.IsDir() {
		return fmt.Errorf("%s does not look like a root filesystem (no bin directory)", src)
	}
	if out, err := exec.Command("cp", "-a", "--", src, rootfs).CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s: %w: %s", src, err, bytes.TrimSpace(out))
	}
	return nil
}

// debianRootfs returns the cached Debian rootfs that debian.sh prints,
// building it first if it is missing (about 90 s, once per machine).
func debianRootfs(repo string) (string, error) {
	cmd := exec.Command(filepath.Join(repo, "integration", "rootfs", "debian.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("integration/rootfs/debian.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// writeConfig writes `runc spec` output into dir with process.args =
// ["true"] and no terminal, and returns the bytes.
func writeConfig(dir, runc string) ([]byte, error) {
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

// image is one bundle under test with its runtimes and results.
type image struct {
	name     string
	size     int64 // bytes in the rootfs, as du counts them
	bundle   string
	config   []byte // config.json as the engine wrote it
	hardened []byte // config.json as runcage rewrote it
	rts      []rt
	cycles   [][]cycle
	alone    probe // runcage create → /bin/true
	rss      []probe
}

// Indexes of image.rts.
const (
	rtRunc = iota
	rtRuncage
	rtRuncHardened
	rtBaseline // only with $RUNCAGE_BASELINE
)

// loadavg returns the 1-minute load average.
func loadavg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// duBytes sums the sizes of the regular files under dir, without following
// symlinks.
func duBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// unmountUnder detaches every mount at or below dir, deepest first, so that
// removing dir can never reach through an id-mapped mount a failed run left
// behind.
func unmountUnder(dir string) {
	mounts, err := mountinfo.Read()
	if err != nil {
		return
	}
	var mps []string
	for _, m := range mounts {
		if m.MountPoint == dir || strings.HasPrefix(m.MountPoint, dir+"/") {
			mps = append(mps, m.MountPoint)
		}
	}
	slices.SortFunc(mps, func(a, b string) int { return len(b) - len(a) })
	for _, mp := range mps {
		syscall.Unmount(mp, syscall.MNT_DETACH)
	}
}

func run(o options) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	if o.n < 1 {
		return errors.New("-n must be positive")
	}
	runcagePath, runcPath, err := binaries()
	if err != nil {
		return err
	}
	// $RUNCAGE_BASELINE, if set, is a second runcage binary (an earlier
	// build) timed in the same rotation, for before/after ratios.
	baselinePath := os.Getenv("RUNCAGE_BASELINE")
	if baselinePath != "" {
		if baselinePath, err = filepath.Abs(baselinePath); err != nil {
			return err
		}
	}
	repo, err := repoRoot()
	if err != nil {
		return err
	}
	if !o.noDebian && o.debian == "" {
		if o.debian, err = debianRootfs(repo); err != nil {
			return err
		}
	}
	parent, fsName := workParent(o.dir)
	fmt.Fprintf(os.Stderr, "startbench: bundles, roots and state under %s (%s)\n", parent, fsName)
	tmp, err := os.MkdirTemp(parent, "startbench-")
	if err != nil {
		return err
	}
	defer func() {
		unmountUnder(tmp)
		os.RemoveAll(tmp)
	}()
	// The user namespace's root must be able to reach the id-mapped rootfs
	// under the state directory, as it can under /run/runcage.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return err
	}
	loadStart := loadavg()
	// SIGINT and SIGTERM stop the run after the current invocation, so
	// that the deferred clean-up (containers, id-mapped mounts, temporary
	// files) still runs.
	var stop atomic.Bool
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			stop.Store(true)
		}
	}()
	errStopped := errors.New("interrupted; cleaned up")

	// Both policies give runcage a state directory of its own, so the
	// benchmark never touches /run/runcage. The one naming /bin/true as
	// the delegate serves twice: to capture the spec runcage hands runc,
	// and to time runcage alone.
	stateDir := filepath.Join(tmp, "state")
	writePolicy := func(name, runtime string) ([]string, error) {
		p := filepath.Join(tmp, name)
		text := "runtime = " + strconv.Quote(runtime) + "\nstate_dir = " + strconv.Quote(stateDir) + "\n"
		return []string{"RUNCAGE_CONFIG=" + p}, os.WriteFile(p, []byte(text), 0o644)
	}
	runcageEnv, err := writePolicy("policy.toml", runcPath)
	if err != nil {
		return err
	}
	trueEnv, err := writePolicy("true.toml", "/bin/true")
	if err != nil {
		return err
	}

	type source struct {
		name string
		fill func(rootfs string) error
	}
	sources := []source{{"busybox", func(r string) error { return busyboxRootfs(r, o.busybox) }}}
	if !o.noDebian {
		sources = append(sources, source{"debian", func(r string) error { return copyRootfs(r, o.debian) }})
	}
	var imgs []*image
	for _, src := range sources {
		img := &image{name: src.name, bundle: filepath.Join(tmp, "bundle-"+src.name)}
		if err := os.MkdirAll(img.bundle, 0o755); err != nil {
			return err
		}
		rootfs := filepath.Join(img.bundle, "rootfs")
		if err := src.fill(rootfs); err != nil {
			return fmt.Errorf("build %s rootfs: %w", src.name, err)
		}
		img.size = duBytes(rootfs)
		if img.config, err = writeConfig(img.bundle, runcPath); err != nil {
			return fmt.Errorf("build %s bundle: %w", src.name, err)
		}
		captureRoot := filepath.Join(tmp, "root-capture-"+src.name)
		captureID := fmt.Sprintf("capture-%s-%d", src.name, os.Getpid())
		if _, err := invoke(trueEnv, runcagePath, "--root", captureRoot, "create", "--bundle", img.bundle, captureID); err != nil {
			return fmt.Errorf("capture runcage's spec for %s: %w", src.name, err)
		}
		// The captured spec points at what runcage set up for this
		// container (an id range, an id-mapped rootfs); it stays until
		// this delete.
		defer invoke(trueEnv, runcagePath, "--root", captureRoot, "delete", "--force", captureID)
		if img.hardened, err = os.ReadFile(filepath.Join(img.bundle, "config.json")); err != nil {
			return err
		}
		if bytes.Equal(img.hardened, img.config) {
			return errors.New("runcage's default profile left config.json unchanged; is it the default profile?")
		}
		root := func(r string) string { return filepath.Join(tmp, "root-"+r+"-"+src.name) }
		img.rts = []rt{
			rtRunc:         {name: "runc", path: runcPath, root: root("runc"), config: img.config},
			rtRuncage:      {name: "runcage (default profile)", path: runcagePath, env: runcageEnv, root: root("runcage"), config: img.config},
			rtRuncHardened: {name: "runc on runcage's config.json", path: runcPath, root: root("runc-hard"), config: img.hardened},
		}
		if baselinePath != "" {
			img.rts = append(img.rts, rt{name: "runcage, $RUNCAGE_BASELINE", path: baselinePath, env: runcageEnv, root: root("baseline"), config: img.config})
		}
		img.cycles = make([][]cycle, len(img.rts))
		imgs = append(imgs, img)
	}

	// Full cycles, every (image, runtime) pair once per round, in an order
	// that rotates each round so that no pair always runs in the same slot.
	type pair struct{ img, rt int }
	var pairs []pair
	for i, img := range imgs {
		for k := range img.rts {
			pairs = append(pairs, pair{i, k})
		}
	}
	var loads []float64
	id := 0
	for i := -o.warmup; i < o.n; i++ {
		if stop.Load() {
			return errStopped
		}
		loads = append(loads, loadavg())
		for j := range pairs {
			pr := pairs[(i+o.warmup+j)%len(pairs)]
			img, r := imgs[pr.img], imgs[pr.img].rts[pr.rt]
			if err := restore(img.bundle, r.config); err != nil {
				return err
			}
			id++
			c, err := r.cycle(img.bundle, fmt.Sprintf("bench-%d-%d", os.Getpid(), id))
			if err != nil {
				return fmt.Errorf("%s, %s: %w", img.name, r.name, err)
			}
			if err := restore(img.bundle, r.config); err != nil {
				return err
			}
			id++
			if c.run, err = r.runOnce(img.bundle, fmt.Sprintf("bench-%d-%d", os.Getpid(), id)); err != nil {
				return fmt.Errorf("%s, %s, run: %w", img.name, r.name, err)
			}
			if i >= 0 {
				img.cycles[pr.rt] = append(img.cycles[pr.rt], c)
			}
		}
	}

	// runcage alone: the delegate is /bin/true, so the time is runcage's
	// own plus one execve of a trivial program. Direct /bin/true with the
	// same argv is the baseline for process start-up. runcage still sets
	// up what the profile needs (a user-namespace range, an id-mapped
	// rootfs), so each create is deleted again through runcage, untimed.
	soloRoot := filepath.Join(tmp, "root-solo")
	aloneRT := rt{name: "runcage → /bin/true", path: runcagePath, env: trueEnv, root: soloRoot}
	baseline := probe{name: "/bin/true, same argv (process start-up baseline)", rt: rt{path: "/bin/true", root: soloRoot}, verb: []string{"create", "--bundle", imgs[0].bundle}}
	stateAlone := probe{name: "runcage state → /bin/true (start-up and hand-over only)", rt: aloneRT, verb: []string{"state"}}
	solos := []*probe{&baseline, &stateAlone}
	for _, img := range imgs {
		img.alone = probe{name: fmt.Sprintf("runcage create → /bin/true, %s (all of runcage's own create work)", img.name), rt: aloneRT, verb: []string{"create", "--bundle", img.bundle}, del: true, bundle: img.bundle, config: img.config}
		solos = append(solos, &img.alone)
	}
	seq := 0
	for i := -o.warmup; i < o.n; i++ {
		if stop.Load() {
			return errStopped
		}
		loads = append(loads, loadavg())
		for j := range solos {
			p := solos[(i+o.warmup+j)%len(solos)]
			seq++
			inv, err := p.do(fmt.Sprintf("solo-%d-%d", os.Getpid(), seq), nil)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			if i >= 0 {
				p.times = append(p.times, inv.elapsed)
			}
		}
	}

	// Peak RSS, through the launcher.
	floor := probe{name: "launcher floor: /bin/true", rt: rt{path: "/bin/true"}}
	stateRSS := probe{name: "runcage state → /bin/true (runcage alone)", rt: aloneRT, verb: []string{"state"}}
	rssRows := []*probe{&floor, &stateRSS}
	for _, img := range imgs {
		cr := []string{"create", "--bundle", img.bundle}
		img.rss = []probe{
			{name: "runc create, " + img.name, rt: img.rts[rtRunc], verb: cr, del: true, bundle: img.bundle, config: img.config},
			{name: "runcage create (→ runc), " + img.name, rt: img.rts[rtRuncage], verb: cr, del: true, bundle: img.bundle, config: img.config},
			{name: "runcage create → /bin/true (runcage alone), " + img.name, rt: aloneRT, verb: cr, del: true, bundle: img.bundle, config: img.config},
		}
		for k := range img.rss {
			rssRows = append(rssRows, &img.rss[k])
		}
	}
	for range max(o.rssRuns, 1) {
		if stop.Load() {
			return errStopped
		}
		for _, p := range rssRows {
			seq++
			var kib int64
			if _, err := p.do(fmt.Sprintf("rss-%d-%d", os.Getpid(), seq), &kib); err != nil {
				return fmt.Errorf("peak RSS of %s: %w", p.name, err)
			}
			p.kib = append(p.kib, kib)
		}
	}
	loads = append(loads, loadavg())

	report(os.Stdout, reportInput{
		n: o.n, runcPath: runcPath, runcagePath: runcagePath, runcageEnv: runcageEnv, imgs: imgs,
		baseline: baseline, stateAlone: stateAlone, floor: floor, stateRSS: stateRSS,
		loadStart: loadStart, loadEnd: loadavg(), loads: loads, where: parent + " (" + fsName + ")",
	})
	return nil
}

// probe is one measured invocation: rt's binary with --root (if rt has
// one), then verb and a container id (if verb is not empty). If bundle is
// set, its config.json is restored first, untimed. If del is set, the
// container is force-deleted with the same runtime afterwards, untimed.
type probe struct {
	name   string
	rt     rt
	verb   []string
	del    bool
	bundle string
	config []byte
	times  []time.Duration
	kib    []int64
}

// do runs the probe once with container id id and returns the invocation.
// If kib is not nil, it runs through the launcher and stores the peak RSS
// there instead of timing.
func (p *probe) do(id string, kib *int64) (inv invocation, err error) {
	if p.bundle != "" {
		if err := restore(p.bundle, p.config); err != nil {
			return inv, err
		}
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

// reportInput is everything the report shows.
type reportInput struct {
	where                 string // the work directory's parent and its file system
	n                     int
	runcPath, runcagePath string
	runcageEnv            []string
	imgs                  []*image
	baseline, stateAlone  probe
	floor, stateRSS       probe
	loadStart, loadEnd    float64
	loads                 []float64
}

func medianFloat(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func report(w *os.File, in reportInput) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	ver, _ := exec.Command(in.runcPath, "--version").Output()
	own := "?"
	if inv, err := invoke(in.runcageEnv, in.runcagePath, "--version"); err == nil {
		own, _, _ = strings.Cut(inv.stdout, "\n")
	}
	p("### Start-up: create → start → wait (state poll, 1 ms) → delete, container runs `true`")
	p("")
	p("%s, kernel %s, %d CPUs, %s; runc %s; n = %d cycles per runtime and rootfs, interleaved in rotating order.",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.TrimSpace(string(kernel)), runtime.NumCPU(), runtime.GOARCH,
		strings.Fields(string(ver) + " ? ? ?")[2], in.n)
	p("")
	p("Bundles, runc roots and runcage's state under %s.", in.where)
	p("")
	p("Load average (1 min): %.2f at the start, %.2f at the end; per round min %.2f, median %.2f, max %.2f.",
		in.loadStart, in.loadEnd, slices.Min(in.loads), medianFloat(in.loads), slices.Max(in.loads))
	if in.n < 100 {
		p("")
		p("**n < 100: not valid for docs/benchmarks.md.**")
	}
	total := func(c cycle) time.Duration { return c.total }
	create := func(c cycle) time.Duration { return c.create }
	runTime := func(c cycle) time.Duration { return c.run }
	p("")
	p("| rootfs | runtime | cycle median | cycle p90 | create median | create p90 | start median | wait median | delete median | state polls (median) | `run` median | `run` p90 |")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, img := range in.imgs {
		for k, r := range img.rts {
			cs := img.cycles[k]
			polls := make([]int64, len(cs))
			for i, c := range cs {
				polls[i] = int64(c.polls)
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s |", img.name, r.name,
				ms(quantile(field(cs, total), .5)), ms(quantile(field(cs, total), .9)),
				ms(quantile(field(cs, create), .5)), ms(quantile(field(cs, create), .9)),
				ms(quantile(field(cs, func(c cycle) time.Duration { return c.start }), .5)),
				ms(quantile(field(cs, func(c cycle) time.Duration { return c.wait }), .5)),
				ms(quantile(field(cs, func(c cycle) time.Duration { return c.delete }), .5)),
				quantileInt(polls, .5),
				ms(quantile(field(cs, runTime), .5)), ms(quantile(field(cs, runTime), .9)))
		}
	}
	ratio := func(img *image, a, b int, f func(cycle) time.Duration, q float64) string {
		x, y := quantile(field(img.cycles[a], f), q), quantile(field(img.cycles[b], f), q)
		return fmt.Sprintf("%.2f", float64(x)/float64(y))
	}
	p("")
	p("Ratios of medians (p90 in brackets). \"protections\" is runc on runcage's config.json over plain runc: what runc spends applying the hardened spec. \"runcage itself\" is runcage over runc on the same hardened config.json.")
	p("")
	p("| rootfs | runcage / runc, cycle | runcage / runc, `run` | runcage / runc, create | protections, cycle | protections, `run` | protections, create | runcage itself, cycle | runcage itself, `run` | runcage itself, create |")
	p("|---|---|---|---|---|---|---|---|---|---|")
	for _, img := range in.imgs {
		two := func(a, b int, f func(cycle) time.Duration) string {
			return fmt.Sprintf("%s (%s)", ratio(img, a, b, f, .5), ratio(img, a, b, f, .9))
		}
		p("| %s | **%s** | **%s** | %s | %s | %s | %s | %s | %s | %s |", img.name,
			two(rtRuncage, rtRunc, total), two(rtRuncage, rtRunc, runTime), two(rtRuncage, rtRunc, create),
			two(rtRuncHardened, rtRunc, total), two(rtRuncHardened, rtRunc, runTime), two(rtRuncHardened, rtRunc, create),
			two(rtRuncage, rtRuncHardened, total), two(rtRuncage, rtRuncHardened, runTime), two(rtRuncage, rtRuncHardened, create))
	}
	for _, img := range in.imgs {
		if len(img.rts) > rtBaseline {
			p("")
			p("%s: $RUNCAGE_BASELINE / runc: cycle %s, `run` %s, create %s; $RUNCAGE / $RUNCAGE_BASELINE: cycle %s, `run` %s, create %s, delete %s.", img.name,
				ratio(img, rtBaseline, rtRunc, total, .5), ratio(img, rtBaseline, rtRunc, runTime, .5), ratio(img, rtBaseline, rtRunc, create, .5),
				ratio(img, rtRuncage, rtBaseline, total, .5), ratio(img, rtRuncage, rtBaseline, runTime, .5), ratio(img, rtRuncage, rtBaseline, create, .5),
				ratio(img, rtRuncage, rtBaseline, func(c cycle) time.Duration { return c.delete }, .5))
		}
	}
	p("")
	p("Overhead over plain runc, split (differences of medians):")
	p("")
	p("| rootfs | phase | runcage − runc | protections (runc on runcage's config − runc) | runcage itself (runcage − runc on its config) |")
	p("|---|---|---|---|---|")
	for _, img := range in.imgs {
		for _, ph := range []struct {
			name string
			f    func(cycle) time.Duration
		}{
			{"cycle", total}, {"create", create},
			{"start", func(c cycle) time.Duration { return c.start }},
			{"wait", func(c cycle) time.Duration { return c.wait }},
			{"delete", func(c cycle) time.Duration { return c.delete }},
			{"`run`", runTime},
		} {
			m := func(k int) time.Duration { return quantile(field(img.cycles[k], ph.f), .5) }
			sd := func(d time.Duration) string { return fmt.Sprintf("%+.1f ms", float64(d)/float64(time.Millisecond)) }
			p("| %s | %s | %s | %s | %s |", img.name, ph.name,
				sd(m(rtRuncage)-m(rtRunc)), sd(m(rtRuncHardened)-m(rtRunc)), sd(m(rtRuncage)-m(rtRuncHardened)))
		}
	}
	p("")
	p("### runcage alone (policy with `runtime = \"/bin/true\"`), n = %d, interleaved", in.n)
	p("")
	p("| invocation | median | p90 |")
	p("|---|---|---|")
	for _, s := range append([]probe{in.baseline, in.stateAlone}, func() []probe {
		var ps []probe
		for _, img := range in.imgs {
			ps = append(ps, img.alone)
		}
		return ps
	}()...) {
		p("| %s | %s | %s |", s.name, ms(quantile(s.times, .5)), ms(quantile(s.times, .9)))
	}
	p("")
	p("### Set-up time against image size")
	p("")
	p("| rootfs | size | runcage create (→ runc) median | runcage create (→ runc) p90 | runcage alone create median | runcage alone create p90 | runcage peak RSS, create → /bin/true (median) |")
	p("|---|---|---|---|---|---|---|")
	for _, img := range in.imgs {
		cs := img.cycles[rtRuncage]
		p("| %s | %.1f MB | %s | %s | %s | %s | %d KiB |", img.name, float64(img.size)/1e6,
			ms(quantile(field(cs, create), .5)), ms(quantile(field(cs, create), .9)),
			ms(quantile(img.alone.times, .5)), ms(quantile(img.alone.times, .9)),
			quantileInt(img.rss[2].kib, .5))
	}
	p("")
	p("### Peak RSS (wait4 ru_maxrss through the launcher), %d runs each", len(in.floor.kib))
	p("")
	p("runcage either execve's runc or runs it as a child and waits (when it has work to do afterwards); either way \"runcage create (→ runc)\" is the larger of runcage's own peak and runc's. The \"runcage alone\" rows isolate runcage. No figure can be lower than the launcher floor.")
	p("")
	p("| invocation | median | max |")
	p("|---|---|---|")
	for _, r := range []probe{in.floor, in.stateRSS} {
		p("| %s | %d KiB | %d KiB |", r.name, quantileInt(r.kib, .5), quantileInt(r.kib, 1))
	}
	for _, img := range in.imgs {
		for _, r := range img.rss {
			p("| %s | %d KiB | %d KiB |", r.name, quantileInt(r.kib, .5), quantileInt(r.kib, 1))
		}
		p("| difference: runcage create (→ runc) − runc create, %s | %+d KiB | %+d KiB |", img.name,
			quantileInt(img.rss[1].kib, .5)-quantileInt(img.rss[0].kib, .5), quantileInt(img.rss[1].kib, 1)-quantileInt(img.rss[0].kib, 1))
	}
	p("")
	p("Binaries: `%s` (%s), `%s`.", in.runcagePath, strings.TrimSpace(own), in.runcPath)
}
